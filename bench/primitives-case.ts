// One contender of the primitives benchmark, in its own process so that its garbage and heap are its own.
// Usage: tsx bench/primitives-case.ts NAME N CONCURRENCY. Prints one JSON line: { name, n, ms, peakHeapMb }.
import { Sema } from 'async-sema';
import pLimit from 'p-limit';
import pMap from 'p-map';
import PQueue from 'p-queue';
import { mapBounded } from '../lib/map-bounded.js';
import { runBounded } from '../lib/run-bounded.js';
import { Semaphore } from '../lib/semaphore.js';

const [name = '', nArg = '1000000', cArg = '64'] = process.argv.slice(2);
const N = Number(nArg);
const C = Number(cArg);
const task = () => new Promise<void>((resolve) => setImmediate(resolve));

function* items(): Generator<number> {
  for (let i = 0; i < N; i++) yield i;
}

// The practical limit the issue names: a minimal hand-written counter loop over the same generator that
// keeps settled results, with no validation, no abort, no shared limit and one closure pair per task.
function counterLoopKeep(): Promise<unknown[]> {
  return new Promise((resolve) => {
    const iterator = items();
    const results: unknown[] = [];
    let running = 0;
    let next = 0;
    let done = false;
    const pump = (): void => {
      while (running < C && !done) {
        const step = iterator.next();
        if (step.done) {
          done = true;
          break;
        }
        const index = next++;
        running++;
        task().then(
          (value) => {
            results[index] = { status: 'fulfilled', value };
            running--;
            pump();
          },
          (reason) => {
            results[index] = { status: 'rejected', reason };
            running--;
            pump();
          },
        );
      }
      if (done && running === 0) resolve(results);
    };
    pump();
  });
}

const contenders: Record<string, () => Promise<unknown>> = {
  counterLoopKeep,
  runBounded: () => runBounded(items(), task, { concurrency: C }),
  mapBoundedStream: async () => {
    let n = 0;
    for await (const _ of mapBounded(items(), task, { concurrency: C })) n++;
    return n;
  },
  semaphoreRun: () => {
    const sem = new Semaphore(C);
    return Promise.all(Array.from({ length: N }, () => sem.run(task)));
  },
  pLimit: () => {
    const limit = pLimit(C);
    return Promise.all(Array.from({ length: N }, () => limit(task)));
  },
  pQueue: () => {
    const queue = new PQueue({ concurrency: C });
    for (let i = 0; i < N; i++) queue.add(task);
    return queue.onIdle();
  },
  asyncSema: () => {
    const sema = new Sema(C);
    return Promise.all(
      Array.from({ length: N }, async () => {
        await sema.acquire();
        try {
          await task();
        } finally {
          sema.release();
        }
      }),
    );
  },
  pMap: () => pMap(items(), task, { concurrency: C }),
  promiseAllUnbounded: () => Promise.all(Array.from({ length: N }, task)),
};

const run = contenders[name];
if (!run) {
  console.error(`unknown contender ${JSON.stringify(name)}; one of ${Object.keys(contenders).join(', ')}`);
  process.exit(2);
}
let peak = process.memoryUsage().heapUsed;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().heapUsed);
}, 20);
const start = performance.now();
await run();
const ms = performance.now() - start;
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage().heapUsed);
console.log(JSON.stringify({ name, n: N, ms, peakHeapMb: peak / 2 ** 20 }));
