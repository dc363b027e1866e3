/** The function's name from a name, a `name:qualifier`, or a full or partial ARN. */
export function functionNameOf(identifier: string): string {
  const arn = /^(?:arn:[^:]+:lambda:[^:]+:)?\d{12}:function:([^:]+)(?::.*)?$/.exec(identifier);
  if (arn) return arn[1];
  return identifier.split(':')[0];
}
