// The functions' idempotency in one place. Three things run at most once on the idempotency table:
// - a queue message, unless idempotency is 'off' (functions/worker.ts), keyed by the message's key, and
// - an orchestrator segment, whenever the table is wired (functions/orchestrator.ts), keyed by job, run, segment,
//   each with Powertools' makeIdempotent (one persistence layer per use, functions/runtime.ts);
// - a task, in 'task' mode, keyed by job, run and task id: inside its message's run-once, so with a record of
//   its completion only, in Powertools' shape (lib/aws/task-records.ts, functions/task-runner.ts).
// All three keep their records idempotencyTtlSeconds and carry their use in the key prefix, so one table holds
// the three without collisions. A replayed task answers marked `duplicate`, a replayed segment `replayed`; a
// message's replay is its stored settlement, unmarked.
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import type { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { FanoutConfig } from '../lib/config.js';

export const IdempotencyUses = { TASK: 'task', MESSAGE: 'message', SEGMENT: 'segment' } as const;
export type IdempotencyUse = (typeof IdempotencyUses)[keyof typeof IdempotencyUses];

/** The key prefix of a use's records: `bounded-fanout.<use>`. */
export const idempotencyKeyPrefix = (use: IdempotencyUse): string => `bounded-fanout.${use}`;

/** What a replayed result is marked with, per use. */
const replayMarks: Readonly<Record<IdempotencyUse, object | undefined>> = {
  task: { duplicate: true },
  message: undefined,
  segment: { replayed: true },
};

/** The options makeIdempotent takes for one use. */
export interface IdempotencyOptions {
  readonly persistenceStore: DynamoDBPersistenceLayer;
  readonly config: IdempotencyConfig;
  readonly keyPrefix: string;
}

/** makeIdempotent's options for `use` on `persistenceStore`, records kept the config's idempotencyTtlSeconds. */
export function idempotencyOptions(
  use: IdempotencyUse,
  persistenceStore: DynamoDBPersistenceLayer,
  config: Pick<FanoutConfig, 'idempotencyTtlSeconds'>,
): IdempotencyOptions {
  const mark = replayMarks[use];
  return {
    persistenceStore,
    config: new IdempotencyConfig({
      eventKeyJmesPath: 'key',
      expiresAfterSeconds: config.idempotencyTtlSeconds,
      ...(mark ? { responseHook: (response: unknown) => ({ ...(response as object), ...mark }) } : {}),
    }),
    keyPrefix: idempotencyKeyPrefix(use),
  };
}

/**
 * Runs `work` once per `key` on `options`' records (makeIdempotent), or as it is without options (idempotency
 * off). With `evenInProgress`, a record another delivery holds in progress does not stop it: a message's last
 * receive (functions/last-receive.ts) runs whatever holds it, as in `off` mode, since failing it lets SQS move
 * the message to its DLQ uncounted. The job ledger settles the message's key once whichever gets there first.
 */
export async function runOnce<T>(
  options: IdempotencyOptions | undefined,
  key: string,
  work: () => Promise<T>,
  evenInProgress = false,
): Promise<T> {
  if (!options) return work();
  const idempotent = makeIdempotent(async (_payload: { key: string }) => work(), options);
  try {
    return (await idempotent({ key })) as T;
  } catch (error) {
    if (evenInProgress && error instanceof IdempotencyAlreadyInProgressError) return work();
    throw error;
  }
}
