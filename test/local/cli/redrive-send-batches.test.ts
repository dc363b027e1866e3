// The redrive's send batches (local/cli/redrive-send-batches.ts): every message once, in order, each batch at
// most 10 messages and SQS_MAX_BATCH_BYTES as SQS counts them, but for a message larger than that alone.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SQS_MAX_BATCH_BYTES } from '../../../lib/wire/sqs-limits.js';
import { messageBytes, sendBatches } from '../../../local/cli/redrive-send-batches.js';

describe('sendBatches', () => {
  it('keeps every message once, in order, each batch within SQS limits (property)', () => {
    const message = fc.record({
      MessageId: fc.uuid(),
      Body: fc.nat(300 * 1024).map((n) => 'x'.repeat(n)),
      MessageAttributes: fc.dictionary(
        fc.string({ minLength: 1, maxLength: 8 }),
        fc.record({ DataType: fc.constant('String'), StringValue: fc.string({ maxLength: 64 }) }),
        { maxKeys: 3 },
      ),
    });
    fc.assert(
      fc.property(fc.array(message, { maxLength: 10 }), (messages) => {
        const batches = sendBatches(messages);
        expect(batches.flat()).toEqual(messages);
        for (const batch of batches) {
          expect(batch.length).toBeGreaterThan(0);
          expect(batch.length).toBeLessThanOrEqual(10);
          const bytes = batch.reduce((sum, m) => sum + messageBytes(m), 0);
          if (batch.length > 1) expect(bytes).toBeLessThanOrEqual(SQS_MAX_BATCH_BYTES);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('counts a message as SQS does: body, and each attribute name, type and value (UTF-8 bytes)', () => {
    expect(
      messageBytes({
        Body: 'é',
        MessageAttributes: {
          ab: { DataType: 'String', StringValue: 'xyz' },
          c: { DataType: 'Binary', BinaryValue: new Uint8Array(5) },
        },
      }),
    ).toBe(2 + (2 + 6 + 3) + (1 + 6 + 5));
  });
});
