// XML text read back (local/unescape-xml.ts): escape-xml.ts's inverse, named and numeric references.
import { describe, expect, it } from 'vitest';
import { escapeXml } from '../../local/escape-xml.js';
import { unescapeXml } from '../../local/unescape-xml.js';

describe('unescapeXml', () => {
  it('reads the five named references, decimal and hex ones', () => {
    expect(unescapeXml('&amp;&lt;&gt;&quot;&apos; &#233;&#x1F600;')).toBe('&<>"\' é😀');
  });

  it('is the inverse of escapeXml', () => {
    const text = `a & b < c > d "e" 'f' %41+ é`;
    expect(unescapeXml(escapeXml(text))).toBe(text);
  });

  it('leaves what is not a reference of XML as it is', () => {
    expect(unescapeXml('&nbsp; &#x110000; & x;')).toBe('&nbsp; &#x110000; & x;');
  });
});
