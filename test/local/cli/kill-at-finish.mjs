// Preloaded into a CLI child (NODE_OPTIONS=--import=<this file>) by the kill tests that need the child dead
// between the settle that completed a run and the run's end: the process kills itself with SIGKILL as a
// function's DynamoDB client sends the run's end (JobLedger.finish: an UpdateItem setting `finishedAt`), before
// the request leaves. Only with BF_KILL_AT_FINISH set, and only on the main thread (inline containers).
import http from 'node:http';
import { isMainThread } from 'node:worker_threads';

if (process.env.BF_KILL_AT_FINISH && isMainThread) {
  const end = http.ClientRequest.prototype.end;
  http.ClientRequest.prototype.end = function endUnlessFinish(chunk, ...rest) {
    const target = String(this.getHeader('x-amz-target') ?? '');
    if (target.endsWith('.UpdateItem') && chunk && String(chunk).includes('#finishedAt = :now'))
      process.kill(process.pid, 'SIGKILL');
    return end.call(this, chunk, ...rest);
  };
}
