import { setTimeout as sleepFor } from 'node:timers/promises';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { EntryFailure, SendEntry } from '../fanout/segment.js';
import { errorText } from '../fanout/segment.js';

export interface SendBatchOptions {
  /** Rounds of SendMessageBatch, the first included; each round resends only the entries that failed. */
  readonly maxRounds?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly delaySeconds?: number;
  readonly sleep?: (ms: number) => Promise<unknown>;
}

export const defaultSendBatchOptions = { maxRounds: 5, baseDelayMs: 100, maxDelayMs: 2_000 } as const;

/**
 * One SendMessageBatch of at most 10 entries, with the entries that fail resent (exponential backoff with
 * full jitter) until they succeed or the rounds run out. A failure SQS blames on the sender (a body too
 * large, a character SQS does not take) is not retried: it cannot succeed; it comes back marked
 * `senderFault`, for the caller to split its message (lib/fanout/send-isolated.ts). Resolves to the entries
 * that still failed, with their errors, so the caller dead-letters them: nothing is dropped silently.
 * Never rejects.
 */
export async function sendMessageBatch(
  sqs: SQSClient,
  queueUrl: string,
  entries: readonly SendEntry[],
  options: SendBatchOptions = {},
): Promise<EntryFailure[]> {
  const {
    maxRounds = defaultSendBatchOptions.maxRounds,
    baseDelayMs = defaultSendBatchOptions.baseDelayMs,
    maxDelayMs = defaultSendBatchOptions.maxDelayMs,
    delaySeconds,
    sleep = sleepFor,
  } = options;
  let pending = [...entries];
  const final: EntryFailure[] = [];
  let lastErrors = new Map<string, string>();
  for (let round = 1; round <= maxRounds && pending.length > 0; round++) {
    if (round > 1) await sleep(Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (round - 2)));
    const retry: SendEntry[] = [];
    lastErrors = new Map();
    try {
      const out = await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: pending.map((e) => (delaySeconds ? { ...e, DelaySeconds: delaySeconds } : { ...e })),
        }),
      );
      const byId = new Map(pending.map((e) => [e.Id, e]));
      for (const failure of out.Failed ?? []) {
        const entry = failure.Id === undefined ? undefined : byId.get(failure.Id);
        if (!entry) continue;
        const error = `${failure.Code ?? 'Failed'}: ${failure.Message ?? 'no message'}`;
        if (failure.SenderFault) final.push({ id: entry.Id, error, senderFault: true });
        else {
          retry.push(entry);
          lastErrors.set(entry.Id, error);
        }
      }
    } catch (error) {
      // The whole call failed after the SDK's own retries: every entry is retried.
      for (const entry of pending) {
        retry.push(entry);
        lastErrors.set(entry.Id, errorText(error));
      }
    }
    pending = retry;
  }
  for (const entry of pending) final.push({ id: entry.Id, error: lastErrors.get(entry.Id) ?? 'not sent' });
  return final;
}
