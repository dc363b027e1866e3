import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatBudgetTable, formatDuration } from '../../../lib/budget/budget-table.js';
import {
  BUDGET_ERROR_CODE,
  BudgetError,
  checkBudget,
  concurrencyOf,
  planBudget,
  validateBudget,
} from '../../../lib/budget/index.js';
import { defaultConfig, type FanoutConfig, withDefaults } from '../../../lib/config.js';
import { BoundedFanoutError, InvalidArgumentError } from '../../../lib/errors.js';
import { RUNS } from '../../helpers/runs.js';

/** The config with some values replaced, including values of the wrong type (as `-c` or a JSON file gives). */
const configWith = (overrides: Record<string, unknown>) => withDefaults(overrides as Partial<FanoutConfig>);

/** The one error validateBudget throws, with its problems. */
function refusal(config: FanoutConfig): BudgetError {
  try {
    validateBudget(config);
  } catch (error) {
    expect(error).toBeInstanceOf(BudgetError);
    return error as BudgetError;
  }
  throw new Error('validateBudget accepted the config');
}

describe('validateBudget', () => {
  it('accepts the default config and returns it', () => {
    expect(checkBudget(defaultConfig)).toEqual([]);
    expect(validateBudget(defaultConfig)).toBe(defaultConfig);
  });

  it('throws one BudgetError with a code, listing every problem on its own line', () => {
    const error = refusal(
      configWith({ inlineConcurrency: 0, maxReceiveCount: 'five', workerReservedConcurrency: 3 }),
    );
    expect(error).toBeInstanceOf(BoundedFanoutError);
    expect(error.code).toBe(BUDGET_ERROR_CODE);
    expect(error.problems.map((p) => p.path)).toEqual([
      'inlineConcurrency',
      'maxReceiveCount',
      'workerReservedConcurrency',
    ]);
    expect(error.message.split('\n')).toEqual([
      'Invalid concurrency budget (3 problems):',
      '  - inlineConcurrency: 0 is below 1',
      '  - maxReceiveCount: "five" is not a number',
      expect.stringContaining('  - workerReservedConcurrency: 3 is below'),
    ]);
  });

  it.each([
    ['inlineConcurrency', 0, 'inlineConcurrency: 0 is below 1'],
    ['inlineConcurrency', -1, 'inlineConcurrency: -1 is below 1'],
    ['inlineConcurrency', 1.5, 'inlineConcurrency: 1.5 is not an integer'],
    ['inlineConcurrency', Number.NaN, 'inlineConcurrency: NaN is not a number'],
    ['inlineConcurrency', Number.POSITIVE_INFINITY, 'inlineConcurrency: Infinity is not a number'],
    ['inlineConcurrency', '32', 'inlineConcurrency: "32" is not a number'],
    ['workerMaxConcurrency', 1, 'workerMaxConcurrency: 1 is below 2 (the SQS event source takes 2..1000)'],
    [
      'workerMaxConcurrency',
      1001,
      'workerMaxConcurrency: 1001 is above 1000 (the SQS event source takes 2..1000)',
    ],
    ['workerTimeoutSeconds', 901, 'workerTimeoutSeconds: 901 is above 900 (Lambda allows 1..900)'],
    ['workerMemoryMb', 64, 'workerMemoryMb: 64 is below 128 (Lambda allows 128..10240)'],
    ['maxReceiveCount', 0, 'maxReceiveCount: 0 is below 1 (SQS allows 1..1000)'],
    ['idempotency', 'sometimes', 'idempotency: "sometimes" is not one of task, message, off'],
    ['toleratedFailurePercent', 101, 'toleratedFailurePercent: 101 is above 100'],
    [
      'segmentHeartbeatMs',
      15_001,
      'segmentHeartbeatMs: 15001 is above 15000 (three missed beats must pass well before Lambda retries, a minute on)',
    ],
    ['segmentHeartbeatMs', 50, 'segmentHeartbeatMs: 50 is below 100'],
    ['logRetentionDays', 10, 'logRetentionDays: 10 is not a CloudWatch Logs retention (1, 3, 5, 7, 14, 30,'],
    ['prefix', 'Bounded_Fanout', 'prefix: "Bounded_Fanout" is not 1-40 lowercase letters, digits or hyphens'],
    ['resultsPrefix', 'results', 'resultsPrefix: "results" is not a key prefix ending in "/"'],
    ['allowHosts', 'localhost', 'allowHosts: "localhost" is not an array'],
    ['alarmTopicArn', 'my-topic', 'alarmTopicArn: "my-topic" is not an SNS topic ARN'],
  ])('refuses %s = %s, naming the field and the value', (field, value, message) => {
    const error = refusal(configWith({ [field]: value }));
    expect(error.problems).toHaveLength(1);
    expect(error.message).toContain(message);
  });

  it('refuses reserved concurrency below the event source maximum: the poller would be throttled', () => {
    const error = refusal(
      configWith({ workerMaxConcurrency: 20, workerReservedConcurrency: 10, invokeConcurrency: 1 }),
    );
    expect(error.message).toContain(
      'workerReservedConcurrency: 10 is below workerMaxConcurrency + invokeConcurrency x orchestratorReservedConcurrency = 20 + 1 x 1 = 21',
    );
    expect(error.message).toContain('reach the dead-letter queue unprocessed');
  });

  it('refuses reserved concurrency that leaves no room for the direct invokes beside the poller', () => {
    // 10 for the poller is not enough: 4 invokes x 2 orchestrators share the same reserved concurrency.
    const config = configWith({ workerReservedConcurrency: 17, orchestratorReservedConcurrency: 2 });
    expect(refusal(config).message).toContain('= 10 + 4 x 2 = 18');
    expect(checkBudget({ ...config, workerReservedConcurrency: 18 })).toEqual([]);
  });

  it('refuses a visibility timeout below six times the worker timeout', () => {
    const error = refusal(configWith({ workerTimeoutSeconds: 90, visibilityTimeoutSeconds: 360 }));
    expect(error.problems).toEqual([
      {
        path: 'visibilityTimeoutSeconds',
        value: 360,
        message: expect.stringContaining('is below 6 x workerTimeoutSeconds = 6 x 90 = 540'),
      },
    ]);
    expect(checkBudget(configWith({ workerTimeoutSeconds: 90, visibilityTimeoutSeconds: 540 }))).toEqual([]);
  });

  it('refuses a host whose maxConcurrency is below one request per process of the fleet', () => {
    // Defaults: min(reserved 14, 10 queue + 4 invoke x 1 orchestrator) = 14 workers + 1 orchestrator = 15
    // processes, each holding every host to at least 1 request.
    const downstream = {
      'api.example.com': { maxConcurrency: 14 },
      'ok.example.com': { maxConcurrency: 15 },
    };
    const error = refusal(configWith({ downstream }));
    expect(error.problems).toHaveLength(1);
    expect(error.message).toContain(
      'downstream["api.example.com"].maxConcurrency: 14 is below 15 processes (14 workers + 1 orchestrator) x 1 request each = 15 concurrent requests to api.example.com: each process\'s share (14 / 15) is raised to the minimum of 1',
    );
    // Fewer invokes: min(14, 10 + 3 x 1) = 13 workers + 1 = 14 processes, one request each.
    expect(checkBudget(configWith({ downstream, invokeConcurrency: 3 }))).toEqual([]);
    // Two orchestrators with 2 invokes each: min(16, 10 + 2 x 2) = 14 workers + 2 orchestrators = 16.
    const two = refusal(
      configWith({
        downstream,
        invokeConcurrency: 2,
        orchestratorReservedConcurrency: 2,
        workerReservedConcurrency: 16,
      }),
    );
    expect(two.problems.map((p) => [p.path, p.value])).toEqual([
      ['downstream["api.example.com"].maxConcurrency', 14],
      ['downstream["ok.example.com"].maxConcurrency', 15],
    ]);
    expect(two.message).toContain('16 processes (14 workers + 2 orchestrators) x 1 request each = 16');
  });

  it('accepts a host cap far below the sockets: each process holds the host to its share', () => {
    // 240 connections through the sockets (14 x 16 + 1 x 16), but 20 over 15 processes is 1 each: 15 at most.
    const config = configWith({ downstream: { 'api.example.com': { maxConcurrency: 20 } } });
    expect(checkBudget(config)).toEqual([]);
    expect(planBudget(config, { tasks: 10, latencyMs: 100 }).hosts[0].worstCaseConcurrency).toBe(15);
  });

  it('checks the good downstream hosts even when another entry is malformed', () => {
    const downstream = {
      'bad host': { maxConcurrency: 5 },
      'api.example.com': { maxConcurrency: 100, maxConcurency: 3 },
      'b.example.com': { maxConcurrency: 10 },
      'c.example.com': { maxConcurrency: 100 },
    };
    expect(refusal(configWith({ downstream })).message.split('\n').slice(1)).toEqual([
      '  - downstream["bad host"]: "bad host" is not a host name (host or host:port)',
      '  - downstream["api.example.com"]: {"maxConcurrency":100,"maxConcurency":3} has unknown field maxConcurency',
      expect.stringContaining('  - downstream["bad host"].maxConcurrency: 5 is below 15 processes'),
      expect.stringContaining('  - downstream["b.example.com"].maxConcurrency: 10 is below 15 processes'),
    ]);
  });

  it.each([
    [{ maxSocketsPerHost: 80 }, 'maxSocketsPerHost: 80 is above maxSockets (64)'],
    [
      { connectTimeoutMs: 20_000, deadlineMarginMs: 20_000 },
      'connectTimeoutMs: 20000 is above requestTimeoutMs (10000)',
    ],
    [
      { requestTimeoutMs: 60_000, deadlineMarginMs: 60_000 },
      'requestTimeoutMs: 60000 is not below the 55000 ms a worker invocation has for tasks (workerTimeoutSeconds 60 s less 5000 ms kept to settle): the worker could start no task',
    ],
    [
      { requestTimeoutMs: 55_000, deadlineMarginMs: 60_000 },
      'requestTimeoutMs: 55000 is not below the 55000 ms a worker invocation has for tasks',
    ],
    [{ deadlineMarginMs: 5_000 }, 'deadlineMarginMs: 5000 is below requestTimeoutMs (10000)'],
    [
      { deadlineMarginMs: 300_000 },
      'deadlineMarginMs: 300000 is not below orchestratorTimeoutSeconds (300 s)',
    ],
    [
      { idempotencyTtlSeconds: 1_000 },
      'idempotencyTtlSeconds: 1000 is below visibilityTimeoutSeconds x maxReceiveCount = 360 x 5 = 1800',
    ],
    [
      { batchSize: 100, maxBatchingWindowSeconds: 0 },
      'batchSize: 100 is above 10 with maxBatchingWindowSeconds 0',
    ],
    [
      { awsMaxSockets: 12 },
      'awsMaxSockets: 12 is below enqueueConcurrency + invokeConcurrency + 1 (the manifest stream) = 13',
    ],
    [
      { resultsPrefix: 'manifests/results/' },
      'resultsPrefix: "manifests/results/" overlaps manifestsPrefix ("manifests/")',
    ],
  ])('refuses %j', (overrides, message) => {
    const error = refusal(configWith(overrides));
    expect(error.problems).toHaveLength(1);
    expect(error.message).toContain(message);
  });

  it('lets idempotency "off" have any record lifetime', () => {
    expect(checkBudget(configWith({ idempotency: 'off', idempotencyTtlSeconds: 1 }))).toEqual([]);
  });

  it('checks the schedule: expression, time zone, window and input', () => {
    const schedule = {
      expression: 'every 5 minutes',
      timeZone: 'Mars/Olympus',
      flexibleWindowMinutes: 2000,
      input: [],
    };
    expect(refusal(configWith({ schedule })).message.split('\n').slice(1)).toEqual([
      '  - schedule.expression: "every 5 minutes" is not rate(value unit), cron(minutes hours day-of-month month day-of-week year) or at(yyyy-mm-ddThh:mm:ss)',
      '  - schedule.timeZone: "Mars/Olympus" is not an IANA time zone',
      '  - schedule.flexibleWindowMinutes: 2000 is above 1440 (EventBridge Scheduler takes 0..1440)',
      '  - schedule.input: [] is not an object',
    ]);
    const valid = { expression: 'cron(0 2 * * ? *)', timeZone: 'Europe/Paris', flexibleWindowMinutes: 15 };
    expect(checkBudget(configWith({ schedule: valid }))).toEqual([]);
  });

  it('refuses an inline manifest too large for an asynchronous invocation', () => {
    const tasks = Array.from({ length: 3000 }, (_, i) => ({
      id: `t${i}`,
      url: `https://example.com/${'x'.repeat(80)}`,
    }));
    const error = refusal(configWith({ schedule: { input: { jobId: 'big', tasks } } }));
    expect(error.problems).toEqual([
      {
        path: 'schedule.input',
        value: expect.stringMatching(/^\d+ bytes$/),
        message: expect.stringContaining('is above 262144 bytes'),
      },
    ]);
  });

  it("refuses a config that would not fit Lambda's 4 KB environment", () => {
    const allowHosts = Array.from({ length: 200 }, (_, i) => `10.0.${i}.0/24`);
    expect(refusal(configWith({ allowHosts })).message).toMatch(
      /config: "\d+ bytes" is above 3072 bytes as JSON/,
    );
  });

  it('names a config that is not an object at all', () => {
    expect(refusal(null as unknown as FanoutConfig).message).toContain('config: null is not an object');
  });
});

