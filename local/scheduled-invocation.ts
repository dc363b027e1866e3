// The schedule's invocation of the orchestrator in a local run (local/run-local-job.ts), or a resume's kept
// result of it. Continuations arrive through the Invoke endpoint as Event invocations. Even a cut-off waits for
// the orchestrator: its counts are known only when it returns, and once stopping it reads no further, so only
// its tasks already running remain (a third Ctrl-C in the CLI does not wait).
// `run --state DIR`: the invocation is journaled as it starts, so a process killed inside it leaves its request
// id, and a resume runs it again under that id, the same run (local/segment-reread.ts); a resume that does so
// journals it again, the same id. The continuations a killed process accepted and never ended go again too,
// each under its request id, once the first invocation has a result.
import { randomUUID } from 'node:crypto';
import type { InvokeServer } from './invoke-server.js';
import type { LocalFunction } from './local-function.js';
import { invokeFirst } from './orchestrator-outcome.js';
import type { RunLocalJobOptions } from './run-local-job-options.js';

export interface ScheduledOrchestrator {
  readonly state: RunLocalJobOptions['state'];
  readonly fn: LocalFunction;
  readonly name: string;
  readonly invokeServer: InvokeServer;
}

export async function scheduledInvocation(
  { state, fn, name, invokeServer }: ScheduledOrchestrator,
  jobEvent: unknown,
) {
  const resume = state?.resume;
  const again = () => {
    for (const e of resume?.unended ?? []) invokeServer.acceptAgain(name, e.payload, e.requestId);
  };
  if (resume?.first) {
    again();
    return resume.first;
  }
  const failed = (error: unknown, requestId: string) =>
    invokeServer.reportFailure({ functionName: name, payload: jobEvent, requestId, error, attempts: 1 });
  const requestId = resume?.started ?? randomUUID();
  state?.journal.started(requestId);
  const first = await invokeFirst(fn, jobEvent, failed, requestId);
  state?.journal.orchestrator(first);
  again();
  return first;
}
