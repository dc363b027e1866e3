// TransactWriteItems over dynalite's single-item calls, for the DynamoDB front (local/dynamo-front.ts),
// which holds every touched table's lock exclusively while this runs. The actions (on distinct items) are
// applied at once, each with its own condition, each one call that also returns its item's prior image
// (ReturnValues ALL_OLD): one round trip to dynalite, not a read and a write per action one after another.
// When any condition fails, every applied action's item is put back as it was, and the answer names every
// failing condition, each judged on the items as they were (as DynamoDB does): its
// TransactionCanceledException. On a store kept on disk the items' prior images are read and kept first, so a
// kill -9 between two calls leaves nothing half applied (local/dynamo-undo-log.ts).
import {
  type AttributeMap,
  type DynaliteAnswer,
  type DynaliteCalls,
  isConditionalCheckFailed,
} from './dynalite-calls.js';
import { putBack, type UndoLog } from './dynamo-undo-log.js';

export interface WireAnswer {
  readonly status: number;
  readonly body: string;
}

type ActionKind = 'Put' | 'Update' | 'Delete' | 'ConditionCheck';
const ACTION_KINDS: readonly ActionKind[] = ['Put', 'Update', 'Delete', 'ConditionCheck'];

interface Action {
  readonly kind: ActionKind;
  readonly params: Record<string, unknown>;
  readonly tableName: string;
}

interface Prepared extends Action {
  readonly key: AttributeMap;
}

const CONDITION_FIELDS = ['ConditionExpression', 'ExpressionAttributeNames', 'ExpressionAttributeValues'];
/** The fields each action passes to its single-item call (ReturnValuesOnConditionCheckFailure is ours). */
const FIELDS: Record<ActionKind, readonly string[]> = {
  Put: ['Item', ...CONDITION_FIELDS],
  Update: ['Key', 'UpdateExpression', ...CONDITION_FIELDS],
  Delete: ['Key', ...CONDITION_FIELDS],
  ConditionCheck: ['Key', ...CONDITION_FIELDS],
};
const OPERATION: Record<ActionKind, string> = {
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  // An UpdateItem with no update: the condition is checked; the key-only item it may create is undone.
  ConditionCheck: 'UpdateItem',
};
const MAX_ACTIONS = 100;
const CONDITION_FAILED = 'The conditional request failed';

export class TransactRequestError extends Error {}

/** The actions of a TransactWriteItems body, or a TransactRequestError saying what DynamoDB would refuse. */
export function parseActions(body: unknown): Action[] {
  const items = (body as { TransactItems?: unknown })?.TransactItems;
  if (!Array.isArray(items) || items.length === 0 || items.length > MAX_ACTIONS) {
    throw new TransactRequestError(
      `1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length between 1 and ${MAX_ACTIONS}`,
    );
  }
  return items.map((item: Record<string, unknown>) => {
    const kinds = ACTION_KINDS.filter((k) => item?.[k] !== undefined);
    if (kinds.length !== 1) {
      throw new TransactRequestError('TransactItems can only contain one of Check, Put, Update or Delete');
    }
    const params = item[kinds[0]] as Record<string, unknown>;
    return { kind: kinds[0], params, tableName: String(params?.TableName ?? '') };
  });
}

/** `undo`: a store kept on disk keeps each transaction's prior images first (local/dynamo-undo-log.ts). */
export async function transactWrite(
  dynalite: DynaliteCalls,
  actions: readonly Action[],
  undo?: UndoLog,
): Promise<WireAnswer> {
  const prepared = await Promise.all(actions.map((a) => withKey(dynalite, a)));
  const ids = new Set(prepared.map(itemId));
  if (ids.size !== prepared.length) {
    return error('ValidationException', 'Transaction request cannot include multiple operations on one item');
  }
  if (!undo) return applyTransaction(dynalite, prepared);
  const priors = await Promise.all(prepared.map((a) => priorImage(dynalite, a)));
  const entry = undo.begin(prepared.map(({ tableName, key }, i) => ({ tableName, key, item: priors[i] })));
  try {
    return await applyTransaction(dynalite, prepared);
  } finally {
    // Over, in this live process, however it went: a later start must not put back items written since.
    undo.end(entry);
  }
}

async function applyTransaction(dynalite: DynaliteCalls, prepared: readonly Prepared[]): Promise<WireAnswer> {
  // The items are distinct and locked: the actions run at once, each one call that returns its prior image
  // (ReturnValues ALL_OLD), and every condition is judged on the items as they were.
  const outcomes = await applyAll(dynalite, prepared);
  const failed = outcomes.find((o) => o.answer.status !== 200);
  if (!failed) return { status: 200, body: '{}' };
  for (let i = 0; i < prepared.length; i++) {
    if (outcomes[i].answer.status === 200) await undo(dynalite, prepared[i], outcomes[i].prior);
  }
  const refused = outcomes.find((o) => o.answer.status !== 200 && !isConditionalCheckFailed(o.answer));
  if (refused) return { status: refused.answer.status, body: refused.answer.raw };
  const reasons = [];
  for (let i = 0; i < prepared.length; i++) {
    if (!isConditionalCheckFailed(outcomes[i].answer)) reasons.push({ Code: 'None' });
    else reasons.push(conditionFailed(prepared[i], await failedImage(dynalite, prepared[i])));
  }
  return cancelled(reasons);
}

