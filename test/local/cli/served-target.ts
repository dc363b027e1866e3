// A real `serve` in a child process with a target HTTP server of the test's own on 127.0.0.1, and AWS clients
// on the serve's one endpoint: the set-up shared by the CLI tests that run a job through a serve, then redrive
// or report it. One receive by default: a failure is dead-lettered at once.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { JobLedgerTable } from '../../../lib/aws/job-ledger-table.js';
import { resourceNames } from '../../../lib/config.js';
import type { RunRecord } from '../../../lib/ledger/run-record.js';
import { loadSharedConfig } from '../../../local/cli/shared-config.js';
import { localCredentials } from '../../../local/resources.js';
import { waitFor } from '../fixtures/aws.js';
import { type Serve, startServe } from './run-fixture.js';

export interface ServedTarget {
  readonly serve: Serve;
  readonly targetUrl: string;
  readonly clients: {
    readonly dynamodb: DynamoDBClient;
    readonly lambda: LambdaClient;
    readonly sqs: SQSClient;
  };
  readonly ledger: JobLedgerTable;
  /** The stack's names the serve runs under (the shared config's prefix). */
  readonly names: ReturnType<typeof resourceNames>;
  /**
   * Starts a run as the schedule would (Invoke of the orchestrator, throwing on a function error) and waits
   * until the ledger says it has finished: its record.
   */
  runJob(job: {
    readonly jobId: string;
    readonly runId: string;
    readonly tasks: unknown[];
  }): Promise<RunRecord>;
  deadLetterQueueUrl(): Promise<string>;
  /** Stops the serve (Ctrl-C), the clients and the target. */
  close(): Promise<void>;
}

export async function startServedTarget(
  answer: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<ServedTarget> {
  const names = resourceNames(loadSharedConfig());
  const target = createServer(answer);
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  const targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
  const serve = await startServe(['--allow-host', new URL(targetUrl).host, '--max-receive-count', '1']);
  const options = { endpoint: serve.endpoint, region: 'us-east-1', credentials: localCredentials };
  const clients = {
    dynamodb: new DynamoDBClient(options),
    lambda: new LambdaClient(options),
    sqs: new SQSClient(options),
  };
  const ledger = new JobLedgerTable(clients.dynamodb, { tableName: names.jobTable, retentionDays: 1 });
  const close = async () => {
    clients.dynamodb.destroy();
    clients.lambda.destroy();
    clients.sqs.destroy();
    if (serve.cli.child.exitCode === null) {
      serve.cli.child.kill('SIGINT');
      await serve.cli.done;
    }
    target.closeAllConnections();
    await new Promise((resolve) => target.close(resolve));
  };
  const runJob: ServedTarget['runJob'] = async (job) => {
    const invoked = await clients.lambda.send(
      new InvokeCommand({ FunctionName: names.orchestrator, Payload: JSON.stringify(job) }),
    );
    if (invoked.FunctionError) throw new Error(`the orchestrator failed: ${invoked.FunctionError}`);
    let record: RunRecord | undefined;
    await waitFor(async () => {
      record = await ledger.getRun(job.jobId, job.runId);
      return record?.finishedAt !== undefined;
    }, 'the run to end');
    return record as RunRecord;
  };
  const deadLetterQueueUrl = async () =>
    (await clients.sqs.send(new GetQueueUrlCommand({ QueueName: names.deadLetterQueue }))).QueueUrl as string;
  return { serve, targetUrl, clients, ledger, names, runJob, deadLetterQueueUrl, close };
}
