// Help text: every command, every flag with its allowed values and its default from the shared config.
import { defaultConfig } from '../../lib/config.js';
import { containersEnv, demoTasksEnv, type HelpTopic } from './args.js';
import { isLedgerCommand } from './ledger-args.js';
import { ledgerCommandLines, ledgerHelp, ledgerUsageLines } from './ledger-help.js';

const d = defaultConfig;

const limits = `Limits (over cdk.json's context; each checked with the others by validateBudget, as at synth):
  --inline-concurrency N          tasks the orchestrator runs in-process at once (default ${d.inlineConcurrency})
  --worker-concurrency N          worker invocations at once: the event source's maximum concurrency,
                                  2..1000 (default ${d.workerMaxConcurrency})
  --per-invocation-concurrency N  tasks one worker invocation runs at once (default ${d.perInvocationConcurrency})
  --tasks-per-message N           tasks packed into one SQS message (default ${d.tasksPerMessage})
  --max-sockets N                 sockets one process may open in all (default ${d.maxSockets})
  --max-sockets-per-host N        sockets one process may open to one host (default ${d.maxSocketsPerHost})
  --max-receive-count N           receives before a message goes to the dead-letter queue (default ${d.maxReceiveCount})
  --worker-reserved-concurrency N|none
                                  the worker's reserved concurrency, the hard cap on its invocations (default
                                  ${d.workerReservedConcurrency}, raised to fit --worker-concurrency); none: no reservation, the event
                                  source's maximum and the invokes still bound it
  --orchestrator-reserved-concurrency N|none
                                  jobs at once (default ${d.orchestratorReservedConcurrency}); none: no reservation, nothing caps them
  --batch-size N                  messages in one worker invocation's batch (default ${d.batchSize})
  --idempotency task|message|off  exactly-once per task (two DynamoDB writes each), per message, or off
                                  (default ${d.idempotency})
  --downstream FILE.json          the hosts' limits for this run, replacing cdk.json's downstream: host ->
                                  { maxConcurrency, maxRequestsPerSecond, adaptive, shared } (shared: leases
                                  across the fleet, docs/downstream.md); run takes it without --endpoint only
  Every N is an integer >= 1. A reservation of 0 is refused: Lambda takes it as "throttle everything".`;

const listen = `  --listen HOST:PORT              where the runtime's one endpoint listens: SQS, S3, DynamoDB, Lambda Invoke
                                  and EventBridge PutEvents on one URL, routed by protocol as LocalStack's
                                  edge port (default 127.0.0.1:4566 when free, else a free port on
                                  127.0.0.1; the URL is printed). Loopback only: the endpoint has no
                                  authentication, so anyone who reaches it can read the queues and the bucket
                                  and invoke the functions
  --allow-remote                  let --listen name an address other than loopback (0.0.0.0:4566): only on a
                                  network you trust`;

const common = `  --format text|json              text (default) prints progress and a summary table; json prints the report
  --verbose                       stack traces on errors (run: also the functions' own log lines)
  -h, --help                      this help`;

export const runHelp = `bounded-fanout run [options]

Runs a whole fan-out job on this machine: embedded SQS/S3 and DynamoDB emulators, the local poller and the
local Invoke endpoint, with the stack's names and settings. With no --manifest it runs the built-in demo: a
target server on 127.0.0.1 with varied latency, some 429s with Retry-After and some permanent failures.

Options:
  --manifest FILE|s3://BUCKET/KEY JSON ({ jobId, defaults?, tasks }) or NDJSON (one task per line)
  --retry-from REPORT.json        run again the dead-lettered and unfinished tasks of an earlier run's
                                  JSON report
  --report FILE.json|FILE.html    write the report (repeat the flag for both kinds)
  --allow-host HOST[:PORT]|CIDR   let requests reach this private host, address or range (repeatable;
                                  127.0.0.1:8080, [::1]:8080, *.internal.example, 10.0.0.0/8); loopback,
                                  private and link-local destinations are refused otherwise, as in the cloud;
                                  an allowed name never reaches loopback or metadata addresses
  --endpoint URL                  use this endpoint for SQS, S3, DynamoDB and EventBridge (LocalStack, or a
                                  \`bounded-fanout serve\`) instead of the embedded emulators; the run's own
                                  functions run here (against a serve, under a prefix of the run's own, so the
                                  serve's worker does not take the run's messages)
  --demo-tasks N                  size of the built-in demo (default 3000; or set ${demoTasksEnv})
  --ledger on|off                 keep the job ledger, the run's record of status and counts (default on;
                                  off: counts from the runtime's own observations, to measure its cost)
  --containers inline|threads     where the worker's containers run: in this process (default), or each on
                                  its own thread, as Lambda gives each its own process (or set ${containersEnv})
  --secrets FILE                  values for the tasks' secret references: a JSON object of names (secret
                                  names or ARNs, parameter names) to strings, served by the local endpoint
                                  as Secrets Manager and Parameter Store; { "env": NAME } reads the variable
  --state DIR                     keep the run's data on disk in DIR (an empty or new directory): the job
                                  ledger, the idempotency records and a journal of the queue
  --resume                        with --state DIR: finish the run kept there after its process was killed,
                                  with the flags that run started with
${listen}
${common}

${limits}

Exit codes: 0 every task succeeded; 1 some tasks were invalid, dead-lettered, cancelled or unfinished, or the
run failed, was cancelled or skipped; 2 bad usage or
config (nothing ran); 3 a report could not be written; 130 interrupted (Ctrl-C: the first stops taking new
work and lets in-flight tasks finish, the second cuts them off, both write the reports listing every unfinished
task; the third exits at once).`;

