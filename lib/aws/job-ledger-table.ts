// The job ledger on DynamoDB (the stack's job table; LocalStack; the local emulators, whose dynalite is
// given TransactWriteItems by local/dynamo-front.ts). Keys: lib/ledger/ledger-keys.ts. Every rule of the
// ledger is a condition of one write here, so concurrent writers need no lock:
//   settle   one TransactWriteItems: the key's marker (only if absent) and the counts' ADD on the record;
//   start    one transaction: the new record (only if absent) and the latest pointer (only if it still names
//            the run the overlap decision saw), so two runs racing under `forbid` cannot both start;
//   finish   one conditional update: not finished, manifest done, counts exactly those that made it complete.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { InvalidArgumentError } from '../errors.js';
import type {
  JobLedger,
  SettleInput,
  SettleResult,
  StartRunInput,
  StartRunResult,
  StatusChange,
  StatusChangeResult,
} from '../ledger/job-ledger.js';
import {
  expiresAtSeconds,
  jobPartition,
  LATEST_SORT_KEY,
  latestKey,
  RUN_SORT_PREFIX,
  runKey,
  settleKey,
} from '../ledger/ledger-keys.js';
import {
  COUNT_NAMES,
  LIVE_STATUSES,
  type RunLimits,
  RunReasons,
  type RunRecord,
  RunStatuses,
  zeroCounts,
} from '../ledger/run-record.js';
import { type Ending, OverlapActions, overlapAction } from '../ledger/run-rules.js';

export interface JobLedgerTableOptions {
  readonly tableName: string;
  /** Days a finished run's record and every settle marker are kept (the table's TTL). */
  readonly retentionDays: number;
  readonly now?: () => number;
}

const CONDITION_FAILED = 'ConditionalCheckFailedException';

export class JobLedgerTable implements JobLedger {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #retentionDays: number;
  readonly #now: () => number;

