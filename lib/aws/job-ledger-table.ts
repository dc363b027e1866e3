// The job ledger (lib/ledger/job-ledger.ts) on the stack's DynamoDB job table, laid out as lib/ledger/
// ledger-keys.ts says. Every rule that must hold under concurrency is a condition DynamoDB checks: a key
// settles once (its marker's attribute_not_exists, in the same transaction as the counts' ADD), a run ends
// once (finish's attribute_not_exists(finishedAt) and the counts it judged), two runs racing under `forbid`
// cannot both move the job's latest pointer.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { assertInteger, InvalidArgumentError } from '../errors.js';
import type {
  BreakInput,
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
  latestKey,
  RUN_SORT_PREFIX,
  runKey,
  settleKey,
} from '../ledger/ledger-keys.js';
import {
  LIVE_STATUSES,
  type RunLimits,
  RunReasons,
  type RunRecord,
  RunStatuses,
} from '../ledger/run-record.js';
import { type Ending, isComplete, OverlapActions, overlapAction } from '../ledger/run-rules.js';
import { newRecord, settleItems, settleMarker, skippedPut, startItems, toRecord } from './ledger-items.js';
import { failedConditions, sendTransaction } from './ledger-transact.js';
import {
  announcedUpdate,
  countsUpdate,
  type Expression,
  finishUpdate,
  limitsUpdate,
  statusUpdate,
} from './ledger-updates.js';
import { breakItems } from './run-break.js';
import { type GroupCommit, type GroupWrite, SettleGroups } from './settle-groups.js';
import { unsettledDelta } from './unsettled.js';

export interface JobLedgerTableOptions {
  readonly tableName: string;
  /** Days a finished run's record and a settle marker live before DynamoDB's TTL deletes them. */
  readonly retentionDays: number;
  /** Epoch milliseconds; Date.now unless given (tests inject a clock). */
  readonly now?: () => number;
}

/** Start attempts when other runs keep moving the latest pointer first (each retry means another run won). */
const START_ATTEMPTS = 5;

