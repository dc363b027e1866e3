// The text of an XML element as written (escape-xml.ts's inverse): the five named references and numeric ones,
// decimal and hex. Other named references are not XML's and are left as they are.
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, ref: string) => {
    const code = ref.startsWith('#x') ? Number.parseInt(ref.slice(2), 16) : Number(ref.slice(1));
    if (ref.startsWith('#')) return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    return NAMED[ref] ?? whole;
  });
}
