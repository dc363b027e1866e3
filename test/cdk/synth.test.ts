// `npm run synth` as a user (and CI) runs it: the CDK CLI, offline (no version check, notices or telemetry), the
// real handlers bundled by esbuild. The budget table goes to stderr, the template alone to stdout.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const outdir = mkdtempSync(join(tmpdir(), 'bf-synth-'));

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function synth(...args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run('npm', ['run', '-s', 'synth', '--', '--output', outdir, ...args], {
      cwd: root,
      maxBuffer: 16 * 1024 * 1024,
      timeout: 240_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

type Template = { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };

let outcome: Outcome;
let template: Template;

beforeAll(async () => {
  outcome = await synth();
  if (outcome.code !== 0) throw new Error(`npm run synth failed (${outcome.code}):\n${outcome.stderr}`);
  template = JSON.parse(readFileSync(join(outdir, 'BoundedFanout.template.json'), 'utf8'));
}, 300_000);
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('npm run synth', () => {
  it('succeeds offline, printing the budget table on stderr and only the template on stdout', () => {
    expect(outcome.code, outcome.stderr).toBe(0);
    expect(outcome.stderr).toContain('Concurrency budget (1,000,000 tasks at 100 ms a request)');
    expect(outcome.stderr).toMatch(/connections one host can see\s+240/);
    expect(outcome.stderr).toMatch(/total by idempotency mode: task 0\.9537, message 0\.2037, off 0\.1537/);
    // The job ledger's lines (test/lib/budget-ledger.test.ts has their figures).
    expect(outcome.stderr).toMatch(/Job ledger writes\s+160,012 .*0\.1000\n/);
    expect(outcome.stderr).toMatch(/EventBridge events\s+1\s+Run Finished/);
    expect(outcome.stdout.trimStart()).toMatch(
      /^Description: "bounded-fanout: scheduled, bounded fan-out work"/,
    );
    expect(outcome.stdout).not.toContain('Concurrency budget');
  });

  it('synthesizes every resource of the service', () => {
    const types = Object.values(template.Resources).map((r) => r.Type);
    const count = (type: string) => types.filter((t) => t === type).length;
    expect({
      queues: count('AWS::SQS::Queue'),
      functions: count('AWS::Lambda::Function'),
      eventSources: count('AWS::Lambda::EventSourceMapping'),
      tables: count('AWS::DynamoDB::Table'),
      buckets: count('AWS::S3::Bucket'),
      schedules: count('AWS::Scheduler::Schedule'),
      alarms: count('AWS::CloudWatch::Alarm'),
      logGroups: count('AWS::Logs::LogGroup'),
      roles: count('AWS::IAM::Role'),
    }).toEqual({
      queues: 3,
      functions: 2,
      eventSources: 1,
      tables: 2, // idempotency and the job ledger
      buckets: 1,
      schedules: 1,
      alarms: 3,
      logGroups: 2,
      roles: 3,
    });
  });

  it('bundles the real handlers into ESM that loads, and a worker that answers an empty batch', async () => {
    const bundles = Object.values(template.Resources)
      .filter((r) => r.Type === 'AWS::Lambda::Function')
      .map((r) => ({
        name: r.Properties.FunctionName as string,
        dir: join(outdir, `asset.${(r.Properties.Code as { S3Key: string }).S3Key.replace(/\.zip$/, '')}`),
      }));
    expect(bundles.map((b) => b.name).sort()).toEqual([
      'bounded-fanout-orchestrator',
      'bounded-fanout-worker',
    ]);
    for (const { name, dir } of bundles) {
      // A fresh Node process, as Lambda loads it: the bundle alone, no node_modules around it.
      const script = `
        const { handler } = await import(${JSON.stringify(join(dir, 'index.mjs'))});
        if (typeof handler !== 'function') throw new Error('no handler');
        if (process.argv[1] === 'worker') {
          const context = { getRemainingTimeInMillis: () => 60000, functionName: 'w', awsRequestId: 'r',
            invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:w', functionVersion: '1',
            memoryLimitInMB: '512', logGroupName: 'g', logStreamName: 's' };
          console.log('RESULT ' + JSON.stringify(await handler({ Records: [] }, context)));
        }`;
      const { stdout } = await run(
        process.execPath,
        ['--input-type=module', '-e', script, name.endsWith('worker') ? 'worker' : 'orchestrator'],
        {
          cwd: tmpdir(),
          env: {
            PATH: process.env.PATH,
            AWS_REGION: 'us-east-1',
            BOUNDED_FANOUT_CONFIG: '{"idempotency":"off"}',
          },
          timeout: 60_000,
        },
      );
      if (name.endsWith('worker')) expect(stdout).toContain('RESULT {"batchItemFailures":[]}');
    }
    // Inside Lambda the bundle refuses to run without its config, naming the variable (no defaults).
    const worker = bundles.find((b) => b.name.endsWith('worker'))!;
    const script = `
      const { handler } = await import(${JSON.stringify(join(worker.dir, 'index.mjs'))});
      await handler({ Records: [] }, { getRemainingTimeInMillis: () => 60000, functionName: 'w', awsRequestId: 'r' });`;
    const missing = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: tmpdir(),
      env: {
        PATH: process.env.PATH,
        AWS_REGION: 'us-east-1',
        AWS_LAMBDA_FUNCTION_NAME: 'bounded-fanout-worker',
      },
      timeout: 60_000,
    }).then(
      () => 'ran without its config',
      (error: { stderr: string }) => error.stderr,
    );
    expect(missing).toContain(
      'BOUNDED_FANOUT_CONFIG: is not set: the functions take every limit from it; inside Lambda (AWS_LAMBDA_FUNCTION_NAME=bounded-fanout-worker) the stack sets it',
    );
  }, 120_000);

  it('refuses a bad budget with every problem named, before bundling anything', async () => {
    const refused = await synth(
      '-c',
      'workerReservedConcurrency=5',
      '-c',
      'schedule.timeZone=Mars/Base',
      '-c',
      'schedule.expression=cron(0 2 * * *)',
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('Invalid concurrency budget (3 problems):');
    expect(refused.stderr).toContain(
      '  - schedule.expression: "cron(0 2 * * *)" has 5 fields; EventBridge Scheduler cron needs 6 (minutes hours day-of-month month day-of-week year)',
    );
    expect(refused.stderr).toContain('  - schedule.timeZone: "Mars/Base" is not an IANA time zone');
    expect(refused.stderr).toContain('  - workerReservedConcurrency: 5 is below workerMaxConcurrency');
    expect(refused.stderr).not.toContain('Bundling asset');
    expect(refused.stderr).not.toMatch(/^\s+at /m);
  }, 120_000);
});
