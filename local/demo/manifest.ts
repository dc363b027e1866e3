// The built-in demo's manifest: a few thousand HTTP tasks against the demo target server, chosen by a seeded
// random generator so every run is the same job. Latencies vary (a long tail), a share of tasks is throttled
// once (429 with Retry-After, then ok), a share fails for good (to the dead-letter queue), a share runs inline in
// the orchestrator and the rest goes through the queue, and a few lines are malformed on purpose, so one run
// shows every limit at work, the retries, the dead-letter queue and the validation.
import { assertInteger, InvalidArgumentError } from '../../lib/errors.js';

export interface DemoShares {
  /** Share of tasks run inline by the orchestrator (the rest are queued). */
  readonly inline: number;
  /** Share answered 429 with Retry-After once before succeeding. */
  readonly throttled: number;
  /** Share that always fails (half 404, half 500): they end dead-lettered. */
  readonly failing: number;
}

export interface DemoManifestOptions {
  /** The target server's origin, e.g. http://127.0.0.1:PORT. */
  readonly baseUrl: string;
  readonly tasks?: number;
  readonly seed?: number;
  readonly shares?: Partial<DemoShares>;
  /** Median task latency in ms (the tail reaches about 10x). */
  readonly medianLatencyMs?: number;
  /** Malformed task lines added on purpose (each reported invalid, never run). */
  readonly invalid?: number;
  readonly jobId?: string;
}

export interface DemoTask {
  readonly id: string;
  readonly url: string;
  readonly mode: 'inline' | 'queue';
}

export interface DemoManifest {
  readonly jobId: string;
  /** Every line of the manifest, valid tasks and malformed ones, in order. */
  readonly tasks: ReadonlyArray<DemoTask | Record<string, unknown>>;
  /** What a correct run must end with. */
  readonly expected: {
    readonly submitted: number;
    readonly succeeded: number;
    readonly deadLettered: number;
    readonly invalid: number;
  };
  /** Ids of the tasks that must end dead-lettered. */
  readonly failingIds: ReadonlySet<string>;
}

export const defaultDemoTasks = 3_000;
export const defaultShares: DemoShares = { inline: 0.2, throttled: 0.04, failing: 0.015 };

/** mulberry32: small, fast, and good enough to pick shares and latencies reproducibly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function checkShare(name: string, value: number): void {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new InvalidArgumentError(`shares.${name}`, value, 'a number between 0 and 1');
  }
}

export function buildDemoManifest({
  baseUrl,
  tasks = defaultDemoTasks,
  seed = 7,
  shares: partialShares = {},
  medianLatencyMs = 25,
  invalid = 3,
  jobId = 'demo',
}: DemoManifestOptions): DemoManifest {
  if (typeof baseUrl !== 'string' || !/^https?:\/\//.test(baseUrl)) {
    throw new InvalidArgumentError('baseUrl', baseUrl, 'an http(s) origin');
  }
  assertInteger('tasks', tasks, { min: 1 });
  assertInteger('invalid', invalid, { min: 0 });
  assertInteger('medianLatencyMs', medianLatencyMs, { min: 0 });
  const shares = { ...defaultShares, ...partialShares };
  for (const [name, value] of Object.entries(shares)) checkShare(name, value);
  if (shares.throttled + shares.failing > 1) {
    throw new InvalidArgumentError('shares', shares, 'throttled + failing at most 1');
  }
  const random = seededRandom(seed);
  const origin = baseUrl.replace(/\/+$/, '');
  const lines: Array<DemoTask | Record<string, unknown>> = [];
  const failingIds = new Set<string>();
  // Malformed lines sit at fixed spots spread through the manifest.
  const invalidAt = new Set(
    Array.from({ length: invalid }, (_, i) => Math.floor(((i + 1) * tasks) / (invalid + 1))),
  );
  let invalidMade = 0;
  for (let i = 0; i < tasks; i++) {
    if (invalidAt.has(i) && invalidMade < invalid) lines.push(malformed(invalidMade++, origin));
    const { task, failing } = demoTask(i, { origin, random, shares, medianLatencyMs });
    if (failing) failingIds.add(task.id);
    lines.push(task);
  }
  while (invalidMade < invalid) lines.push(malformed(invalidMade++, origin));
  return {
    jobId,
    tasks: lines,
    expected: {
      submitted: tasks + invalid,
      succeeded: tasks - failingIds.size,
      deadLettered: failingIds.size,
      invalid,
    },
    failingIds,
  };
}

/**
 * Task `i` of the demo, drawn from `random` in a fixed order (latency, outcome, mode) so one seed gives one
 * manifest: `failing` when the target server will fail it for good.
 */
function demoTask(
  i: number,
  draw: { origin: string; random: () => number; shares: DemoShares; medianLatencyMs: number },
): { task: DemoTask; failing: boolean } {
  const { origin, random, shares, medianLatencyMs } = draw;
  const id = `demo-${String(i).padStart(6, '0')}`;
  // Log-normal latency: most tasks near the median, a long tail of slow ones.
  const gaussian = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const ms = Math.min(2_000, Math.round(medianLatencyMs * Math.exp(0.8 * gaussian)));
  const roll = random();
  const query = new URLSearchParams({ ms: String(ms) });
  const failing = roll < shares.failing;
  if (failing) query.set('fail', roll < shares.failing / 2 ? '404' : '500');
  else if (roll < shares.failing + shares.throttled) query.set('throttle', '1');
  const mode = random() < shares.inline ? 'inline' : 'queue';
  // The target server counts the inline ones in flight on its side (`via`), for the report's timeline.
  if (mode === 'inline') query.set('via', 'inline');
  return { task: { id, url: `${origin}/task/${id}?${query}`, mode }, failing };
}

/** Three kinds of bad line, in turn: no URL, a URL that is not one, a method HTTP does not have. */
function malformed(n: number, origin: string): Record<string, unknown> {
  const id = `demo-invalid-${n}`;
  switch (n % 3) {
    case 0:
      return { id, mode: 'queue' };
    case 1:
      return { id, url: 'not a url', mode: 'queue' };
    default:
      return { id, url: `${origin}/task/${id}`, method: 'FETCH', mode: 'queue' };
  }
}

/** The manifest as NDJSON: the job header on the first line, then one task per line. */
export function toNdjson(manifest: Pick<DemoManifest, 'jobId' | 'tasks'>): string {
  const lines = [
    JSON.stringify({ jobId: manifest.jobId }),
    ...manifest.tasks.map((task) => JSON.stringify(task)),
  ];
  return `${lines.join('\n')}\n`;
}
