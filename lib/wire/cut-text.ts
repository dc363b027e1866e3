// Shortening a text that goes to AWS (a dead letter's error, a marker's kept plan, a run's detail) by UTF-16
// units, as String.slice does, can split an astral character (an emoji in a partner's error body) and leave
// its high surrogate alone at the end: a string no UTF-8 encoder can write, which DynamoDB may refuse and
// every reader shows as garbage. So the cut moves back before such a half.

/** `text` cut to at most `max` UTF-16 units, never ending in half of a surrogate pair; `mark` added if cut. */
export function cutText(text: string, max: number, mark = ''): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  const end = code >= 0xd800 && code <= 0xdbff ? max - 1 : max;
  return `${text.slice(0, end)}${mark}`;
}
