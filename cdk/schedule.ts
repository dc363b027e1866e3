// The schedule that starts a job: EventBridge Scheduler rather than an EventBridge rule, for what a rule lacks:
// a time zone (cron in local time, daylight saving included), a flexible time window, a retry policy and a
// dead-letter queue of the target itself, and one-off `at(...)` runs.
import { Duration, TimeZone } from 'aws-cdk-lib';
import { type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Schedule, ScheduleExpression, ScheduleTargetInput, TimeWindow } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke, type ScheduleTargetBaseProps } from 'aws-cdk-lib/aws-scheduler-targets';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { BUCKET_PLACEHOLDER, type FanoutConfig, resourceNames } from '../lib/config.js';

/** Deliveries are retried this often, for at most this long, then kept in the orchestrator's DLQ. */
export const SCHEDULE_RETRY_ATTEMPTS = 5;
export const SCHEDULE_MAX_EVENT_AGE = Duration.minutes(15);

/**
 * LambdaInvoke grants `lambda:InvokeFunction` on the function and all its versions (`arn:*`); the schedule
 * invokes only the unqualified function, so that is all its role gets.
 */
class InvokeUnqualified extends LambdaInvoke {
  readonly #fn: IFunction;
  constructor(fn: IFunction, props: ScheduleTargetBaseProps) {
    super(fn, props);
    this.#fn = fn;
  }
  protected override addTargetActionToRole(role: IRole): void {
    role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.#fn.functionArn] }),
    );
  }
}

/** Replaces BUCKET_PLACEHOLDER in every string of the input by the bucket's name (a token until deploy). */
export function withBucket(input: unknown, bucketName: string): unknown {
  if (typeof input === 'string') return input.split(BUCKET_PLACEHOLDER).join(bucketName);
  if (Array.isArray(input)) return input.map((item) => withBucket(item, bucketName));
  if (input && typeof input === 'object') {
    return Object.fromEntries(Object.entries(input).map(([k, v]) => [k, withBucket(v, bucketName)]));
  }
  return input;
}

export interface FanoutScheduleProps {
  readonly config: FanoutConfig;
  readonly orchestrator: IFunction;
  readonly deadLetterQueue: IQueue;
  readonly bucketName: string;
}

export class FanoutSchedule extends Construct {
  readonly schedule: Schedule;

  constructor(
    scope: Construct,
    id: string,
    { config, orchestrator, deadLetterQueue, bucketName }: FanoutScheduleProps,
  ) {
    super(scope, id);
    const { expression, timeZone, enabled, flexibleWindowMinutes, input } = config.schedule;
    this.schedule = new Schedule(this, 'Schedule', {
      scheduleName: resourceNames(config).schedule,
      description: `Starts a ${config.prefix} job`,
      schedule: ScheduleExpression.expression(expression, TimeZone.of(timeZone)),
      enabled,
      timeWindow:
        flexibleWindowMinutes > 0
          ? TimeWindow.flexible(Duration.minutes(flexibleWindowMinutes))
          : TimeWindow.off(),
      target: new InvokeUnqualified(orchestrator, {
        input: ScheduleTargetInput.fromObject(withBucket(input, bucketName)),
        deadLetterQueue,
        retryAttempts: SCHEDULE_RETRY_ATTEMPTS,
        maxEventAge: SCHEDULE_MAX_EVENT_AGE,
      }),
    });
  }
}
