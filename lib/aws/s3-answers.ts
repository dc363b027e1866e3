// What the SDK hands back from S3, as the manifest's readers (s3-manifest.ts, resumable-body.ts) handle it: a
// body nobody will read, and the HTTP status of an error S3 answered (none when no answer came).
import type { Readable } from 'node:stream';

/** An object's body nobody will read: its socket aborted. */
export function letGo(chunks: unknown): void {
  const body = chunks as Partial<Readable>;
  // An error raised on a stream nobody reads any more would end the process.
  body.on?.('error', () => {});
  body.destroy?.();
}

/** The HTTP status S3 answered an error with; undefined when no answer came (a reset, a timeout). */
export const httpStatusOf = (error: unknown): number | undefined =>
  (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