describe('planBudget: hand-computed examples', () => {
  it('the default config, 1,000,000 tasks at 200 ms', () => {
    const plan = planBudget(defaultConfig, { tasks: 1_000_000, latencyMs: 200 });
    // Workers: min(reserved 14, 10 queue + 4 invoke x 1 orchestrator) = 14, each min(16, 16, 64) = 16 sockets to a
    // host; the orchestrator min(32, 16, 64) = 16: 14 x 16 + 16 = 240.
    expect(plan.concurrency).toEqual({
      orchestrators: 1,
      queueWorkers: 10,
      invokeWorkers: 4,
      workers: 14,
      processes: 15,
      workerSocketsPerHost: 16,
      orchestratorSocketsPerHost: 16,
      perHost: 240,
    });
    // A batch: 10 messages x 25 tasks = 250 tasks, 16 at once: 16 waves x 200 ms = 3.2 s (160 s at 10 s each).
    // 16 rounds of 16 tasks; a stalled task: 4 attempts x 10 s + backoff ceilings 100 + 200 + 400 ms.
    expect(plan.workerBatch).toEqual({ tasks: 250, ms: 3_200, timeoutMs: 16 * 40_700, limitMs: 60_000 });
    // Queue: 4,000 invocations, 10 at once: 400 rounds x 3.2 s. Enqueueing: 4,000 calls / 8 x 20 ms = 10 s.
    expect(plan.drain.queue).toEqual({ inFlight: 160, ms: 1_280_000, tasksPerSecond: 781.25 });
    // Inline: 32 at once, 31,250 waves x 200 ms.
    expect(plan.drain.inline).toEqual({ inFlight: 32, ms: 6_250_000, tasksPerSecond: 160 });
    // Invoke: 40,000 chunks of 25 (2 waves x 200 ms = 400 ms each), 4 at once: 10,000 x 400 ms.
    expect(plan.drain.invoke).toEqual({ inFlight: 64, ms: 4_000_000, tasksPerSecond: 250 });

    const { sqs, lambda, dynamodb } = plan.cost;
    // 40,000 messages of 25 x 256 = 6,400 bytes; 10 a call = 64,000 bytes: one 64 KiB chunk each.
    expect(sqs).toEqual({
      messages: 40_000,
      sendRequests: 4_000,
      receiveRequests: 4_000,
      deleteRequests: 4_000,
      usd: expect.closeTo(0.0048, 10),
    });
    expect(lambda).toMatchObject({
      workerInvocations: 4_000,
      workerGbSeconds: 6_400, // 4,000 x 3.2 s x 0.5 GB
      orchestratorInvocations: 1,
      orchestratorGbSeconds: 5, // 10 s x 0.5 GB
    });
    expect(lambda.requestsUsd).toBeCloseTo(0.0008002, 10); // 4,001 x $0.20 / M
    expect(lambda.durationUsd).toBeCloseTo(0.085400427, 9); // 6,405 GB-s x $0.0000133334
    // Task mode (the default): per task one write (its completion record) and one strongly consistent read
    // (before its message runs), lib/aws/task-records.ts; per message two writes (the worker settles each
    // message once) and per orchestrator segment two (1 invocation: 1 segment): 1,000,000 + 80,000 + 2 =
    // 1,080,002 writes x $0.625 / M = $0.67500125, and 1,000,000 reads x $0.125 / M = $0.125: $0.80000125.
    expect(dynamodb).toEqual({
      taskWrites: 1_000_000,
      taskReads: 1_000_000,
      messageWrites: 80_000,
      segmentWrites: 2,
      writeUnits: 1_080_002,
      readUnits: 1_000_000,
      writeUsd: expect.closeTo(0.67500125, 12),
      readUsd: expect.closeTo(0.125, 12),
      usd: expect.closeTo(0.80000125, 12),
    });
    // The job ledger (test/lib/budget-ledger.test.ts): 4 x 40,001 settles + 7 x 1 run + 1 segment beat (10 s
    // busy: none more at 15 s) = 160,012 write units ($0.1000075), 40,001 + 1 + 12,800 s busy / 2 = 46,402 read
    // units ($0.00580025), 1 event ($0.000001).
    expect(plan.cost.ledger.usd).toBeCloseTo(0.10580875, 12);
    // Without the idempotency table: SQS $0.0048 + requests $0.0008002 + duration $0.085400427 + the ledger
    // $0.10580875 = $0.196809377. task: + $0.80000125 = $0.996810627.
    expect(plan.cost.usd).toBeCloseTo(0.996810627, 9);
    expect(plan.cost.usdByIdempotency.task).toBeCloseTo(0.996810627, 9);
    // message: 2 x 40,000 + 2 x 1 = 80,002 writes = $0.05000125: $0.246810627.
    expect(plan.cost.usdByIdempotency.message).toBeCloseTo(0.246810627, 9);
    // off: the orchestrator's segment record alone, 2 writes = $0.00000125: $0.196810627.
    expect(plan.cost.usdByIdempotency.off).toBeCloseTo(0.196810627, 9);
    expect(plan.problems).toEqual([]);
    expect(plan.warnings).toEqual([
      expect.stringContaining(
        '(4 attempts a task, with backoff), takes 651.2 s, beyond workerTimeoutSeconds (60 s)',
      ),
    ]);
  });

  it('large messages, small batches, two orchestrators and a rate-limited host', () => {
    const config = configWith({
      tasksPerMessage: 100,
      batchSize: 5,
      perInvocationConcurrency: 50,
      maxSockets: 40,
      maxSocketsPerHost: 8,
      inlineConcurrency: 5,
      workerMaxConcurrency: 20,
      invokeConcurrency: 2,
      orchestratorReservedConcurrency: 2,
      workerReservedConcurrency: 30,
      enqueueConcurrency: 4,
      workerMemoryMb: 1024,
      orchestratorMemoryMb: 256,
      orchestratorTimeoutSeconds: 60,
      idempotency: 'message',
      downstream: { 'api.example.com': { maxConcurrency: 250, maxRequestsPerSecond: 1000 } },
    });
    const plan = planBudget(config, { tasks: 10_000, latencyMs: 50, bytesPerTask: 1000, awsCallMs: 10 });
    // min(30, 20 + 2 x 2) = 24 workers x min(50, 8, 40) = 8, + 2 orchestrators x min(5, 8, 40) = 5: 202.
    expect(plan.concurrency.perHost).toBe(202);
    expect(plan.concurrency.processes).toBe(26);
    const [api] = plan.hosts;
    // 250 over 26 processes: 9 each (floor 9.6), above the sockets, so the sockets bound it: 202.
    expect(api).toMatchObject({
      host: 'api.example.com',
      processes: 26,
      perProcessConcurrency: 9,
      worstCaseConcurrency: 202,
      fleetBurst: 104, // 1000 / 26 = 38.46/s each, a burst of ceil(3.846) = 4, x 26
      maxConcurrency: 250,
      maxRequestsPerSecond: 1000,
      withinConcurrency: true,
      rateLimited: true, // 202 / 50 ms = 4,040/s by concurrency, held to 1,000 by the rate
    });
    expect(api.perProcessRequestsPerSecond).toBeCloseTo(1000 / 26, 9);
    expect(api.worstCaseRequestsPerSecond).toBeCloseTo(1000, 9);
    expect(plan.problems).toEqual([]);
    expect(plan.warnings).not.toContainEqual(expect.stringContaining('api.example.com'));
    // A batch: 5 x 100 = 500 tasks, min(50, 40) = 40 at once: 13 waves x 50 ms.
    expect(plan.workerBatch.ms).toBe(650);
    // 20 invocations of 500 tasks, 20 at once: one round. Enqueue: 50 calls / 4 = 13 x 10 ms = 130 ms.
    expect(plan.drain.queue).toEqual({ inFlight: 800, ms: 650, tasksPerSecond: 10_000 / 0.65 });
    expect(plan.drain.inline).toEqual({ inFlight: 5, ms: 100_000, tasksPerSecond: 100 });
    // 100 chunks of 100 tasks (3 waves x 50 ms = 150 ms), 2 at once: 50 x 150 ms.
    expect(plan.drain.invoke).toEqual({ inFlight: 80, ms: 7_500, tasksPerSecond: 10_000 / 7.5 });

    const { sqs, lambda, dynamodb } = plan.cost;
    // Per million: 10,000 messages of 100,000 bytes; 2 fit a 256 KiB call: 5,000 calls of 200,000 bytes = 4 chunks.
    // Receive 5 a call: 2,000 calls of 500,000 bytes = 8 chunks. Delete: 2,000 calls.
    expect(sqs).toMatchObject({
      messages: 10_000,
      sendRequests: 20_000,
      receiveRequests: 16_000,
      deleteRequests: 2_000,
    });
    expect(sqs.usd).toBeCloseTo(0.0152, 10);
    // 2,000 worker invocations x 0.65 s x 1 GB; orchestrator 5,000 calls / 4 x 10 ms = 12.5 s x 0.25 GB.
    expect(lambda).toMatchObject({
      workerInvocations: 2_000,
      workerGbSeconds: 1_300,
      orchestratorInvocations: 1,
    });
    expect(lambda.orchestratorGbSeconds).toBeCloseTo(3.125, 10);
    expect(lambda.durationUsd).toBeCloseTo(0.0173750869, 10);
    expect(lambda.requestsUsd).toBeCloseTo(0.0004002, 10);
    // Message mode: 2 writes x 10,000 messages + 2 x 1 segment = 20,002 x $0.625 / M = $0.01250125.
    expect(dynamodb).toMatchObject({
      taskWrites: 0,
      taskReads: 0,
      readUnits: 0,
      messageWrites: 20_000,
      segmentWrites: 2,
      writeUnits: 20_002,
    });
    expect(dynamodb.usd).toBeCloseTo(0.01250125, 12);
    // The ledger, 100 runs of 10,000 tasks per million: 4 x 10,001 settles + 7 x 100 + 1 segment beat (12.5 s
    // busy) = 40,705 write units ($0.025440625), 10,001 + 100 + 1,300 s busy / 2 = 10,751 read units
    // ($0.001343875), 100 events ($0.0001).
    expect(plan.cost.ledger.usd).toBeCloseTo(0.0268845, 12);
    // $0.0152 + $0.0004002 + $0.0173750869 + $0.01250125 + $0.0268845 = $0.0723610369.
    expect(plan.cost.usd).toBeCloseTo(0.0723610369, 10);
    // Task mode adds a record per task, a write and a read: 1,000,000 + 20,002 = 1,020,002 writes =
    // $0.63750125 and 1,000,000 reads = $0.125, and $0.0598597869 without the idempotency table: $0.8223610369.
    expect(plan.cost.usdByIdempotency.task).toBeCloseTo(0.8223610369, 10);
  });

  it('holds each declared host to the share of every process: concurrency, rate and burst', () => {
    const config = configWith({
      downstream: {
        'api.example.com': { maxConcurrency: 30, maxRequestsPerSecond: 20 },
        'wide.example.com': { maxConcurrency: 100, adaptive: true },
        'slow.example.com': { maxRequestsPerSecond: 5 },
      },
    });
    const plan = planBudget(config, { tasks: 1000, latencyMs: 200 });
    const [api, wide, slow] = plan.hosts;
    // 15 processes. api: 30 / 15 = 2 each, below the 16 sockets: 14 x 2 + 1 x 2 = 30; 30 / 200 ms = 150/s
    // by concurrency, held to 20/s (1.33/s each, a burst of 1 each: 15 at once).
    expect(api).toMatchObject({
      processes: 15,
      perProcessConcurrency: 2,
      worstCaseConcurrency: 30,
      fleetBurst: 15,
      withinConcurrency: true,
      rateLimited: true,
    });
    expect(api.perProcessRequestsPerSecond).toBeCloseTo(20 / 15, 9);
    expect(api.worstCaseRequestsPerSecond).toBeCloseTo(20, 9);
    // wide: 100 / 15 = 6 each: 14 x 6 + 1 x 6 = 90 (the adaptive limit only lowers it); 90 / 200 ms = 450/s.
    expect(wide).toMatchObject({
      perProcessConcurrency: 6,
      worstCaseConcurrency: 90,
      worstCaseRequestsPerSecond: 450,
      perProcessRequestsPerSecond: Number.POSITIVE_INFINITY,
      fleetBurst: Number.POSITIVE_INFINITY,
      adaptive: true,
      rateLimited: false,
    });
    // slow: no cap, so the sockets: 240 at once, 1,200/s by concurrency, held to 5/s; but 15 processes
    // each keep a burst of 1, so 15 can go at once after a quiet spell: three seconds' worth.
    expect(slow).toMatchObject({
      perProcessConcurrency: Number.POSITIVE_INFINITY,
      worstCaseConcurrency: 240,
      fleetBurst: 15,
      rateLimited: true,
    });
    expect(slow.worstCaseRequestsPerSecond).toBeCloseTo(5, 9);
    expect(plan.warnings.filter((w) => w.includes('quiet spell'))).toEqual([
      'slow.example.com: after a quiet spell the fleet can send 15 requests at once (15 processes x a burst of 1), more than one second of its maxRequestsPerSecond (5): each process keeps a burst of at least 1.',
    ]);
  });

  it('counts one orchestrator invocation per deadline it runs into', () => {
    // 4,000 send calls one at a time x 100 ms = 400 s of enqueueing; 60 s - 10 s of margin each: 8 invocations.
    const config = configWith({ enqueueConcurrency: 1, orchestratorTimeoutSeconds: 60 });
    const plan = planBudget(config, { tasks: 1, latencyMs: 100, awsCallMs: 100 });
    expect(plan.cost.lambda.orchestratorInvocations).toBe(8);
    // One segment record per invocation: 1,000,000 tasks + 2 x 40,000 messages + 2 x 8 segments.
    expect(plan.cost.dynamodb).toMatchObject({ segmentWrites: 16, writeUnits: 1_080_016 });
    const off = planBudget({ ...config, idempotency: 'off' }, { tasks: 1, latencyMs: 100, awsCallMs: 100 });
    expect(off.cost.dynamodb).toMatchObject({
      taskWrites: 0,
      taskReads: 0,
      messageWrites: 0,
      writeUnits: 16,
      readUnits: 0,
    });
  });

  it('warns when a batch cannot finish within the worker timeout even at the planned latency', () => {
    const plan = planBudget(defaultConfig, { tasks: 1000, latencyMs: 5_000 });
    expect(plan.workerBatch.ms).toBe(80_000);
    expect(plan.warnings[0]).toContain('takes 80 s at 5000 ms a request, beyond workerTimeoutSeconds (60 s)');
  });

  it('returns the problems across values, and throws for a value invalid on its own', () => {
    const plan = planBudget(configWith({ workerReservedConcurrency: 10 }), { tasks: 10, latencyMs: 10 });
    expect(plan.problems.map((p) => p.path)).toEqual(['workerReservedConcurrency']);
    expect(plan.concurrency.workers).toBe(10);
    expect(() => planBudget(configWith({ batchSize: 0 }), { tasks: 10, latencyMs: 10 })).toThrow(
      'batchSize: 0 is below 1',
    );
  });

  it.each([
    [{ tasks: 0, latencyMs: 100 }, 'Expected `tasks` to be an integer >= 1, got 0'],
    [{ tasks: 10, latencyMs: 0 }, 'Expected `latencyMs` to be a finite number above 0, got 0'],
    [{ tasks: 10, latencyMs: Number.NaN }, 'Expected `latencyMs` to be a finite number above 0, got NaN'],
    [
      { tasks: 10, latencyMs: 10, bytesPerTask: 0.5 },
      'Expected `bytesPerTask` to be an integer >= 1, got 0.5',
    ],
  ])('refuses plan options %j', (options, message) => {
    expect(() => planBudget(defaultConfig, options)).toThrow(InvalidArgumentError);
    expect(() => planBudget(defaultConfig, options)).toThrow(message);
  });
});

