// Headers that belong to one connection (RFC 9110 7.6.1), dropped when the one local endpoint passes a request
// or an answer on to the other side; every other header passes unchanged.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
  // The client's 100-continue was answered here already (Node does when no checkContinue listener is set).
  'expect',
]);

/** `headers` without the hop-by-hop ones. */
export function withoutHopByHop(headers: NodeJS.Dict<string | string[]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}
