// What a `run --endpoint` leaves in a `bounded-fanout serve` (the property of secrets-property.test.ts reads
// it): every object of the run's bucket but the manifest it was given (the result object and its parts), and
// the run's dead-letter messages with the tasks they carry taken out (they must carry tasks whole to run them
// again; their error texts must not). Through the real AWS SDK against the serve's one endpoint.
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';

const clientConfig = (endpoint: string) => ({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  forcePathStyle: true,
});

/** Every object of `bucket` but the uploaded manifest, by key. */
export async function resultObjects(endpoint: string, bucket: string): Promise<Record<string, string>> {
  const s3 = new S3Client(clientConfig(endpoint));
  const out: Record<string, string> = {};
  const { Contents = [] } = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  for (const { Key } of Contents) {
    if (!Key || Key.startsWith('manifests/')) continue;
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
    out[`s3 ${Key}`] = (await object.Body?.transformToString()) ?? '';
  }
  s3.destroy();
  return out;
}

/** The bodies of the messages in `queue`, each without its `task` and `tasks` (what may stay whole). */
export async function deadLetterTexts(endpoint: string, queue: string): Promise<string[]> {
  const sqs = new SQSClient(clientConfig(endpoint));
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queue }));
  const out: string[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 300 }),
    );
    if (Messages.length === 0) break;
    for (const m of Messages) out.push(JSON.stringify(withoutTasks(JSON.parse(m.Body ?? '{}'))));
  }
  sqs.destroy();
  return out;
}

// A dead letter keeps its tasks' error texts (each item's `task` goes); a work message moved here by SQS's
// redrive carries only tasks (all of it goes but its envelope).
function withoutTasks(body: Record<string, unknown>): Record<string, unknown> {
  const { tasks, ...envelope } = body;
  if (body.kind !== 'dead-letter' || !Array.isArray(tasks)) return envelope;
  return { ...envelope, tasks: tasks.map(({ task: _task, ...rest }: Record<string, unknown>) => rest) };
}
