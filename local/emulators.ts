// The embedded AWS side: fauxqs (SQS + S3) and dynalite (DynamoDB) in this process, on free loopback ports.
// Both speak the real wire protocols, so the handlers' unchanged AWS SDK clients talk to them. DynamoDB's
// endpoint is a front over dynalite (local/dynamo-front.ts) that adds the TransactWriteItems dynalite lacks.
import { startFauxqs } from 'fauxqs';
import type { DynamoEmulator } from './dynamo-emulator.js';
import { startDynamoOnThread } from './dynamo-on-thread.js';

export interface Endpoints {
  readonly sqs: string;
  readonly s3: string;
  readonly dynamodb: string;
  /** EventBridge (PutEvents): the local endpoint's event bus, or LocalStack's. */
  readonly events?: string;
}

export interface Emulators {
  readonly endpoints: Endpoints;
  /** Every server the emulators listen on, those behind the DynamoDB front too: tasks may reach none of them. */
  readonly listening: readonly string[];
  readonly region: string;
  stop(): Promise<void>;
}

export interface EmulatorOptions {
  readonly region?: string;
  /** dynalite's LevelDB store on disk (`run --state DIR`); in memory without it. */
  readonly dynamoPath?: string;
}

// fauxqs names its queues `http://sqs.<region>.<host>:<port>/<account>/<name>` (host "localhost" by default),
// and the SQS client sends each call to its QueueUrl's origin when that differs from the endpoint (and warns).
// `*.localhost` does not resolve here (glibc), so the host is given as `local@127.0.0.1`: the URL then reads
// `http://sqs.<region>.local@127.0.0.1:<port>/...`, whose origin is the endpoint itself (the part before `@`
// is a user name no one reads). The queue URL stays an exact key of fauxqs's store, so nothing is rewritten.
const QUEUE_URL_HOST = 'local@127.0.0.1';

export async function startEmulators({
  region = 'us-east-1',
  dynamoPath,
}: EmulatorOptions = {}): Promise<Emulators> {
  // Started together: the DynamoDB thread boots (an isolate, dynalite's modules) while fauxqs starts here.
  const [sqsAndS3, dynamoDb] = await Promise.allSettled([
    startFauxqs({ port: 0, logger: false, defaultRegion: region, host: QUEUE_URL_HOST }),
    startDynamoOnThread(dynamoPath ? { dynamoPath } : {}),
  ]);
  if (sqsAndS3.status === 'rejected' || dynamoDb.status === 'rejected') {
    await Promise.all([
      sqsAndS3.status === 'fulfilled' && sqsAndS3.value.stop(),
      dynamoDb.status === 'fulfilled' && dynamoDb.value.stop(),
    ]);
    throw sqsAndS3.status === 'rejected' ? sqsAndS3.reason : (dynamoDb as PromiseRejectedResult).reason;
  }
  const fauxqs = sqsAndS3.value;
  const dynamo: DynamoEmulator = dynamoDb.value;
  const endpoints: Endpoints = {
    sqs: `http://127.0.0.1:${fauxqs.port}`,
    // An IP endpoint makes the S3 client use path-style addressing: no per-bucket host names needed.
    s3: `http://127.0.0.1:${fauxqs.port}`,
    dynamodb: dynamo.endpoint,
  };
  let stopped: Promise<void> | undefined;
  return {
    endpoints,
    listening: [endpoints.sqs, dynamo.endpoint, dynamo.dynalite],
    region,
    stop() {
      stopped ??= Promise.all([fauxqs.stop(), dynamo.stop()]).then(() => undefined);
      return stopped;
    },
  };
}
