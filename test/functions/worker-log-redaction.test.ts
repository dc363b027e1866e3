// Issue 14: the worker's own log lines, through the real handler (its module-level Powertools Logger, built
// by functions/function-logger.ts). A payload the worker refuses is logged with the parser's words, and those
// quote the offending value: a URL with ?token= in a field that is not a URL (`mode`, `runId`) reaches the
// line, and the error the handler throws (which Lambda's runtime logs itself) or returns to SQS, unredacted on
// the old code.
import { randomBytes } from 'node:crypto';
import type { SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { fakeContext, type Harness, startHarness } from './harness.js';

let h: Harness;
let runtime: FunctionRuntime;
let handler: (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<unknown>;

beforeAll(async () => {
  // Before the worker module is imported: its Logger reads the level once, at construction.
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
  process.env.POWERTOOLS_DEV = 'false';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  h = await startHarness({});
  const { createRuntime } = await import('../../functions/runtime.js');
  const { createWorkerHandler } = await import('../../functions/worker.js');
  runtime = createRuntime(h.env);
  handler = createWorkerHandler(() => runtime) as typeof handler;
});

afterAll(async () => {
  await runtime?.destroy();
  h?.destroy();
  delete process.env.POWERTOOLS_LOG_LEVEL;
});

/** What the handler writes to stdout and stderr while `body` runs. */
async function captured(body: () => Promise<unknown>): Promise<{ written: string; outcome: unknown }> {
  const chunks: string[] = [];
  const capture = (chunk: unknown) => {
    chunks.push(String(chunk));
    return true;
  };
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  try {
    const outcome = await body().catch((error: unknown) => error);
    return { written: chunks.join(''), outcome };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

const token = () => `LeakMark${randomBytes(12).toString('hex')}`;
const message = (over: Record<string, unknown>) => ({
  v: 1,
  kind: 'tasks',
  jobId: 'logs',
  runId: 'r1',
  key: 'logs:r1:0',
  attempt: 1,
  tasks: [{ id: 'a', url: 'http://127.0.0.1:9/a' }],
  ...over,
});

describe('the worker logs a refused payload without the secrets it quotes', () => {
  it('an Invoke payload: the log line and the thrown error redacted', async () => {
    const secret = token();
    const url = `http://127.0.0.1:9/x?token=${secret}`;
    const payload = message({ tasks: [{ id: 'a', url: 'http://127.0.0.1:9/a', mode: url }] });
    const { written, outcome } = await captured(() => handler(payload, fakeContext()));
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as Error).message).toBe(
      'tasks[0].mode: "http://127.0.0.1:9/x?token=[REDACTED]" is not one of inline, queue, invoke',
    );
    const line = written.split('\n').find((l) => l.includes('invalid invoke payload'));
    expect(JSON.parse(line ?? '{}').error).toBe(
      'tasks[0].mode: "http://127.0.0.1:9/x?token=[REDACTED]" is not one of inline, queue, invoke',
    );
    expect(written).not.toContain(secret);
  });

  it('an SQS record: the log line redacted, the record failed alone', async () => {
    const secret = token();
    const body = JSON.stringify(
      message({ runId: `http://u:${secret}@127.0.0.1:9/?X-Amz-Signature=${secret}` }),
    );
    const event = {
      Records: [
        {
          messageId: 'm1',
          receiptHandle: 'h1',
          body,
          attributes: { ApproximateReceiveCount: '1' },
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q',
          awsRegion: 'us-east-1',
        },
      ],
    };
    const { written, outcome } = await captured(() => handler(event, fakeContext()));
    expect((outcome as SQSBatchResponse).batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
    const line = written.split('\n').find((l) => l.includes('invalid message'));
    expect(JSON.parse(line ?? '{}').error).toMatch(
      /^runId: "http:\/\/\[REDACTED\]@127\.0\.0\.1:9\/\?X-Amz-Signature=\[REDACTED\].* contains ":", which separates/,
    );
    expect(written).not.toContain(secret);
    // Not a prefix either, where the parser shortened the value it quotes.
    expect(written).not.toContain('LeakMark');
  });
});
