// TransactWriteItems over dynalite's single-item calls, for the DynamoDB front (local/dynamo-front.ts),
// which holds every touched table's lock exclusively while this runs. Each action is applied in order with
// its own condition after its item's prior image is saved; at the first conditional failure every prior
// image is put back, the remaining actions' conditions are checked on the untouched items (DynamoDB reports
// every failing condition, not only the first), and the answer is DynamoDB's TransactionCanceledException.
import {
  type AttributeMap,
  type DynaliteAnswer,
  type DynaliteCalls,
  DynaliteRefusal,
  isConditionalCheckFailed,
} from './dynalite-calls.js';

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

export async function transactWrite(
  dynalite: DynaliteCalls,
  actions: readonly Action[],
): Promise<WireAnswer> {
  const prepared = await Promise.all(actions.map((a) => withKey(dynalite, a)));
  const ids = new Set(prepared.map(itemId));
  if (ids.size !== prepared.length) {
    return error('ValidationException', 'Transaction request cannot include multiple operations on one item');
  }
  const priors: (AttributeMap | undefined)[] = [];
  let failed: DynaliteAnswer | undefined;
  for (const action of prepared) {
    priors.push(await priorImage(dynalite, action));
    const answer = await apply(dynalite, action);
    if (action.kind === 'ConditionCheck') await restore(dynalite, action, priors[priors.length - 1]);
    if (answer.status !== 200) {
      failed = answer;
      break;
    }
  }
  if (!failed) return { status: 200, body: '{}' };
  for (let i = priors.length - 1; i >= 0; i--) await restore(dynalite, prepared[i], priors[i]);
  if (!isConditionalCheckFailed(failed)) return { status: failed.status, body: failed.raw };
  const reasons = [];
  for (let i = 0; i < prepared.length; i++) {
    if (i < priors.length - 1) reasons.push({ Code: 'None' });
    else if (i === priors.length - 1) reasons.push(conditionFailed(prepared[i], priors[i]));
    else reasons.push(await checkAlone(dynalite, prepared[i]));
  }
  return cancelled(reasons);
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
  const params: Record<string, unknown> = { TableName: action.tableName };
  for (const field of FIELDS[action.kind]) {
    if (action.params[field] !== undefined) params[field] = action.params[field];
  }
  return dynalite.call(OPERATION[action.kind], params);
}

async function restore(dynalite: DynaliteCalls, action: Prepared, prior: AttributeMap | undefined) {
  if (prior) await dynalite.ok('PutItem', { TableName: action.tableName, Item: prior });
  else await dynalite.ok('DeleteItem', { TableName: action.tableName, Key: action.key });
}

/**
 * An action after the failing one, on its untouched item: applied and undone, which checks its condition
 * exactly as written (its expression values may serve its update too, so the condition is not sent alone).
 */
async function checkAlone(dynalite: DynaliteCalls, action: Prepared): Promise<{ Code: string }> {
  if (action.params.ConditionExpression === undefined) return { Code: 'None' };
  const prior = await priorImage(dynalite, action);
  const answer = await apply(dynalite, action);
  await restore(dynalite, action, prior);
  if (isConditionalCheckFailed(answer)) return conditionFailed(action, prior);
  if (answer.status !== 200) throw new DynaliteRefusal(OPERATION[action.kind], answer);
  return { Code: 'None' };
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
