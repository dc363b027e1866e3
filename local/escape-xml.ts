/** Text made safe inside XML or HTML content and attribute values: the five special characters as references. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
