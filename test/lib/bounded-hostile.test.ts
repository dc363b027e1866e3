import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoundedQueue } from '../../lib/bounded-queue.js';
import { type MapResult, mapBounded } from '../../lib/map-bounded.js';
import { runBounded, type SettledResult } from '../../lib/run-bounded.js';
import { Semaphore } from '../../lib/semaphore.js';
import { RUNS } from '../helpers/runs.js';

// Issue 12 items 15 and 16 as one property: hostile task results, stops at random points, a shared
// Semaphore, and a BoundedQueue, async generator or array as the source. Violations are collected while the
// run goes and asserted after it, so none is swallowed by the code under test.

const KINDS = ['native', 'nativeFail', 'throwThen', 'double', 'syncCallback', 'syncThrow', 'plain'] as const;
type Kind = (typeof KINDS)[number];
const FAILING: ReadonlySet<Kind> = new Set<Kind>(['nativeFail', 'throwThen', 'syncThrow']);

type Then<T> = (resolve: (value: T) => void, reject: (reason: unknown) => void) => void;
function thenable<T>(then: Then<T>): PromiseLike<T> {
  return Object.defineProperty({}, 'then', { value: then }) as PromiseLike<T>;
}

const flush = async (turns = 3) => {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
};

const expected = (kind: Kind, v: number): SettledResult<number> =>
  FAILING.has(kind)
    ? { status: 'rejected', reason: new Error(`fail ${v}`) }
    : { status: 'fulfilled', value: v * 10 };

interface Track {
  ran: number[];
  indexOf: Map<number, number>;
  running: number;
  peak: number;
}

/** fn: each kind of result `await` accepts, hostile ones included; `running` ends at the first callback. */
function task(s: fc.Scheduler, kinds: readonly Kind[], track: Track) {
  return (v: number, index: number): unknown => {
    track.ran.push(v);
    track.indexOf.set(v, index);
    track.peak = Math.max(track.peak, ++track.running);
    const done = () => {
      track.running--;
    };
    switch (kinds[v]) {
      case 'plain':
        done();
        return v * 10;
      case 'syncThrow':
        done();
        throw new Error(`fail ${v}`);
      case 'native':
        return s.schedule(Promise.resolve(v * 10)).then((x) => {
          done();
          return x;
        });
      case 'nativeFail':
        return s.schedule(Promise.resolve()).then(() => {
          done();
          throw new Error(`fail ${v}`);
        });
      case 'throwThen':
        return thenable(() => {
          done();
          throw new Error(`fail ${v}`);
        });
      case 'syncCallback':
        return thenable((resolve) => {
          done();
          resolve(v * 10);
        });
      case 'double':
        return thenable((resolve, reject) => {
          s.schedule(Promise.resolve()).then(() => {
            done();
            resolve(v * 10);
            resolve(-1);
            reject(new Error('second callback'));
          });
        });
    }
  };
}

async function produce(s: fc.Scheduler, queue: BoundedQueue<number>, n: number, produced: number[]) {
  for (let v = 0; v < n; v++) {
    await s.schedule(Promise.resolve());
    try {
      await queue.put(v);
    } catch {
      return; // closed by the test after the run: v was never put
    }
    produced.push(v);
  }
  queue.close();
}

const configArb = fc.record({
  api: fc.constantFrom('run', 'map'),
  sourceKind: fc.constantFrom('queue', 'gen', 'array'),
  limit: fc.integer({ min: 1, max: 4 }),
  queueSize: fc.integer({ min: 1, max: 3 }),
  kinds: fc.array(fc.constantFrom(...KINDS), { maxLength: 14 }),
  stop: fc.constantFrom('none', 'abort', 'stopOnError', 'break'),
  breakAfter: fc.integer({ min: 0, max: 14 }),
});

