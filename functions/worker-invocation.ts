// One worker invocation's shared limits: the perInvocationConcurrency permits every task of it takes
// (invocation-permits.ts), and its deadline (invocation-deadline.ts), made together and closed together.
import type { Context } from 'aws-lambda';
import type { RunHttpTaskOptions } from '../lib/http/run-http-task.js';
import type { RunControl } from '../lib/ledger/run-control.js';
import { type InvocationDeadline, invocationDeadline } from './invocation-deadline.js';
import { InvocationPermits } from './invocation-permits.js';

export interface Invocation {
  readonly permits: InvocationPermits;
  /** perInvocationConcurrency permits shared by every task of the invocation (permits.slots). */
  readonly slots: InvocationPermits['slots'];
  readonly deadline: InvocationDeadline;
  /** The invocation ended: its timers stop. */
  readonly close: () => void;
}

/** The invocation's permits (following the runs' overrides through `control`) and its deadline. */
export function startInvocation(
  perInvocationConcurrency: number,
  control: RunControl | undefined,
  context: Context,
  taskOptions: RunHttpTaskOptions,
): Invocation {
  const permits = new InvocationPermits(perInvocationConcurrency, control);
  const deadline = invocationDeadline(context, taskOptions);
  const close = () => {
    permits.close();
    deadline.close();
  };
  return { permits, slots: permits.slots, deadline, close };
}
