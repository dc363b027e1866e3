// A request body read whole up to a limit, for the small JSON calls the one local endpoint answers itself
// (EventBridge, secrets): past the limit the rest is read and dropped, never held.
import type { IncomingMessage } from 'node:http';

/** The body, or undefined past `limit` bytes. */
export async function readLimited(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  return size > limit ? undefined : Buffer.concat(chunks);
}
