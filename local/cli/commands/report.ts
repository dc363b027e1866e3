// `bounded-fanout report --job ID [--run ID] --report FILE`: a run's report from what it left in the cloud
// (or in a local `serve`): the ledger's record and the result lines in the stack's bucket. The same JSON and
// HTML a local run writes, without the local runtime's own observations (local/report/ledger-report.ts).
import { openResultLines, parseS3Uri, type ResultLocation } from '../../../lib/aws/result-reader.js';
import { runWinnerIn } from '../../../lib/fanout/segment-copy.js';
import { type RunRecord, RunStatuses } from '../../../lib/ledger/run-record.js';
import { movedIn } from '../../report/dead-lettered.js';
import { ledgerReport } from '../../report/ledger-report.js';
import { writeReports } from '../../report/write.js';
import { ExitCodes } from '../exit-code.js';
import type { CliIo } from '../io.js';
import type { ReportArgs } from '../ledger-args.js';
import { findRun, type LedgerTarget, openLedgerTarget } from '../ledger-target.js';
import { asEndpointError } from '../sqs-endpoint.js';
import { UsageError } from '../usage-error.js';

export async function reportCommand(
  args: ReportArgs,
  io: CliIo,
  options: { target?: LedgerTarget } = {},
): Promise<number> {
  const target = options.target ?? openLedgerTarget(args, io.env);
  try {
    const record = await findRun(target, args.job, args.run);
    const at = resultLocation(record, target, args.config.resultsPrefix);
    // A live run's parts of a segment run twice: the winning copy's only, as its result object will have them.
    const winnerOf = runWinnerIn(target.ledger, record);
    const result = await openResultLines(target.s3(), at, { winnerOf }).catch((error: unknown) => {
      throw bucketError(error, at.bucket, args.endpoint);
    });
    const report = await ledgerReport({
      record,
      config: args.config,
      lines: result.lines,
      source: describeSource(at, result.kind, result.keys.length),
      // A task a redrive ran to success is no longer failed, whatever the result lines still say; one it ran
      // to `undeliverable` still is, with the error of the line the redrive added.
      moved: movedIn(target.ledger, record.jobId, record.runId),
    });
    const failed = await writeReports(args.reports, report);
    for (const file of args.reports) {
      if (!failed.some((f) => f.file === file)) io.stdout.write(`report: ${file}\n`);
    }
    for (const { error } of failed) io.stderr.write(`bounded-fanout: ${error.message}\n`);
    if (failed.length > 0) return ExitCodes.REPORT_NOT_WRITTEN;
    return record.status === RunStatuses.SUCCEEDED ? ExitCodes.OK : ExitCodes.TASKS_FAILED;
  } finally {
    if (!options.target) target.destroy();
  }
}

/** The record's result URI names the bucket once the run ended; before, the stack's bucket by name. */
function resultLocation(record: RunRecord, target: LedgerTarget, prefix: string): ResultLocation {
  const bucket = (record.resultUri && parseS3Uri(record.resultUri)?.bucket) ?? target.names.bucket;
  return { bucket, prefix, jobId: record.jobId, runId: record.runId };
}

function describeSource(at: ResultLocation, kind: 'object' | 'parts', keys: number): string {
  const where = `s3://${at.bucket}/${at.prefix}${at.jobId}/${at.runId}`;
  if (kind === 'parts') return `${keys} part object(s) under ${where}/`;
  // The object, then the parts a redrive's messages wrote (their undeliverable lines: lib/aws/result-reader.ts).
  return keys > 1 ? `${where}.ndjson and ${keys - 1} redrive part object(s)` : `${where}.ndjson`;
}

function bucketError(error: unknown, bucket: string, endpoint: string | undefined): unknown {
  if ((error as { name?: string } | null)?.name === 'NoSuchBucket') {
    return new UsageError(`No bucket ${bucket} (is the stack deployed there? see --prefix)`, {
      flag: '--prefix',
    });
  }
  return endpoint ? asEndpointError(endpoint, error) : error;
}
