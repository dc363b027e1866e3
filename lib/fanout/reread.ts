import type { ManifestItem } from '../manifest/parse.js';

/*
Where a segment stopped at its deadline leaves the manifest for the next one. A stopping segment does not
send the part-filled task message or invoke chunk it holds: it hands their tasks back, so every message ever
sent for a run is one of the same sequence, whatever copy of a segment sent it and wherever it stopped. Why:
a retried segment (its first copy timed out, or was killed before its continuation went) reads the same part
of the manifest again and stops elsewhere; its message number k must hold the same tasks as the killed
copy's message k, since the worker runs a message key once (and the job ledger settles it once). Packing
from a message boundary gives the same messages as packing straight through, so a segment that starts
where a message starts sends the very messages one long segment would have.

The next segment reads from `cursor` (the first task handed back, or where reading stopped) and, up to `to`
(where reading stopped), starts only the handed-back tasks: queue tasks from `queueFrom`, invoke tasks from
`invokeFrom`. The others there (inline, invalid, and queue or invoke tasks already sent) were handled.
*/
export interface Reread {
  /** Index of the first task the stopped segment did not read. */
  readonly to: number;
  /** Index of the first queue task handed back (`to` when none). */
  readonly queueFrom: number;
  /** Index of the first invoke task handed back (`to` when none). */
  readonly invokeFrom: number;
}

/** The item was handled by an earlier segment: before `cursor`, or in the reread part and not handed back. */
export function handledBefore(item: ManifestItem, cursor: number, reread: Reread | undefined): boolean {
  if (item.index < cursor) return true;
  if (!reread || item.index >= reread.to) return false;
  if (!item.ok) return true;
  if (item.task.mode === 'queue') return item.index < reread.queueFrom;
  if (item.task.mode === 'invoke') return item.index < reread.invokeFrom;
  return true;
}

/**
 * Where a segment that stopped reading at `stoppedAt` leaves the manifest, given the first index of the tasks
 * it hands back from its task packer and its invoke packer (undefined: none), and the reread part it started
 * with. A deadline never stops a segment inside its reread part (lib/fanout/segment.ts reads it through); a
 * stop for good may, and the tasks there it had not reached stay unhandled.
 */
export function handBack(
  stoppedAt: number,
  queueFirst: number | undefined,
  invokeFirst: number | undefined,
  started: Reread | undefined,
): { readonly cursor: number; readonly reread?: Reread } {
  const to = Math.max(stoppedAt, started?.to ?? 0);
  const queueFrom = queueFirst ?? Math.max(stoppedAt, started?.queueFrom ?? 0);
  const invokeFrom = invokeFirst ?? Math.max(stoppedAt, started?.invokeFrom ?? 0);
  const cursor = Math.min(queueFrom, invokeFrom, stoppedAt);
  if (cursor === to) return { cursor };
  return { cursor, reread: { to, queueFrom, invokeFrom } };
}
