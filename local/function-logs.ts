// CloudWatch on one machine: Lambda sends a function's stdout and stderr to CloudWatch Logs, and CloudWatch
// turns the EMF lines among them into metrics. Locally the functions run in this process, so while a job
// runs their structured output (Powertools' JSON log and EMF lines) is taken off the process's stdout and
// stderr: EMF metrics are summed by service and name, error lines kept (the last few), and the lines are
// dropped or handed to a sink. Anything else (text, JSON of another shape) passes through untouched.

/** Where the functions' log lines go: dropped, written as usual, or handed to a function. */
export type LogSink = 'silent' | 'inherit' | ((line: string) => void);

type Write = typeof process.stdout.write;

/** Metrics whose name starts with this are peaks: kept as a maximum, not summed. */
const PEAK_PREFIX = 'Peak';
const MAX_ERRORS_KEPT = 50;

export class FunctionLogs {
  readonly #sink: LogSink;
  readonly #metrics = new Map<string, number>();
  readonly #errors: string[] = [];
  #lines = 0;
  #frozen = false;
  // While the sink runs: what it writes (`serve --verbose` writes each line to stderr) goes to the stream, not
  // back to the sink, which would call itself until the stack ran out.
  #inSink = false;
  #restore: (() => void) | undefined;

  constructor(sink: LogSink = 'silent') {
    this.#sink = sink;
  }

  /** Starts taking the functions' lines off stdout and stderr. */
  start(): this {
    if (this.#restore) return this;
    const streams = [process.stdout, process.stderr];
    const originals = streams.map((stream) => stream.write);
    streams.forEach((stream, i) => {
      const original = originals[i];
      stream.write = ((chunk: unknown, ...rest: unknown[]) => {
        if (this.#inSink || !this.#take(chunk))
          return (original as Write).call(stream, chunk as string, ...(rest as []));
        if (this.#sink === 'inherit')
          return (original as Write).call(stream, chunk as string, ...(rest as []));
        // Callers may pass a callback; it must still be called.
        const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
        if (callback) queueMicrotask(callback);
        return true;
      }) as Write;
    });
    this.#restore = () => {
      streams.forEach((stream, i) => {
        stream.write = originals[i];
      });
    };
    return this;
  }

  stop(): void {
    this.#restore?.();
    this.#restore = undefined;
  }

  /**
   * Metrics stay as they are from now on (lines are still taken off the streams): a run cut off keeps the counts
   * of the invocations that had ended, not of those it let go of (local/task-ledger.ts).
   */
  freeze(): void {
    this.#frozen = true;
  }

  /** A metric summed over every EMF line of a service (`worker`, `orchestrator`); peaks are maxima. */
  metric(service: string, name: string): number {
    return this.#metrics.get(`${service}\u0000${name}`) ?? 0;
  }

  /** Whether any EMF line of this service carried this metric. */
  hasMetric(service: string, name: string): boolean {
    return this.#metrics.has(`${service}\u0000${name}`);
  }

  /** The last error lines (level ERROR or written to stderr as JSON). */
  get errors(): readonly string[] {
    return this.#errors;
  }

  get lines(): number {
    return this.#lines;
  }

  /** True when the chunk was one or more JSON lines, now accounted for. */
  #take(chunk: unknown): boolean {
    const text =
      typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : undefined;
    if (text === undefined || !text.startsWith('{') || !text.trimEnd().endsWith('}')) return false;
    const lines = text.split('\n').filter((line) => line.trim() !== '');
    const parsed: Record<string, unknown>[] = [];
    for (const line of lines) {
      try {
        const value = JSON.parse(line);
        if (!isFunctionRecord(value)) return false;
        parsed.push(value);
      } catch {
        return false;
      }
    }
    for (const [i, record] of parsed.entries()) this.#account(record, lines[i]);
    return true;
  }

  #toSink(sink: (line: string) => void, line: string): void {
    this.#inSink = true;
    try {
      sink(line);
    } finally {
      this.#inSink = false;
    }
  }

  #account(record: Record<string, unknown>, line: string): void {
    this.#lines++;
    if (typeof this.#sink === 'function') this.#toSink(this.#sink, line);
    const emf = record._aws as { CloudWatchMetrics?: { Metrics?: { Name?: string }[] }[] } | undefined;
    if (emf?.CloudWatchMetrics) {
      if (this.#frozen) return;
      const service = String(record.service ?? '');
      for (const directive of emf.CloudWatchMetrics) {
        for (const { Name } of directive.Metrics ?? []) {
          if (!Name) continue;
          const raw = record[Name];
          const values = (Array.isArray(raw) ? raw : [raw]).filter((v): v is number => typeof v === 'number');
          const key = `${service}\u0000${Name}`;
          const before = this.#metrics.get(key);
          const next = Name.startsWith(PEAK_PREFIX)
            ? Math.max(before ?? 0, ...values)
            : (before ?? 0) + values.reduce((a, b) => a + b, 0);
          this.#metrics.set(key, next);
        }
      }
      return;
    }
    if (String(record.level ?? '').toUpperCase() === 'ERROR') {
      this.#errors.push(line);
      if (this.#errors.length > MAX_ERRORS_KEPT) this.#errors.shift();
    }
  }
}

/** A Powertools record: an EMF document, or a structured log line (level, message, timestamp). */
function isFunctionRecord(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const record = value as Record<string, unknown>;
  return '_aws' in record || ('level' in record && 'message' in record && 'timestamp' in record);
}
