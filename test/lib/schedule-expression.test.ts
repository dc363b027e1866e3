// EventBridge Scheduler's expressions as the service checks them: a table of valid and invalid ones with the exact
// reason, the same reason through validateBudget, and a property: every expression built by the grammar is taken.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BudgetError, validateBudget } from '../../lib/budget/index.js';
import { defaultConfig, withDefaults } from '../../lib/config.js';
import { scheduleExpressionProblem } from '../../lib/schedule-expression.js';
import { RUNS } from '../helpers/runs.js';

const FIELDS = '(minutes hours day-of-month month day-of-week year)';

const valid = [
  'rate(1 minute)',
  'rate(5 minutes)',
  'rate(1 hour)',
  'rate(12 hours)',
  'rate(1 day)',
  'rate(30 days)',
  'cron(0 2 * * ? *)',
  'cron(0 2 ? * MON-FRI *)',
  'cron(0/15 * * * ? *)',
  'cron(*/5 8-17 ? * mon-fri *)',
  'cron(0-30/10 0,12 1,15 JAN,JUL ? 2026-2030)',
  'cron(0 2 L * ? *)',
  'cron(0 2 LW * ? *)',
  'cron(0 2 15W * ? *)',
  'cron(0 2 ? * L *)',
  'cron(0 2 ? * 6L *)',
  'cron(0 2 ? * FRI#3 *)',
  'cron(59 23 31 DEC ? 2199)',
  'cron(0 0 1 1 ? 1970)',
  'cron(0 2 ? * 1,7 *)',
  'at(2026-03-01T02:00:00)',
  'at(2024-02-29T23:59:59)',
  'at(2000-02-29T00:00:00)',
];

