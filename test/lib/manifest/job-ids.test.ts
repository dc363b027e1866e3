import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runIdOf } from '../../../functions/open-job.js';
import { jobIdFromKey } from '../../../lib/aws/s3-manifest.js';
import { classifyEvent } from '../../../lib/fanout/continuation.js';
import { MESSAGE_VERSION, MessageKinds, parseTaskMessage } from '../../../lib/fanout/messages.js';
import { emptyCounts } from '../../../lib/fanout/summary.js';
import { JobIdSchema, parseJobHeader } from '../../../lib/manifest/index.js';
import { RUNS } from '../../helpers/runs.js';

// Keys of a run's work are `<jobId>:<runId>:<rest>` (task records in functions/task-runner.ts, message keys in
// lib/fanout/segment.ts, segment keys in functions/orchestrator.ts). With ":" allowed in the ids, job "a:b" run
// "c" and job "a" run "b:c" shared every key: one run's completed-task records made the other skip its tasks.

const COLON =
  'contains ":", which separates the job id, run id and task id in keys (job "a:b" run "c" and job "a" run "b:c" would share them); use "-" or "." instead';

/** The key a task record or message of a run has, as the worker and the orchestrator build it. */
const keyOf = (jobId: string, runId: string, rest: string) => `${jobId}:${runId}:${rest}`;

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('job and run ids', () => {
  it('two accepted runs never share a key: the colliding pair is refused, naming the field and value', () => {
    const id = fc.stringMatching(/^[ab][ab:.-]{0,4}$/);
    const accepted = (v: string) => JobIdSchema.safeParse(v).success;
    fc.assert(
      fc.property(id, id, (jobId, runId) => {
        fc.pre(accepted(jobId) && accepted(runId));
        // Every other reading of the same key as a job id and a run id must be one the schema refuses.
        const key = keyOf(jobId, runId, 't1');
        const joined = key.slice(0, key.length - ':t1'.length);
        for (let i = joined.indexOf(':'); i >= 0; i = joined.indexOf(':', i + 1)) {
          const [job, run] = [joined.slice(0, i), joined.slice(i + 1)];
          if (job !== jobId && accepted(job) && accepted(run)) return false;
        }
        return true;
      }),
      { numRuns: RUNS },
    );
    expect(keyOf('a:b', 'c', 't1')).toBe(keyOf('a', 'b:c', 't1'));
    expect(refusal(() => parseJobHeader({ jobId: 'a:b', runId: 'c' }))).toBe(`jobId: "a:b" ${COLON}`);
    expect(refusal(() => parseJobHeader({ jobId: 'a', runId: 'b:c' }))).toBe(`runId: "b:c" ${COLON}`);
  });

  it('a continuation and a task message with ":" in an id are refused the same way', () => {
    const continuation = {
      v: 1,
      jobId: 'j',
      runId: 'r:1',
      source: { kind: 'inline', job: {} },
      cursor: 0,
      nextMessageSeq: 0,
      segment: 1,
      startedAt: 1,
      counts: emptyCounts(),
      peaks: { inline: 0, enqueue: 0, invoke: 0 },
      budget: { finished: 0, failed: 0 },
    };
    expect(refusal(() => classifyEvent({ continuation }))).toMatch(
      new RegExp(`^continuation\\.runId: "r:1" ${COLON.replace(/[()".]/g, '\\$&')}`),
    );
    const message = {
      v: MESSAGE_VERSION,
      kind: MessageKinds.TASKS,
      jobId: 'a:b',
      runId: 'c',
      key: 'a:b:c:0',
      attempt: 1,
      tasks: [{ id: 't1', url: 'http://127.0.0.1/t1', mode: 'queue' }],
    };
    expect(parseTaskMessage(JSON.stringify(message))).toMatchObject({
      ok: false,
      error: `jobId: "a:b" ${COLON}`,
    });
  });

  it('ids derived from a request id or an S3 key turn ":" into "-"', () => {
    expect(runIdOf({ awsRequestId: 'req:1/2' })).toBe('req-1-2');
    expect(jobIdFromKey('manifests/nightly:eu.ndjson')).toBe('nightly-eu');
    for (const derived of [runIdOf({ awsRequestId: 'a:b' }), jobIdFromKey('x/a:b.json')]) {
      expect(JobIdSchema.safeParse(derived).success).toBe(true);
    }
  });
});
