// A local run whose worker settings `limits` changes while it runs (the control plane on its Invoke endpoint,
// local/lambda-control.ts): the report keeps the deployed limits and says what they were at the end, so a
// lowered maximum is neither hidden nor shown as the limit the whole run's peak is held to. The change is made
// through the real @aws-sdk/client-lambda at the first batch; the target answers only once it is done and a
// progress sample (what the CLI's live display shows its worker limit from) has the lowered maximum.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  LambdaClient,
  ListEventSourceMappingsCommand,
  PutFunctionConcurrencyCommand,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourceNames, withDefaults } from '../../lib/config.js';
import { assembleReport } from '../../local/report/assemble.js';
import { localCredentials } from '../../local/resources.js';
import { runLocalJob } from '../../local/run-local-job.js';
import { backend, uniquePrefix } from './fixtures/aws.js';

const prefix = uniquePrefix('live');
const names = resourceNames({ prefix });
let changed: Promise<void> | undefined;
/** Resolved by the first progress sample that shows the lowered maximum (the display's worker limit follows it). */
let seeLowered: () => void = () => {};
const lowered = new Promise<void>((resolve) => {
  seeLowered = resolve;
});
/** At most this long for that sample: the run ends either way, and the assertion says what was seen. */
const LOWERED_WAIT_MS = 10_000;
let server: Server;
let url: string;

/** What `limits eventSourceMaxConcurrency=2 workerReservedConcurrency=4` sends, to the run's own endpoint. */
async function change(endpoint: string): Promise<void> {
  const lambda = new LambdaClient({ endpoint, region: 'us-east-1', credentials: localCredentials });
  try {
    const list = await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: names.worker }));
    const UUID = list.EventSourceMappings?.[0]?.UUID;
    await lambda.send(
      new UpdateEventSourceMappingCommand({ UUID, ScalingConfig: { MaximumConcurrency: 2 } }),
    );
    await lambda.send(
      new PutFunctionConcurrencyCommand({ FunctionName: names.worker, ReservedConcurrentExecutions: 4 }),
    );
  } finally {
    lambda.destroy();
  }
}

beforeAll(async () => {
  // Every task's request waits for the change: the run cannot end before it is made.
  server = createServer((_req, res) => {
    // Answered even when the change failed, so the test reports its error rather than a hung run.
    const answer = () => res.end('ok');
    const seen = Promise.race([lowered, new Promise((r) => setTimeout(r, LOWERED_WAIT_MS).unref())]);
    void (changed ?? Promise.resolve()).then(() => seen).then(answer, answer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("a run's worker settings changed while it runs", () => {
  it('reports the deployed limits and, besides them, the settings at the end', async () => {
    const config = {
      prefix,
      allowHosts: ['127.0.0.1'],
      batchSize: 1,
      workerMaxConcurrency: 3,
      workerReservedConcurrency: 6,
      invokeConcurrency: 1,
      visibilityTimeoutSeconds: 60,
    };
    const tasks = Array.from({ length: 4 }, (_, i) => ({ id: `t${i}`, url: `${url}/${i}`, mode: 'queue' }));
    const onReceive = () => {
      changed ??= change(process.env.AWS_ENDPOINT_URL_LAMBDA ?? '');
    };
    // What the progress display is given each sample: the event source's maximum as the poller now has it.
    const maxima: number[] = [];
    const onProgress = ({ eventSourceMaxConcurrency }: { eventSourceMaxConcurrency: number }) => {
      if (maxima.at(-1) !== eventSourceMaxConcurrency) maxima.push(eventSourceMaxConcurrency);
      if (eventSourceMaxConcurrency === 2) seeLowered();
    };
    const report = await runLocalJob(
      { jobId: 'live', tasks },
      { config, backend: backend(), onReceive, onProgress, progressIntervalMs: 20 },
    );
    await changed;
    expect(maxima).toEqual([3, 2]);
    expect(report).toMatchObject({ submitted: 4, succeeded: 4, unaccounted: 0 });
    expect(report.limits).toMatchObject({
      workers: 3,
      workerReserved: 6,
      changedLive: { workers: 2, workerReserved: 4 },
    });
    // The CLI's report (what its summary prints from) carries them on.
    const cli = assembleReport({
      local: report,
      config: withDefaults(config),
      timeline: [],
      manifest: 'test',
      startedAt: new Date(),
    });
    expect(cli.limits).toMatchObject({ workers: 3, workersReserved: 6 });
    expect(cli.limits.changedLive).toEqual({ workers: 2, workersReserved: 4 });
  });
});
