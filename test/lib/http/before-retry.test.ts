// runHttpTask's `beforeRetry` against a real loopback server that answers every request 503: asked before each
// attempt after the first, with that attempt's number, and never before the first; a refusal ends the task
// with the attempts it made, retryable, and the refusal as its error; no request is sent after a refusal.
// Waits are not spent (the recording `sleep`), so the property runs many tasks quickly.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../../bench/servers/counting-server.js';
import { createHttpAgents, type HttpAgents, runHttpTask } from '../../../lib/http/index.js';

let server: CountingServer;
let agents: HttpAgents;
let seq = 0;

beforeAll(async () => {
  server = await startCountingServer({ script: () => ({ status: 503 }) });
  agents = createHttpAgents({ maxSockets: 4, requestTimeoutMs: 5_000 }, { allow: ['127.0.0.1'] });
});
afterAll(async () => {
  await agents.destroy();
  await server.close();
});

const hits = (path: string) => server.requests.filter((r) => r.path === path).length;

describe('beforeRetry', () => {
  it('is asked before each retry only, and a refusal ends the task with the attempts it made', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.option(fc.integer({ min: 2, max: 6 }), { nil: undefined }),
        async (maxAttempts, refuseAt) => {
          const id = `r${seq++}`;
          const asked: number[] = [];
          const refusal = { name: 'RunStoppedError', code: 'STOPPED', message: `Task ${id} not tried again` };
          const result = await runHttpTask(
            { id, url: `${server.url}/${id}` },
            {
              dispatcher: agents.dispatcher,
              retry: { maxAttempts },
              sleep: async () => {},
              beforeRetry: (_task, attempt) => {
                asked.push(attempt);
                return attempt === refuseAt ? refusal : undefined;
              },
            },
          );
          // Attempts happen up to maxAttempts, or up to the one before the refused one.
          const refused = refuseAt !== undefined && refuseAt <= maxAttempts;
          const attempts = refused ? refuseAt - 1 : maxAttempts;
          expect(hits(`/${id}`)).toBe(attempts);
          expect(asked).toEqual(Array.from({ length: attempts - (refused ? 0 : 1) }, (_, i) => i + 2));
          expect(result).toMatchObject({ ok: false, status: 503, attempts, retryable: true });
          if (refused) expect(result.error).toEqual(refusal);
          else expect(result.error?.code).toBe('BF_HTTP_STATUS');
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('beforeRetry and the deadline', () => {
  it('a retry the look itself carried past the deadline is not sent (the look is a ledger read that may be slow)', async () => {
    // An injected clock: the first attempt and the backoff spend nothing; the look spends 3 s, which leaves
    // less than an attempt's timeout (1 s) before the deadline.
    let clock = 10_000;
    const id = `d${seq++}`;
    const result = await runHttpTask(
      { id, url: `${server.url}/${id}` },
      {
        dispatcher: agents.dispatcher,
        retry: { maxAttempts: 3 },
        timeoutMs: 1_000,
        now: () => clock,
        deadline: 12_500,
        sleep: async () => {},
        beforeRetry: () => {
          clock += 3_000;
          return undefined;
        },
      },
    );
    expect(hits(`/${id}`)).toBe(1);
    expect(result).toMatchObject({ ok: false, attempts: 1, retryable: true });
    expect(result.error?.message).toBe(
      `Unexpected status 503 from task ${id} (not tried again: an attempt of 1000 ms would end after the deadline)`,
    );
  });

  it('a paused run is asked first when the wait ran past the deadline: the refusal, not the deadline, ends it', async () => {
    // The run was paused during the wait, which also ran long: the task is the gate's (handed on, its delivery
    // unspent), not a deadline's (a retry message, a delivery spent).
    let clock = 10_000;
    const id = `d${seq++}`;
    const refusal = { name: 'RunStoppedError', code: 'STOPPED', message: `Task ${id} not tried again` };
    const result = await runHttpTask(
      { id, url: `${server.url}/${id}` },
      {
        dispatcher: agents.dispatcher,
        retry: { maxAttempts: 3 },
        timeoutMs: 1_000,
        now: () => clock,
        deadline: 12_500,
        sleep: async () => {
          clock += 2_000;
        },
        beforeRetry: () => refusal,
      },
    );
    expect(hits(`/${id}`)).toBe(1);
    expect(result).toMatchObject({ ok: false, attempts: 1, retryable: true, error: refusal });
  });
});