export const planHelp = `bounded-fanout plan [options]

Prints the concurrency budget without running anything: the worst-case concurrency each host can see, the
time to drain the tasks at the given latency, and the AWS cost per million tasks.

Options:
  --manifest FILE                 count the tasks of this manifest
  --tasks N                       number of tasks to plan for (default 1000000; not with --manifest)
  --latency-ms N                  expected latency of one task, in ms (default 100)
  --account                       check the reserved concurrency against the account's (Lambda
                                  GetAccountSettings) with the default AWS credentials
  --endpoint URL                  the same check against this Lambda endpoint (e.g. the local Invoke server)
  --region REGION                 AWS region of the check (default: AWS_REGION, else us-east-1)
${common}

${limits}`;

export const redriveHelp = `bounded-fanout redrive --endpoint URL [options]

Moves the dead-lettered messages back to the work queue: with SQS's message-move task where the endpoint
supports it, otherwise by receiving each message from the dead-letter queue, sending it to the work queue and
then deleting it. A failed send is retried a few times; a message still not sent stays in the dead-letter
queue, visible, and is counted by reason; one sent whose delete failed stays there too, and is counted.
Exit 0 when it moved everything it set out to, 1 when not.
Ctrl-C stops it after the batch in hand and prints what it moved (exit 130).

Options:
  --endpoint URL                  the SQS endpoint (required; AWS needs credentials in the usual places)
  --prefix NAME                   resource name prefix of the stack (default ${d.prefix})
  --region REGION                 AWS region (default: AWS_REGION, else us-east-1)
${common}`;

export const smokeHelp = `bounded-fanout smoke --url URL [--endpoint URL | --region REGION] [options]

A smoke test right after a deploy: starts a run of a few tasks (GET URL?task=ID), half inline in the
orchestrator and half through the queue and the worker, the way the schedule starts one (an asynchronous
Invoke of the orchestrator), waits for the run's record in the job ledger to finish, and prints it. The
target must be reachable from the functions (a private one needs allowHosts, and the vpc option in a VPC).

Options:
  --url URL                       the http or https URL every task calls (required)
  --tasks N                       how many tasks, 1..100 (default 5)
  --timeout SECONDS               how long to wait for the run to finish (default 300)
  --report FILE.json              also write the run's record and the verdict to FILE.json
  --endpoint URL                  a local serve or LocalStack on this machine; without it, AWS (credentials
                                  and region as the AWS SDK finds them)
  --prefix NAME                   resource name prefix of the stack (default ${d.prefix})
  --region REGION                 AWS region
  --format text|json              text (default) or the record and the verdict as JSON
  --verbose                       stack traces on errors
  -h, --help                      this help

Exit codes: 0 every task succeeded; 1 some did not, or the run did not finish in time; 2 bad usage, or no
run started.`;

export const serveHelp = `bounded-fanout serve [options]

Runs the local runtime with the stack and no job, until Ctrl-C: the embedded emulators behind one endpoint, the
stack's queue, dead-letter queue, tables and bucket, the orchestrator and worker behind the Lambda Invoke API,
and the event-source poller driving the worker. Prints the endpoint and the resource names; then any AWS SDK
client or CLI, or \`bounded-fanout run --endpoint URL\`, works against it as against LocalStack.

Options:
  --allow-host HOST[:PORT]|CIDR   let the functions' requests reach this private host (as for run)
  --secrets FILE                  values for secret references, served as Secrets Manager and Parameter
                                  Store (as for run)
${listen}
${common}

${limits}

Exit codes: 0 stopped by Ctrl-C (SIGINT or SIGTERM); 2 bad usage or config, or the address is taken.`;

export const mainHelp = `bounded-fanout: scheduled, bounded fan-out work, run on this machine.

Usage:
  bounded-fanout run [--manifest FILE|s3://...] [--report FILE.json|FILE.html] [limits] [options]
  bounded-fanout plan [--manifest FILE] [--latency-ms N] [limits]
  bounded-fanout serve [--listen HOST:PORT] [limits]
  bounded-fanout redrive --endpoint URL
  bounded-fanout smoke --url URL [--endpoint URL] [--tasks N] [--report FILE.json]
${ledgerUsageLines}
  bounded-fanout help [COMMAND]

Commands:
  run       run a job end to end on the local runtime (the built-in demo with no --manifest)
  serve     the local runtime with the stack and no job, on one endpoint, until Ctrl-C
  plan      print the concurrency budget and cost table, without running anything
  redrive   move dead-lettered messages back to the work queue
  smoke     a few tasks against a URL through the deployed stack (or a serve): exit 0 if all succeed
${ledgerCommandLines}
  help      show help for a command

Run \`bounded-fanout help run\` for the options of one command.`;

export function helpText(topic?: HelpTopic): string {
  if (topic !== undefined && isLedgerCommand(topic)) return ledgerHelp[topic];
  switch (topic) {
    case 'serve':
      return serveHelp;
    case 'run':
      return runHelp;
    case 'plan':
      return planHelp;
    case 'redrive':
      return redriveHelp;
    case 'smoke':
      return smokeHelp;
    default:
      return mainHelp;
  }
}
