// DeleteObjects (POST /bucket?delete) naming disk-held objects (disk-objects.ts): the batch goes to the emulator
// as sent (its checksum header covers the body), and once it answers 200 every disk-held key it names is
// unregistered, as S3 deletes it (fauxqs reports no key of a batch as an <Error>: it deletes each, there or
// not, as S3 does). A body over the limit, or a batch the emulator refuses, deletes nothing.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { s3Error } from './disk-object-answer.js';
import type { DiskObjects } from './disk-objects.js';
import { withoutHopByHop } from './hop-by-hop.js';
import { readLimited } from './read-limited.js';
import { unescapeXml } from './unescape-xml.js';
import { replyWith, type UpstreamAnswer, type UpstreamRequest } from './upstream-exchange.js';

/** 1,000 keys of 1,024 bytes each, every byte escaped, with room for the XML around them. */
export const MAX_DELETE_BODY_BYTES = 8 * 1024 * 1024;

export async function deleteBatch(
  req: IncomingMessage,
  res: ServerResponse,
  bucket: string,
  objects: DiskObjects,
  exchange: (call: UpstreamRequest) => Promise<UpstreamAnswer>,
): Promise<void> {
  const body = await readLimited(req, MAX_DELETE_BODY_BYTES);
  if (body === undefined) {
    const message = `Your request was too big: over ${MAX_DELETE_BODY_BYTES} bytes`;
    return s3Error(res, false, 400, 'MaxMessageLengthExceeded', message);
  }
  const headers = withoutHopByHop(req.headers);
  delete headers['transfer-encoding'];
  headers['content-length'] = String(body.length);
  const answer = await exchange({ method: 'POST', path: req.url ?? '/', headers, body });
  if (answer.status === 200) {
    for (const key of keysIn(body.toString('utf8'))) await objects.unregister(bucket, key);
  }
  replyWith(res, answer);
}

/** The <Key> of each <Object> of a DeleteObjects body. */
function keysIn(xml: string): string[] {
  return [...xml.matchAll(/<Object>[\s\S]*?<\/Object>/g)].flatMap(([text]) => {
    const key = /<Key>([\s\S]*?)<\/Key>/.exec(text)?.[1];
    return key === undefined ? [] : [unescapeXml(key)];
  });
}
