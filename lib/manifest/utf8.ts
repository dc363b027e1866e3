// Manifest bytes must be UTF-8: decoding invalid bytes would put U+FFFD in their place, and a task would
// run against a URL (or with a header) that the file never held. Node's isUtf8 checks a piece natively
// (SIMD) before it is decoded, so the streaming readers stay fast; the position is found only on a fault.
import { isUtf8 } from 'node:buffer';

/** Undefined when `bytes` are valid UTF-8; else where the first bad sequence starts: `0xFF at byte 13`. */
export function utf8Fault(bytes: Uint8Array): string | undefined {
  if (isUtf8(bytes)) return undefined;
  const at = firstInvalid(bytes);
  return `0x${bytes[at].toString(16).toUpperCase().padStart(2, '0')} at byte ${at + 1}`;
}

/** Index of the first byte that does not start a well-formed UTF-8 sequence (RFC 3629). */
function firstInvalid(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    const [n, min] = c >= 0xc2 && c <= 0xdf ? [1, 0x80] : c >= 0xe0 && c <= 0xef ? [2, 0x800] : [3, 0x10000];
    if (c < 0xc2 || c > 0xf4 || i + n >= b.length) return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      if ((b[i + k] & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (b[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return Math.max(0, b.length - 1);
}
