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
