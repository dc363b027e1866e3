// The functions' idempotency set up in one place (functions/idempotency.ts, issue 15): each use's key prefix,
// key path, record lifetime and replay mark, and no other source file building a Powertools config of its own.
// The behaviour behind each use (a task, a message, a segment run once) is driven in worker.test.ts,
// orchestrator.test.ts and test/local/faults.test.ts.
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { IdempotencyUses, idempotencyOptions } from '../../functions/idempotency.js';
import { sourceFiles } from '../layout/import-graph.js';
import { repoRoot } from '../local/cli/cli-process.js';

// Never called: the layer only has to exist for the options to hold it.
const client = new DynamoDBClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' });
const store = new DynamoDBPersistenceLayer({ tableName: 'idempotency', awsSdkV3Client: client });
afterAll(() => client.destroy());

describe('idempotencyOptions', () => {
  it.each([
    [IdempotencyUses.TASK, 'bounded-fanout.task', { duplicate: true }],
    [IdempotencyUses.MESSAGE, 'bounded-fanout.message', undefined],
    [IdempotencyUses.SEGMENT, 'bounded-fanout.segment', { replayed: true }],
  ] as const)(
    '%s: prefix %s, keyed by `key`, kept the configured TTL, replays marked %j',
    (use, prefix, mark) => {
      const options = idempotencyOptions(use, store, { idempotencyTtlSeconds: 3_600 });
      expect(options.keyPrefix).toBe(prefix);
      expect(options.persistenceStore).toBe(store);
      expect(options.config.eventKeyJmesPath).toBe('key');
      expect(options.config.expiresAfterSeconds).toBe(3_600);
      const hook = options.config.responseHook;
      if (mark === undefined) {
        expect(hook).toBeUndefined();
      } else {
        const stored = { status: 'ok', n: 1 };
        expect(hook?.(stored, {} as never)).toEqual({ status: 'ok', n: 1, ...mark });
        expect(stored).toEqual({ status: 'ok', n: 1 });
      }
    },
  );

  it('a fresh config per call, so one use registering its Lambda context leaves the others alone', () => {
    const a = idempotencyOptions(IdempotencyUses.TASK, store, { idempotencyTtlSeconds: 60 });
    const b = idempotencyOptions(IdempotencyUses.TASK, store, { idempotencyTtlSeconds: 60 });
    expect(a.config).not.toBe(b.config);
  });
});

describe('one place', () => {
  it('no source file but functions/idempotency.ts builds an IdempotencyConfig or names a key prefix', () => {
    const files = ['lib', 'functions', 'local', 'cdk']
      .flatMap((dir) => sourceFiles(join(repoRoot, dir), ['.ts', '.mjs']))
      .map((file) => relative(repoRoot, file));
    const builders = files.filter((file) =>
      /new IdempotencyConfig\(|keyPrefix:|['"`]bounded-fanout\.(task|message|segment)['"`]/.test(
        readFileSync(join(repoRoot, file), 'utf8'),
      ),
    );
    expect(builders).toEqual(['functions/idempotency.ts']);
  });
});
