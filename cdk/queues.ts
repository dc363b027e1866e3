// The work queue and the two dead-letter queues: SQS-managed encryption, TLS-only queue policies, retention
// long enough to look at what failed.
import { Duration } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEAD_LETTER_RETENTION_SECONDS, type FanoutConfig, resourceNames } from '../lib/config.js';

/** The shared retention (lib/config.ts), the same the local runtime gives its dead-letter queue. */
const DEAD_LETTER_RETENTION = Duration.seconds(DEAD_LETTER_RETENTION_SECONDS);

export class FanoutQueues extends Construct {
  /** Task batches for the worker. */
  readonly queue: Queue;
  /** Messages the worker failed maxReceiveCount times. */
  readonly deadLetterQueue: Queue;
  /** Orchestrator events that failed: schedule deliveries and asynchronous invocations (jobs, continuations). */
  readonly orchestratorDeadLetterQueue: Queue;

  constructor(scope: Construct, id: string, config: FanoutConfig) {
    super(scope, id);
    const names = resourceNames(config);
    const secure = { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true } as const;
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      ...secure,
      queueName: names.deadLetterQueue,
      retentionPeriod: DEAD_LETTER_RETENTION,
    });
    this.queue = new Queue(this, 'WorkQueue', {
      ...secure,
      queueName: names.queue,
      visibilityTimeout: Duration.seconds(config.visibilityTimeoutSeconds),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: config.maxReceiveCount },
    });
    this.orchestratorDeadLetterQueue = new Queue(this, 'OrchestratorDeadLetterQueue', {
      ...secure,
      queueName: names.orchestratorDeadLetterQueue,
      retentionPeriod: DEAD_LETTER_RETENTION,
    });
  }
}
