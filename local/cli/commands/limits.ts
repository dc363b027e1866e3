// `bounded-fanout limits [--job ID [--run ID]] KEY=VALUE...`: every value checked against the deployed config
// first (lib/ledger/run-limits.ts: never above what the budget proved, refused with its message, nothing
// changed); then the worker's Lambda settings; then the run's overrides, merged over those it has.
import { fleetProcesses } from '../../../lib/fleet.js';
import { mergeRunLimits, parseRunLimits } from '../../../lib/ledger/run-limits.js';
import type { RunLimits, RunRecord } from '../../../lib/ledger/run-record.js';
import { ExitCodes } from '../exit-code.js';
import type { CliIo } from '../io.js';
import type { LimitsArgs } from '../ledger-args.js';
import { findRun, type LedgerTarget, openLedgerTarget } from '../ledger-target.js';
import { limitPairs, statusLine } from '../run-record-text.js';
import { servedConfig } from '../served-config.js';
import { UsageError } from '../usage-error.js';
import { applyWorkerSettings } from '../worker-settings.js';

export async function limitsCommand(args: LimitsArgs, io: CliIo, given?: LedgerTarget): Promise<number> {
  const target = given ?? openLedgerTarget(args, io.env);
  try {
    // Against the deployed config (cdk.json's), or the one a local runtime at the endpoint says it runs under.
    const served = target.endpoint === undefined ? undefined : await servedConfig(target.endpoint);
    const config = served ?? args.config;
    const request = parseRunLimits(args.pairs, config);
    const runKeys = limitPairs(request.limits);
    if (runKeys.length > 0 && args.job === undefined) {
      throw new UsageError(`limits: ${runKeys[0]!.split('=')[0]} is a run's limit: give --job ID`, {
        flag: '--job',
      });
    }
    let record: RunRecord | undefined;
    if (runKeys.length > 0) {
      record = await findRun(target, args.job!, args.run);
      if (record.finishedAt !== undefined) return noLongerApply(record, io);
    }
    if (Object.keys(request.worker).length > 0) {
      const lines = await applyWorkerSettings(
        {
          lambda: target.lambda(),
          names: target.names,
          endpoint: target.endpoint,
          directInvokes: fleetProcesses(config).invokeWorkers,
        },
        request.worker,
      );
      for (const line of lines) io.stdout.write(`${line}\n`);
    }
    if (record) return await writeRunLimits(target, record, request.limits, io);
    return ExitCodes.OK;
  } finally {
    if (!given) target.destroy();
  }
}

/** Writes with the record's own overrides read again each time another change lands first: a few operators' worth. */
const WRITE_ATTEMPTS = 5;

/**
 * The run's overrides merged over those it has, written only while its record is at the version they were read at
 * (JobLedger.setLimits): another `limits` landing between the read and the write is merged over, not overwritten.
 */
async function writeRunLimits(
  target: LedgerTarget,
  first: RunRecord,
  limits: RunLimits,
  io: CliIo,
): Promise<number> {
  let record = first;
  for (let attempt = 1; ; attempt++) {
    const merged = mergeRunLimits(record.limits, limits);
    const updated = await target.ledger.setLimits(record.jobId, record.runId, merged, record.version);
    if (updated) {
      io.stdout.write(
        `run ${updated.runId} of job ${updated.jobId}: limits ${limitPairs(updated.limits).join(' ')}\n`,
      );
      return ExitCodes.OK;
    }
    // The run was there a moment ago: gone now means its record expired or was deleted (findRun says so).
    record = await findRun(target, record.jobId, record.runId);
    if (record.finishedAt !== undefined) return noLongerApply(record, io);
    if (attempt >= WRITE_ATTEMPTS) {
      throw new Error(
        `limits: run ${record.runId} of job ${record.jobId} kept changing (${WRITE_ATTEMPTS} writes lost)`,
      );
    }
  }
}

function noLongerApply(record: RunRecord, io: CliIo): number {
  io.stderr.write(
    `bounded-fanout: run ${record.runId} of job ${record.jobId} is ${statusLine(record)}: its limits no longer apply\n`,
  );
  return ExitCodes.NOT_CHANGED;
}