/**
 * Applies every action; when a call fails with no answer (a socket error), puts back what the others applied
 * and throws. Never partly applied behind an error: the front answers it with a retryable 500 and the SDK
 * sends the whole transaction again, which would add a settle's counts twice (a marker already written fails
 * its condition, so the caller resends the other keys with their own counts: found at 20,050 of 20,000).
 */
async function applyAll(dynalite: DynaliteCalls, prepared: readonly Prepared[]): Promise<Outcome[]> {
  const settled = await Promise.allSettled(prepared.map((action) => applyKeepingPrior(dynalite, action)));
  const lost = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (!lost) return settled.map((s) => (s as PromiseFulfilledResult<Outcome>).value);
  for (let i = 0; i < prepared.length; i++) {
    const s = settled[i];
    if (s.status === 'fulfilled' && s.value.answer.status === 200)
      await undo(dynalite, prepared[i], s.value.prior);
  }
  throw lost.reason;
}

interface Outcome {
  readonly answer: DynaliteAnswer;
  /** The item before this action (from ALL_OLD; meaningful when the action applied). */
  readonly prior: AttributeMap | undefined;
}

async function applyKeepingPrior(dynalite: DynaliteCalls, action: Prepared): Promise<Outcome> {
  const answer = await apply(dynalite, action);
  const prior = answer.status === 200 ? (answer.body.Attributes as AttributeMap | undefined) : undefined;
  // A ConditionCheck is an update with no update: it changed nothing unless it made a key-only item.
  if (action.kind === 'ConditionCheck' && answer.status === 200 && !prior) {
    await restore(dynalite, action, undefined);
  }
  return { answer, prior };
}

/** Puts an applied action's item back as it was (a ConditionCheck left it as it was already). */
async function undo(dynalite: DynaliteCalls, action: Prepared, prior: AttributeMap | undefined) {
  if (action.kind !== 'ConditionCheck') await restore(dynalite, action, prior);
}

/** The item a failed condition was judged on (untouched: the action changed nothing), when it is asked for. */
async function failedImage(dynalite: DynaliteCalls, action: Prepared): Promise<AttributeMap | undefined> {
  if (action.params.ReturnValuesOnConditionCheckFailure !== 'ALL_OLD') return undefined;
  return priorImage(dynalite, action);
}

async function withKey(dynalite: DynaliteCalls, action: Action): Promise<Prepared> {
  if (action.kind !== 'Put') return { ...action, key: (action.params.Key ?? {}) as AttributeMap };
  const names = await dynalite.keySchema(action.tableName);
  const item = (action.params.Item ?? {}) as AttributeMap;
  return { ...action, key: Object.fromEntries(names.map((n) => [n, item[n]])) };
}

function itemId(action: Prepared): string {
  return JSON.stringify([action.tableName, Object.entries(action.key).sort(([a], [b]) => (a < b ? -1 : 1))]);
}

async function priorImage(dynalite: DynaliteCalls, action: Prepared): Promise<AttributeMap | undefined> {
  const out = await dynalite.ok('GetItem', {
    TableName: action.tableName,
    Key: action.key,
    ConsistentRead: true,
  });
  return out.Item as AttributeMap | undefined;
}

function apply(dynalite: DynaliteCalls, action: Prepared): Promise<DynaliteAnswer> {
  const params: Record<string, unknown> = { TableName: action.tableName, ReturnValues: 'ALL_OLD' };
  for (const field of FIELDS[action.kind]) {
    if (action.params[field] !== undefined) params[field] = action.params[field];
  }
  return dynalite.call(OPERATION[action.kind], params);
}

function restore(dynalite: DynaliteCalls, { tableName, key }: Prepared, prior: AttributeMap | undefined) {
  return putBack(dynalite, { tableName, key, item: prior });
}

function conditionFailed(action: Prepared, prior: AttributeMap | undefined) {
  const wantsItem = action.params.ReturnValuesOnConditionCheckFailure === 'ALL_OLD';
  return {
    Code: 'ConditionalCheckFailed',
    Message: CONDITION_FAILED,
    ...(wantsItem && prior ? { Item: prior } : {}),
  };
}

function cancelled(reasons: readonly { Code: string }[]): WireAnswer {
  return {
    status: 400,
    body: JSON.stringify({
      __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
      CancellationReasons: reasons,
      Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`,
    }),
  };
}

export function error(type: string, message: string, status = 400): WireAnswer {
  return { status, body: JSON.stringify({ __type: `com.amazon.coral.validate#${type}`, message }) };
}
