import { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { redactRecord } from '../http/redact.js';
import { type PartObject, segmentPartName, winningParts } from './result-parts.js';

/*
The result object of a job: `results/<jobId>/<runId>.ndjson`, its first line the summary, then one line
per dead-lettered (and per invalid) task. A job spans several invocations and may dead-letter a million
tasks, so each invocation writes its lines as numbered part objects (at most `partBytes` held in memory),
and the last one writes the result object by streaming the parts after the summary.
*/

export const DEFAULT_PART_BYTES = 4 * 1024 * 1024;

/** The result object's key: `<prefix><jobId>/<runId>.ndjson`. */
export function resultKey(prefix: string, jobId: string, runId: string): string {
  return `${prefix}${jobId}/${runId}.ndjson`;
}

export interface NamedPart {
  readonly bucket: string;
  readonly prefix: string;
  readonly jobId: string;
  readonly runId: string;
  /**
   * Unique per unit of settled work and the same for every delivery of it (a message key): a delivery
   * settled twice rewrites the same part rather than add its lines twice.
   */
  readonly name: string;
}

/** How the keys of a run's worker parts whose names begin with `namePrefix` begin (all of them for ''). */
export function workerPartPrefix(
  at: { readonly prefix: string; readonly jobId: string; readonly runId: string },
  namePrefix: string,
): string {
  return `${at.prefix}${at.jobId}/${at.runId}/part-w-${encodeURIComponent(namePrefix)}`;
}

/** Writes one worker's lines for the run's result object (dead-lettered tasks with their last error). */
export async function putResultPart(
  s3: S3Client,
  part: NamedPart,
  records: readonly object[],
): Promise<void> {
  if (records.length === 0) return;
  await s3.send(
    new PutObjectCommand({
      Bucket: part.bucket,
      Key: `${workerPartPrefix(part, part.name)}.ndjson`,
      // Redacted like every line of the result object: it keeps no secret a task carried.
      Body: records.map((r) => `${JSON.stringify(redactRecord(r))}\n`).join(''),
    }),
  );
}

export interface ResultWriterOptions {
  readonly bucket: string;
  readonly jobId: string;
  readonly runId: string;
  /** The invocation's number within the job: part names sort in the order they were written. */
  readonly segment: number;
  /** The segment copy's id (lib/fanout/segment-copy.ts), in its part names: copies never overwrite each other's. */
  readonly copy?: string;
  /** Key prefix of result objects: the config's resultsPrefix, which the stack's grants use too. */
  readonly prefix?: string;
  readonly partBytes?: number;
}

export class ResultWriter {
  readonly #s3: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #segment: number;
  readonly #copy: string | undefined;
  readonly #partBytes: number;
  #lines: string[] = [];
  #bytes = 0;
  #part = 0;
  #writes: Promise<unknown>[] = [];

  constructor(
    s3: S3Client,
    {
      bucket,
      jobId,
      runId,
      segment,
      copy,
      prefix = 'results/',
      partBytes = DEFAULT_PART_BYTES,
    }: ResultWriterOptions,
  ) {
    this.#s3 = s3;
    this.#bucket = bucket;
    this.#prefix = `${prefix}${jobId}/${runId}`;
    this.#segment = segment;
    this.#copy = copy;
    this.#partBytes = partBytes;
  }

  /** The key of the final result object. */
  get key(): string {
    return `${this.#prefix}.ndjson`;
  }

  /** One line per record, redacted (lib/http/redact.ts): a result object keeps no secret a task carried. */
  add(record: object): void {
    const line = `${JSON.stringify(redactRecord(record))}\n`;
    this.#lines.push(line);
    this.#bytes += Buffer.byteLength(line);
    if (this.#bytes >= this.#partBytes) this.#writePart();
  }

  /** Writes what is held as a part; call at the end of every invocation. */
  async flush(): Promise<void> {
    if (this.#lines.length > 0) this.#writePart();
    const writes = this.#writes;
    this.#writes = [];
    await Promise.all(writes);
  }

  /**
   * Writes the result object: the summary line, then the parts of every invocation, streamed; of a segment's
   * copies, only the one `winnerOf` names (lib/aws/result-parts.ts).
   */
  async finish(
    summary: object,
    winnerOf?: (segment: number) => Promise<string | undefined>,
  ): Promise<string> {
    await this.flush();
    const parts = await winningParts(await this.#listParts(), winnerOf);
    const head = Buffer.from(`${JSON.stringify({ type: 'summary', ...summary })}\n`);
    const length = head.length + parts.reduce((sum, p) => sum + p.size, 0);
    const s3 = this.#s3;
    const bucket = this.#bucket;
    // A part that cannot be read aborts the put, and finish throws its error. The body never fails: the SDK
    // pipes it through streams of its own that no one listens on for errors, so a failing body ends the process
    // (Lambda's runtime fails the invocation; the local runtime would lose every container).
    const abort = new AbortController();
    let unreadable: unknown;
    const body = Readable.from(
      (async function* () {
        yield head;
        try {
          for (const part of parts) {
            const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: part.key }));
            yield* out.Body as AsyncIterable<Uint8Array>;
          }
        } catch (error) {
          unreadable = error;
          abort.abort(error);
        }
      })(),
    );
    const put = new PutObjectCommand({
      Bucket: bucket,
      Key: this.key,
      Body: body,
      ContentLength: length,
      ContentType: 'application/x-ndjson',
    });
    await s3.send(put, { abortSignal: abort.signal }).catch((error: unknown) => {
      throw unreadable ?? error;
    });
    return this.key;
  }

  #writePart(): void {
    const key = `${this.#prefix}/${segmentPartName(this.#segment, this.#copy, this.#part++)}`;
    const body = this.#lines.join('');
    this.#lines = [];
    this.#bytes = 0;
    const write = this.#s3.send(new PutObjectCommand({ Bucket: this.#bucket, Key: key, Body: body }));
    // Its failure is flush's to throw; until then it must not count as unhandled, which ends the process
    // (Lambda's runtime fails the invocation at once; the local runtime would lose every container).
    write.catch(() => {});
    this.#writes.push(write);
  }

  async #listParts(): Promise<PartObject[]> {
    const parts: PartObject[] = [];
    let token: string | undefined;
    do {
      const out = await this.#s3.send(
        new ListObjectsV2Command({
          Bucket: this.#bucket,
          Prefix: `${this.#prefix}/part-`,
          ContinuationToken: token,
        }),
      );
      for (const item of out.Contents ?? [])
        if (item.Key) parts.push({ key: item.Key, size: item.Size ?? 0 });
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return parts.sort((a, b) => (a.key < b.key ? -1 : 1));
  }
}
