// A partner with a capacity, simulated on the fake clock, for checking the control loop (KeyedLimiter driven
// by AdaptiveLimit) over thousands of requests in milliseconds. It stands in for the network only; the real
// loopback servers of downstream-policy.test.ts check the same bounds end to end.
import { AdaptiveLimit, type AdaptiveLimitOptions } from '../../../lib/downstream/adaptive-limit.js';
import { KeyedLimiter } from '../../../lib/downstream/keyed-limiter.js';
import { seededRandom } from '../../../local/demo/manifest.js';
import { FakeClock, flush } from './fake-clock.js';

export interface PartnerCapacity {
  /** Requests served at once; more get 429. */
  readonly concurrency?: number;
  /** Requests per second (a token bucket with `burst`); more get 429. */
  readonly perSecond?: number;
  readonly burst?: number;
  /** Service time of a request, in ms. */
  readonly serviceMs: number;
}

export interface SimulationResult {
  readonly requests: number;
  readonly rejected: number;
  /** Share of responses after warm-up that were 429. */
  readonly rejectedShareAfterWarmUp: number;
  /** Completed requests after warm-up over what the capacity allows in that time. */
  readonly goodputRatio: number;
  readonly finalLimit: number;
}

export async function simulate(
  capacity: PartnerCapacity,
  {
    tasks = 4000,
    warmUpShare = 0.2,
    seed = 1,
    adaptive = {} as Partial<AdaptiveLimitOptions>,
    fixedLimit = 0,
  } = {},
): Promise<SimulationResult> {
  const clock = new FakeClock();
  const random = seededRandom(seed);
  const sleep = (ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
  // A fixed limit ignores what the adaptive one learns (it still observes, to keep the code paths the same).
  const onChange = fixedLimit ? undefined : (key: string, n: number) => limiter.setLimit(key, n);
  const limit = new AdaptiveLimit({ ceiling: 256, clock, ...adaptive, onChange });
  const limiter = new KeyedLimiter({
    global: Number.POSITIVE_INFINITY,
    perKey: (key) => fixedLimit || limit.limitOf(key),
    clock,
  });
  let active = 0;
  let tokens = capacity.burst ?? 1;
  let stamp = 0;
  const log: { at: number; ok: boolean }[] = [];

  const send = async (): Promise<number> => {
    if (capacity.perSecond !== undefined) {
      tokens = Math.min(capacity.burst ?? 1, tokens + ((clock.now() - stamp) * capacity.perSecond) / 1000);
      stamp = clock.now();
    }
    const overConcurrency = capacity.concurrency !== undefined && active >= capacity.concurrency;
    const overRate = capacity.perSecond !== undefined && tokens < 1;
    if (overConcurrency || overRate) {
      await sleep(1);
      log.push({ at: clock.now(), ok: false });
      return 429;
    }
    if (capacity.perSecond !== undefined) tokens -= 1;
    active++;
    await sleep(capacity.serviceMs * (0.9 + 0.2 * random()));
    active--;
    log.push({ at: clock.now(), ok: true });
    return 200;
  };

  const task = () =>
    limiter.run('partner', async () => {
      for (let attempt = 1; attempt <= 4; attempt++) {
        const started = clock.now();
        const status = await send();
        limit.observe('partner', {
          status,
          latencyMs: clock.now() - started,
          inFlight: limiter.stats('partner')?.inFlight,
        });
        if (status !== 429) return;
        await sleep(Math.floor(random() * 100 * 2 ** (attempt - 1)));
      }
    });

  const all = Promise.all(Array.from({ length: tasks }, task));
  await flush();
  for (let next = clock.nextAt(); next !== undefined; next = clock.nextAt()) {
    clock.advance(next - clock.now());
    await flush();
  }
  await all;

  // After warm-up, and before the last tasks drain (the queue is empty then, so the capacity goes unused).
  const from = clock.now() * warmUpShare;
  const end = clock.now() * 0.9;
  const after = log.filter((e) => e.at >= from && e.at < end);
  const served = after.filter((e) => e.ok).length;
  const perMs = Math.min(
    capacity.concurrency !== undefined ? capacity.concurrency / capacity.serviceMs : Number.POSITIVE_INFINITY,
    capacity.perSecond !== undefined ? capacity.perSecond / 1000 : Number.POSITIVE_INFINITY,
  );
  return {
    requests: log.length,
    rejected: log.filter((e) => !e.ok).length,
    rejectedShareAfterWarmUp: (after.length - served) / after.length,
    goodputRatio: served / ((end - from) * perMs),
    finalLimit: limit.limitOf('partner'),
  };
}
