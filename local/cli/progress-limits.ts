// The limits the live progress display shows each layer against: the config's, with the job header's applied as
// the orchestrator applies them (functions/effective-limits.ts: concurrency only lowered), then the run's overrides
// from its ledger record (`bounded-fanout limits`: inlineConcurrency, perInvocationConcurrency), as the functions
// follow them: an override only lowers what applies (lib/fanout/inline-slots.ts, functions/invocation-permits.ts);
// and the worker's event source's MaximumConcurrency as the local runtime's poller now has it.
// The socket limit is the budget's sum over every container, from those, as the report's (report/assemble.ts).
import { effectiveLimits } from '../../functions/effective-limits.js';
import type { FanoutConfig } from '../../lib/config.js';
import type { RunLimits } from '../../lib/ledger/run-record.js';
import type { JobLimits } from '../../lib/manifest/schema.js';
import { socketLimits } from '../report/assemble.js';
import type { LayerTriple } from '../report/types.js';

export function progressLimits(
  config: FanoutConfig,
  job: JobLimits | undefined,
  run: RunLimits | undefined,
  /** The worker's event source's MaximumConcurrency as it now is (`limits` may change it live). */
  eventSourceMaxConcurrency: number = config.workerMaxConcurrency,
): LayerTriple {
  const applied = effectiveLimits(job, config);
  const inline = lowered(run?.inlineConcurrency, applied.inline);
  const perInvocation = lowered(run?.perInvocationConcurrency, config.perInvocationConcurrency);
  const sockets = socketLimits({
    ...config,
    inlineConcurrency: inline,
    enqueueConcurrency: applied.enqueue,
    invokeConcurrency: applied.invoke,
    perInvocationConcurrency: perInvocation,
  }).all;
  return { inline, workers: eventSourceMaxConcurrency, sockets };
}

/** An override as the functions take it: never above what applies without it; one below 1 is not followed. */
function lowered(asked: number | undefined, cap: number): number {
  return asked !== undefined && asked >= 1 ? Math.min(Math.floor(asked), cap) : cap;
}
