// S3's conditional headers on an object, in the order RFC 9110 13.2.2 gives and S3 follows: If-Match, else
// If-Unmodified-Since (fail: 412); then If-None-Match, else If-Modified-Since (a GET or HEAD answers 304 Not
// Modified; a CopyObject's x-amz-copy-source-if-* fail 412 there too); a write's If-Match and If-None-Match
// fail it 412 (writeConditionFailed). Dates are compared at whole seconds,
// as Last-Modified is sent; a date that does not parse is ignored, as S3 ignores it.
import type { IncomingHttpHeaders } from 'node:http';

export const ConditionOutcomes = {
  PROCEED: 'proceed',
  PRECONDITION_FAILED: 'precondition-failed',
  NOT_MODIFIED: 'not-modified',
} as const;
export type ConditionOutcome = (typeof ConditionOutcomes)[keyof typeof ConditionOutcomes];

export interface Validators {
  readonly etag: string;
  readonly lastModified: Date;
}

/** The outcome of the conditions in `headers`, named with `prefix` (`''`, or `x-amz-copy-source-` for a copy). */
export function conditionOutcome(
  headers: IncomingHttpHeaders,
  object: Validators,
  prefix = '',
): { outcome: ConditionOutcome; condition?: string } {
  const header = (name: string) => {
    const value = headers[`${prefix}${name}`];
    return Array.isArray(value) ? value.join(',') : value;
  };
  const seconds = Math.floor(object.lastModified.getTime() / 1000);
  const ifMatch = header('if-match');
  if (ifMatch !== undefined) {
    if (!etagListHas(ifMatch, object.etag)) return failed('If-Match');
  } else if (seconds > secondsOf(header('if-unmodified-since'), Number.POSITIVE_INFINITY)) {
    return failed('If-Unmodified-Since');
  }
  const ifNoneMatch = header('if-none-match');
  if (ifNoneMatch !== undefined) {
    if (etagListHas(ifNoneMatch, object.etag)) return { outcome: ConditionOutcomes.NOT_MODIFIED };
  } else if (seconds <= secondsOf(header('if-modified-since'), Number.NEGATIVE_INFINITY)) {
    return { outcome: ConditionOutcomes.NOT_MODIFIED };
  }
  return { outcome: ConditionOutcomes.PROCEED };
}

/**
 * The condition of a write over an existing object (PutObject, CopyObject, CompleteMultipartUpload,
 * DeleteObject) that fails it with 412, or undefined: If-Match that does not name its ETag, If-None-Match that
 * does (S3 takes only `*` there: the object exists).
 */
export function writeConditionFailed(headers: IncomingHttpHeaders, object: Validators): string | undefined {
  const ifMatch = headers['if-match'];
  if (typeof ifMatch === 'string' && !etagListHas(ifMatch, object.etag)) return 'If-Match';
  const ifNoneMatch = headers['if-none-match'];
  if (typeof ifNoneMatch === 'string' && etagListHas(ifNoneMatch, object.etag)) return 'If-None-Match';
  return undefined;
}

const failed = (condition: string) => ({ outcome: ConditionOutcomes.PRECONDITION_FAILED, condition });

/** The whole seconds of an HTTP date, or `absent` when there is none or it does not parse. */
function secondsOf(date: string | undefined, absent: number): number {
  const ms = date === undefined ? Number.NaN : Date.parse(date);
  return Number.isNaN(ms) ? absent : Math.floor(ms / 1000);
}

/** True when an If-Match / If-None-Match list names `etag` (or is `*`); weak tags compare by their value. */
function etagListHas(header: string, etag: string): boolean {
  return header.split(',').some((tag) => {
    const t = tag.trim().replace(/^W\//, '');
    return t === '*' || t === etag || `"${t}"` === etag;
  });
}