const invalid: ReadonlyArray<readonly [string, string]> = [
  ['cron(0 2 * * *)', `has 5 fields; EventBridge Scheduler cron needs 6 ${FIELDS}`],
  ['cron(0 2 * * ? * *)', `has 7 fields; EventBridge Scheduler cron needs 6 ${FIELDS}`],
  ['cron()', `has 0 fields; EventBridge Scheduler cron needs 6 ${FIELDS}`],
  ['rate(1 minutes)', 'says "1 minutes"; a rate of 1 takes the singular: rate(1 minute)'],
  ['rate(5 minute)', 'says "5 minute"; a rate above 1 takes the plural: rate(5 minutes)'],
  ['rate(2 day)', 'says "2 day"; a rate above 1 takes the plural: rate(2 days)'],
  ['rate(0 minutes)', 'has rate value "0"; EventBridge Scheduler needs a whole number of at least 1'],
  ['rate(1.5 hours)', 'has rate value "1.5"; EventBridge Scheduler needs a whole number of at least 1'],
  ['rate(-1 minute)', 'has rate value "-1"; EventBridge Scheduler needs a whole number of at least 1'],
  ['rate(2 weeks)', 'has rate unit "weeks"; EventBridge Scheduler takes minute(s), hour(s) or day(s)'],
  ['rate(30 seconds)', 'has rate unit "seconds"; EventBridge Scheduler takes minute(s), hour(s) or day(s)'],
  ['rate(5minutes)', 'is not rate(value unit) with one space between: e.g. rate(5 minutes), rate(1 hour)'],
  ['rate(5  minutes)', 'is not rate(value unit) with one space between: e.g. rate(5 minutes), rate(1 hour)'],
  ['cron(60 2 * * ? *)', 'has minutes "60": 60 is outside 0-59'],
  ['cron(0 24 * * ? *)', 'has hours "24": 24 is outside 0-23'],
  ['cron(0 2 0 * ? *)', 'has day-of-month "0": 0 is outside 1-31'],
  ['cron(0 2 32 * ? *)', 'has day-of-month "32": 32 is outside 1-31'],
  ['cron(0 2 * 13 ? *)', 'has month "13": 13 is outside 1-12 or JAN-DEC'],
  ['cron(0 2 * JANUARY ? *)', 'has month "JANUARY": "JANUARY" is not 1-12 or JAN-DEC'],
  ['cron(0 2 ? * 0 *)', 'has day-of-week "0": 0 is outside 1-7 or SUN-SAT'],
  ['cron(0 2 ? * 8 *)', 'has day-of-week "8": 8 is outside 1-7 or SUN-SAT'],
  ['cron(0 2 ? * WEDS *)', 'has day-of-week "WEDS": "WEDS" is not 1-7 or SUN-SAT'],
  ['cron(0 2 * * ? 1969)', 'has year "1969": 1969 is outside 1970-2199'],
  ['cron(0 2 * * ? 2200)', 'has year "2200": 2200 is outside 1970-2199'],
  ['cron(0 2 ? ? * *)', 'has month "?": "?" is only for day-of-month and day-of-week'],
  ['cron(? 2 * * ? *)', 'has minutes "?": "?" is only for day-of-month and day-of-week'],
  ['cron(0 L * * ? *)', 'has hours "L": "L" is not allowed in hours (0-23, with , - * /)'],
  [
    'cron(0 2 * * 5W *)',
    'has day-of-week "5W": "5W" is not allowed in day-of-week (1-7 or SUN-SAT, with , - * ? L #)',
  ],
  [
    'cron(0 2 1#2 * ? *)',
    'has day-of-month "1#2": "1#2" is not allowed in day-of-month (1-31, with , - * / ? L W)',
  ],
  ['cron(0 2 ? * MON/2 *)', 'has day-of-week "MON/2": "/" is not allowed in day-of-week'],
  [
    'cron(0 2 ? * L,5 *)',
    'has day-of-week "L,5": "L" stands alone in day-of-week: not in a list, a range or an increment',
  ],
  ['cron(0 2 ? * 2#6 *)', 'has day-of-week "2#6": #6 is not #1-#5'],
  ['cron(0 2 32W * ? *)', 'has day-of-month "32W": 32 is outside 1-31'],
  ['cron(0/0 * * * ? *)', 'has minutes "0/0": increment "0" is not a whole number 1-59'],
  ['cron(0/60 * * * ? *)', 'has minutes "0/60": increment "60" is not a whole number 1-59'],
  ['cron(0 2,,3 * * ? *)', 'has hours "2,,3": an item of its list is empty'],
  ['cron(0 22-2 * * ? *)', 'has hours "22-2": range 22-2 runs backwards; write it as two ranges (22-23,0-2)'],
  [
    'cron(0 2 * * * *)',
    'has day-of-month "*" and day-of-week "*"; exactly one of the two must be "?" (every day: cron(0 2 * * ? *))',
  ],
  [
    'cron(0 2 1 * MON *)',
    'has day-of-month "1" and day-of-week "MON"; exactly one of the two must be "?" (every day: cron(0 2 * * ? *))',
  ],
  ['cron(0 2 ? * ? *)', 'has "?" in both day-of-month and day-of-week; exactly one of the two must be "?"'],
  ['at(2026-13-01T00:00:00)', 'has month 13; a month is 01-12'],
  ['at(2026-00-10T00:00:00)', 'has month 00; a month is 01-12'],
  ['at(2025-02-29T00:00:00)', 'has day 29; FEB 2025 has days 01-28'],
  ['at(1900-02-29T00:00:00)', 'has day 29; FEB 1900 has days 01-28'],
  ['at(2026-04-31T00:00:00)', 'has day 31; APR 2026 has days 01-30'],
  ['at(2026-03-01T24:00:00)', 'has hour 24; an hour is 00-23'],
  ['at(2026-03-01T02:60:00)', 'has minute 60; a minute is 00-59'],
  ['at(2026-03-01T02:00:60)', 'has second 60; a second is 00-59'],
  ['at(2026-03-01 02:00:00)', 'is not at(yyyy-mm-ddThh:mm:ss): e.g. at(2026-03-01T02:00:00)'],
  ['at(2026-03-01T02:00)', 'is not at(yyyy-mm-ddThh:mm:ss): e.g. at(2026-03-01T02:00:00)'],
  ['every 5 minutes', `is not rate(value unit), cron${FIELDS} or at(yyyy-mm-ddThh:mm:ss)`],
  ['RATE(5 minutes)', `is not rate(value unit), cron${FIELDS} or at(yyyy-mm-ddThh:mm:ss)`],
];

