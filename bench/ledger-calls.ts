// The job ledger's own calls of one 20,000-task run, isolated, and what each thread spends on them: a fresh
// process starts the backend as `bounded-fanout run` does (the emulators, the DynamoDB thread, the one local
// endpoint), then replays the ledger's calls of a run once, cold as in a run (startRun, a segment's settle, 83
// groups of 10 message settles that go unread, READS getRun calls between them: the containers' control reads),
// and prints the CPU of the process, of the main thread and of the busiest other thread (the DynamoDB one),
// read from /proc. `edge` sends the calls through the one local endpoint, `front` straight to the DynamoDB
// front; ROOT=DIR runs another checkout's code (e.g. main exported with `git archive`, node_modules linked);
// SEEN=1 passes the settles a seenVersion (RunControl's cached version: lib/ledger/job-ledger.ts).
//   [ROOT=DIR] [READS=72] [SEEN=1] npx tsx bench/ledger-calls.ts edge|front [ROUNDS]
import { readdirSync, readFileSync } from 'node:fs';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';

const via = process.argv[2] ?? 'edge';
const rounds = Number(process.argv[3] ?? 1);
const root = process.env.ROOT ?? new URL('..', import.meta.url).pathname;
const reads = Number(process.env.READS ?? 72);
const seen = process.env.SEEN ? { seenVersion: 1 } : {};
const { startBackend } = await import(`${root}/local/backend.ts`);
const { JobLedgerTable } = await import(`${root}/lib/aws/job-ledger-table.ts`);

/** CPU milliseconds so far of each thread of this process, by thread id. */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(tid, (Number(fields[11]) + Number(fields[12])) * 10);
  }
  return out;
}

const processCpu = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

const backend = await startBackend({
  kind: 'emulators',
  log: () => {},
  edge: { listen: { host: '127.0.0.1', port: 0 } },
});
const endpoint = via === 'edge' ? backend.edge.url : backend.listening[1];
const client = new DynamoDBClient({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
});
await client.send(
  new CreateTableCommand({
    TableName: 'jobs',
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
  }),
);
const ledger = new JobLedgerTable(client, { tableName: 'jobs', retentionDays: 7 });

async function oneRun(runId: string): Promise<void> {
  await ledger.startRun({
    jobId: 'j',
    runId,
    startedAt: Date.now(),
    toleratedFailurePercent: 100,
    overlap: 'allow',
  });
  await ledger.settle({ jobId: 'j', runId, key: 'segment:0', delta: { submitted: 20_000 } });
  let message = 0;
  for (let group = 0; group < 83; group++) {
    const settles = Array.from({ length: 10 }, () =>
      ledger.settle({ jobId: 'j', runId, key: `m${message++}`, delta: { succeeded: 24 }, ...seen }),
    );
    await Promise.all(settles);
    if (group < reads) await ledger.getRun('j', runId);
  }
}

for (let round = 0; round < rounds; round++) {
  const before = threadCpu();
  const cpu = processCpu();
  await oneRun(`r${round}`);
  const spent = processCpu() - cpu;
  const main = String(process.pid);
  const per = [...threadCpu()].map(([tid, ms]) => [tid, ms - (before.get(tid) ?? 0)] as const);
  const others = per.filter(([tid]) => tid !== main).map(([, ms]) => ms);
  console.log(
    `${via} round ${round}: process ${spent.toFixed(0)} ms; main ${per.find(([tid]) => tid === main)?.[1] ?? 0} ms; busiest other thread ${Math.max(...others)} ms; others ${others.filter((ms) => ms > 0).join(',')}`,
  );
}
await backend.stop();
process.exit(0);
