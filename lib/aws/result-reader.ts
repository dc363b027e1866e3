// Reads a run's result lines back from S3, for `bounded-fanout report --job`: the result object once the run
// has ended (its summary line, then one line per dead-lettered, undeliverable or invalid task), or, while it
// runs (or when the object was never written), the parts its writers have left so far. Lines stream: a run
// may have dead-lettered a million tasks, and the caller decides how many it keeps.
//
// A run's lines do not all end with it: a redrive, later, runs its dead letters again as messages of keys of
// their own (lib/fanout/messages.ts redriveKeyPrefix), and the worker writes the lines of the tasks that fail
// again as parts named by those keys. The object, written once, lacks those written after it. Of them, the
// `undeliverable` lines follow the object: such a task left `deadLettered` for `undeliverable` (the ledger
// moved it), and that line says why. A redrive's new dead letters do not: the task is still dead-lettered as
// the object has it, and the copies of one dead letter a redrive may run at once can fail it in any order,
// which S3's whole-second LastModified cannot tell apart. A redrive's part the object holds already (one
// written while the run was live) is read again: its lines are failed tasks, which the report lists once.
import { GetObjectCommand, ListObjectsV2Command, NoSuchKey, type S3Client } from '@aws-sdk/client-s3';
import { redriveKeyPrefix } from '../fanout/messages.js';
import { winningPartKeys } from './result-parts.js';
import { resultKey, workerPartPrefix } from './results.js';

export interface ResultLocation {
  readonly bucket: string;
  /** The config's resultsPrefix (`results/` by default). */
  readonly prefix: string;
  readonly jobId: string;
  readonly runId: string;
}

/** `s3://bucket/key` split, or undefined for anything else. */
export function parseS3Uri(uri: string): { bucket: string; key: string } | undefined {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  return match ? { bucket: match[1], key: match[2] } : undefined;
}

export interface ResultLines {
  /** `object`: the finished run's result object; `parts`: what its writers have left so far. */
  readonly kind: 'object' | 'parts';
  /** The S3 keys read, in order: the object, then the redrives' parts; or the parts. */
  readonly keys: readonly string[];
  /** The lines, parsed, in the order written (each key read once, as it is reached). */
  readonly lines: AsyncIterable<Record<string, unknown>>;
  /** Lines that were not JSON objects, skipped so far. */
  skipped(): number;
}

export interface ResultLinesOptions {
  /**
   * The copy whose settle counted for a segment (undefined: not settled, or not told), to read a live run's
   * parts as the result object will take them: of a segment's copies, the winner's only (lib/aws/result-parts.ts).
   * Without it every copy's parts are read.
   */
  readonly winnerOf?: (segment: number) => Promise<string | undefined>;
}

/** Where the run's result lines are: the result object if it was written, else its parts. */
export async function openResultLines(
  s3: S3Client,
  at: ResultLocation,
  options: ResultLinesOptions = {},
): Promise<ResultLines> {
  const objectKey = resultKey(at.prefix, at.jobId, at.runId);
  const finished = await exists(s3, at.bucket, objectKey);
  const redrives = workerPartPrefix(at, redriveKeyPrefix(at.jobId, at.runId));
  const keys = finished
    ? [objectKey, ...(await keysUnder(s3, at.bucket, redrives))]
    : await liveParts(s3, at, options.winnerOf);
  let skipped = 0;
  async function* lines(): AsyncGenerator<Record<string, unknown>> {
    for (const key of keys) {
      const redriven = finished && key !== objectKey;
      for await (const line of linesOf(s3, at.bucket, key)) {
        const parsed = parseLine(line);
        if (!parsed) {
          if (line.trim() !== '') skipped++;
        } else if (!redriven || parsed.type === 'undeliverable') yield parsed;
      }
    }
  }
  return { kind: finished ? 'object' : 'parts', keys, lines: lines(), skipped: () => skipped };
}

/** A live run's parts, as the result object will take them. */
async function liveParts(
  s3: S3Client,
  at: ResultLocation,
  winnerOf: ResultLinesOptions['winnerOf'],
): Promise<string[]> {
  const keys = await keysUnder(s3, at.bucket, `${at.prefix}${at.jobId}/${at.runId}/part-`);
  return winningPartKeys(keys, winnerOf);
}

function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

async function exists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key, MaxKeys: 1 }));
  return (out.Contents ?? []).some((item) => item.Key === key);
}

/** Every key under `prefix`, sorted (for the run's parts: as the result object concatenates them). */
async function keysUnder(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const out = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const item of out.Contents ?? []) if (item.Key) keys.push(item.Key);
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

async function* linesOf(s3: S3Client, bucket: string, key: string): AsyncGenerator<string> {
  let body: AsyncIterable<Uint8Array>;
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    body = out.Body as AsyncIterable<Uint8Array>;
  } catch (error) {
    // A part that expired between the listing and the read: nothing to add.
    if (error instanceof NoSuchKey) return;
    throw error;
  }
  const decoder = new TextDecoder();
  let rest = '';
  for await (const chunk of body) {
    rest += decoder.decode(chunk, { stream: true });
    let newline = rest.indexOf('\n');
    while (newline >= 0) {
      yield rest.slice(0, newline);
      rest = rest.slice(newline + 1);
      newline = rest.indexOf('\n');
    }
  }
  rest += decoder.decode();
  if (rest !== '') yield rest;
}
