// Strings for fast-check properties about what travels through SQS: any UTF-16 unit, weighted towards the
// ones SQS refuses in a message body (U+FFFE, U+FFFF, lone surrogates, control characters) and the astral
// characters fauxqs refuses, with the ones JSON escapes and a few SQS takes as they are.
import fc from 'fast-check';

export const poisonUnit = fc.oneof(
  fc.constantFrom('\uFFFE', '\uFFFF', '\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\u{1F600}', '\u{10FFFF}'),
  fc.constantFrom('\u0000', '\u0001', '\u0008', '\u000b', '\u001f', '\u007f', '\t', '\n', '\r'),
  fc.constantFrom('"', '\\', '/', 'a', 'é', '\u2028', '\uFFFD', '\uE000'),
  fc.integer({ min: 0, max: 0xffff }).map((n) => String.fromCharCode(n)),
);

export const poisonString = (maxLength = 24, minLength = 0) =>
  fc.string({ unit: poisonUnit, minLength, maxLength });
