// The manifest line of each dead-lettered and unfinished task of a report. Tasks travel through the queue
// without their line, so the CLI finds them in the manifest file it was given: one pass over the file, in
// memory only the ids sought. A file that cannot be read again leaves the report as it was.
import type { RunReport } from '../report/types.js';
import { openManifestFile } from './manifest-file.js';

export async function withManifestLines(report: RunReport, file: string): Promise<RunReport> {
  const unfinished = report.unfinishedTasks ?? [];
  const wanted = new Set(
    [...report.deadLetteredTasks, ...unfinished].filter((t) => t.line === undefined).map((t) => t.id),
  );
  if (wanted.size === 0) return report;
  const lines = new Map<string, number>();
  try {
    const manifest = await openManifestFile(file, 'manifest');
    for await (const item of manifest.items) {
      if (item.ok && item.line !== undefined && wanted.has(item.task.id)) lines.set(item.task.id, item.line);
    }
  } catch {
    return report; // the lines are a help, not part of the counts
  }
  const lineOf = <T extends { id: string; line?: number }>(t: T): T => {
    const line = t.line ?? lines.get(t.id);
    return line === undefined ? t : { ...t, line };
  };
  return {
    ...report,
    deadLetteredTasks: report.deadLetteredTasks.map(lineOf),
    ...(report.unfinishedTasks ? { unfinishedTasks: unfinished.map(lineOf) } : {}),
  };
}
