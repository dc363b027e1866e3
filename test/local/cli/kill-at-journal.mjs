// Preloaded into a CLI child (NODE_OPTIONS=--import=<this file>) by the kill tests that need the kill at an
// instant no test can reach from outside: the process kills itself with SIGKILL at a line of its queue journal
// (local/queue-journal.ts). BF_KILL_AT names the line: { at: 'sent', body } right after the first message sent
// whose body contains `body` (a string, or each of a list) is journaled; { at: 'settled', body } just before the line that would settle it;
// { at: 'started' } right after the orchestrator's start ({ f }) is journaled; { at: 'accepted' } right after a continuation's acceptance ({ a }).
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { isMainThread } from 'node:worker_threads';

const spec = process.env.BF_KILL_AT ? JSON.parse(process.env.BF_KILL_AT) : undefined;
if (spec && isMainThread) {
  const append = fs.appendFileSync;
  const watched = new Set();
  const kill = () => process.kill(process.pid, 'SIGKILL');
  fs.appendFileSync = function appendThenMaybeKill(file, data, ...rest) {
    if (!String(file).endsWith('queue.ndjson')) return append.call(this, file, data, ...rest);
    const line = JSON.parse(String(data));
    if ('d' in line && spec.at === 'settled' && line.d.some((id) => watched.has(id))) kill();
    const match = 's' in line && [spec.body].flat().every((part) => line.b.includes(part));
    if (match && spec.at === 'sending') kill();
    append.call(this, file, data, ...rest);
    if (('f' in line && spec.at === 'started') || ('a' in line && spec.at === 'accepted')) kill();
    if (match) {
      watched.add(line.s);
      if (spec.at === 'sent') kill();
    }
  };
  syncBuiltinESMExports();
}