describe('planBudget: properties', () => {
  const limits = fc.record({
    inlineConcurrency: fc.integer({ min: 1, max: 200 }),
    invokeConcurrency: fc.integer({ min: 1, max: 20 }),
    workerMaxConcurrency: fc.integer({ min: 2, max: 1000 }),
    workerReservedConcurrency: fc.integer({ min: 1, max: 1200 }),
    orchestratorReservedConcurrency: fc.integer({ min: 1, max: 5 }),
    perInvocationConcurrency: fc.integer({ min: 1, max: 100 }),
    maxSockets: fc.integer({ min: 1, max: 256 }),
    maxSocketsPerHost: fc.integer({ min: 1, max: 256 }),
    tasksPerMessage: fc.integer({ min: 1, max: 200 }),
    batchSize: fc.integer({ min: 1, max: 10 }),
    idempotency: fc.constantFrom('task', 'message', 'off'),
    hostCap: fc.integer({ min: 1, max: 20_000 }),
  });

  it('refuses exactly the budgets whose worst case exceeds a host cap, and prices modes in order', () => {
    fc.assert(
      fc.property(
        limits,
        fc.integer({ min: 1, max: 5_000_000 }),
        fc.integer({ min: 1, max: 30_000 }),
        (l, tasks, latencyMs) => {
          const { hostCap, ...values } = l;
          const config = configWith({
            ...values,
            downstream: { 'h.example.com': { maxConcurrency: hostCap } },
          });
          const problems = checkBudget(config).map((p) => p.path);
          const k = concurrencyOf(config);
          const needed = l.workerMaxConcurrency + l.invokeConcurrency * l.orchestratorReservedConcurrency;
          expect(problems.includes('workerReservedConcurrency')).toBe(l.workerReservedConcurrency < needed);
          expect(problems.includes('maxSocketsPerHost')).toBe(l.maxSocketsPerHost > l.maxSockets);
          expect(problems.includes('downstream["h.example.com"].maxConcurrency')).toBe(k.processes > hostCap);
          expect(k.processes).toBe(k.workers + k.orchestrators);
          // The worst case never counts more workers than the reserved concurrency allows.
          expect(k.workers).toBeLessThanOrEqual(l.workerReservedConcurrency);
          expect(k.perHost).toBeLessThanOrEqual(
            k.workers * l.maxSocketsPerHost + k.orchestrators * l.maxSocketsPerHost,
          );

          const plan = planBudget(config, { tasks, latencyMs });
          // With every process at its share, the host sees no more than its cap unless refused, and never
          // more than the sockets allow.
          const [host] = plan.hosts;
          expect(host.worstCaseConcurrency).toBeLessThanOrEqual(k.perHost);
          expect(host.withinConcurrency).toBe(k.processes <= hostCap);
          if (k.processes <= hostCap) expect(host.worstCaseConcurrency).toBeLessThanOrEqual(hostCap);
          expect(host.worstCaseRequestsPerSecond).toBeCloseTo(
            (host.worstCaseConcurrency * 1000) / latencyMs,
            6,
          );
          const { task, message, off } = plan.cost.usdByIdempotency;
          expect(off).toBeLessThanOrEqual(message + 1e-12);
          expect(message).toBeLessThanOrEqual(task + 1e-12);
          expect(plan.cost.usd).toBeCloseTo(
            plan.cost.sqs.usd + plan.cost.lambda.usd + plan.cost.dynamodb.usd + plan.cost.ledger.usd,
            9,
          );
          // Per task in 'task' mode a write and a read; two writes per message unless 'off', per segment always.
          const { dynamodb, sqs, lambda } = plan.cost;
          expect(dynamodb.taskWrites).toBe(l.idempotency === 'task' ? plan.cost.tasks : 0);
          expect(dynamodb.taskReads).toBe(dynamodb.taskWrites);
          expect(dynamodb.readUnits).toBe(dynamodb.taskReads);
          expect(dynamodb.messageWrites).toBe(l.idempotency === 'off' ? 0 : 2 * sqs.messages);
          expect(dynamodb.segmentWrites).toBe(2 * lambda.orchestratorInvocations);
          expect(dynamodb.writeUnits).toBe(
            dynamodb.taskWrites + dynamodb.messageWrites + dynamodb.segmentWrites,
          );
          // Nothing drains faster than its in-flight tasks allow.
          for (const path of ['queue', 'inline', 'invoke'] as const) {
            expect(plan.drain[path].ms).toBeGreaterThanOrEqual(
              (tasks / plan.drain[path].inFlight) * latencyMs - 1e-6,
            );
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('formatBudgetTable', () => {
  it('prints the figures of the plan, its warnings and its problems', () => {
    const config = configWith({
      downstream: {
        'api.example.com': { maxConcurrency: 200, maxRequestsPerSecond: 50 },
        'tiny.example.com': { maxConcurrency: 10 },
      },
    });
    const table = formatBudgetTable(planBudget(config, { tasks: 1_000_000, latencyMs: 200 }));
    expect(table).toContain('Concurrency budget (1,000,000 tasks at 200 ms a request)');
    expect(table).toMatch(/connections one host can see\s+240\s+14 x 16 \+ 1 x 16/);
    expect(table).toMatch(/processes sharing a host\s+15\s+14 workers \+ 1 orchestrator:/);
    // api: 200 / 15 = 13 each, 14 x 13 + 13 = 195 at once; 975/s by concurrency, held to 50 (3.33 each),
    // a burst of 1 each: 15.
    expect(table).toMatch(/api\.example\.com\s+200\s+13\s+195\s+50\s+3\.33\s+50\s+15\s+held by its rate/);
    // tiny: 10 / 15 is raised to 1 each: 15 at once, 75/s, above its cap.
    expect(table).toMatch(/tiny\.example\.com\s+10\s+1\s+15\s+-\s+-\s+75\s+-\s+OVER CONCURRENCY/);
    expect(table).toMatch(/queue\s+160\s+781\s+21 min 20 s/);
    expect(table).toMatch(/SQS requests\s+12,000 .* 0\.0048/);
    expect(table).toMatch(
      /Idempotency writes\s+1,080,002\s+idempotency task: 1,000,000 tasks \+ 2 x 40,000 messages \+ 2 x 1 segment\s+0\.6750/,
    );
    expect(table).toMatch(
      /Idempotency reads\s+1,000,000\s+task records, each read once before its message runs\s+0\.1250/,
    );
    expect(table).toMatch(/total\s+0\.9968/);
    expect(table).toContain('total by idempotency mode: task 0.9968, message 0.2468, off 0.1968');
    expect(table).toContain('us-east-1, arm64, prices checked 2026-11-25');
    expect(table).toContain('Problems (validateBudget refuses this config)');
    expect(table).toContain(
      '- downstream["tiny.example.com"].maxConcurrency: 10 is below 15 processes (14 workers + 1 orchestrator) x 1 request each = 15',
    );
    expect(table).not.toContain('downstream["api.example.com"].maxConcurrency');
  });

  it('details the DynamoDB requests of the configured idempotency mode', () => {
    const lines = (idempotency: string) =>
      formatBudgetTable(planBudget(configWith({ idempotency }), { tasks: 1_000, latencyMs: 100 }))
        .split('\n')
        .filter((l) => l.includes('Idempotency '));
    // 40,000 messages of 25 tasks per million, one orchestrator segment; $0.625 per million writes.
    // No reads but in 'task' mode.
    expect(lines('message')).toEqual([
      expect.stringMatching(
        /Idempotency writes\s+80,002\s+idempotency message: 2 x 40,000 messages \+ 2 x 1 segment\s+0\.0500$/,
      ),
      expect.stringMatching(/^\s+Idempotency records: per task/),
    ]);
    expect(lines('off')[0]).toMatch(/Idempotency writes\s+2\s+idempotency off: 2 x 1 segment\s+0\.0000$/);
    // task: a write and a read per task, the read at $0.125 per million.
    expect(lines('task').slice(0, 2)).toEqual([
      expect.stringMatching(
        /Idempotency writes\s+1,080,002\s+idempotency task: 1,000,000 tasks \+ 2 x 40,000 messages \+ 2 x 1 segment\s+0\.6750$/,
      ),
      expect.stringMatching(
        /Idempotency reads\s+1,000,000\s+task records, each read once before its message runs\s+0\.1250$/,
      ),
    ]);
  });

  it.each([
    [850, '850 ms'],
    [3_200, '3.2 s'],
    [60_000, '1 min'],
    [1_280_000, '21 min 20 s'],
    [6_250_000, '1 h 44 min 10 s'],
    [3_600_000, '1 h 0 min'],
  ])('formats %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
