// Attempt options built once per container, not per invocation or task (issue 15): the worker's invocations
// each add their deadline, signal and clock to the container's options (functions/invocation-deadline.ts), and
// what those options resolve to (retry policy, timeouts, body cap, redactor) is built for the container once.
// Counted through the retry options' reads, on a real HTTP server on 127.0.0.1.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invocationDeadline } from '../../functions/invocation-deadline.js';
import { type RunHttpTaskOptions, runHttpTask } from '../../lib/http/run-http-task.js';

let server: Server;
let url: string;
let requests = 0;
const agent = new Agent({ connections: 4 });

beforeAll(async () => {
  server = createServer((_req, res) => {
    requests++;
    res.writeHead(503).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  await agent.close();
  server.close();
  await once(server, 'close');
});

/** Container options whose retry policy counts how often it is read, that is, how often the options are built. */
function countedContainerOptions() {
  let builds = 0;
  const retry = {
    get maxAttempts() {
      builds++;
      return 2;
    },
    baseMs: 0,
    maxMs: 0,
  };
  const options: RunHttpTaskOptions = { dispatcher: agent, timeoutMs: 2_000, retry };
  return { options, builds: () => builds };
}

describe('attempt options per container', () => {
  it('builds the container options once for three invocations of two tasks each, and each run uses them', async () => {
    const container = countedContainerOptions();
    const before = requests;
    const results = [];
    for (let invocation = 0; invocation < 3; invocation++) {
      const deadline = invocationDeadline({ getRemainingTimeInMillis: () => 60_000 }, container.options);
      try {
        for (const id of ['a', 'b']) results.push(await runHttpTask({ id, url }, deadline.taskOptions));
      } finally {
        deadline.close();
      }
    }
    expect(container.builds()).toBe(1);
    // The container's retry policy (2 attempts) held in every invocation: 6 tasks, 12 requests.
    expect(results.map((r) => [r.id, r.ok, r.status, r.attempts])).toEqual(
      ['a', 'b', 'a', 'b', 'a', 'b'].map((id) => [id, false, 503, 2]),
    );
    expect(requests - before).toBe(12);
  });

  it("keeps each invocation's own deadline and clock, and still checks the deadline", async () => {
    const container = countedContainerOptions();
    let clock = 0;
    const deadline = invocationDeadline(
      { getRemainingTimeInMillis: () => 60_000 },
      container.options,
      () => clock,
    );
    try {
      clock = 60_000; // past this invocation's deadline: no attempt fits
      const late = await runHttpTask({ id: 'late', url }, deadline.taskOptions);
      expect([late.ok, late.attempts]).toEqual([false, 0]);
      expect(late.error?.code).toBe('BF_DEADLINE');
    } finally {
      deadline.close();
    }
    expect(container.builds()).toBe(1);
    const bad = invocationDeadline({ getRemainingTimeInMillis: () => Number.NaN }, container.options);
    bad.close();
    await expect(runHttpTask({ id: 'x', url }, bad.taskOptions)).rejects.toThrow(
      'Expected `deadline` to be a finite time in milliseconds, got NaN',
    );
  });
});
