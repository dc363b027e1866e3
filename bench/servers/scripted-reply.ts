import type http from 'node:http';

export interface ScriptedReply {
  /** 200 unless given. */
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** "ok" unless given. */
  readonly body?: string | Buffer;
  /** Stream this many bytes of body (in 64 KiB chunks) instead of `body`: the oversized response. */
  readonly bodyBytes?: number;
  /** Wait this long before answering (overrides the server's `delayMs`). */
  readonly delayMs?: number;
  /** Send `body` (or "x") this many times, `everyMs` apart: a slow trickle of a body. */
  readonly trickle?: { readonly chunks: number; readonly everyMs: number };
  /** Reset the connection (TCP RST) instead of answering. */
  readonly reset?: boolean;
  /** `headers`: never answer; `body`: send the headers and one chunk, then nothing. Ended by close(). */
  readonly stall?: 'headers' | 'body';
}

/** Answers one request as scripted: a status and body, a long or trickled body, a reset or a stall. */
export function reply(res: http.ServerResponse, r: ScriptedReply): void {
  if (r.reset) {
    res.socket?.resetAndDestroy();
    return;
  }
  if (r.stall === 'headers') return;
  res.writeHead(r.status ?? 200, { 'content-type': 'text/plain', ...r.headers });
  if (r.stall === 'body') {
    res.write('partial');
    return;
  }
  if (r.trickle) {
    let left = r.trickle.chunks;
    const timer = setInterval(() => {
      if (res.destroyed || left-- <= 0) {
        clearInterval(timer);
        if (!res.destroyed) res.end();
        return;
      }
      res.write(r.body ?? 'x');
    }, r.trickle.everyMs);
    return;
  }
  if (r.bodyBytes === undefined) {
    res.end(r.body ?? 'ok');
    return;
  }
  const chunk = Buffer.alloc(64 * 1024, 120);
  let left = r.bodyBytes;
  const pump = (): void => {
    while (left > 0 && !res.destroyed) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        res.once('drain', pump);
        return;
      }
    }
    if (!res.destroyed) res.end();
  };
  pump();
}
