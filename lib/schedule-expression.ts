// EventBridge Scheduler's schedule expressions, checked as the service checks them, so a bad one is refused at
// synth (and by `plan`) instead of by CloudFormation halfway through a deploy. Three forms (the Scheduler user
// guide, "Schedule types"):
// - rate(value unit): value a whole number >= 1; unit minute, hour or day, singular for 1 and plural above;
// - cron(minutes hours day-of-month month day-of-week year): six fields, exactly one of the two day fields `?`,
//   each field within its range with only its own wildcards;
// - at(yyyy-mm-ddThh:mm:ss): a date and time that exist on the calendar.
// Each check returns what is wrong as the rest of a sentence that starts with the expression itself.

const RATE_UNITS = ['minute', 'hour', 'day'] as const;
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const;
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;
export const CRON_FIELD_NAMES = 'minutes hours day-of-month month day-of-week year';

/** One field of a cron expression: its range, its names (JAN = 1, SUN = 1) and the wildcards it takes. */
interface CronField {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
  /** `/` increments. */
  readonly step: boolean;
  /** `?`, `L`, `W` (day-of-month) or `?`, `L`, `#` (day-of-week). */
  readonly day?: 'month' | 'week';
}

const CRON_FIELDS: readonly CronField[] = [
  { name: 'minutes', min: 0, max: 59, step: true },
  { name: 'hours', min: 0, max: 23, step: true },
  { name: 'day-of-month', min: 1, max: 31, step: true, day: 'month' },
  { name: 'month', min: 1, max: 12, names: MONTHS, step: true },
  { name: 'day-of-week', min: 1, max: 7, names: DAYS, step: false, day: 'week' },
  { name: 'year', min: 1970, max: 2199, step: true },
];

/** What is wrong with a schedule expression, or undefined when EventBridge Scheduler takes it. */
export function scheduleExpressionProblem(expression: string): string | undefined {
  const form = /^(rate|cron|at)\((.*)\)$/s.exec(expression);
  if (!form) {
    return `is not rate(value unit), cron(${CRON_FIELD_NAMES}) or at(yyyy-mm-ddThh:mm:ss)`;
  }
  const [, kind, body] = form;
  if (kind === 'rate') return rateProblem(body);
  if (kind === 'cron') return cronProblem(body);
  return atProblem(body);
}

function rateProblem(body: string): string | undefined {
  const parts = /^(\S+) (\S+)$/.exec(body);
  if (!parts) return 'is not rate(value unit) with one space between: e.g. rate(5 minutes), rate(1 hour)';
  const [, value, unit] = parts;
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    return `has rate value ${JSON.stringify(value)}; EventBridge Scheduler needs a whole number of at least 1`;
  }
  const n = Number(value);
  const singular = unit.replace(/s$/, '');
  if (!(RATE_UNITS as readonly string[]).includes(singular)) {
    return `has rate unit ${JSON.stringify(unit)}; EventBridge Scheduler takes minute(s), hour(s) or day(s)`;
  }
  if (n === 1 && unit !== singular)
    return `says "1 ${unit}"; a rate of 1 takes the singular: rate(1 ${singular})`;
  if (n > 1 && unit === singular)
    return `says "${n} ${unit}"; a rate above 1 takes the plural: rate(${n} ${unit}s)`;
  return undefined;
}

function cronProblem(body: string): string | undefined {
  const fields = body.trim() === '' ? [] : body.trim().split(/\s+/);
  if (fields.length !== CRON_FIELDS.length) {
    return `has ${fields.length} field${fields.length === 1 ? '' : 's'}; EventBridge Scheduler cron needs 6 (${CRON_FIELD_NAMES})`;
  }
  for (const [i, field] of CRON_FIELDS.entries()) {
    const problem = cronFieldProblem(field, fields[i]);
    if (problem) return `has ${field.name} ${JSON.stringify(fields[i])}: ${problem}`;
  }
  const [dayOfMonth, dayOfWeek] = [fields[2], fields[4]];
  if (dayOfMonth === '?' && dayOfWeek === '?') {
    return 'has "?" in both day-of-month and day-of-week; exactly one of the two must be "?"';
  }
  if (dayOfMonth !== '?' && dayOfWeek !== '?') {
    return `has day-of-month ${JSON.stringify(dayOfMonth)} and day-of-week ${JSON.stringify(dayOfWeek)}; exactly one of the two must be "?" (every day: cron(0 2 * * ? *))`;
  }
  return undefined;
}

const allowed = (f: CronField) =>
  `${f.min}-${f.max}${f.names ? ` or ${f.names[0]}-${f.names[f.names.length - 1]}` : ''}`;

