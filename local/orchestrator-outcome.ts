import { randomUUID } from 'node:crypto';
import { errorText } from '../lib/fanout/segment.js';
import type { AsyncInvocationRecord } from './invoke-server.js';
import type { OrchestratorOutcome } from './job-report.js';
import type { LocalFunction } from './local-function.js';

// What the orchestrator did over a local run: its first (scheduled) invocation and its continuations.

/**
 * The schedule's invocation of the orchestrator; its error as text when it threw, and `onFailed` told of it
 * (Lambda's on-failure destination: the schedule's invocation is asynchronous in AWS). Unlike Lambda, not
 * retried first.
 */
export async function invokeFirst(
  orchestrator: LocalFunction,
  jobEvent: unknown,
  onFailed?: (error: unknown, requestId: string) => void,
  requestId: string = randomUUID(),
) {
  try {
    return { requestId, result: await orchestrator.invoke(jobEvent, { awsRequestId: requestId }) };
  } catch (error) {
    onFailed?.(error, requestId);
    return { requestId, error: errorText(error) };
  }
}

/** The run's outcome from the first invocation and the orchestrator's asynchronous ones. */
export function orchestratorOutcome(
  first: { requestId: string; result?: unknown; error?: string },
  asyncRecords: readonly AsyncInvocationRecord[],
  orchestratorName: string,
): OrchestratorOutcome {
  const mine = asyncRecords.filter((r) => r.functionName === orchestratorName);
  const results = [first.result, ...mine.filter((r) => r.status === 'succeeded').map((r) => r.result)];
  const errors = [first.error, ...mine.filter((r) => r.status === 'failed').map((r) => r.error)].filter(
    (e): e is string => e !== undefined,
  );
  type Result = {
    status?: string;
    summary?: { jobId?: string; runId?: string };
    jobId?: string;
    runId?: string;
  };
  const final = results.find((r): r is Result =>
    ['succeeded', 'failed', 'refused'].includes((r as Result)?.status ?? ''),
  );
  const statuses = results.map((r) => (r as Result)?.status ?? 'error');
  const named = results.find((r) => (r as Result)?.runId) as Result | undefined;
  return {
    jobId: final?.summary?.jobId ?? named?.jobId,
    runId: final?.summary?.runId ?? named?.runId,
    final: final as OrchestratorOutcome['final'],
    invocations: 1 + mine.length,
    continuations: statuses.filter((s) => s === 'continued').length,
    duplicates: statuses.filter((s) => s === 'duplicate').length,
    errors,
  };
}
