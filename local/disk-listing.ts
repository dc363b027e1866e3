// ListObjectsV2 and ListObjects (v1) of a bucket with disk-held objects (disk-objects.ts): the emulator's page is
// asked for with the client's own parameters, and the disk-held keys that fall in it are merged in, in key order,
// as S3 would have listed them: Prefix, Delimiter (a key under a common prefix is listed as that prefix, once),
// MaxKeys (a page over it is cut, truncated, and the next page starts after its last entry), continuation
// tokens, StartAfter, Marker and KeyCount. Only the objects' metadata is listed: no file is read.
//
// Tokens are fauxqs' own (the base64 of the key to start after), so a page the edge cut continues in the
// emulator where the edge stopped. Key order is S3's (UTF-8 bytes); fauxqs sorts its
// own keys by localeCompare, which agrees for the lowercase, digit and separator keys the run uses.
import type { DiskObject } from './disk-objects.js';
import { escapeXml } from './escape-xml.js';
import { unescapeXml } from './unescape-xml.js';

export interface ListingQuery {
  readonly v2: boolean;
  readonly prefix: string;
  readonly delimiter: string;
  readonly maxKeys: number;
  /** The key the page starts after: the continuation token's, StartAfter or Marker; '' for the first. */
  readonly after: string;
  readonly params: URLSearchParams;
}

/** A listed name: a key (with its <Contents> XML) or a common prefix. */
interface Entry {
  readonly name: string;
  readonly contents?: string;
}

export interface ListingPage {
  readonly entries: readonly Entry[];
  readonly truncated: boolean;
}

/** The listing a query string asks for, or undefined when the edge should leave it to the emulator alone. */
export function listingQueryOf(params: URLSearchParams): ListingQuery | undefined {
  const maxKeys = params.has('max-keys') ? Number(params.get('max-keys')) : 1000;
  // MaxKeys 0 or not a count: what the emulator answers is all there is to say.
  if (!Number.isInteger(maxKeys) || maxKeys < 1) return undefined;
  const v2 = params.get('list-type') === '2';
  const token = params.get('continuation-token');
  const after = v2
    ? token !== null
      ? Buffer.from(token, 'base64').toString('utf8')
      : (params.get('start-after') ?? '')
    : (params.get('marker') ?? '');
  const prefix = params.get('prefix') ?? '';
  return { v2, prefix, delimiter: params.get('delimiter') ?? '', maxKeys, after, params };
}

/** The keys and common prefixes of an emulator's ListBucketResult, and whether it is truncated. */
export function pageOf(xml: string): ListingPage {
  const entries: Entry[] = [];
  for (const [contents] of xml.matchAll(/<Contents>[\s\S]*?<\/Contents>/g)) {
    entries.push({ name: unescapeXml(/<Key>([\s\S]*?)<\/Key>/.exec(contents)?.[1] ?? ''), contents });
  }
  for (const [, prefix] of xml.matchAll(
    /<CommonPrefixes>\s*<Prefix>([\s\S]*?)<\/Prefix>\s*<\/CommonPrefixes>/g,
  )) {
    entries.push({ name: unescapeXml(prefix) });
  }
  return { entries, truncated: /<IsTruncated>\s*true\s*<\/IsTruncated>/.test(xml) };
}

/** The emulator's page with the disk-held objects of its bucket merged in, cut at MaxKeys. */
export function mergeListing(
  query: ListingQuery,
  page: ListingPage,
  held: readonly DiskObject[],
): ListingPage {
  const byNameSeen = new Map(page.entries.map((entry) => [entry.name, entry]));
  for (const object of held) {
    const entry = entryOf(query, object);
    if (!entry || compareKeys(entry.name, query.after) <= 0) continue;
    byNameSeen.set(entry.name, entry); // the disk-held object is the one read under its key
  }
  // A truncated page of the emulator's is full (MaxKeys entries), so a held entry past its last is cut here and
  // listed on the next page, which starts after this one's last entry.
  const merged = [...byNameSeen.values()].sort(byName);
  const cut = merged.length > query.maxKeys;
  return { entries: merged.slice(0, query.maxKeys), truncated: cut || page.truncated };
}

/** The object as the listing names it: its key, the common prefix it is under, or nothing (another prefix). */
function entryOf(query: ListingQuery, object: DiskObject): Entry | undefined {
  if (!object.key.startsWith(query.prefix)) return undefined;
  const rest = object.key.slice(query.prefix.length);
  const at = query.delimiter === '' ? -1 : rest.indexOf(query.delimiter);
  if (at >= 0) return { name: query.prefix + rest.slice(0, at + query.delimiter.length) };
  return { name: object.key, contents: contentsOf(object) };
}

const contentsOf = (object: DiskObject) =>
  `<Contents><Key>${escapeXml(object.key)}</Key><LastModified>${object.lastModified.toISOString()}</LastModified>` +
  `<ETag>${escapeXml(object.etag)}</ETag><Size>${object.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`;

/** S3's key order: the keys' UTF-8 bytes (JS string order differs past U+FFFF). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const byName = (a: Entry, b: Entry) => compareKeys(a.name, b.name);

/** The ListBucketResult of a merged page, as S3 writes it for the version asked. */
export function listingXml(bucket: string, query: ListingQuery, page: ListingPage): string {
  const p = query.params;
  const next = page.truncated ? page.entries.at(-1)?.name : undefined;
  const field = (name: string, value: string | undefined | null) =>
    value === undefined || value === null ? '' : `<${name}>${escapeXml(value)}</${name}>`;
  const head = [field('Name', bucket), field('Prefix', query.prefix)];
  if (query.v2) {
    head.push(field('KeyCount', String(page.entries.length)), field('MaxKeys', String(query.maxKeys)));
    head.push(field('IsTruncated', String(page.truncated)), field('StartAfter', p.get('start-after')));
    head.push(field('ContinuationToken', p.get('continuation-token')));
    head.push(field('NextContinuationToken', next && Buffer.from(next, 'utf8').toString('base64')));
  } else {
    head.push(field('Marker', query.after), field('MaxKeys', String(query.maxKeys)));
    head.push(field('IsTruncated', String(page.truncated)), field('NextMarker', next));
  }
  if (query.delimiter !== '') head.push(field('Delimiter', query.delimiter));
  const contents = page.entries.flatMap((e) => (e.contents === undefined ? [] : [e.contents]));
  const prefixes = page.entries.flatMap((e) =>
    e.contents === undefined ? [`<CommonPrefixes>${field('Prefix', e.name)}</CommonPrefixes>`] : [],
  );
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${[...head, ...contents, ...prefixes].join('')}</ListBucketResult>`;
}