export class JobLedgerTable implements JobLedger {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #retentionDays: number;
  readonly #now: () => number;
  readonly #groups = new SettleGroups({
    commit: (write) => this.#commit(write),
    read: (jobId, runId) => this.getRun(jobId, runId),
  });

  constructor(client: DynamoDBClient, options: JobLedgerTableOptions) {
    const { tableName, retentionDays, now = Date.now } = options ?? ({} as JobLedgerTableOptions);
    if (typeof tableName !== 'string' || tableName === '') {
      throw new InvalidArgumentError('tableName', tableName, 'a table name');
    }
    assertInteger('retentionDays', retentionDays);
    if (typeof now !== 'function')
      throw new InvalidArgumentError('now', now, 'a function returning epoch ms');
    this.#doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    this.#table = tableName;
    this.#retentionDays = retentionDays;
    this.#now = now;
  }

  async startRun(input: StartRunInput): Promise<StartRunResult> {
    const { jobId, runId } = input;
    for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
      const existing = await this.getRun(jobId, runId);
      if (existing) {
        const action = existing.status === RunStatuses.SKIPPED ? OverlapActions.SKIP : OverlapActions.START;
        return { action, record: existing };
      }
      // The pointer has no TTL, a finished run's record has (retentionDays): a job not run for that long finds it
      // naming no record, a run in no one's way, and moves it all the same (else none of its runs could start).
      const pointed = (await this.#get(latestKey(jobId)))?.runId as string | undefined;
      const previous = pointed === undefined ? undefined : await this.getRun(jobId, pointed);
      const action = overlapAction(input.overlap, previous);
      if (action === OverlapActions.SKIP) return this.#skip(input, previous!);
      // A complete one has nothing left to stop: the new run ends it as it stands (functions/run-start.ts).
      if (action === OverlapActions.REPLACE && !isComplete(previous!)) {
        await this.setStatus(jobId, previous!.runId, {
          status: RunStatuses.CANCELLED,
          reason: RunReasons.REPLACED,
          from: LIVE_STATUSES,
        });
      }
      const record = await this.#start(input, pointed);
      if (record) return { action, record, ...(previous ? { previous } : {}) };
    }
    throw new Error(
      `startRun ${jobId}/${runId}: the latest pointer kept moving (${START_ATTEMPTS} attempts)`,
    );
  }

  /** This run's record and the latest pointer, together; undefined when another run moved the pointer first. */
  async #start(input: StartRunInput, previousRunId: string | undefined): Promise<RunRecord | undefined> {
    const record = newRecord(input, RunStatuses.RUNNING);
    try {
      await this.#doc.send(
        new TransactWriteCommand({ TransactItems: startItems(this.#table, input, record, previousRunId) }),
      );
      return record;
    } catch (error) {
      // Either a retry of this very start won already, or another run moved the pointer: look again.
      if (failedConditions(error)) return undefined;
      throw error;
    }
  }

  async #skip(input: StartRunInput, previous: RunRecord): Promise<StartRunResult> {
    const now = this.#now();
    const record: RunRecord = {
      ...newRecord(input, RunStatuses.SKIPPED),
      reason: RunReasons.OVERLAP,
      finishedAt: now,
    };
    try {
      const expiresAt = expiresAtSeconds(now, this.#retentionDays);
      await this.#doc.send(new PutCommand(skippedPut(this.#table, input, record, expiresAt)));
      return { action: OverlapActions.SKIP, record, previous };
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
      const existing = (await this.getRun(input.jobId, input.runId))!;
      const action = existing.status === RunStatuses.SKIPPED ? OverlapActions.SKIP : OverlapActions.START;
      return { action, record: existing };
    }
  }

  /** Validated here, then sent with the run's other waiting settles (lib/aws/settle-groups.ts). */
  async settle(input: SettleInput): Promise<SettleResult> {
    countsUpdate(input.delta, input.manifestDone);
    return this.#groups.settle(input);
  }

  /** One group's transaction: its keys' markers and their summed counts (lib/aws/settle-groups.ts). */
  async #commit(write: GroupWrite): Promise<GroupCommit> {
    const { jobId, runId, keys, states, delta, unread, seenVersion } = write;
    const now = this.#now();
    const items = settleItems(this.#table, {
      record: runKey(jobId, runId),
      markers: keys.map((key, i) => settleMarker(jobId, runId, key, states[i], now, this.#retentionDays)),
      update: countsUpdate(delta, write.manifestDone, write.tallies, write.failure),
      ...(unread ? { unreadOpen: unsettledDelta(delta), seenVersion } : {}),
    });
    try {
      await sendTransaction(this.#doc, items);
      return { applied: true };
    } catch (error) {
      const failed = failedConditions(error);
      if (!failed) throw error;
      return {
        applied: false,
        settled: new Set(keys.filter((_, i) => failed[i])),
        recordFailed: failed[keys.length] === true,
      };
    }
  }

  async settledState(jobId: string, runId: string, key: string): Promise<unknown> {
    return (await this.settledMarker(jobId, runId, key))?.state;
  }

  async settledMarker(jobId: string, runId: string, key: string): Promise<{ state?: unknown } | undefined> {
    const marker = await this.#get(settleKey(jobId, runId, key));
    if (!marker) return undefined;
    return marker.state === undefined ? {} : { state: marker.state };
  }

  async getRun(jobId: string, runId?: string): Promise<RunRecord | undefined> {
    if (runId === undefined) {
      const pointer = await this.#get(latestKey(jobId));
      if (!pointer) return undefined;
      runId = String(pointer.runId);
    }
    const item = await this.#get(runKey(jobId, runId));
    return item && toRecord(item);
  }

  async #get(key: object): Promise<Record<string, unknown> | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({ TableName: this.#table, Key: key, ConsistentRead: true }),
    );
    return Item;
  }

  async listRuns(jobId: string, options: { readonly limit?: number } = {}): Promise<RunRecord[]> {
    const limit = options.limit === undefined ? undefined : assertInteger('limit', options.limit);
    const runs: RunRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.#doc.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :run)',
          ExpressionAttributeValues: { ':pk': jobPartition(jobId), ':run': RUN_SORT_PREFIX },
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      runs.push(...(page.Items ?? []).map(toRecord));
      start = page.LastEvaluatedKey;
    } while (start);
    runs.sort((a, b) => b.startedAt - a.startedAt || (a.runId < b.runId ? 1 : -1));
    return limit === undefined ? runs : runs.slice(0, limit);
  }

  async setStatus(jobId: string, runId: string, change: StatusChange): Promise<StatusChangeResult> {
    const record = await this.#update(jobId, runId, statusUpdate(change));
    if (record) return { changed: true, record };
    return { changed: false, record: await this.getRun(jobId, runId) };
  }

  setLimits(jobId: string, runId: string, limits: RunLimits, seen?: number): Promise<RunRecord | undefined> {
    return this.#update(jobId, runId, limitsUpdate(limits, seen));
  }

  finish(record: RunRecord, ending: Ending, resultUri?: string): Promise<RunRecord | undefined> {
    if (!isComplete(record)) {
      throw new InvalidArgumentError(
        'record',
        `${record?.jobId}/${record?.runId}`,
        'a complete run (isComplete)',
      );
    }
    const nowMs = this.#now();
    const expiresAt = expiresAtSeconds(nowMs, this.#retentionDays);
    return this.#update(
      record.jobId,
      record.runId,
      finishUpdate(record, { ending, nowMs, expiresAt, resultUri }),
    );
  }

  async markAnnounced(record: RunRecord): Promise<boolean> {
    const noted = await this.#update(record.jobId, record.runId, announcedUpdate(this.#now()));
    return noted !== undefined;
  }

  async breakRun(input: BreakInput): Promise<RunRecord | undefined> {
    const [now, days] = [this.#now(), this.#retentionDays]; // live first, then failed or cancelled (run-break.ts)
    for (const live of [true, false]) {
      try {
        await sendTransaction(this.#doc, breakItems(this.#table, input, live, now, days));
        return await this.getRun(input.jobId, input.runId);
      } catch (error) {
        if (!failedConditions(error)) throw error;
      }
    }
    return undefined;
  }

  /** A conditional update of a run record: the record after it, or undefined when the condition failed. */
  async #update(jobId: string, runId: string, expression: Expression): Promise<RunRecord | undefined> {
    try {
      const { Attributes } = await this.#doc.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: runKey(jobId, runId),
          ReturnValues: 'ALL_NEW',
          ...expression,
        }),
      );
      return Attributes && toRecord(Attributes);
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return undefined;
      throw error;
    }
  }
}
