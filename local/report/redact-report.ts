// A run's report holds no secret: every dead-lettered and unfinished task is shown redacted (lib/http/redact.ts),
// and every other string of the report (errors, the functions' error lines) is scrubbed of the secrets those
// tasks carried and of URL credentials. The JSON and HTML files, the tasks file and `--format json` all print
// this. `--retry-from` does not need the tasks whole: it takes them back from the manifest by id.
import { redactRecord, redactText, taskSecrets } from '../../lib/http/redact.js';
import type { AnyRunReport } from './types.js';

export function redactReport<R extends AnyRunReport>(report: R): R {
  const listed = [...report.deadLetteredTasks, ...(report.unfinishedTasks ?? [])];
  const secrets = new Set<string>();
  for (const t of listed) if (t.task) for (const s of taskSecrets(t.task)) secrets.add(s);
  const all = [...secrets];
  const { deadLetteredTasks, unfinishedTasks, ...rest } = report;
  // The same shape back: only strings inside change.
  return {
    ...(scrubDeep(rest, all) as Omit<R, 'deadLetteredTasks' | 'unfinishedTasks'>),
    deadLetteredTasks: deadLetteredTasks.map((t) => redactRecord(t)),
    ...(unfinishedTasks ? { unfinishedTasks: unfinishedTasks.map((t) => redactRecord(t)) } : {}),
  } as unknown as R;
}

/** Every string in `value`, at any depth, through redactText. */
function scrubDeep(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === 'string') return redactText(value, secrets);
  if (Array.isArray(value)) return value.map((v) => scrubDeep(v, secrets));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubDeep(v, secrets)]));
  }
  return value;
}
