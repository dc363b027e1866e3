// The placements of the secrets property (secrets-property.test.ts): where a manifest may carry a secret, as
// fast-check arbitraries, and the manifest and --secrets file one list of placements makes. Every value is a
// random token behind a fixed marker, alphanumeric so that no output escapes it (JSON, HTML, a URL) and a plain
// search finds any copy of it.
import fc from 'fast-check';

export const MARKER = 'LeakMark';
export const secretValue = fc.stringMatching(/^[A-Za-z0-9]{24,32}$/).map((s) => `${MARKER}${s}`);

/** Header names the redaction treats as secrets: the fixed list and names that look like a credential. */
export const SECRET_HEADERS = [
  'Authorization',
  'Proxy-Authorization',
  'Cookie',
  'X-Api-Key',
  'X-Amz-Security-Token',
  'X-Auth-Token',
  'X-Client-Secret',
  'Api-Key',
  'X-Session-Id',
  'X-Partner-Password',
] as const;
/** Secret-like names for the manifest's default headers, apart from the tasks' own (a task's header wins). */
const DEFAULT_HEADERS = [
  'X-Default-Auth',
  'X-Default-Token',
  'X-Default-Api-Key',
  'X-Default-Session',
] as const;
/** Query parameter names the redaction treats as secrets. */
export const SECRET_QUERY = [
  'token',
  'access_token',
  'api_key',
  'key',
  'secret',
  'client_secret',
  'signature',
  'password',
  'session',
  'auth',
  'X-Amz-Signature',
  'X-Amz-Credential',
  'X-Amz-Security-Token',
] as const;
export const MODES = ['inline', 'queue', 'invoke'] as const;
const SCHEMES = ['', 'Bearer ', 'Basic ', 'sid='] as const;
/** Header names a reference may sit under: named like a secret or not (its resolved value is scrubbed anyway). */
const REF_HEADERS = ['authorization', 'x-api-key', 'x-request-source', 'x-partner'] as const;
const REF_SOURCES = ['secret', 'json', 'ssm'] as const;
const INVALID = ['cr-header', 'broken-json', 'bad-scheme', 'bad-field'] as const;

const mode = fc.constantFrom(...MODES);
export const placement = fc.oneof(
  fc.record({
    kind: fc.constant('header' as const),
    name: fc.constantFrom(...SECRET_HEADERS),
    scheme: fc.constantFrom(...SCHEMES),
    mode,
  }),
  fc.record({ kind: fc.constant('default-header' as const), name: fc.constantFrom(...DEFAULT_HEADERS) }),
  fc.record({ kind: fc.constant('query' as const), name: fc.constantFrom(...SECRET_QUERY), mode }),
  fc.record({ kind: fc.constant('userinfo' as const), password: fc.boolean() }),
  fc.record({ kind: fc.constant('body' as const), json: fc.boolean(), mode }),
  fc.record({ kind: fc.constant('invalid' as const), how: fc.constantFrom(...INVALID) }),
  fc.record({
    kind: fc.constant('ref' as const),
    name: fc.constantFrom(...REF_HEADERS),
    source: fc.constantFrom(...REF_SOURCES),
    scheme: fc.constantFrom('', 'Bearer '),
    mode,
  }),
);
export type Placement = typeof placement extends fc.Arbitrary<infer T> ? T : never;
export interface Placed {
  readonly place: Placement;
  readonly value: string;
}

const ARN = (name: string) => `arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}`;

export interface BuiltJob {
  readonly lines: string[];
  /** --secrets of the serve: the values the references resolve to. */
  readonly secrets: Record<string, string>;
  /** Tasks that reach the server (and fail there), by id. */
  readonly sent: string[];
  readonly invalid: number;
  /** What the server must have received, per task id: a header's value, or a fragment of the path. */
  readonly expected: { id: string; header?: string; value: string }[];
}

/** The manifest (NDJSON lines) of run `n`: one task per placement, every task failing at the server. */
export function buildJob(n: number, base: string, port: number, placed: readonly Placed[]): BuiltJob {
  const defaults: Record<string, string> = {};
  const secrets: Record<string, string> = {};
  const lines: string[] = [];
  const sent: string[] = [];
  const expected: BuiltJob['expected'] = [];
  let invalid = 0;
  placed.forEach(({ place: p, value }, i) => {
    const id = `p${i}`;
    const url = `${base}/fail/${id}`;
    const add = (task: Record<string, unknown>) => {
      lines.push(JSON.stringify({ id, ...task }));
      sent.push(id);
    };
    if (p.kind === 'header') {
      add({ url, mode: p.mode, headers: { [p.name]: `${p.scheme}${value}` } });
      expected.push({ id, header: p.name.toLowerCase(), value: `${p.scheme}${value}` });
    } else if (p.kind === 'default-header') {
      // One value per name: a second default of the same name takes a name of its own.
      const name = p.name in defaults ? `X-Secret-${i}` : p.name;
      defaults[name] = value;
      add({ url, mode: 'queue' });
      expected.push({ id, header: name.toLowerCase(), value });
    } else if (p.kind === 'query') {
      add({ url: `${url}?page=2&${p.name}=${value}`, mode: p.mode });
      expected.push({ id, value: `${p.name}=${value}` });
    } else if (p.kind === 'userinfo') {
      const info = p.password ? `user${i}:${value}` : value;
      lines.push(JSON.stringify({ id, url: `http://${info}@127.0.0.1:${port}/fail/${id}` }));
      invalid++;
    } else if (p.kind === 'body') {
      const body = p.json ? JSON.stringify({ password: value, n: i }) : value;
      add({ url, method: 'POST', mode: p.mode, body });
      expected.push({ id, value: `POST /fail/${id}` });
    } else if (p.kind === 'invalid') {
      lines.push(invalidLine(p.how, id, url, value));
      invalid++;
    } else {
      const name = `bounded-fanout/prop${n}-${i}`;
      let ref: Record<string, string>;
      if (p.source === 'secret') {
        secrets[ARN(name)] = `${p.scheme}${value}`;
        ref = { secret: ARN(name) };
      } else if (p.source === 'json') {
        secrets[ARN(name)] = JSON.stringify({ token: `${p.scheme}${value}`, other: 'not-secret' });
        ref = { secret: ARN(name), jsonKey: 'token' };
      } else {
        secrets[`/${name}`] = `${p.scheme}${value}`;
        ref = { ssm: `/${name}` };
      }
      add({ url, mode: p.mode, headers: { [p.name]: ref } });
      expected.push({ id, header: p.name, value: `${p.scheme}${value}` });
    }
  });
  const header = JSON.stringify({ jobId: `prop${n}`, defaults: { headers: defaults } });
  return { lines: [header, ...lines], secrets, sent, invalid, expected };
}

function invalidLine(how: (typeof INVALID)[number], id: string, url: string, value: string): string {
  if (how === 'cr-header')
    return JSON.stringify({ id, url, headers: { Authorization: `Bearer ${value}\r` } });
  if (how === 'broken-json') return `{"id":"${id}","url":"${url}","headers":{"X-Api-Key": ${value}}}`;
  if (how === 'bad-scheme') return JSON.stringify({ id, url: `ftp://me:${value}@127.0.0.1/?token=${value}` });
  // A field wrong beside the secrets: the error names the field, the task's secrets stay out of it.
  return JSON.stringify({
    id,
    url: `${url}?token=${value}`,
    headers: { 'X-Api-Key': value },
    timeoutMs: 'soon',
  });
}
