// Hand-written, part of the product: what a container says when a shared host's lease store fails and when it
// answers again (issue 17): one log line each, carrying a CloudWatch embedded metric (LeaseFallback /
// LeaseRecovered, per host) in the same line, so the switch is both searchable and graphable without a
// Metrics instance per handler.
import type { SharedHostEvents } from '../lib/downstream/shared-host.js';

function metricLine(name: string, host: string, fields: Record<string, unknown>): string {
  return JSON.stringify({
    _aws: {
      Timestamp: Date.now(),
      CloudWatchMetrics: [
        { Namespace: 'BoundedFanout', Dimensions: [['host']], Metrics: [{ Name: name, Unit: 'Count' }] },
      ],
    },
    host,
    [name]: 1,
    ...fields,
  });
}

export function leaseEvents(log: (line: string) => void = console.log): SharedHostEvents {
  return {
    onFallback: (host, error) =>
      log(
        metricLine('LeaseFallback', host, {
          level: 'WARN',
          message: `lease store failed for ${host}: static share until it answers`,
          error: error instanceof Error ? error.message : String(error),
        }),
      ),
    onRecover: (host) =>
      log(
        metricLine('LeaseRecovered', host, {
          level: 'INFO',
          message: `lease store answers for ${host} again`,
        }),
      ),
  };
}