  constructor(dynamodb: DynamoDBClient, options: JobLedgerTableOptions) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError('options', options, 'an object like { tableName, retentionDays }');
    }
    const { tableName, retentionDays, now = Date.now } = options;
    if (typeof tableName !== 'string' || tableName === '') {
      throw new InvalidArgumentError('tableName', tableName, 'a table name');
    }
    if (!Number.isInteger(retentionDays) || retentionDays < 1) {
      throw new InvalidArgumentError('retentionDays', retentionDays, 'an integer >= 1');
    }
    if (typeof now !== 'function') throw new InvalidArgumentError('now', now, 'a function');
    this.#db = DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } });
    this.#table = tableName;
    this.#retentionDays = retentionDays;
    this.#now = now;
  }

  async startRun(input: StartRunInput): Promise<StartRunResult> {
    const { jobId, runId } = input;
    const existing = await this.getRun(jobId, runId);
    if (existing) return { action: OverlapActions.START, record: existing };
    const pointer = await this.#get(latestKey(jobId));
    const previousId = pointer?.runId as string | undefined;
    const previous = previousId ? await this.getRun(jobId, previousId) : undefined;
    const action = overlapAction(input.overlap, previous);
    if (action === OverlapActions.SKIP) return this.#skip(input, previous!);
    if (action === OverlapActions.REPLACE) {
      await this.setStatus(jobId, previous!.runId, {
        status: RunStatuses.CANCELLED,
        reason: RunReasons.REPLACED,
        detail: `replaced by run ${runId}`,
        from: LIVE_STATUSES,
      });
    }
    const record: RunRecord = {
      jobId,
      runId,
      status: RunStatuses.RUNNING,
      startedAt: input.startedAt,
      manifestDone: false,
      toleratedFailurePercent: input.toleratedFailurePercent,
      version: 1,
      ...zeroCounts(),
    };
    try {
      await this.#db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.#table,
                Item: { ...runKey(jobId, runId), ...record },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName: this.#table,
                Item: { ...latestKey(jobId), runId },
                ConditionExpression: previousId ? 'runId = :previous' : 'attribute_not_exists(pk)',
                ...(previousId ? { ExpressionAttributeValues: { ':previous': previousId } } : {}),
              },
            },
          ],
        }),
      );
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      // Another start won the race (or this run's own retry did): decide again on what is there now.
      const now = await this.getRun(jobId, runId);
      if (now) return { action: OverlapActions.START, record: now };
      return this.startRun(input);
    }
    return {
      action,
      record,
      ...(action === OverlapActions.REPLACE && previous ? { previous } : {}),
    };
  }

  async #skip(input: StartRunInput, previous: RunRecord): Promise<StartRunResult> {
    const now = this.#now();
    const record: RunRecord = {
      jobId: input.jobId,
      runId: input.runId,
      status: RunStatuses.SKIPPED,
      reason: RunReasons.OVERLAP,
      detail: `run ${previous.runId} was still ${previous.status}`,
      startedAt: input.startedAt,
      finishedAt: now,
      manifestDone: true,
      toleratedFailurePercent: input.toleratedFailurePercent,
      version: 1,
      ...zeroCounts(),
    };
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            ...runKey(input.jobId, input.runId),
            ...record,
            expiresAt: expiresAtSeconds(now, this.#retentionDays),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      const existing = await this.getRun(input.jobId, input.runId);
      return { action: OverlapActions.START, record: existing ?? record };
    }
    return { action: OverlapActions.SKIP, record, previous };
  }

  async settle(input: SettleInput): Promise<SettleResult> {
    const { jobId, runId, key, delta, manifestDone } = input;
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const adds: string[] = [];
    for (const name of COUNT_NAMES) {
      const n = delta[name] ?? 0;
      if (n === 0) continue;
      names[`#${name}`] = name;
      values[`:${name}`] = n;
      adds.push(`#${name} :${name}`);
    }
    const sets = manifestDone ? ['manifestDone = :done'] : [];
    if (manifestDone) values[':done'] = true;
    const update = [
      ...(adds.length > 0 ? [`ADD ${adds.join(', ')}`] : []),
      ...(sets.length > 0 ? [`SET ${sets.join(', ')}`] : []),
    ].join(' ');
    const marker = {
      Put: {
        TableName: this.#table,
        Item: {
          ...settleKey(jobId, runId, key),
          delta,
          expiresAt: expiresAtSeconds(this.#now(), this.#retentionDays),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
    const counts = update
      ? {
          Update: {
            TableName: this.#table,
            Key: runKey(jobId, runId),
            UpdateExpression: update,
            ConditionExpression: 'attribute_exists(pk)',
            ...(adds.length > 0 ? { ExpressionAttributeNames: names } : {}),
            ExpressionAttributeValues: values,
          },
        }
      : {
          ConditionCheck: {
            TableName: this.#table,
            Key: runKey(jobId, runId),
            ConditionExpression: 'attribute_exists(pk)',
          },
        };
    try {
      await this.#db.send(new TransactWriteCommand({ TransactItems: [marker, counts] }));
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const [markerReason, runReason] = error.CancellationReasons ?? [];
      if (runReason?.Code === 'ConditionalCheckFailed') return { applied: false, record: undefined };
      if (markerReason?.Code !== 'ConditionalCheckFailed') throw error;
      return { applied: false, record: await this.getRun(jobId, runId) };
    }
    return { applied: true, record: await this.getRun(jobId, runId) };
  }

  async getRun(jobId: string, runId?: string): Promise<RunRecord | undefined> {
    let id = runId;
    if (id === undefined) {
      const pointer = await this.#get(latestKey(jobId));
      id = pointer?.runId as string | undefined;
      if (id === undefined) return undefined;
    }
    const item = await this.#get(runKey(jobId, id));
    return item ? toRecord(item) : undefined;
  }

  async listRuns(jobId: string, { limit = 100 }: { readonly limit?: number } = {}): Promise<RunRecord[]> {
    const runs: RunRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :run)',
          ExpressionAttributeValues: { ':pk': jobPartition(jobId), ':run': RUN_SORT_PREFIX },
          ExclusiveStartKey: start,
          ConsistentRead: true,
        }),
      );
      for (const item of out.Items ?? []) runs.push(toRecord(item));
      start = out.LastEvaluatedKey;
    } while (start);
    return runs.sort((a, b) => b.startedAt - a.startedAt).slice(0, limit);
  }

  async setStatus(jobId: string, runId: string, change: StatusChange): Promise<StatusChangeResult> {
    const values: Record<string, unknown> = { ':status': change.status, ':one': 1 };
    const from = change.from.map((status, i) => {
      values[`:from${i}`] = status;
      return `:from${i}`;
    });
    const sets = ['#status = :status'];
    if (change.reason !== undefined) {
      sets.push('reason = :reason');
      values[':reason'] = change.reason;
    }
    if (change.detail !== undefined) {
      sets.push('detail = :detail');
      values[':detail'] = change.detail;
    }
    try {
      const out = await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: runKey(jobId, runId),
          UpdateExpression: `SET ${sets.join(', ')} ADD version :one`,
          ConditionExpression: `attribute_exists(pk) AND #status IN (${from.join(', ')})`,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { changed: true, record: out.Attributes ? toRecord(out.Attributes) : undefined };
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      return { changed: false, record: await this.getRun(jobId, runId) };
    }
  }

  async setLimits(jobId: string, runId: string, limits: RunLimits): Promise<RunRecord | undefined> {
    try {
      const out = await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: runKey(jobId, runId),
          UpdateExpression: 'SET limits = :limits ADD version :one',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':limits': limits, ':one': 1 },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes ? toRecord(out.Attributes) : undefined;
    } catch (error) {
      if (isConditionFailed(error)) return undefined;
      throw error;
    }
  }

  async finish(record: RunRecord, ending: Ending, resultUri?: string): Promise<RunRecord | undefined> {
    const now = this.#now();
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = {
      ':finished': now,
      ':status': ending.status,
      ':done': true,
      ':expires': expiresAtSeconds(now, this.#retentionDays),
    };
    const same = COUNT_NAMES.map((name) => {
      names[`#${name}`] = name;
      values[`:was_${name}`] = record[name];
      return `#${name} = :was_${name}`;
    });
    const sets = ['finishedAt = :finished', '#status = :status', 'expiresAt = :expires'];
    if (ending.reason !== undefined) {
      sets.push('reason = :reason');
      values[':reason'] = ending.reason;
    }
    if (resultUri !== undefined) {
      sets.push('resultUri = :uri');
      values[':uri'] = resultUri;
    }
    try {
      const out = await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: runKey(record.jobId, record.runId),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: ['attribute_not_exists(finishedAt)', 'manifestDone = :done', ...same].join(
            ' AND ',
          ),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes ? toRecord(out.Attributes) : undefined;
    } catch (error) {
      if (isConditionFailed(error)) return undefined;
      throw error;
    }
  }

  async #get(key: { pk: string; sk: string }): Promise<Record<string, unknown> | undefined> {
    const out = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: key, ConsistentRead: true }),
    );
    return out.Item;
  }
}

function isConditionFailed(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === CONDITION_FAILED;
}

/** An item as a RunRecord: keys and TTL dropped, counts that were never added read as 0. */
function toRecord(item: Record<string, unknown>): RunRecord {
  const { pk: _pk, sk, expiresAt: _expires, ...rest } = item;
  if (typeof sk === 'string' && sk === LATEST_SORT_KEY) throw new Error('the latest pointer is not a run');
  const counts = Object.fromEntries(COUNT_NAMES.map((name) => [name, Number(rest[name] ?? 0)]));
  return { ...(rest as unknown as RunRecord), ...counts, version: Number(rest.version ?? 1) };
}
