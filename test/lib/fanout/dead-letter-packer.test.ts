import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DeadLetterPacker,
  deadLetterEnvelope,
  packDeadLetters,
} from '../../../lib/fanout/dead-letter-packer.js';
import { deadLetterTask, readDeadLetterBody } from '../../../lib/fanout/messages.js';
import { SQS_MAX_MESSAGE_BYTES } from '../../../lib/wire/sqs-limits.js';
import { RUNS } from '../../helpers/runs.js';

// The one packing of dead-letter records, shared by the orchestrator's segment (a stream) and the worker's
// hand-on (one message's records at once).

const recordsOf = (sizes: readonly number[]) =>
  sizes.map((size, i) =>
    deadLetterTask({ id: `t${i}`, url: `http://h/${'x'.repeat(size)}`, mode: 'queue' }, 1, 'boom', 500),
  );

describe('dead-letter packing', () => {
  it('packs every record once, in order, at most 100 a message and within SQS message size', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 40_000 }), { maxLength: 300 }), (sizes) => {
        const records = recordsOf(sizes);
        const packets = packDeadLetters(deadLetterEnvelope('job', 'run', 'worker'), records);
        expect(packets.map((p) => p.entry.Id)).toEqual(packets.map((_, i) => `d${i}`));
        const read = packets.flatMap((p) => {
          expect(p.items.length).toBeLessThanOrEqual(100);
          expect(Buffer.byteLength(p.entry.MessageBody)).toBeLessThanOrEqual(SQS_MAX_MESSAGE_BYTES);
          const body = readDeadLetterBody(p.entry.MessageBody);
          if (body.kind !== 'dead-letter') throw new Error(`not a dead letter: ${body.kind}`);
          expect(body.message).toMatchObject({ jobId: 'job', runId: 'run', source: 'worker' });
          return body.message.tasks.map((t) => t.task.id);
        });
        expect(read).toEqual(records.map((r) => r.task.id));
      }),
      { numRuns: Math.min(RUNS, 100) },
    );
  });

  it('packs a stream (the segment) exactly as a whole list (the worker)', () => {
    const records = recordsOf(Array.from({ length: 250 }, (_, i) => (i * 977) % 5000));
    const envelope = deadLetterEnvelope('job', 'run', 'orchestrator');
    const packer = new DeadLetterPacker(envelope);
    const streamed = records.flatMap((r) => packer.add(r) ?? []);
    const last = packer.flush();
    if (last) streamed.push(last);
    expect(streamed.map((p) => p.entry)).toEqual(packDeadLetters(envelope, records).map((p) => p.entry));
    expect(streamed.length).toBe(3);
  });
});
