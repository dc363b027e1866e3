// The AWS side of ending a run (lib/ledger/after-settle.ts): the result object in S3, the record first and
// then every part the run's writers left (orchestrator segments and worker messages), and the `Run
// Finished` event on the account's default EventBridge bus, for users to route where they like.
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { S3Client } from '@aws-sdk/client-s3';
import type { AfterSettlePorts } from '../ledger/after-settle.js';
import { RUN_FINISHED_EVENT } from '../ledger/run-finished-event.js';
import type { RunRecord } from '../ledger/run-record.js';
import { ResultWriter, resultKey } from './results.js';

export interface RunFinishedOptions {
  readonly s3: S3Client;
  readonly events: EventBridgeClient;
  /** The data bucket; without one no result object is written and the event carries no URI. */
  readonly bucket?: string;
  readonly resultsPrefix: string;
  /**
   * The copy of a segment whose settle counted (the id its marker keeps): the result object takes that copy's
   * parts only. Without it, or when it answers undefined, every copy's.
   */
  readonly segmentWinner?: (record: RunRecord, segment: number) => Promise<string | undefined>;
}

export function runFinishedPorts(o: RunFinishedOptions): Omit<AfterSettlePorts, 'ledger' | 'onError'> {
  const { bucket } = o;
  return {
    resultUri: (r) => (bucket ? `s3://${bucket}/${resultKey(o.resultsPrefix, r.jobId, r.runId)}` : undefined),
    writeResult: async (r) => {
      if (!bucket) return;
      const writer = new ResultWriter(o.s3, {
        bucket,
        jobId: r.jobId,
        runId: r.runId,
        segment: 0,
        prefix: o.resultsPrefix,
      });
      const { segmentWinner } = o;
      await writer.finish(r, segmentWinner && ((segment) => segmentWinner(r, segment)));
    },
    announce: (r) => announceRunFinished(o.events, r),
  };
}

/** Puts one `Run Finished` event, detail the run record (with its resultUri); throws if it was refused. */
export async function announceRunFinished(events: EventBridgeClient, record: RunRecord): Promise<void> {
  const out = await events.send(
    new PutEventsCommand({
      Entries: [
        {
          // The stack's grant allows this source on the default bus only (cdk/grants.ts).
          Source: RUN_FINISHED_EVENT.source,
          DetailType: RUN_FINISHED_EVENT.detailType,
          EventBusName: RUN_FINISHED_EVENT.eventBusName,
          Detail: JSON.stringify(record),
          Resources: [],
        },
      ],
    }),
  );
  if (out.FailedEntryCount) {
    const entry = out.Entries?.[0];
    throw new Error(`Run Finished event refused: ${entry?.ErrorCode} ${entry?.ErrorMessage}`);
  }
}