describe('scheduleExpressionProblem', () => {
  it.each(valid)('takes %s', (expression) => {
    expect(scheduleExpressionProblem(expression)).toBeUndefined();
  });

  it.each(invalid)('refuses %s', (expression, reason) => {
    expect(scheduleExpressionProblem(expression)).toBe(reason);
  });

  it('has a table of at least 40 expressions, valid and invalid', () => {
    expect(valid.length + invalid.length).toBeGreaterThanOrEqual(40);
  });

  it.each(['cron(0 2 * * *)', 'rate(1 minutes)', 'rate(0 minutes)', 'at(2026-13-01T00:00:00)'])(
    'gives validateBudget the reason for %s, naming the field and the value',
    (expression) => {
      const config = withDefaults({ schedule: { ...defaultConfig.schedule, expression } });
      const reason = invalid.find(([e]) => e === expression)?.[1];
      expect(reason).toBeDefined();
      expect(() => validateBudget(config)).toThrow(BudgetError);
      expect(() => validateBudget(config)).toThrow(
        `Invalid concurrency budget (1 problem):\n  - schedule.expression: ${JSON.stringify(expression)} ${reason}`,
      );
    },
  );
});

/** Expressions built from EventBridge Scheduler's grammar: each is one the service takes. */
const pick = <T>(items: readonly T[]) => fc.constantFrom(...items);
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

function numericField(min: number, max: number, names: readonly string[] = [], step = true) {
  const value = fc.integer({ min, max });
  const token = names.length ? fc.oneof(value.map(String), pick(names)) : value.map(String);
  const index = (t: string) => (names.includes(t) ? names.indexOf(t) + 1 : Number(t));
  const range = fc.tuple(token, token).map(([a, b]) => (index(a) <= index(b) ? `${a}-${b}` : `${b}-${a}`));
  const item = fc.oneof(token, range);
  const stepped = fc
    .tuple(fc.oneof(fc.constant('*'), value.map(String), range), fc.integer({ min: 1, max }))
    .map(([base, by]) => `${base}/${by}`);
  const list = fc
    .array(step ? fc.oneof(item, stepped) : item, { minLength: 1, maxLength: 4 })
    .map((items) => items.join(','));
  return fc.oneof(fc.constant('*'), list);
}

const dayOfMonth = fc.oneof(
  numericField(1, 31),
  pick(['L', 'LW']),
  fc.integer({ min: 1, max: 31 }).map((d) => `${d}W`),
);
const dayOfWeek = fc.oneof(
  numericField(1, 7, DAYS, false),
  fc.constant('L'),
  fc.oneof(fc.integer({ min: 1, max: 7 }).map(String), pick(DAYS)).map((d) => `${d}L`),
  fc
    .tuple(fc.oneof(fc.integer({ min: 1, max: 7 }).map(String), pick(DAYS)), fc.integer({ min: 1, max: 5 }))
    .map(([d, n]) => `${d}#${n}`),
);
const days = fc.oneof(
  dayOfMonth.map((dom) => [dom, '?'] as const),
  dayOfWeek.map((dow) => ['?', dow] as const),
);
const cron = fc
  .tuple(
    numericField(0, 59),
    numericField(0, 23),
    days,
    numericField(1, 12, MONTHS),
    numericField(1970, 2199),
  )
  .map(([min, hour, [dom, dow], month, year]) => `cron(${min} ${hour} ${dom} ${month} ${dow} ${year})`);
const rate = fc
  .tuple(fc.integer({ min: 1, max: 100_000 }), pick(['minute', 'hour', 'day']))
  .map(([n, unit]) => `rate(${n} ${unit}${n === 1 ? '' : 's'})`);
const at = fc
  .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2199-12-31T23:59:59Z'), noInvalidDate: true })
  .map((d) => `at(${d.toISOString().slice(0, 19)})`);

describe('scheduleExpressionProblem, property', () => {
  it('takes every expression the grammar builds', () => {
    fc.assert(
      fc.property(fc.oneof(cron, rate, at), (expression) => {
        expect(scheduleExpressionProblem(expression)).toBeUndefined();
      }),
      { numRuns: RUNS },
    );
  });
});
