/*
The JSON that travels in SQS message bodies. SQS takes only #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD
#x10000-#x10FFFF in a body and refuses the whole entry otherwise (InvalidMessageContents); fauxqs, the
local emulator, also refuses astral characters (#x10000 and up) that SQS takes. A task's id, headers and
body may hold any of them, so every body is written with each UTF-16 unit either could refuse escaped as
\uXXXX: U+FFFE, U+FFFF, every surrogate (lone, or either half of an astral pair: JSON.parse joins the two
escapes back into the one character) and any raw control character outside tab, LF and CR (JSON.stringify
already escapes those inside strings; valid JSON has none elsewhere). JSON.parse reads the escaped text
back to the identical value, so readers need nothing special. The price is bytes: an escaped unit is 6
bytes, so an emoji costs 12 instead of 4, and every size limit counts these wire bytes.
*/

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what SQS refuses
const UNSAFE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the same set, for the replacing pass
const UNSAFE_ALL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]/g;

/** `json` with every UTF-16 unit SQS or fauxqs could refuse escaped as \uXXXX; `json` itself when none. */
export function toWireJson(json: string): string {
  // The common case (plain text) costs one scan and no copy.
  return UNSAFE.test(json) ? json.replace(UNSAFE_ALL, escapeUnit) : json;
}

/** JSON.stringify(value) as it travels in an SQS body. */
export function wireJson(value: unknown): string {
  return toWireJson(JSON.stringify(value));
}

/** Whether SQS and fauxqs take `text` as a message body as it is. */
export function isWireSafe(text: string): boolean {
  return !UNSAFE.test(text);
}

function escapeUnit(unit: string): string {
  return `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`;
}
