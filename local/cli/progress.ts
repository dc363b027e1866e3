// Live progress on stderr (stdout stays for the summary or the JSON report): on a terminal a small block
// redrawn in place; otherwise, or when CI is set, one plain line every few seconds, which reads well in a log.
import type { LayerTriple, TimelineSample } from '../report/types.js';

export const ProgressModes = { TTY: 'tty', PLAIN: 'plain', OFF: 'off' } as const;
export type ProgressMode = (typeof ProgressModes)[keyof typeof ProgressModes];

export interface ProgressView {
  readonly jobId: string;
  readonly limits: LayerTriple;
  /** Tasks expected in all, when known. */
  readonly total?: number;
}

/** CI set to anything but "" / "0" / "false" means a log, not a terminal. */
export function isCi(env: NodeJS.ProcessEnv): boolean {
  const ci = env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

export function progressModeFor({
  isTTY,
  env,
}: {
  isTTY: boolean | undefined;
  env: NodeJS.ProcessEnv;
}): ProgressMode {
  if (env.BOUNDED_FANOUT_PROGRESS === 'off') return ProgressModes.OFF;
  return isTTY && !isCi(env) && env.TERM !== 'dumb' ? ProgressModes.TTY : ProgressModes.PLAIN;
}

const n = (v: number) => v.toLocaleString('en-US');

function bar(value: number, limit: number, width = 24): string {
  const filled = limit > 0 ? Math.min(width, Math.round((value / limit) * width)) : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

function head(sample: TimelineSample, view: ProgressView): string {
  const of = view.total === undefined ? '' : ` of ${n(view.total)}`;
  return `${view.jobId} · ${(sample.t / 1000).toFixed(1)} s · done ${n(sample.done)} · failed ${n(sample.failed)} · queued ${n(sample.queued)}${of}`;
}

const layers = [
  ['inline', 'inlineInFlight'],
  ['workers', 'workersInFlight'],
  ['sockets', 'socketsInFlight'],
] as const;

/** The block drawn on a terminal. */
export function renderProgressBlock(sample: TimelineSample, view: ProgressView): string[] {
  return [
    head(sample, view),
    ...layers.map(([layer, key]) => {
      const value = sample[key];
      const limit = view.limits[layer];
      return `  ${layer.padEnd(8)} ${bar(value, limit)} ${String(value).padStart(5)} / ${limit} in flight`;
    }),
  ];
}

/** The line printed to a log. */
export function renderProgressLine(sample: TimelineSample, view: ProgressView): string {
  const inFlight = layers.map(([layer, key]) => `${layer} ${sample[key]}/${view.limits[layer]}`).join(', ');
  return `[${(sample.t / 1000).toFixed(1)} s] ${head(sample, view).split(' · ').slice(2).join(', ')} | in flight: ${inFlight}`;
}

export interface ProgressDisplayOptions {
  readonly view: ProgressView;
  readonly mode: ProgressMode;
  readonly stream?: NodeJS.WritableStream;
  /** Plain mode: at most one line per this many ms. */
  readonly plainIntervalMs?: number;
  /** Terminal mode: at most one redraw per this many ms. */
  readonly redrawMs?: number;
  readonly now?: () => number;
}

export class ProgressDisplay {
  #view: ProgressView;
  readonly #mode: ProgressMode;
  readonly #stream: NodeJS.WritableStream;
  readonly #plainIntervalMs: number;
  readonly #redrawMs: number;
  readonly #now: () => number;
  #drawnLines = 0;
  #lastDraw = Number.NEGATIVE_INFINITY;
  #last?: TimelineSample;

  constructor({
    view,
    mode,
    stream = process.stderr,
    plainIntervalMs = 3_000,
    redrawMs = 100,
    now = Date.now,
  }: ProgressDisplayOptions) {
    this.#view = view;
    this.#mode = mode;
    this.#stream = stream;
    this.#plainIntervalMs = plainIntervalMs;
    this.#redrawMs = redrawMs;
    this.#now = now;
  }

  update(sample: TimelineSample): void {
    this.#last = sample;
    if (this.#mode === ProgressModes.OFF) return;
    const now = this.#now();
    const every = this.#mode === ProgressModes.TTY ? this.#redrawMs : this.#plainIntervalMs;
    if (now - this.#lastDraw < every) return;
    this.#lastDraw = now;
    this.#draw(sample);
  }

  /** The limits shown from the next draw on (a run's overrides, changed while it runs). */
  setLimits(limits: LayerTriple): void {
    this.#view = { ...this.#view, limits };
  }

  /** A message above the live block (on a terminal the block is drawn again below it). */
  note(message: string): void {
    if (this.#mode === ProgressModes.TTY) {
      this.#clear();
      this.#stream.write(`${message}\n`);
      if (this.#last) this.#draw(this.#last);
    } else {
      this.#stream.write(`${message}\n`);
    }
  }

  /** Draws the final state once more, whatever the throttle, and leaves it on screen. */
  finish(sample: TimelineSample | undefined = this.#last): void {
    if (this.#mode === ProgressModes.OFF || !sample) return;
    this.#draw(sample);
    this.#drawnLines = 0;
  }

  #draw(sample: TimelineSample): void {
    if (this.#mode === ProgressModes.TTY) {
      const lines = renderProgressBlock(sample, this.#view);
      this.#clear();
      this.#stream.write(`${lines.join('\n')}\n`);
      this.#drawnLines = lines.length;
    } else {
      this.#stream.write(`${renderProgressLine(sample, this.#view)}\n`);
    }
  }

  #clear(): void {
    // Cursor to the start of the first drawn line, then erase to the end of the screen.
    if (this.#drawnLines > 0) this.#stream.write(`\x1b[${this.#drawnLines}F\x1b[0J`);
    this.#drawnLines = 0;
  }
}