function cronFieldProblem(f: CronField, text: string): string | undefined {
  if (text === '*') return undefined;
  if (text === '?') return f.day ? undefined : `"?" is only for day-of-month and day-of-week`;
  const special = daySpecialProblem(f, text);
  if (special !== false) return special;
  for (const item of text.split(',')) {
    const problem = listItemProblem(f, item);
    if (problem) return problem;
  }
  return undefined;
}

/** `L`, `LW`, `15W` (day-of-month), `L`, `6L`, `FRI#3` (day-of-week): false when `text` is none of these. */
function daySpecialProblem(f: CronField, text: string): string | undefined | false {
  if (f.day === 'month') {
    if (text === 'L' || text === 'LW') return undefined;
    const weekday = /^(\d+)W$/.exec(text);
    return weekday ? valueProblem(f, weekday[1]) : false;
  }
  if (f.day === 'week') {
    if (text === 'L') return undefined;
    const last = /^([^#]+)L$/i.exec(text);
    if (last) return valueProblem(f, last[1]);
    const nth = /^([^#]+)#(.*)$/.exec(text);
    if (!nth) return false;
    return valueProblem(f, nth[1]) ?? (/^[1-5]$/.test(nth[2]) ? undefined : `#${nth[2]} is not #1-#5`);
  }
  return false;
}

function listItemProblem(f: CronField, item: string): string | undefined {
  if (item === '') return 'an item of its list is empty';
  const [base, step, extra] = item.split('/');
  if (step !== undefined) {
    if (!f.step) return `"/" is not allowed in ${f.name}`;
    if (extra !== undefined || !/^\d+$/.test(step) || Number(step) < 1 || Number(step) > f.max) {
      return `increment ${JSON.stringify(step)} is not a whole number 1-${f.max}`;
    }
    if (base === '*') return undefined;
  }
  const range = /^([^-]+)-([^-]+)$/.exec(base);
  if (range) {
    const problem = valueProblem(f, range[1]) ?? valueProblem(f, range[2]);
    if (problem) return problem;
    if (fieldValue(f, range[1]) > fieldValue(f, range[2])) {
      return `range ${base} runs backwards; write it as two ranges (${range[1]}-${f.max},${f.min}-${range[2]})`;
    }
    return undefined;
  }
  return valueProblem(f, base);
}

function fieldValue(f: CronField, text: string): number {
  const named = f.names?.indexOf(text.toUpperCase()) ?? -1;
  return named >= 0 ? named + 1 : Number(text);
}

function valueProblem(f: CronField, text: string): string | undefined {
  if (f.names?.includes(text.toUpperCase())) return undefined;
  if (!/^\d+$/.test(text)) {
    if (f.day && daySpecialProblem(f, text) === undefined) {
      return `${JSON.stringify(text)} stands alone in ${f.name}: not in a list, a range or an increment`;
    }
    return /^(\?|\*|L|W|LW|\d*[LW]|.*#.*)$/i.test(text)
      ? `${JSON.stringify(text)} is not allowed in ${f.name} (${allowed(f)}${wildcards(f)})`
      : `${JSON.stringify(text)} is not ${allowed(f)}`;
  }
  const n = Number(text);
  return n < f.min || n > f.max ? `${n} is outside ${allowed(f)}` : undefined;
}

function wildcards(f: CronField): string {
  const marks = [',', '-', '*', ...(f.step ? ['/'] : [])];
  if (f.day === 'month') marks.push('?', 'L', 'W');
  if (f.day === 'week') marks.push('?', 'L', '#');
  return `, with ${marks.join(' ')}`;
}

function atProblem(body: string): string | undefined {
  const parts = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(body);
  if (!parts) return 'is not at(yyyy-mm-ddThh:mm:ss): e.g. at(2026-03-01T02:00:00)';
  const [year, month, day, hour, minute, second] = parts.slice(1).map(Number);
  if (month < 1 || month > 12) return `has month ${parts[2]}; a month is 01-12`;
  const days = daysIn(year, month);
  if (day < 1 || day > days) {
    return `has day ${parts[3]}; ${MONTHS[month - 1]} ${year} has days 01-${days}`;
  }
  if (hour > 23) return `has hour ${parts[4]}; an hour is 00-23`;
  if (minute > 59) return `has minute ${parts[5]}; a minute is 00-59`;
  if (second > 59) return `has second ${parts[6]}; a second is 00-59`;
  return undefined;
}

/** Days of a month of the proleptic Gregorian calendar (Date.UTC would take years 0-99 as 1900-1999). */
function daysIn(year: number, month: number): number {
  if (month !== 2) return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return leap ? 29 : 28;
}
