// A property of runHttpTask against a real scripted server: for any sequence of answers (2xx, 4xx, 5xx,
// 429 with Retry-After, resets), any method and any retry settings, the attempts, the waits requested and
// the final result (whether a failure is retryable included) match the rules of the issue, and the server
// saw exactly `attempts` requests.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CountingServer,
  type ScriptedReply,
  startCountingServer,
} from '../../../bench/servers/counting-server.js';
import { createHttpAgents, type HttpAgents, runHttpTask } from '../../../lib/http/index.js';

let server: CountingServer;
let agents: HttpAgents;
const scripts = new Map<string, { replies: ScriptedReply[]; served: number }>();

beforeAll(async () => {
  server = await startCountingServer({
    script: (req) => {
      const s = scripts.get(req.path);
      if (!s) return undefined;
      return s.replies[Math.min(s.served++, s.replies.length - 1)];
    },
  });
  agents = createHttpAgents({ maxSockets: 4 }, { allow: ['127.0.0.1'] });
});
afterAll(async () => {
  await agents.destroy();
  await server.close();
});

const reply = fc.oneof(
  fc.constant<ScriptedReply>({ status: 200 }),
  fc.constant<ScriptedReply>({ status: 503 }),
  fc.constant<ScriptedReply>({ status: 500 }),
  fc.constant<ScriptedReply>({ status: 404 }),
  fc.constant<ScriptedReply>({ status: 408 }),
  fc.constant<ScriptedReply>({ status: 422 }),
  fc.constant<ScriptedReply>({ reset: true }),
  fc.nat(40).map<ScriptedReply>((s) => ({ status: 429, headers: { 'retry-after': String(s) } })),
);

interface Expected {
  ok: boolean;
  status: number;
  attempts: number;
  waits: number[];
  /** On a failure: another delivery may succeed (a retryable answer and a repeatable method). */
  retryable?: boolean;
}

/** The rules, stated once more as a small model: what runHttpTask must do with these answers. */
function model(
  replies: ScriptedReply[],
  method: string,
  { maxAttempts, baseMs, maxMs }: { maxAttempts: number; baseMs: number; maxMs: number },
  jitter: number,
): Expected {
  const waits: number[] = [];
  const mayRetry = method !== 'POST';
  for (let n = 1; ; n++) {
    const r = replies[Math.min(n - 1, replies.length - 1)];
    const status = r.reset ? 0 : (r.status ?? 200);
    if (status === 200) return { ok: true, status, attempts: n, waits };
    const retryable = mayRetry && [0, 408, 425, 429].includes(status) ? true : mayRetry && status >= 500;
    if (!retryable || n >= maxAttempts) return { ok: false, status, attempts: n, waits, retryable };
    const retryAfter = r.headers?.['retry-after'];
    if (retryAfter !== undefined && Number(retryAfter) * 1000 > 30_000)
      return { ok: false, status, attempts: n, waits, retryable };
    waits.push(
      retryAfter !== undefined
        ? Number(retryAfter) * 1000
        : Math.floor(jitter * Math.min(maxMs, baseMs * 2 ** (n - 1))),
    );
  }
}

describe('runHttpTask: property', () => {
  it('attempts, waits and results follow the rules for any answers', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(reply, { minLength: 1, maxLength: 6 }),
        fc.constantFrom('GET', 'PUT', 'DELETE', 'POST'),
        fc.record({
          maxAttempts: fc.integer({ min: 1, max: 5 }),
          baseMs: fc.integer({ min: 0, max: 1000 }),
          maxMs: fc.integer({ min: 0, max: 3000 }),
        }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        async (replies, method, retry, jitter) => {
          const path = `/prop/${++run}`;
          scripts.set(path, { replies, served: 0 });
          const waits: number[] = [];
          const result = await runHttpTask(
            { id: path, url: `${server.url}${path}`, method },
            {
              dispatcher: agents.dispatcher,
              retry,
              random: () => jitter,
              sleep: async (ms) => {
                waits.push(ms);
              },
            },
          );
          const expected = model(replies, method, retry, jitter);
          const { ok, status, attempts, retryable } = result;
          const seen = { ok, status, attempts, waits, ...(ok ? {} : { retryable }) };
          expect(seen).toEqual(expected);
          expect(result.attempts).toBeLessThanOrEqual(retry.maxAttempts);
          expect(scripts.get(path)?.served).toBe(result.attempts);
          expect(result.ok).toBe(result.error === undefined);
        },
      ),
      { numRuns: 80 },
    );
  });
});
