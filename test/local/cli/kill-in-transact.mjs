// Preloaded into a CLI child (NODE_OPTIONS=--import=<this file>) by the kill tests that need the child dead inside
// one of the job ledger's transactions: the DynamoDB front applies a TransactWriteItems as single-item calls to
// dynalite (local/dynamo-transact.ts), and the process kills itself with SIGKILL once some of them were applied
// and not the others. BF_KILL_IN_TRANSACT names the transaction and which half lands: { marker, applied }, where
// `marker` is a pattern of the settle marker's sort key (its PutItem, e.g. `settle#.*:3"`), and `applied` is
// 'marker' (the marker written, the run record's counts not) or 'counts' (the counts added, the marker not). The
// other call of the pair is held from dynalite until the first one answered, then the process dies. Only on the
// DynamoDB emulator's thread (local/dynamo-on-thread.ts), where dynalite is asked in process.
import http from 'node:http';
import { isMainThread } from 'node:worker_threads';

const spec = process.env.BF_KILL_IN_TRANSACT ? JSON.parse(process.env.BF_KILL_IN_TRANSACT) : undefined;
if (spec && !isMainThread) {
  const marker = new RegExp(spec.marker);
  const emit = http.Server.prototype.emit;
  // The watched marker's PutItem, once seen: its answer, and the counts' UpdateItem that follows it.
  let watched;
  const kill = () => process.kill(process.pid, 'SIGKILL');
  http.Server.prototype.emit = function emitWatching(event, req, res, ...rest) {
    const target = String(req?.headers?.['x-amz-target'] ?? '');
    const operation = target.split('.')[1];
    if (event !== 'request' || !['PutItem', 'UpdateItem'].includes(operation))
      return emit.call(this, event, req, res, ...rest);
    const chunks = [];
    const reqEmit = req.emit;
    req.emit = function holdOrPass(name, ...args) {
      if (name === 'data') chunks.push(Buffer.from(args[0]));
      if (name !== 'end') return reqEmit.call(this, name, ...args);
      const body = Buffer.concat(chunks).toString('utf8');
      if (!watched && operation === 'PutItem' && marker.test(body)) {
        watched = { answered: undefined, held: undefined };
        const end = res.end;
        res.end = function answered(...a) {
          const out = end.apply(this, a);
          if (spec.applied === 'marker') kill();
          return out;
        };
        // The counts' answer kills instead: the marker is held until the process dies.
        if (spec.applied === 'counts') return undefined;
        return reqEmit.call(this, name, ...args);
      }
      if (watched && !watched.counts && operation === 'UpdateItem' && body.includes(' :succeeded')) {
        watched.counts = true;
        if (spec.applied === 'marker') return undefined;
        const end = res.end;
        res.end = function answered(...a) {
          const out = end.apply(this, a);
          kill();
          return out;
        };
      }
      return reqEmit.call(this, name, ...args);
    };
    return emit.call(this, event, req, res, ...rest);
  };
}
