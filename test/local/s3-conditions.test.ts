// S3's conditional headers (local/s3-conditions.ts): each alone, their precedence (ETags before dates), dates at
// whole seconds, an unparsable date ignored, and the x-amz-copy-source- names of a copy.
import { describe, expect, it } from 'vitest';
import { ConditionOutcomes, conditionOutcome, writeConditionFailed } from '../../local/s3-conditions.js';

const object = { etag: '"abc"', lastModified: new Date('2026-12-06T10:00:00.700Z') };
const at = '2026-12-06T10:00:00Z';
const earlier = 'Sun, 06 Dec 2026 09:59:59 GMT';
const same = new Date(at).toUTCString();
const { PROCEED, PRECONDITION_FAILED, NOT_MODIFIED } = ConditionOutcomes;
const outcome = (headers: Record<string, string>, prefix?: string) =>
  conditionOutcome(headers, object, prefix).outcome;

describe('conditionOutcome', () => {
  it.each([
    [{}, PROCEED],
    [{ 'if-match': '"abc"' }, PROCEED],
    [{ 'if-match': '"x", W/"abc"' }, PROCEED],
    [{ 'if-match': '"x"' }, PRECONDITION_FAILED],
    [{ 'if-none-match': '*' }, NOT_MODIFIED],
    [{ 'if-none-match': '"x"' }, PROCEED],
    [{ 'if-modified-since': same }, NOT_MODIFIED], // the Last-Modified sent (whole seconds) is not modified
    [{ 'if-modified-since': earlier }, PROCEED],
    [{ 'if-unmodified-since': same }, PROCEED],
    [{ 'if-unmodified-since': earlier }, PRECONDITION_FAILED],
    [{ 'if-unmodified-since': 'not a date' }, PROCEED],
    [{ 'if-match': '"abc"', 'if-unmodified-since': earlier }, PROCEED],
    [{ 'if-none-match': '"x"', 'if-modified-since': same }, PROCEED],
    [{ 'if-match': '"x"', 'if-none-match': '"abc"' }, PRECONDITION_FAILED],
  ])('%j: %s', (headers, expected) => {
    expect(outcome(headers)).toBe(expected);
  });

  it('names the condition that failed', () => {
    expect(conditionOutcome({ 'if-unmodified-since': earlier }, object).condition).toBe(
      'If-Unmodified-Since',
    );
  });

  it('reads the x-amz-copy-source- headers of a copy, and only them', () => {
    const prefix = 'x-amz-copy-source-';
    expect(outcome({ 'x-amz-copy-source-if-match': '"x"' }, prefix)).toBe(PRECONDITION_FAILED);
    expect(outcome({ 'if-match': '"x"' }, prefix)).toBe(PROCEED);
  });
});

describe('writeConditionFailed', () => {
  it.each([
    [{}, undefined],
    [{ 'if-match': '"abc"' }, undefined],
    [{ 'if-match': '"x"' }, 'If-Match'],
    [{ 'if-none-match': '*' }, 'If-None-Match'],
    [{ 'if-none-match': '"x"' }, undefined],
    [{ 'if-unmodified-since': 'Sun, 06 Dec 2026 09:59:59 GMT' }, undefined], // not a write's condition
  ])('%j: %s', (headers, expected) => {
    expect(writeConditionFailed(headers, object)).toBe(expected);
  });
});
