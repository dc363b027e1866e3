// runHttpTask against a real loopback server scripted per request: 503, 429 with Retry-After in both
// forms, reset connections, stalls and oversized bodies. Waits are not spent: `sleep` is a stand-in that
// records each requested wait and returns at once, so the tests assert the waits computed, never timings.
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type CountingServer,
  type ScriptedReply,
  startCountingServer,
} from '../../../bench/servers/counting-server.js';
import {
  createHttpAgents,
  type HttpAgents,
  type HttpTask,
  type RetryEvent,
  type RunHttpTaskOptions,
  runHttpTask,
} from '../../../lib/http/index.js';
import { InvalidArgumentError } from '../../../lib/index.js';

let server: CountingServer;
let agents: HttpAgents;
let waits: number[];
let events: RetryEvent[];

/** Options with the recording sleep and a fixed jitter of 0.5. */
function options(extra: Partial<RunHttpTaskOptions> = {}): RunHttpTaskOptions {
  return {
    dispatcher: agents.dispatcher,
    random: () => 0.5,
    sleep: async (ms) => {
      waits.push(ms);
    },
    onRetry: (e) => events.push(e),
    ...extra,
  };
}

/** Scripts the replies to the requests on `path`, in order; later requests get the last reply. */
function replies(path: string, list: ScriptedReply[]): string {
  let i = 0;
  server.script((req) => (req.path === path ? list[Math.min(i++, list.length - 1)] : undefined));
  return `${server.url}${path}`;
}

const hits = (path: string) => server.requests.filter((r) => r.path === path).length;

beforeAll(async () => {
  server = await startCountingServer();
  agents = createHttpAgents({ maxSockets: 4, requestTimeoutMs: 5_000 }, { allow: ['127.0.0.1'] });
});
afterAll(async () => {
  await agents.destroy();
  await server.close();
});
beforeEach(() => {
  waits = [];
  events = [];
  server.script(undefined);
});

