// dynalite parses every ConditionExpression with a PEG parser, at about a third of a millisecond each: the job
// ledger's settle markers (`attribute_not_exists(pk)`, about 900 a 20,000-task run) spent most of dynalite's
// time there. A bare `attribute_not_exists(x)` / `attribute_exists(x)` on a top-level attribute means exactly
// what the legacy `Expected: { x: { ComparisonOperator: 'NULL' | 'NOT_NULL' } }` means, which dynalite judges
// without parsing (both end in the same comparison in its db/index.js). The front's own single-item calls
// (local/dynalite-calls.ts) send it so, but only once dynalite has accepted that very expression, with the same
// names, in its own form: whatever dynalite would refuse in an expression (a reserved word, a bad name) is
// still refused by dynalite itself, word for word. Nothing the SDK sends through the front is rewritten.

const SIMPLE = /^\s*(attribute_exists|attribute_not_exists)\s*\(\s*(#?[A-Za-z0-9_]+)\s*\)\s*$/;
/** A bound on the expressions remembered (the ledger uses two). */
const MAX_KNOWN = 256;

type Params = Record<string, unknown>;

export class LegacyConditions {
  readonly #known = new Set<string>();

  /** The call's parameters with a known simple condition as `Expected`; the same object when it has none. */
  translate(params: Params): Params {
    const simple = simpleCondition(params);
    if (!simple || !this.#known.has(simple.id)) return params;
    const { ConditionExpression: _c, ExpressionAttributeNames: _n, ...rest } = params;
    const operator = simple.fn === 'attribute_exists' ? 'NOT_NULL' : 'NULL';
    return { ...rest, Expected: { [simple.attribute]: { ComparisonOperator: operator } } };
  }

  /** dynalite answered `params` as sent: a simple condition it parsed (met or not) may be translated from now on. */
  learn(params: Params, answer: { readonly status: number; readonly body: Record<string, unknown> }): void {
    const simple = simpleCondition(params);
    if (!simple || this.#known.size >= MAX_KNOWN) return;
    const parsed =
      answer.status === 200 || String(answer.body.__type ?? '').endsWith('#ConditionalCheckFailedException');
    if (parsed) this.#known.add(simple.id);
  }
}

/** The call's condition when it is a bare attribute_(not_)exists of one top-level attribute, and nothing else. */
function simpleCondition(params: Params) {
  const expression = params.ConditionExpression;
  if (typeof expression !== 'string') return undefined;
  if (params.ExpressionAttributeValues !== undefined || params.UpdateExpression !== undefined)
    return undefined;
  const match = SIMPLE.exec(expression);
  if (!match) return undefined;
  const [, fn, name] = match;
  const names = params.ExpressionAttributeNames;
  let attribute = name;
  if (name.startsWith('#')) {
    // The one name the expression uses, and no other (an unused name is dynalite's error to give).
    if (!isNames(names) || Object.keys(names).length !== 1 || typeof names[name] !== 'string')
      return undefined;
    attribute = names[name];
  } else if (names !== undefined) return undefined;
  return { fn, attribute, id: JSON.stringify([expression, names ?? null]) };
}

const isNames = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);
