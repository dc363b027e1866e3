// The one byte range of an HTTP `Range` header, as S3 reads it for GetObject: `bytes=a-b`, `bytes=a-` and the
// suffix `bytes=-n`. A range that starts at or past the end (`bytes=SIZE-`, any range of an empty object, a
// suffix of 0) cannot be satisfied: 416. A header that is not one range of that form (several ranges, b < a,
// another unit) is ignored and the whole object answered, as RFC 9110 says and S3 does.
export type ByteRange =
  | { readonly kind: 'whole' }
  | { readonly kind: 'range'; readonly start: number; readonly end: number }
  | { readonly kind: 'unsatisfiable' };

const WHOLE: ByteRange = { kind: 'whole' };
const UNSATISFIABLE: ByteRange = { kind: 'unsatisfiable' };

/** The range `header` asks of an object of `size` bytes; `end` is inclusive and below `size`. */
export function byteRangeOf(header: string | undefined, size: number): ByteRange {
  const match = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return WHOLE;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return UNSATISFIABLE;
    return { kind: 'range', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const last = match[2] === '' ? Number.POSITIVE_INFINITY : Number(match[2]);
  if (last < start) return WHOLE;
  if (start >= size) return UNSATISFIABLE;
  return { kind: 'range', start, end: Math.min(last, size - 1) };
}