describe('runHttpTask: retries', () => {
  it('retries 503 with full-jitter backoff and succeeds', async () => {
    const url = replies('/503-then-ok', [
      { status: 503 },
      { status: 503 },
      { status: 503 },
      { status: 200, body: 'done' },
    ]);
    const result = await runHttpTask({ id: 't1', url }, options({ keepBody: true }));
    expect(result).toMatchObject({ id: 't1', ok: true, status: 200, attempts: 4, bytes: 4, body: 'done' });
    expect(result.error).toBeUndefined();
    // random() = 0.5 of min(maxMs, baseMs * 2^(n-1)) with baseMs 100.
    expect(waits).toEqual([50, 100, 200]);
    expect(events.map((e) => [e.attempt, e.status, e.source])).toEqual([
      [1, 503, 'backoff'],
      [2, 503, 'backoff'],
      [3, 503, 'backoff'],
    ]);
    expect(hits('/503-then-ok')).toBe(4);
  });

  it('stops after maxAttempts and reports the last status', async () => {
    const url = replies('/always-503', [{ status: 503 }]);
    const result = await runHttpTask(
      { id: 't2', url },
      options({ retry: { maxAttempts: 3, baseMs: 1000, maxMs: 1500 } }),
    );
    expect(result).toMatchObject({ ok: false, status: 503, attempts: 3 });
    expect(result.error).toEqual({
      name: 'HttpStatusError',
      code: 'BF_HTTP_STATUS',
      message: 'Unexpected status 503 from task t2 after 3 attempts',
    });
    // maxMs caps the second wait: 0.5 * min(1500, 2000).
    expect(waits).toEqual([500, 750]);
    expect(hits('/always-503')).toBe(3);
  });

  it('honours Retry-After in seconds on 429', async () => {
    const url = replies('/429-seconds', [{ status: 429, headers: { 'retry-after': '7' } }, { status: 200 }]);
    const result = await runHttpTask({ id: 't3', url }, options());
    expect(result).toMatchObject({ ok: true, status: 200, attempts: 2 });
    expect(waits).toEqual([7000]);
    expect(events[0]).toMatchObject({ source: 'retry-after', status: 429, delayMs: 7000 });
  });

  it('honours Retry-After as an HTTP-date', async () => {
    // Date alone is faked (timers and sockets stay real): the wait is the date minus now, to the ms.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.parse('2026-12-05T10:00:00.250Z') });
    try {
      const url = replies('/429-date', [
        { status: 429, headers: { 'retry-after': 'Sat, 05 Dec 2026 10:00:20 GMT' } },
        { status: 204, body: '' },
      ]);
      const result = await runHttpTask({ id: 't4', url }, options());
      expect(result).toMatchObject({ ok: true, status: 204, attempts: 2 });
      expect(waits).toEqual([19_750]);
      expect(events[0]).toMatchObject({ source: 'retry-after', status: 429, delayMs: 19_750 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('a Retry-After date in the past means no wait', async () => {
    const url = replies('/503-past', [
      { status: 503, headers: { 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' } },
      {},
    ]);
    expect(await runHttpTask({ id: 't5', url }, options())).toMatchObject({ ok: true, attempts: 2 });
    expect(waits).toEqual([0]);
  });

  it('gives up when Retry-After exceeds maxRetryAfterMs, without waiting', async () => {
    const url = replies('/429-long', [{ status: 429, headers: { 'retry-after': '3600' } }, {}]);
    const result = await runHttpTask({ id: 't6', url }, options());
    expect(result).toMatchObject({ ok: false, status: 429, attempts: 1 });
    expect(result.error?.message).toBe(
      'Unexpected status 429 from task t6: Retry-After 3600000 ms exceeds maxRetryAfterMs (30000)',
    );
    expect(waits).toEqual([]);
    expect(hits('/429-long')).toBe(1);
  });

  it('a failure that ends on a Retry-After it did not wait out carries the wait asked, for a later delivery', async () => {
    // Over maxRetryAfterMs: not waited, passed on.
    const long = replies('/429-carried', [{ status: 429, headers: { 'retry-after': '3600' } }]);
    const over = await runHttpTask({ id: 'c1', url: long }, options());
    expect(over).toMatchObject({ ok: false, attempts: 1, retryable: true, retryAfterMs: 3_600_000 });
    // Out of attempts: the last answer's ask.
    const last = replies('/503-last-ask', [{ status: 503, headers: { 'retry-after': '2' } }]);
    const spent = await runHttpTask({ id: 'c2', url: last }, options({ retry: { maxAttempts: 2 } }));
    expect(spent).toMatchObject({ ok: false, attempts: 2, retryable: true, retryAfterMs: 2_000 });
    expect(waits).toEqual([2_000]);
    // Out of time: the wait asked would end after the deadline (the deadline's clock is injected).
    const late = replies('/503-late', [{ status: 503, headers: { 'retry-after': '20' } }]);
    const cut = await runHttpTask(
      { id: 'c3', url: late },
      options({ deadline: 1_000_000, now: () => 1_000_000 - 20_000, timeoutMs: 5_000 }),
    );
    expect(cut).toMatchObject({ ok: false, attempts: 1, retryable: true, retryAfterMs: 20_000 });
    // Asked for nothing (or for something it cannot read): none.
    const none = replies('/503-no-ask', [{ status: 503, headers: { 'retry-after': 'soon' } }]);
    const plain = await runHttpTask({ id: 'c4', url: none }, options({ retry: { maxAttempts: 1 } }));
    expect(plain).toMatchObject({ ok: false, attempts: 1, retryable: true });
    expect('retryAfterMs' in plain).toBe(false);
  });

  it('carries an HTTP-date Retry-After as the wait from now, to the ms', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.parse('2026-12-05T10:00:00.250Z') });
    try {
      const url = replies('/429-date-carried', [
        { status: 429, headers: { 'retry-after': 'Sat, 05 Dec 2026 11:00:00 GMT' } },
      ]);
      const result = await runHttpTask({ id: 'c5', url }, options());
      expect(result).toMatchObject({ ok: false, attempts: 1, retryable: true, retryAfterMs: 3_599_750 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('asks beforeStart once, before the first attempt only: a refusal sends nothing and is retryable', async () => {
    const url = replies('/gated', [{ status: 503 }, { status: 200 }]);
    let asked = 0;
    const ok = await runHttpTask({ id: 'g1', url }, options({ beforeStart: () => void asked++ }));
    expect(ok).toMatchObject({ ok: true, attempts: 2 });
    expect([asked, hits('/gated')]).toEqual([1, 2]);
    const refusal = { name: 'RunStoppedError', code: 'STOPPED', message: 'Task g2 not started: run paused' };
    const refused = await runHttpTask({ id: 'g2', url }, options({ beforeStart: async () => refusal }));
    expect(refused).toMatchObject({
      id: 'g2',
      ok: false,
      status: 0,
      attempts: 0,
      retryable: true,
      error: refusal,
    });
    expect(hits('/gated')).toBe(2);
  });

  it('falls back to backoff for an unparsable Retry-After', async () => {
    const url = replies('/503-junk', [{ status: 503, headers: { 'retry-after': 'soon' } }, {}]);
    expect(await runHttpTask({ id: 't7', url }, options())).toMatchObject({ ok: true, attempts: 2 });
    expect(waits).toEqual([50]);
    expect(events[0].source).toBe('backoff');
  });

  it('retries reset connections', async () => {
    const url = replies('/reset', [{ reset: true }, { reset: true }, { status: 200 }]);
    const result = await runHttpTask({ id: 't8', url }, options());
    expect(result).toMatchObject({ ok: true, status: 200, attempts: 3 });
    expect(events).toHaveLength(2);
    for (const e of events) expect(['ECONNRESET', 'UND_ERR_SOCKET']).toContain(e.code);
    expect(hits('/reset')).toBe(3);
  });

  it('times out a stalled answer per attempt and retries it, within maxAttempts', async () => {
    const url = replies('/stall-headers', [{ stall: 'headers' }]);
    const result = await runHttpTask(
      { id: 't9', url, timeoutMs: 150 },
      options({ retry: { maxAttempts: 2 } }),
    );
    expect(result).toMatchObject({ ok: false, status: 0, attempts: 2 });
    expect(result.error).toMatchObject({ name: 'TimeoutError', code: 'BF_TIMEOUT' });
    expect(hits('/stall-headers')).toBe(2);
  });

  it('times out a body that stalls after the headers', async () => {
    const url = replies('/stall-body', [{ stall: 'body' }]);
    const result = await runHttpTask(
      { id: 't10', url, timeoutMs: 150 },
      options({ retry: { maxAttempts: 1 } }),
    );
    expect(result).toMatchObject({ ok: false, status: 200, attempts: 1, error: { code: 'BF_TIMEOUT' } });
  });

  it('times out a body that trickles past the deadline although no gap reaches the timeout', async () => {
    const url = replies('/trickle', [{ trickle: { chunks: 40, everyMs: 25 } }]);
    const result = await runHttpTask(
      { id: 't10b', url, timeoutMs: 150 },
      options({ retry: { maxAttempts: 1 } }),
    );
    expect(result).toMatchObject({ ok: false, status: 200, attempts: 1, error: { code: 'BF_TIMEOUT' } });
  });

  it('does not count time queued for a socket: 20 tasks through 1 socket, each answered well within its timeout', async () => {
    const one = createHttpAgents({ maxSockets: 1 }, { allow: ['127.0.0.1'] });
    try {
      const url = replies('/queued', [{ delayMs: 30 }]);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          runHttpTask(
            { id: `q${i}`, url, timeoutMs: 150 },
            options({ dispatcher: one.dispatcher, retry: { maxAttempts: 1 } }),
          ),
        ),
      );
      expect(results.map((r) => r.ok)).toEqual(Array(20).fill(true));
      expect(one.budget.peak).toBe(1);
    } finally {
      await one.destroy();
    }
  });

  it('fails an oversized body at the cap and does not retry it', async () => {
    const url = replies('/huge', [{ bodyBytes: 8 * 1024 * 1024 }]);
    const result = await runHttpTask({ id: 't11', url }, options());
    expect(result).toMatchObject({
      ok: false,
      status: 200,
      attempts: 1,
      error: { code: 'BF_RESPONSE_TOO_LARGE' },
    });
    expect(hits('/huge')).toBe(1);
  });

  it('refuses a declared content-length above the cap before reading', async () => {
    const url = replies('/declared', [{ body: 'x'.repeat(2048), headers: { 'content-length': '2048' } }]);
    const result = await runHttpTask({ id: 't12', url }, options({ maxBodyBytes: 1024 }));
    expect(result).toMatchObject({
      ok: false,
      status: 200,
      attempts: 1,
      error: { code: 'BF_RESPONSE_TOO_LARGE' },
    });
    expect(result.error?.message).toContain('content-length 2048');
  });
});

describe('runHttpTask: what is never retried', () => {
  it('POST and PATCH are not retried, on a status or a reset', async () => {
    for (const method of ['POST', 'PATCH']) {
      const path = `/post-${method}`;
      const url = replies(path, [{ status: 503 }, {}]);
      expect(await runHttpTask({ id: 'p', url, method, body: '{}' }, options())).toMatchObject({
        ok: false,
        status: 503,
        attempts: 1,
      });
      expect(hits(path)).toBe(1);
    }
    const url = replies('/post-reset', [{ reset: true }, {}]);
    expect(await runHttpTask({ id: 'p', url, method: 'POST' }, options())).toMatchObject({
      ok: false,
      attempts: 1,
    });
    expect(waits).toEqual([]);
  });

  it('POST is retried when the task says so', async () => {
    const url = replies('/post-ok', [{ status: 500 }, { status: 201 }]);
    const task: HttpTask = { id: 'p2', url, method: 'post', body: '{"a":1}', retryNonIdempotent: true };
    expect(await runHttpTask(task, options())).toMatchObject({ ok: true, status: 201, attempts: 2 });
  });

  it('4xx other than 429 is final', async () => {
    const url = replies('/404', [{ status: 404 }, {}]);
    const result = await runHttpTask({ id: 'n', url }, options());
    expect(result).toMatchObject({ ok: false, status: 404, attempts: 1, error: { code: 'BF_HTTP_STATUS' } });
    expect(result.error?.message).toBe('Unexpected status 404 from task n');
  });

  it('a refused destination fails with the guard error and one attempt', async () => {
    const strict = createHttpAgents({ maxSockets: 1 });
    try {
      const result = await runHttpTask(
        { id: 'r', url: `${server.url}/x` },
        options({ dispatcher: strict.dispatcher }),
      );
      expect(result).toMatchObject({
        ok: false,
        status: 0,
        attempts: 1,
        error: { name: 'DestinationRefusedError', code: 'BF_DESTINATION_REFUSED' },
      });
      expect(waits).toEqual([]);
    } finally {
      await strict.destroy();
    }
  });

  it('expectStatus makes a status success, even a retryable one', async () => {
    const url = replies('/expected', [{ status: 503 }]);
    const result = await runHttpTask({ id: 'e', url, expectStatus: [404, 503] }, options());
    expect(result).toMatchObject({ ok: true, status: 503, attempts: 1 });
    expect(
      await runHttpTask({ id: 'e2', url: replies('/ok', [{}]), expectStatus: 201 }, options()),
    ).toMatchObject({
      ok: false,
      status: 200,
      attempts: 1,
    });
  });
});

describe('runHttpTask: aborts', () => {
  it('an aborted signal before the start makes no attempt', async () => {
    const result = await runHttpTask(
      { id: 'a0', url: `${server.url}/never` },
      options({ signal: AbortSignal.abort() }),
    );
    expect(result).toMatchObject({ ok: false, status: 0, attempts: 0, error: { code: 'BF_ABORTED' } });
    expect(hits('/never')).toBe(0);
  });

  it('aborting during an attempt ends the task without another', async () => {
    const url = replies('/abort-stall', [{ stall: 'headers' }]);
    const controller = new AbortController();
    server.script((req) => {
      if (req.path === '/abort-stall') setImmediate(() => controller.abort());
      return { stall: 'headers' };
    });
    const result = await runHttpTask(
      { id: 'a1', url, timeoutMs: 30_000 },
      options({ signal: controller.signal }),
    );
    expect(result).toMatchObject({ ok: false, attempts: 1, error: { code: 'BF_ABORTED' } });
    expect(hits('/abort-stall')).toBe(1);
  });

  it('aborting during a wait ends the task (real timer)', async () => {
    const url = replies('/abort-wait', [{ status: 503, headers: { 'retry-after': '20' } }, {}]);
    const controller = new AbortController();
    const result = await runHttpTask(
      { id: 'a2', url },
      {
        dispatcher: agents.dispatcher,
        signal: controller.signal,
        onRetry: () => setImmediate(() => controller.abort()),
      },
    );
    expect(result).toMatchObject({ ok: false, status: 503, attempts: 1, error: { code: 'BF_ABORTED' } });
    expect(hits('/abort-wait')).toBe(1);
  });
});

describe('runHttpTask: retryable, the decision the worker settles a failed task by', () => {
  const cases: Array<[string, ScriptedReply, Partial<HttpTask>, boolean]> = [
    ['404', { status: 404 }, {}, false],
    ['400', { status: 400 }, {}, false],
    ['401', { status: 401 }, {}, false],
    ['410', { status: 410 }, {}, false],
    ['422', { status: 422 }, {}, false],
    ['POST 500', { status: 500 }, { method: 'POST' }, false],
    ['PATCH 503', { status: 503 }, { method: 'PATCH' }, false],
    ['POST reset', { reset: true }, { method: 'POST' }, false],
    ['POST 500, retryNonIdempotent', { status: 500 }, { method: 'POST', retryNonIdempotent: true }, true],
    ['503', { status: 503 }, {}, true],
    ['408', { status: 408 }, {}, true],
    ['425', { status: 425 }, {}, true],
    ['429', { status: 429 }, {}, true],
    ['a reset connection', { reset: true }, {}, true],
    ['a stalled answer (timeout)', { stall: 'headers' }, { timeoutMs: 50 }, true],
  ];
  for (const [name, reply, extra, retryable] of cases) {
    it(`${name}: retryable ${retryable}`, async () => {
      const path = `/retryable/${encodeURIComponent(name)}`;
      const url = replies(path, [reply]);
      const result = await runHttpTask({ id: 'r', url, ...extra }, options({ retry: { maxAttempts: 2 } }));
      expect(result).toMatchObject({ ok: false, retryable });
      // A permanent failure is sent once; a retryable one up to maxAttempts.
      expect(hits(path)).toBe(retryable ? 2 : 1);
    });
  }

  it('a success says nothing; an invalid task and a refused destination are permanent', async () => {
    const ok = await runHttpTask({ id: 'ok', url: replies('/retryable-ok', [{}]) }, options());
    expect(ok.ok).toBe(true);
    expect('retryable' in ok).toBe(false);
    expect(await runHttpTask({ id: 'bad', url: 'ftp://x' }, options())).toMatchObject({
      attempts: 0,
      retryable: false,
    });
    const strict = createHttpAgents({ maxSockets: 1 });
    try {
      const refused = await runHttpTask(
        { id: 'r', url: `${server.url}/refused` },
        options({ dispatcher: strict.dispatcher }),
      );
      expect(refused).toMatchObject({
        attempts: 1,
        retryable: false,
        error: { code: 'BF_DESTINATION_REFUSED' },
      });
    } finally {
      await strict.destroy();
    }
  });
});

describe('runHttpTask: deadline (an injected clock, no time spent)', () => {
  it('starts no attempt that would end after the deadline: attempts 0, BF_DEADLINE, retryable', async () => {
    const url = replies('/deadline-none', [{}]);
    const result = await runHttpTask(
      { id: 'd0', url, timeoutMs: 1_000 },
      options({ now: () => 5_000, deadline: 5_999 }),
    );
    expect(result).toMatchObject({
      ok: false,
      status: 0,
      attempts: 0,
      retryable: true,
      error: {
        code: 'BF_DEADLINE',
        message: 'Task d0 not started: an attempt of 1000 ms would end after the deadline',
      },
    });
    expect(hits('/deadline-none')).toBe(0);
  });

  it('an attempt that fits exactly is started', async () => {
    const url = replies('/deadline-exact', [{}]);
    const result = await runHttpTask(
      { id: 'd1', url, timeoutMs: 1_000 },
      options({ now: () => 5_000, deadline: 6_000 }),
    );
    expect(result).toMatchObject({ ok: true, attempts: 1 });
  });

  it('starts no retry it cannot finish: the last failure is reported, retryable', async () => {
    // Each request moves the clock 600 ms: after attempt 1 (at 600) a retry would end at 600 + 50 + 1000.
    let clock = 0;
    server.script((req) => {
      if (req.path === '/deadline-retry') clock += 600;
      return { status: 503 };
    });
    const url = `${server.url}/deadline-retry`;
    const result = await runHttpTask(
      { id: 'd2', url, timeoutMs: 1_000 },
      options({ now: () => clock, deadline: 1_600, retry: { maxAttempts: 4, baseMs: 100 } }),
    );
    expect(result).toMatchObject({ ok: false, status: 503, attempts: 1, retryable: true });
    expect(result.error?.message).toBe(
      'Unexpected status 503 from task d2 (not tried again: an attempt of 1000 ms would end after the deadline)',
    );
    expect(hits('/deadline-retry')).toBe(1);
    expect(waits).toEqual([]);
  });

  it('retries while they fit, then stops', async () => {
    let clock = 0;
    server.script((req) => {
      if (req.path === '/deadline-some') clock += 600;
      return { status: 503 };
    });
    const url = `${server.url}/deadline-some`;
    // Attempt 1 ends at 600, attempt 2 (wait 50) must end by 600 + 50 + 1000 = 1650 <= 2_300; attempt 3
    // would end at 1200 + 100 + 1000 = 2300 (fits); attempt 4 at 1800 + 200 + 1000 = 3000 (does not).
    const result = await runHttpTask(
      { id: 'd3', url, timeoutMs: 1_000 },
      options({ now: () => clock, deadline: 2_300, retry: { maxAttempts: 10, baseMs: 100 } }),
    );
    expect(result).toMatchObject({ ok: false, status: 503, attempts: 3, retryable: true });
    expect(waits).toEqual([50, 100]);
    expect(hits('/deadline-some')).toBe(3);
  });

  it('refuses a deadline that is not a finite number, naming it', async () => {
    await expect(
      runHttpTask({ id: 'x', url: `${server.url}/x` }, options({ deadline: Number.NaN })),
    ).rejects.toThrow('Expected `deadline` to be a finite time in milliseconds, got NaN');
  });
});

describe('runHttpTask: bad input', () => {
  const bad: Array<[unknown, string]> = [
    [{ id: '', url: 'http://127.0.0.1/' }, 'Expected `task.id` to be a non-empty string, got ""'],
    [
      { id: 'b', url: 'ftp://127.0.0.1/' },
      'Expected `task.url` to be an absolute http: or https: URL, got "ftp://127.0.0.1/"',
    ],
    [{ id: 'b', url: 'http://' }, '`task.url`'],
    [
      { id: 'b', url: 'http://127.0.0.1/', method: 'GE T' },
      'Expected `task.method` to be an HTTP method, got "GE T"',
    ],
    [
      { id: 'b', url: 'http://127.0.0.1/', timeoutMs: 0 },
      'Expected `task.timeoutMs` to be an integer >= 1, got 0',
    ],
    [{ id: 'b', url: 'http://127.0.0.1/', expectStatus: 700 }, '`task.expectStatus`'],
    [{ id: 'b', url: 'http://127.0.0.1/', body: 42 }, '`task.body`'],
    [{ id: 'b', url: 'http://127.0.0.1/', headers: 'x' }, '`task.headers`'],
  ];
  for (const [task, message] of bad) {
    it(`a bad task is a failed result: ${message}`, async () => {
      const result = await runHttpTask(task as HttpTask, options());
      expect(result).toMatchObject({
        ok: false,
        status: 0,
        attempts: 0,
        error: { code: 'BF_INVALID_ARGUMENT' },
      });
      expect(result.error?.message).toContain(message);
    });
  }

  it('bad options throw InvalidArgumentError naming the option', async () => {
    const task = { id: 'o', url: `${server.url}/` };
    await expect(runHttpTask(task, {} as RunHttpTaskOptions)).rejects.toThrow('`dispatcher`');
    await expect(runHttpTask(task, options({ retry: { maxAttempts: 0 } }))).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(runHttpTask(task, options({ retry: { maxAttempts: 0 } }))).rejects.toThrow(
      'Expected `retry.maxAttempts` to be an integer >= 1, got 0',
    );
    await expect(runHttpTask(task, options({ maxBodyBytes: -1 }))).rejects.toThrow('`maxBodyBytes`');
  });
});

/**
 * FAULT INJECTOR: the real bounded dispatcher behind a layer that fails every request with an error
 * quoting its headers, as a misbehaving proxy or interceptor might (undici's own errors never quote a
 * header value, so nothing else can put one into an error message).
 */
const quoting = () =>
  agents.dispatcher.compose((_dispatch) => (opts, handler) => {
    const error = new Error(`proxy refused the request with headers ${JSON.stringify(opts.headers)}`);
    if (handler.onResponseError) handler.onResponseError(null as never, error);
    else handler.onError?.(error);
    return true;
  });

describe('runHttpTask: secrets stay out of results and events', () => {
  const headers = {
    authorization: 'Bearer s3cr3t-t0ken',
    'x-api-key': 'k3y-v4lue',
    cookie: 'sid=c00kie',
    'x-partner-token': 'p4rtner',
  };
  const secrets = ['s3cr3t-t0ken', 'k3y-v4lue', 'c00kie', 'p4rtner'];

  it('in every kind of failure', async () => {
    const strict = createHttpAgents({ maxSockets: 1 });
    try {
      const results = [
        await runHttpTask({ id: 's1', url: replies('/s-503', [{ status: 503 }]), headers }, options()),
        await runHttpTask(
          { id: 's2', url: replies('/s-stall', [{ stall: 'headers' }]), headers, timeoutMs: 100 },
          options({ retry: { maxAttempts: 1 } }),
        ),
        await runHttpTask(
          { id: 's3', url: replies('/s-reset', [{ reset: true }]), headers },
          options({ retry: { maxAttempts: 2 } }),
        ),
        await runHttpTask(
          { id: 's4', url: `${server.url}/s`, headers },
          options({ dispatcher: strict.dispatcher }),
        ),
        // An error that quotes the headers: the one failure here that carries their values at all.
        await runHttpTask({ id: 's5', url: `${server.url}/s`, headers }, options({ dispatcher: quoting() })),
      ];
      // The headers did reach the server: the secrets were sent, just never reported.
      expect(server.requests.find((r) => r.path === '/s-503')?.headers.authorization).toBe(
        headers.authorization,
      );
      const text = JSON.stringify({ results, events });
      expect(results.every((r) => r.error !== undefined)).toBe(true);
      for (const s of secrets) expect(text).not.toContain(s);
    } finally {
      await strict.destroy();
    }
  });
});

describe('runHttpTask: secretHeaders', () => {
  // Header names the defaults do not treat as secrets, so only `secretHeaders` can keep their values out.
  const headers = { 'x-acct': 'acct-7f3e9d', 'x-tenant-ref': 'ten-51c2a8', 'x-trace': 'trace-0042' };

  const run = (secretHeaders?: RunHttpTaskOptions['secretHeaders']) =>
    runHttpTask(
      { id: 'sh', url: `${server.url}/sh`, headers },
      options({
        dispatcher: quoting(),
        retry: { maxAttempts: 2 },
        ...(secretHeaders ? { secretHeaders } : {}),
      }),
    );

  it('without it, the injected error shows the values (what the option is for)', async () => {
    const result = await run();
    expect(result.error?.message).toBe(`proxy refused the request with headers ${JSON.stringify(headers)}`);
  });

  it('a configured name (any case) or pattern is redacted in the result and the retry events; other headers are left', async () => {
    const result = await run(['X-Acct', /^x-tenant-/]);
    expect(result).toMatchObject({ ok: false, attempts: 2, retryable: true });
    expect(result.error?.message).toBe(
      'proxy refused the request with headers {"x-acct":"[REDACTED]","x-tenant-ref":"[REDACTED]","x-trace":"trace-0042"}',
    );
    expect(events).toHaveLength(1);
    const text = JSON.stringify({ result, events });
    for (const secret of ['acct-7f3e9d', 'ten-51c2a8']) expect(text).not.toContain(secret);
  });
});
