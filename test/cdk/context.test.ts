import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { configFromContext, PlanContextKeys, planOptionsFromContext } from '../../cdk/context.js';
import { checkBudget, defaultPlanOptions } from '../../lib/budget/index.js';
import { defaultConfig } from '../../lib/config.js';

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  app: string;
  context: Record<string, unknown>;
};

// One output directory for this file's apps (none is synthesized), removed after: an App given none makes a
// cdk.out directory of its own in the system's temp folder, and nothing removes it.
const outdir = mkdtempSync(join(tmpdir(), 'bf-context-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** An app whose context is cdk.json's, with `-c` overrides on top (as the CLI gives them: strings). */
const appWith = (overrides: Record<string, string> = {}) =>
  new App({ outdir, context: { ...cdkJson.context, ...overrides } });

describe('cdk.json', () => {
  it('runs the app through tsx', () => {
    expect(cdkJson.app).toBe('npx tsx cdk/app.ts');
  });

  it('holds every setting at its default, and nothing else', () => {
    expect(configFromContext(appWith())).toEqual(defaultConfig);
    const known = [
      ...Object.keys(defaultConfig).filter((key) => key !== 'schedule'),
      ...Object.keys(defaultConfig.schedule).map((key) => `schedule.${key}`),
      'alarmTopicArn',
      'vpc',
      ...Object.values(PlanContextKeys),
    ];
    expect(Object.keys(cdkJson.context).sort()).toEqual(known.sort());
  });

  it('plans for the same tasks and latency as the CLI by default', () => {
    expect(planOptionsFromContext(appWith())).toEqual({
      tasks: defaultPlanOptions.tasks,
      latencyMs: defaultPlanOptions.latencyMs,
    });
  });
});

describe('-c overrides', () => {
  it('convert strings by the type of the default', () => {
    const config = configFromContext(
      appWith({
        workerMaxConcurrency: '20',
        workerReservedConcurrency: '24',
        toleratedFailurePercent: '2.5',
        idempotency: 'message',
        'schedule.enabled': 'true',
        'schedule.flexibleWindowMinutes': '15',
        'schedule.expression': 'cron(0 2 * * ? *)',
        'schedule.input': '{"manifest":"s3://my-bucket/jobs/nightly.ndjson"}',
        downstream: '{"api.example.com":{"maxConcurrency":400,"maxRequestsPerSecond":50}}',
        allowHosts: '10.0.0.0/8, internal.example.com',
        alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:alarms',
      }),
    );
    expect(config).toMatchObject({
      workerMaxConcurrency: 20,
      workerReservedConcurrency: 24,
      toleratedFailurePercent: 2.5,
      idempotency: 'message',
      schedule: {
        enabled: true,
        flexibleWindowMinutes: 15,
        expression: 'cron(0 2 * * ? *)',
        timeZone: 'UTC',
        input: { manifest: 's3://my-bucket/jobs/nightly.ndjson' },
      },
      downstream: { 'api.example.com': { maxConcurrency: 400, maxRequestsPerSecond: 50 } },
      allowHosts: ['10.0.0.0/8', 'internal.example.com'],
      alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:alarms',
    });
    expect(checkBudget(config)).toEqual([]);
  });

  it('take "none" for no reserved concurrency, and name 0 (Lambda\'s "throttle everything")', () => {
    const none = configFromContext(
      appWith({ workerReservedConcurrency: 'none', orchestratorReservedConcurrency: 'none' }),
    );
    expect(none).toMatchObject({
      workerReservedConcurrency: 'none',
      orchestratorReservedConcurrency: 'none',
    });
    expect(checkBudget(none)).toEqual([]);
    const zero = configFromContext(appWith({ workerReservedConcurrency: '0' }));
    expect(checkBudget(zero).map(({ path, value, message }) => `${path}: ${value} ${message}`)).toEqual([
      'workerReservedConcurrency: 0 is not allowed: Lambda\'s reserved concurrency 0 throttles every invocation; "none" leaves the function unreserved',
    ]);
  });

  it('take a whole schedule as JSON, its dotted keys still winning', () => {
    const app = new App({
      outdir,
      context: { schedule: '{"expression":"rate(1 hour)","enabled":true}', 'schedule.enabled': 'false' },
    });
    expect(configFromContext(app).schedule).toEqual({
      ...defaultConfig.schedule,
      expression: 'rate(1 hour)',
    });
  });

  it('keep a value that does not convert, so that the budget names it', () => {
    const config = configFromContext(
      appWith({ batchSize: 'ten', 'schedule.enabled': 'yes', downstream: '{not json' }),
    );
    expect(
      checkBudget(config).map(({ path, value, message }) => `${path}: ${JSON.stringify(value)} ${message}`),
    ).toEqual([
      'batchSize: "ten" is not a number',
      'schedule.enabled: "yes" is not a boolean',
      'downstream: "{not json" is not an object',
    ]);
  });

  it('set the plan printed at synth', () => {
    const app = appWith({ [PlanContextKeys.TASKS]: '5000', [PlanContextKeys.LATENCY_MS]: '250' });
    expect(planOptionsFromContext(app)).toEqual({ tasks: 5000, latencyMs: 250 });
    expect(() => planOptionsFromContext(appWith({ [PlanContextKeys.TASKS]: 'many' }))).toThrow(
      'Expected `plan.tasks` to be a number above 0, got "many"',
    );
  });
});
