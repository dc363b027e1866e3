// Issue 12: any task the manifest accepts travels through SQS, whatever characters its id, headers or body
// hold (SQS refuses U+FFFE, U+FFFF, lone surrogates and most control characters in a message body, and
// fauxqs also refuses astral characters), and one task can never take its neighbours with it. The real
// orchestrator and worker handlers, the embedded emulators, a loopback target that keeps each request's body.
import { describe, expect, it } from 'vitest';
import type { FanoutConfig } from '../../lib/config.js';
import { type LocalJobReport, runLocalJob } from '../../local/run-local-job.js';
import { backend, uniquePrefix } from './fixtures/aws.js';
import { trackBodyTargets } from './fixtures/body-target.js';

const bodyTarget = trackBodyTargets();

function config(): Partial<FanoutConfig> {
  return {
    prefix: uniquePrefix('wire'),
    allowHosts: ['127.0.0.1'],
    tasksPerMessage: 25,
    batchSize: 5,
    maxBatchingWindowSeconds: 0,
    workerMaxConcurrency: 2,
    workerReservedConcurrency: 3,
    perInvocationConcurrency: 8,
    maxReceiveCount: 3,
    visibilityTimeoutSeconds: 60,
  };
}

function expectAccounted(report: LocalJobReport) {
  expect(report.unaccounted).toBe(0);
  expect(report.succeeded + report.deadLettered + report.invalid).toBe(report.submitted);
}

/** The characters of the issue, each as a JS string (UTF-16 units). */
const poisons = {
  'U+FFFE': '\uFFFE',
  'U+FFFF': '\uFFFF',
  'a lone high surrogate': '\uD800',
  'a lone low surrogate': '\uDC00',
  'an emoji (astral plane)': '\u{1F600}',
  'a C0 control character': '\u0001',
} as const;

describe('a task with characters SQS refuses', () => {
  it.each(Object.entries(poisons))(
    '%s in its id and body: all 50 tasks run once, the poison task with its body intact',
    async (_name, ch) => {
      const target = await bodyTarget();
      // The manifest refuses control characters in ids (they end up in logs and keys): there, the body only.
      const inId = ch.charCodeAt(0) >= 0x20;
      const tasks = Array.from({ length: 50 }, (_, i) => ({
        id: i === 17 && inId ? `poison${ch}17` : `t${i}`,
        url: `${target.url}/task/${i}`,
        method: 'POST',
        body: i === 17 ? `before ${ch} after` : `plain ${i}`,
      }));

      const report = await runLocalJob({ jobId: 'wire', tasks }, { config: config(), backend: backend() });

      expectAccounted(report);
      expect([report.status, report.submitted, report.succeeded, report.deadLettered]).toEqual([
        'succeeded',
        50,
        50,
        0,
      ]);
      for (let i = 0; i < 50; i++) {
        const requests = target.received.get(`/task/${i}`) ?? [];
        expect(requests.length, `task ${i}`).toBe(1);
        // The body's bytes are the original string's UTF-8 (a lone surrogate is U+FFFD there, as for any
        // string undici writes): nothing was lost or changed on the way through SQS.
        expect(requests[0].body.equals(Buffer.from(tasks[i].body)), `task ${i}'s body`).toBe(true);
      }
    },
    60_000,
  );

  it('a poison task that fails for good reaches the dead-letter queue, and the report shows its original characters', async () => {
    const target = await bodyTarget((path) => (path === '/task/3' ? 404 : 200));
    const id = 'p\uFFFE\uFFFF\uD800\u{1F600}';
    const tasks = Array.from({ length: 50 }, (_, i) => ({
      id: i === 3 ? id : `t${i}`,
      url: `${target.url}/task/${i}`,
      method: 'POST',
      body: i === 3 ? `b\uFFFE\u{1F600}\u0001` : `plain ${i}`,
    }));

    const report = await runLocalJob({ jobId: 'wiredlq', tasks }, { config: config(), backend: backend() });

    expectAccounted(report);
    expect([report.submitted, report.succeeded, report.deadLettered]).toEqual([50, 49, 1]);
    expect(report.deadLetteredTasks.map((d) => [d.id, d.task?.body, d.source])).toEqual([
      [id, 'b\uFFFE\u{1F600}\u0001', 'worker'],
    ]);
    // Its neighbours ran once; it ran once per delivery (how many depends on the retry policy, not on this).
    for (let i = 0; i < 50; i++)
      if (i !== 3) expect(target.received.get(`/task/${i}`)?.length, `task ${i}`).toBe(1);
    expect(target.received.get('/task/3')?.[0].body.equals(Buffer.from(tasks[3].body))).toBe(true);
  }, 60_000);
});
