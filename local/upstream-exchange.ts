// One request of the edge's own to an upstream emulator, its answer read whole: for the S3 calls the edge answers
// by asking the emulator something and rewriting what it says (a listing merged with disk-held keys, a batch
// delete whose keys it must see, a copy from a disk-held object). The answers are small (a listing page is at
// most MaxKeys entries); one over the limit fails rather than grow the edge's memory.
import { type Agent, type IncomingHttpHeaders, request, type ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { withoutHopByHop } from './hop-by-hop.js';
import { readLimited } from './read-limited.js';

export interface UpstreamRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string | string[]>;
  /** Bytes, or a stream (a disk-held object's file) piped as it is read. */
  readonly body?: Buffer | Readable;
}

export interface UpstreamAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** Answers read past this fail: a listing page of 1,000 keys is a few hundred KiB. */
export const MAX_UPSTREAM_ANSWER_BYTES = 64 * 1024 * 1024;

export function exchange(upstream: URL, agent: Agent, call: UpstreamRequest): Promise<UpstreamAnswer> {
  return new Promise((resolve, reject) => {
    const forward = request({
      host: upstream.hostname,
      port: upstream.port,
      method: call.method,
      path: call.path,
      headers: call.headers,
      agent,
    });
    forward.on('error', reject);
    forward.on('response', (answer) => {
      readLimited(answer, MAX_UPSTREAM_ANSWER_BYTES).then((body) => {
        if (body) resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body });
        else reject(new Error(`${upstream.origin} answered over ${MAX_UPSTREAM_ANSWER_BYTES} bytes`));
      }, reject);
    });
    if (call.body === undefined || Buffer.isBuffer(call.body)) forward.end(call.body);
    else {
      call.body.on('error', (error) => forward.destroy(error));
      call.body.pipe(forward);
    }
  });
}

/** Sends an upstream's answer read whole on to the client, as it came (its length now known). */
export function replyWith(res: ServerResponse, answer: UpstreamAnswer): void {
  const headers = withoutHopByHop(answer.headers);
  delete headers['transfer-encoding'];
  res.writeHead(answer.status, { ...headers, 'content-length': answer.body.length });
  res.end(answer.body);
}
