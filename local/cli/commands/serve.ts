// `bounded-fanout serve`: the local runtime with the stack and no job, on one endpoint, until Ctrl-C. It prints
// the endpoint and the stack's names (stdout: text, or one JSON object with --format json) so a second terminal,
// an SDK client or `run --endpoint` can use them. SIGINT or SIGTERM stops it cleanly: exit 0.
import { validateBudget } from '../../../lib/budget/index.js';
import { type ServeRuntime, startServeRuntime } from '../../serve-runtime.js';
import type { ServeArgs } from '../args.js';
import { ExitCodes } from '../exit-code.js';
import type { CliIo } from '../io.js';
import { readSecrets } from '../secrets-flag.js';

export async function serveCommand(args: ServeArgs, io: CliIo): Promise<number> {
  const config = validateBudget(args.config);
  const secrets = args.secrets === undefined ? undefined : await readSecrets(args.secrets);
  const log = (line: string) => {
    if (args.verbose) io.stderr.write(`${line}\n`);
  };
  const stopped = stopSignal();
  let runtime: ServeRuntime | undefined;
  try {
    runtime = await startServeRuntime({
      config,
      listen: args.listen,
      log,
      functionLogs: args.verbose
        ? (line) => io.stderr.write(line.endsWith('\n') ? line : `${line}\n`)
        : 'silent',
    });
    if (secrets) runtime.backend.edge?.secretStore.load(secrets);
    io.stdout.write(describeRuntime(runtime, args.format));
    await stopped.signal;
    return ExitCodes.OK;
  } finally {
    await runtime?.stop();
    stopped.close();
  }
}

function describeRuntime(runtime: ServeRuntime, format: ServeArgs['format']): string {
  const { resources, names } = runtime;
  // The job table joins once the runtime creates it (the job ledger): listed when the resources name it.
  const jobTable = (resources as { jobTable?: string }).jobTable;
  const tables = [resources.idempotencyTable, ...(jobTable ? [jobTable] : [])];
  const functions = [names.orchestrator, names.worker];
  if (format === 'json') {
    const out = {
      endpoint: runtime.endpoint,
      region: runtime.backend.region,
      ...resources,
      tables,
      functions,
    };
    return `${JSON.stringify(out)}\n`;
  }
  return [
    `[bounded-fanout] endpoint: ${runtime.endpoint}`,
    `[bounded-fanout] queue: ${resources.queueUrl}`,
    `[bounded-fanout] dead-letter queue: ${resources.deadLetterQueueUrl}`,
    `[bounded-fanout] orchestrator dead-letter queue: ${resources.orchestratorDeadLetterQueueUrl}`,
    `[bounded-fanout] tables: ${tables.join(', ')}`,
    `[bounded-fanout] bucket: ${resources.bucket}`,
    `[bounded-fanout] functions: ${functions.join(', ')}`,
    `[bounded-fanout] region: ${runtime.backend.region}; any access key works. Ctrl-C stops.`,
    '',
  ].join('\n');
}

/** Resolves on the first SIGINT or SIGTERM; a second one, while the runtime stops, exits at once (130). */
function stopSignal(): { signal: Promise<void>; close(): void } {
  let resolve: () => void = () => {};
  let received = false;
  const signal = new Promise<void>((r) => {
    resolve = r;
  });
  const handler = () => {
    if (received) process.exit(ExitCodes.INTERRUPTED);
    received = true;
    resolve();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal,
    close() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
