// The whole service in one stack: queues, storage, the two functions, the schedule and the alarms, all from
// one FanoutConfig that validateBudget has accepted (the stack refuses any other).
import { fileURLToPath } from 'node:url';
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { validateBudget } from '../lib/budget/index.js';
import type { FanoutConfig } from '../lib/config.js';
import { FanoutAlarms } from './alarms.js';
import { FanoutFunctions, type FunctionEntries } from './functions.js';
import { FanoutQueues } from './queues.js';
import { FanoutSchedule } from './schedule.js';
import { FanoutStorage } from './storage.js';

/** The repository's root: package-lock.json, tsconfig.json and functions/ live there. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

export const defaultEntries: FunctionEntries = {
  orchestrator: `${PROJECT_ROOT}functions/orchestrator.ts`,
  worker: `${PROJECT_ROOT}functions/worker.ts`,
};

export interface BoundedFanoutStackProps extends StackProps {
  readonly config: FanoutConfig;
  /** The handlers' source files (tests point them at a fixture). */
  readonly entries?: Partial<FunctionEntries>;
}

export class BoundedFanoutStack extends Stack {
  readonly queues: FanoutQueues;
  readonly storage: FanoutStorage;
  readonly functions: FanoutFunctions;
  readonly schedule: FanoutSchedule;
  readonly alarms: FanoutAlarms;

  constructor(scope: Construct, id: string, props: BoundedFanoutStackProps) {
    super(scope, id, { description: 'bounded-fanout: scheduled, bounded fan-out work', ...props });
    const config = validateBudget(props.config);
    this.queues = new FanoutQueues(this, 'Queues', config);
    this.storage = new FanoutStorage(this, 'Storage', config);
    this.functions = new FanoutFunctions(this, 'Functions', {
      config,
      entries: { ...defaultEntries, ...props.entries },
      projectRoot: PROJECT_ROOT.replace(/\/$/, ''),
      queues: this.queues,
      storage: this.storage,
    });
    this.schedule = new FanoutSchedule(this, 'Schedule', {
      config,
      orchestrator: this.functions.orchestrator,
      deadLetterQueue: this.queues.orchestratorDeadLetterQueue,
      bucketName: this.storage.bucket.bucketName,
    });
    this.alarms = new FanoutAlarms(this, 'Alarms', {
      config,
      deadLetterQueue: this.queues.deadLetterQueue,
      orchestratorDeadLetterQueue: this.queues.orchestratorDeadLetterQueue,
      worker: this.functions.worker,
    });
    this.#outputs();
  }

  /** What the deployer's guide (docs/deploy.md) reads back from the deployed stack. */
  #outputs(): void {
    const outputs: Record<string, string> = {
      QueueUrl: this.queues.queue.queueUrl,
      DeadLetterQueueUrl: this.queues.deadLetterQueue.queueUrl,
      DeadLetterQueueArn: this.queues.deadLetterQueue.queueArn,
      OrchestratorDeadLetterQueueUrl: this.queues.orchestratorDeadLetterQueue.queueUrl,
      BucketName: this.storage.bucket.bucketName,
      IdempotencyTableName: this.storage.idempotencyTable.tableName,
      JobTableName: this.storage.jobTable.tableName,
      OrchestratorName: this.functions.orchestrator.functionName,
      WorkerName: this.functions.worker.functionName,
      ScheduleName: this.schedule.schedule.scheduleName,
    };
    for (const [id, value] of Object.entries(outputs)) new CfnOutput(this, id, { value });
  }
}
