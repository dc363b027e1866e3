// How the job ledger's store reads a cancelled DynamoDB transaction: cancelled for failed conditions (the
// ledger's rules said no), or for a TransactionConflict (another writer held the item at that moment: worth
// sending again). One reading of CancellationReasons for both.
import { setTimeout as sleep } from 'node:timers/promises';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';

const CONFLICT_RETRIES = 5;
const CONFLICT_BACKOFF_MS = 20;

/** The cancellation codes of a cancelled transaction (`None` for an action that was fine), else undefined. */
function cancellationCodes(error: unknown): string[] | undefined {
  if (!(error instanceof TransactionCanceledException)) return undefined;
  return (error.CancellationReasons ?? []).map((r) => r.Code ?? 'None');
}

/** Which actions' conditions failed, when a transaction was cancelled for failed conditions only. */
export function failedConditions(error: unknown): boolean[] | undefined {
  const codes = cancellationCodes(error);
  if (!codes?.includes('ConditionalCheckFailed')) return undefined;
  if (!codes.every((c) => c === 'None' || c === 'ConditionalCheckFailed')) return undefined;
  return codes.map((c) => c === 'ConditionalCheckFailed');
}

/** A transaction cancelled only because another one held its items: worth sending again. */
export function isConflict(error: unknown): boolean {
  const codes = cancellationCodes(error);
  return (
    codes?.includes('TransactionConflict') === true &&
    codes.every((c) => c === 'None' || c === 'TransactionConflict')
  );
}

/**
 * One transaction, sent again (up to CONFLICT_RETRIES times, after a short random wait) when DynamoDB
 * cancels it for a TransactionConflict: another writer's transaction on the run record at the same moment,
 * which many workers settling one run at once will meet. Failing the message instead would spend one of
 * its SQS receives for nothing.
 */
export async function sendTransaction(
  doc: DynamoDBDocumentClient,
  items: NonNullable<TransactWriteCommandInput['TransactItems']>,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await doc.send(new TransactWriteCommand({ TransactItems: items }));
      return;
    } catch (error) {
      if (attempt >= CONFLICT_RETRIES || !isConflict(error)) throw error;
      await sleep(Math.random() * CONFLICT_BACKOFF_MS * 2 ** attempt);
    }
  }
}
