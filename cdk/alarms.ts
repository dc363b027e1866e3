// Alarms on what needs a person: messages in either dead-letter queue, and a throttled worker (a sign that the
// reserved concurrency is shared with something the budget does not know). Optionally notify an SNS topic.
import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, type IMetric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { FanoutConfig } from '../lib/config.js';

const PERIOD = Duration.minutes(5);

export interface FanoutAlarmsProps {
  readonly config: FanoutConfig;
  readonly deadLetterQueue: IQueue;
  readonly orchestratorDeadLetterQueue: IQueue;
  readonly worker: IFunction;
}

export class FanoutAlarms extends Construct {
  readonly alarms: readonly Alarm[];

  constructor(scope: Construct, id: string, props: FanoutAlarmsProps) {
    super(scope, id);
    const p = props.config.prefix;
    const depth = (queue: IQueue) =>
      queue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: 'Maximum' });
    this.alarms = [
      this.#atLeastOne(
        'DeadLetters',
        `${p}-dead-letters`,
        depth(props.deadLetterQueue),
        'Tasks failed for good: see docs/deploy.md, "Redrive the dead-letter queue".',
      ),
      this.#atLeastOne(
        'OrchestratorDeadLetters',
        `${p}-orchestrator-dead-letters`,
        depth(props.orchestratorDeadLetterQueue),
        'A scheduled job or a continuation failed after its retries.',
      ),
      this.#atLeastOne(
        'WorkerThrottles',
        `${p}-worker-throttles`,
        props.worker.metricThrottles({ period: PERIOD, statistic: 'Sum' }),
        'Throttled batches count toward maxReceiveCount: check the reserved concurrency.',
      ),
    ];
    if (props.config.alarmTopicArn) {
      const action = new SnsAction(Topic.fromTopicArn(this, 'Topic', props.config.alarmTopicArn));
      for (const alarm of this.alarms) alarm.addAlarmAction(action);
    }
  }

  #atLeastOne(id: string, alarmName: string, metric: IMetric, alarmDescription: string): Alarm {
    return new Alarm(this, id, {
      alarmName,
      alarmDescription,
      metric,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // No data means an idle queue or an idle worker: nothing to report.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }
}
