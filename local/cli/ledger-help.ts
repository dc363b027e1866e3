// Help of the commands that read and steer a run through the job ledger (local/cli/ledger-args.ts).
import { defaultConfig } from '../../lib/config.js';
import type { LedgerCommand } from './ledger-args.js';

const target = `Where (every command):
  --endpoint URL                  an endpoint on this machine: a local \`serve\` or \`run\`, or LocalStack
                                  (127.0.0.1, [::1] or localhost only); without it, AWS with the SDK's default
                                  credentials and region
  --prefix NAME                   resource name prefix of the stack: the job table is NAME-jobs (default
                                  cdk.json's, else ${defaultConfig.prefix})
  --region REGION                 AWS region (default: AWS_REGION, else us-east-1)
  --verbose                       stack traces on errors
  -h, --help                      this help`;

const which = `  --job ID                        the job (required)
  --run ID                        the run (default: the job's latest)`;

const statusHelp = `bounded-fanout status [--job ID [--run ID]] [--watch] [--format text|json]

Prints a run's record from the job ledger: its status (and why, when it failed or stopped), its counts, whether
the manifest has been read to its end, its limit overrides and its result object. Without --job, the latest run
of every job in the table, one line each (this reads the whole table: on a busy one, prefer --job).

Options:
  --job ID                        the job
  --run ID                        the run (default: the job's latest)
  --watch                         (with --job) print it again every 2 s until the run has finished (Ctrl-C stops)
  --format text|json              text (default) prints a short table; json prints the record with the counts at
                                  the top level: { jobId, runId, status, reason?, submitted, succeeded, ... }
${target}

Exit codes: 0 printed (with --watch: the run succeeded); 1 with --watch, the run finished otherwise (partial,
failed, cancelled, skipped); 2 bad usage, no such run, or the ledger cannot be reached; 4 with --watch, the
--endpoint went away before the run was seen to end (a local run that exited or was killed); 130 interrupted.`;

const runsHelp = `bounded-fanout runs --job ID [--format text|json]

Lists a job's runs, newest first, with their status and counts.

Options:
  --job ID                        the job (required)
  --format text|json              text (default) prints a table; json prints the records
${target}`;

const changeHelp = (
  command: 'pause' | 'resume' | 'cancel',
  what: string,
) => `bounded-fanout ${command} --job ID [--run ID]

${what}

Options:
${which}
${target}

Exit codes: 0 changed, or already so; 1 the run is in a status this cannot change (finished, for one); 2 bad
usage, no such run, or the ledger cannot be reached.`;

const limitsHelp = `bounded-fanout limits [--job ID [--run ID]] KEY=VALUE...

Lowers limits while a run runs; running containers pick them up within about 2 s. A value may never exceed the
deployed config's (cdk.json's), which the concurrency budget proved at synth: a value above it is refused with
the budget's message, and nothing changes.

Keys of the run (need --job):
  perInvocationConcurrency=N      tasks one worker invocation runs at once
  inlineConcurrency=N             tasks the orchestrator runs in-process at once
  downstream.HOST.maxConcurrency=N        a host of the config's downstream: requests at once (at least the
                                          fleet's processes, one each, unless the host is shared)
  downstream.HOST.maxRequestsPerSecond=R  a host of the config's downstream: requests a second (R > 0)
Keys of the worker function (AWS or LocalStack; not the local runtime):
  eventSourceMaxConcurrency=N     the SQS event source's maximum concurrency (2..workerMaxConcurrency)
  workerReservedConcurrency=N     the worker's reserved concurrency (at least the event source's maximum plus
                                  the orchestrators' direct invokes, at most the deployed one)
Every N is a whole number >= 1. A key given again replaces its earlier value; the others are kept.

Options:
${which.replace(' (required)', " (required for the run's keys)")}
${target}

Exit codes: 0 set; 1 the run has finished; 2 a value refused, bad usage, no such run, a key the endpoint does
not support, or the ledger cannot be reached.`;

const reportHelp = `bounded-fanout report --job ID [--run ID] --report FILE.json|FILE.html [--report ...]

Writes a run's report as a local run writes it, built from what the run left in the cloud: its status and
counts from the job ledger, its dead-lettered, undeliverable and invalid tasks from its result object in the
stack's bucket (or, while it runs, from the parts its workers have written so far), its limits from the deployed
config (cdk.json) and the run's own overrides. Task secrets are redacted as in every report. Peaks in flight and
the timeline are observed by the local runtime only: the report says so instead of drawing them.

Options:
${which}
  --report FILE                   FILE.json or FILE.html (repeat for both)
${target}

Exit codes: 0 written, the run succeeded; 1 written, the run ended otherwise or has not ended; 2 bad usage, no
such run, or the ledger or the bucket cannot be reached.`;

export const ledgerHelp: Record<LedgerCommand, string> = {
  report: reportHelp,
  status: statusHelp,
  runs: runsHelp,
  pause: changeHelp(
    'pause',
    'Pauses a running run: no new task starts anywhere; tasks in flight finish. Its queued messages wait (they\nnever reach the dead-letter queue because of the pause, however long it lasts).',
  ),
  resume: changeHelp('resume', 'Resumes a paused run.'),
  cancel: changeHelp(
    'cancel',
    'Cancels a running or paused run: no new task starts, its queued tasks are counted cancelled (their messages\ndeleted, not dead-lettered), and the run ends cancelled with exact counts.',
  ),
  limits: limitsHelp,
};

export const ledgerUsageLines = `  bounded-fanout status [--job ID [--run ID]] [--watch] [--format json] [--endpoint URL]
  bounded-fanout runs --job ID
  bounded-fanout pause|resume|cancel --job ID [--run ID]
  bounded-fanout limits --job ID [--run ID] KEY=VALUE...
  bounded-fanout report --job ID [--run ID] --report FILE.json|FILE.html`;

export const ledgerCommandLines = `  status    a run's status and counts from the job ledger
  runs      a job's runs, newest first
  pause     stop starting a run's tasks (in-flight ones finish)
  resume    start a paused run's tasks again
  cancel    end a run: its unstarted tasks are counted cancelled
  limits    lower a run's concurrency and rate limits while it runs
  report    a run's report (JSON or HTML) from the job ledger and its result object`;