describe('runBounded / mapBounded: hostile results, random stops, shared Semaphore, queue source', () => {
  it('never above the limit, every permit back, nothing lost or run twice, results in place, nothing unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await fc.assert(
        fc.asyncProperty(fc.scheduler(), configArb, async (s, cfg) => {
          const { api, sourceKind, limit, kinds, stop } = cfg;
          const n = kinds.length;
          const sem = new Semaphore(limit);
          const controller = new AbortController();
          const track: Track = { ran: [], indexOf: new Map(), running: 0, peak: 0 };
          const violations: string[] = [];
          const produced: number[] = [];
          let generatorClosed = false;
          const queue = sourceKind === 'queue' ? new BoundedQueue<number>(cfg.queueSize) : undefined;
          let source: Iterable<number> | AsyncIterable<number>;
          if (queue) {
            source = queue;
            void produce(s, queue, n, produced);
          } else if (sourceKind === 'gen') {
            source = (async function* () {
              try {
                for (let v = 0; v < n; v++) {
                  await s.schedule(Promise.resolve());
                  produced.push(v);
                  yield v;
                }
              } finally {
                generatorClosed = true;
              }
            })();
          } else {
            source = (function* () {
              for (let v = 0; v < n; v++) {
                produced.push(v);
                yield v;
              }
            })();
          }
          if (stop === 'abort')
            s.schedule(Promise.resolve()).then(() => controller.abort(new Error('aborted')));
          const options = {
            concurrency: sem,
            signal: controller.signal,
            stopOnError: stop === 'stopOnError',
          };
          const fn = task(s, kinds, track);
          const mapped: MapResult<number, unknown>[] = [];
          let broke = false;
          const work: Promise<unknown> =
            api === 'run'
              ? runBounded(source, fn, options)
              : (async () => {
                  for await (const r of mapBounded(source, fn, options)) {
                    mapped.push(r);
                    if (stop === 'break' && mapped.length >= cfg.breakAfter) {
                      broke = true;
                      break;
                    }
                  }
                })();
          let outcome: { ok: true; value: unknown } | { ok: false; error: unknown } | undefined;
          work.then(
            (value) => {
              outcome = { ok: true, value };
            },
            (error: unknown) => {
              outcome = { ok: false, error };
            },
          );
          // s.waitFor, stopping at the moment the run settles, and reporting a run that never does.
          for (;;) {
            while (outcome === undefined && s.count() > 0) await s.waitOne();
            if (outcome !== undefined) break;
            await flush(1); // let a chain of reactions schedule its next step
            if (s.count() === 0) break;
          }
          if (outcome === undefined) {
            expect.fail(`the run never settled (ran ${track.ran}, ${sem.inFlight} permit(s) held)`);
          }
          // The run has settled: once the tasks that signalled have been settled by the scheduler (microtasks
          // only, no scheduled step), no permit may be held but running tasks' (a pending pull's permit comes
          // back at the stop, not when the source answers).
          await flush(1);
          if (sem.inFlight > track.running) {
            violations.push(
              `${sem.inFlight} permit(s) held once the run settled, ${track.running} task(s) running`,
            );
          }
          await s.waitAll();
          await flush();
          const remaining = queue ? queue.close({ immediate: true }) : [];
          await flush();
          const stopped = !outcome.ok || broke;

          if (track.peak > limit || sem.peakInFlight > limit) {
            violations.push(`peak ${track.peak} / semaphore ${sem.peakInFlight} above limit ${limit}`);
          }
          if (sem.inFlight !== 0 || sem.waiting !== 0) {
            violations.push(`semaphore left with inFlight ${sem.inFlight}, waiting ${sem.waiting}`);
          }
          if (new Set(track.ran).size !== track.ran.length)
            violations.push(`an item ran twice: ${track.ran}`);
          const byValue = (a: number, b: number) => a - b;
          const accounted = [...track.ran, ...remaining].sort(byValue);
          if (queue) {
            if (queue.size !== 0) violations.push(`queue still counts ${queue.size} after close`);
            if (accounted.join() !== produced.join()) {
              violations.push(`queue: produced ${produced}, ran ${track.ran}, left ${remaining}`);
            }
          } else {
            const lost = produced.filter((v) => !track.ran.includes(v));
            // A generic async iterator's pending next() cannot be withdrawn: at most the one item it yields
            // after the stop is dropped (documented in bounded-scheduler.ts); an array loses nothing.
            const allowed = sourceKind === 'gen' && stopped ? [produced.at(-1)] : [];
            if (lost.length > allowed.length || lost.some((v) => !allowed.includes(v))) {
              violations.push(`${sourceKind}: produced ${produced}, ran ${track.ran}`);
            }
            if (sourceKind === 'gen' && !generatorClosed) violations.push('generator not closed');
          }
          if (!outcome.ok) {
            const message = (outcome.error as Error).message;
            const fromStop = stop === 'abort' ? message === 'aborted' : /^fail \d+$/.test(message);
            if (stop === 'none' || !fromStop) violations.push(`unexpected failure: ${message}`);
          } else if (stop === 'none') {
            if (track.ran.length !== n) violations.push(`ran ${track.ran.length} of ${n}`);
          }
          if (outcome.ok && api === 'run') {
            const results = outcome.value as SettledResult<unknown>[];
            if (results.length !== track.ran.length) violations.push(`${results.length} results`);
            for (const v of track.ran) {
              expect(results[track.indexOf.get(v) as number]).toEqual(expected(kinds[v], v));
            }
          }
          for (const r of mapped) {
            if (track.indexOf.get(r.item) !== r.index)
              violations.push(`item ${r.item} yielded at ${r.index}`);
            const { index: _index, item: _item, ...settled } = r;
            expect(settled).toEqual(expected(kinds[r.item], r.item));
          }
          if (new Set(mapped.map((r) => r.index)).size !== mapped.length) violations.push('a result twice');
          expect(violations).toEqual([]);
        }),
        { numRuns: Math.max(200, RUNS) },
      );
      await flush();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });
});
