import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';

/**
 * The message ids the worker reported failed. Lambda's rules: no response or an empty list means all
 * succeeded; an item whose identifier is empty or not in the batch makes the whole batch fail.
 */
export function failedIds(response: unknown, records: readonly SQSRecord[]): Set<string> {
  const all = new Set(records.map((r) => r.messageId));
  if (response === null || response === undefined) return new Set();
  const failures = (response as Partial<SQSBatchResponse>).batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) return all;
  const failed = new Set<string>();
  for (const item of failures) {
    const id = (item as { itemIdentifier?: unknown })?.itemIdentifier;
    if (typeof id !== 'string' || !all.has(id)) return all;
    failed.add(id);
  }
  return failed;
}
