// Opening a manifest file given on the command line, with one clear error when it is missing or unreadable.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import {
  declaredFormat,
  type Manifest,
  ManifestError,
  type ManifestFormat,
  parseManifestStream,
  sniffManifestFormat,
} from '../../lib/manifest/index.js';
import { UsageError } from './usage-error.js';

export async function checkManifestFile(file: string, flag = '--manifest'): Promise<void> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new UsageError(
      `${flag}: ${reason}: ${JSON.stringify(file)}`,
      { flag, value: file },
      { cause: error },
    );
  }
  if (!info.isFile())
    throw new UsageError(`${flag}: not a file: ${JSON.stringify(file)}`, { flag, value: file });
}

/** Parses a JSON or NDJSON manifest file as a stream (the header now, the tasks lazily). */
export async function openManifestFile(file: string, defaultJobId?: string): Promise<Manifest> {
  await checkManifestFile(file);
  try {
    return await parseManifestStream(createReadStream(file), {
      defaultJobId,
      declared: declaredFormat(file),
    });
  } catch (error) {
    throw inFile(file, error);
  }
}

/** Reads a manifest file's header only (the first line of NDJSON, the members before `tasks` in JSON). */
export async function checkManifestHeader(file: string): Promise<void> {
  await checkManifestFile(file);
  const stream = createReadStream(file);
  try {
    await parseManifestStream(stream, { defaultJobId: 'manifest', declared: declaredFormat(file) });
  } catch (error) {
    throw inFile(file, error);
  } finally {
    stream.destroy();
  }
}

/**
 * The format the orchestrator will read the file as (lib/manifest/format.ts: the bytes, then the name):
 * its upload carries it as the content type.
 */
export async function manifestFileFormat(file: string): Promise<ManifestFormat> {
  const stream = createReadStream(file);
  try {
    return await sniffManifestFormat(stream, declaredFormat(file));
  } finally {
    stream.destroy();
  }
}

/** A manifest error, prefixed with the file it is in. */
export function inFile(file: string, error: unknown): unknown {
  if (!(error instanceof ManifestError)) return error;
  return new UsageError(`${file}: ${error.message}`, { flag: '--manifest', value: file }, { cause: error });
}

export interface ManifestCount {
  readonly jobId: string;
  readonly valid: number;
  readonly invalid: number;
}

/** Reads a manifest through once, counting valid and invalid tasks, in constant memory. */
export async function countManifest(file: string): Promise<ManifestCount> {
  const manifest = await openManifestFile(file, 'manifest');
  let valid = 0;
  let invalid = 0;
  try {
    for await (const item of manifest.items) {
      if (item.ok) valid++;
      else invalid++;
    }
  } catch (error) {
    throw inFile(file, error);
  }
  return { jobId: manifest.header.jobId, valid, invalid };
}
