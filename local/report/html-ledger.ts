// The parts of the HTML report that differ for a report built from the job ledger (`report --job`): a run in
// AWS leaves counts and failed tasks, not the local runtime's peaks and timeline, so the page shows the limits
// the run was held to and says where peaks are to be found instead of drawing zeros.
import { escapeXml } from '../escape-xml.js';
import type { AnyRunReport as RunReport } from './types.js';

const LIVE = new Set(['running', 'paused']);

/** The run had not ended when the report was built: its counts are a snapshot, not a balance. */
export function isLive(report: RunReport): boolean {
  return report.status !== undefined && LIVE.has(report.status);
}

export function unobservedNote(report: RunReport): string {
  const { limits } = report;
  const rows: [string, number | undefined, string][] = [
    ['inline tasks (orchestrator)', limits.inline, 'inlineConcurrency, lowered by the run’s overrides'],
    ['worker invocations from the queue', limits.workers, "the event source's maximum concurrency"],
    ['worker invocations in all', limits.workersReserved, 'reserved concurrency, the hard cap'],
    ['tasks in one worker invocation', limits.perInvocation, 'perInvocationConcurrency'],
    ['sockets, one container', limits.socketsPerContainer, 'maxSockets'],
    ['connections to one host, whole fleet', limits.socketsToOneHost, "the budget's most"],
  ];
  const body = rows
    .filter(([, limit]) => limit !== undefined)
    .map(
      ([layer, limit, note]) =>
        `<tr><td>${escapeXml(layer)}</td><td class="num">${limit}</td><td>${escapeXml(note)}</td></tr>`,
    )
    .join('\n');
  return [
    '<h2>Limits the run was held to</h2>',
    '<table id="limits"><thead><tr><th>layer</th><th class="num">limit</th><th></th></tr></thead><tbody>',
    body,
    '</tbody></table>',
    `<p class="note" id="unobserved">Built from the job ledger and the result object: peaks in flight and the timeline are observed by the local runtime only (for a run in AWS, see the functions' CloudWatch metrics).</p>`,
  ].join('\n');
}
