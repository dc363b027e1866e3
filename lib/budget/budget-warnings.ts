// The plan's warnings: what the budget admits but an operator should know (a batch beyond the worker timeout,
// a message above SQS's limit, a fleet burst above a host's rate).

import type { FanoutConfig } from '../config.js';
import { defaultRetryOptions } from '../http/retry.js';
import {
  type BudgetPlan,
  type PlanBudgetOptions,
  SQS_MAX_REQUEST_BYTES,
  workerInFlight,
} from './budget-plan.js';
import type { HostPlan } from './host-plans.js';

export function warningsOf(
  c: FanoutConfig,
  o: Required<PlanBudgetOptions>,
  batch: BudgetPlan['workerBatch'],
  hosts: readonly HostPlan[],
): string[] {
  const warnings: string[] = [];
  const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;
  const shape = `${c.batchSize} messages x ${c.tasksPerMessage} tasks, ${workerInFlight(c)} at once`;
  if (batch.ms > batch.limitMs) {
    warnings.push(
      `A worker batch (${shape}) takes ${seconds(batch.ms)} at ${o.latencyMs} ms a request, beyond workerTimeoutSeconds (${c.workerTimeoutSeconds} s): every batch would time out and be received again.`,
    );
  } else if (batch.timeoutMs > batch.limitMs) {
    warnings.push(
      `A worker batch (${shape}) against a stalled host, every request running to requestTimeoutMs (${defaultRetryOptions.maxAttempts} attempts a task, with backoff), takes ${seconds(batch.timeoutMs)}, beyond workerTimeoutSeconds (${c.workerTimeoutSeconds} s): each invocation starts only the attempts it can finish and hands the other tasks on unspent, so a stalled host takes several invocations per batch before its tasks are dead-lettered after maxReceiveCount (${c.maxReceiveCount}) started deliveries.`,
    );
  }
  const messageBytes = c.tasksPerMessage * o.bytesPerTask;
  if (messageBytes > SQS_MAX_REQUEST_BYTES) {
    warnings.push(
      `A message of ${c.tasksPerMessage} tasks of ${o.bytesPerTask} bytes (${messageBytes} bytes) is above SQS's 256 KiB.`,
    );
  }
  for (const host of hosts) {
    // A shared host's burst is the fleet bucket's, stated with its lease lines (lib/budget/lease-table.ts).
    if (host.lease !== undefined) continue;
    if (host.maxRequestsPerSecond === undefined || host.fleetBurst <= host.maxRequestsPerSecond) continue;
    const burst = host.fleetBurst / host.processes;
    warnings.push(
      `${host.host}: after a quiet spell the fleet can send ${host.fleetBurst} requests at once (${host.processes} processes x a burst of ${burst}), more than one second of its maxRequestsPerSecond (${host.maxRequestsPerSecond}): each process keeps a burst of at least 1.`,
    );
  }
  return warnings;
}
