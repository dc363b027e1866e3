// The budget plan as a plain-text table: printed by `cdk synth` (on stderr) and by the CLI's `plan` command.

import { reservationOf } from '../config.js';
import { RECORD_CACHE_SECONDS, RUN_WRITE_UNITS, SETTLE_WRITE_UNITS } from './budget-ledger.js';
import type { BudgetPlan } from './budget-plan.js';
import { reservationLines } from './budget-reservations.js';
import { formatProblem } from './budget-schema.js';
import { leaseCostRows, leaseHostLines } from './lease-table.js';

const count = (n: number) => Math.round(n).toLocaleString('en-US');
const usd = (n: number) => n.toFixed(4);

/** A duration as people read it: `850 ms`, `3.2 s`, `21 min 20 s`, `1 h 44 min 10 s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10} s`;
  const total = Math.round(ms / 1000);
  const [h, m, s] = [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60];
  return [h && `${h} h`, (h || m) && `${m} min`, s && `${s} s`].filter(Boolean).join(' ');
}

/** Rows as aligned columns: `right` lists the columns aligned to the right (numbers). */
export function renderColumns(rows: readonly (readonly string[])[], right: readonly number[] = []): string[] {
  const widths = rows.reduce<number[]>(
    (acc, row) => row.map((cell, i) => Math.max(acc[i] ?? 0, cell.length)),
    [],
  );
  return rows.map((row) =>
    row
      .map((cell, i) => (right.includes(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd(),
  );
}

const section = (title: string, lines: readonly string[]) => [title, ...lines.map((line) => `  ${line}`)];

function concurrencyRows(plan: BudgetPlan): string[] {
  const { config: c, concurrency: k } = plan;
  return renderColumns(
    [
      [
        'orchestrator invocations',
        String(k.orchestrators),
        reservationOf(c.orchestratorReservedConcurrency) === undefined
          ? 'not reserved: counted as 1, nothing caps it (see the warnings)'
          : 'orchestratorReservedConcurrency',
      ],
      ['worker invocations from the queue', String(k.queueWorkers), 'workerMaxConcurrency'],
      ['worker invocations from invoke', String(k.invokeWorkers), 'invokeConcurrency x orchestrators'],
      [
        'worker invocations in all',
        String(k.workers),
        reservationOf(c.workerReservedConcurrency) === undefined
          ? 'not reserved: the event source maximum + the invokes bound it'
          : `workerReservedConcurrency ${c.workerReservedConcurrency} caps it`,
      ],
      [
        'sockets to one host, per worker',
        String(k.workerSocketsPerHost),
        'min(perInvocationConcurrency, maxSocketsPerHost, maxSockets)',
      ],
      [
        'sockets to one host, per orchestrator',
        String(k.orchestratorSocketsPerHost),
        'min(inlineConcurrency, maxSocketsPerHost, maxSockets)',
      ],
      [
        'connections one host can see',
        count(k.perHost),
        `${k.workers} x ${k.workerSocketsPerHost} + ${k.orchestrators} x ${k.orchestratorSocketsPerHost} (a declared host: below)`,
      ],
      [
        'processes sharing a host',
        String(k.processes),
        `${k.workers} workers + ${k.orchestrators} orchestrator${k.orchestrators === 1 ? '' : 's'}: each gets 1/${k.processes} of a declared host's limits`,
      ],
    ],
    [1],
  );
}

const limit = (n: number | undefined) => (n === undefined || n === Number.POSITIVE_INFINITY ? '-' : count(n));
/** A rate as people read it: whole requests per second, or two decimals below 10. */
const rate = (n: number | undefined) =>
  n === undefined || n === Number.POSITIVE_INFINITY
    ? '-'
    : n < 10
      ? String(Math.round(n * 100) / 100)
      : count(n);

function hostRows(plan: BudgetPlan): string[] {
  if (plan.hosts.length === 0) {
    return [
      `none configured: any one host may see ${count(plan.concurrency.perHost)} concurrent connections`,
    ];
  }
  const head = [
    'host',
    'maxConcurrency',
    'per process',
    'worst case',
    'maxRequestsPerSecond',
    'per process',
    'held to req/s',
    'fleet burst',
    'status',
  ];
  const rows = plan.hosts.map((h) => [
    h.host,
    limit(h.maxConcurrency),
    limit(h.perProcessConcurrency),
    count(h.worstCaseConcurrency),
    rate(h.maxRequestsPerSecond),
    rate(h.perProcessRequestsPerSecond),
    rate(h.worstCaseRequestsPerSecond),
    limit(h.fleetBurst),
    [
      !h.withinConcurrency && 'OVER CONCURRENCY',
      h.rateLimited && 'held by its rate',
      h.adaptive && 'adaptive',
      h.lease && 'shared: leases',
    ]
      .filter(Boolean)
      .join(', ') || 'ok',
  ]);
  const processes = plan.hosts[0].processes;
  return [
    ...renderColumns([head, ...rows], [1, 2, 3, 4, 5, 6, 7]),
    `each of ${processes} processes holds a host${plan.hosts.some((h) => h.lease) ? ' not shared' : ''} to its share of the limits: concurrency floor(max / ${processes}) (at least 1), rate max / ${processes}; req/s at ${count(plan.options.latencyMs)} ms a request`,
    ...leaseHostLines(plan.config, plan.hosts),
  ];
}

function drainRows(plan: BudgetPlan): string[] {
  const { drain, workerBatch: b } = plan;
  const rows = (['queue', 'inline', 'invoke'] as const).map((path) => [
    path,
    count(drain[path].inFlight),
    count(drain[path].tasksPerSecond),
    formatDuration(drain[path].ms),
  ]);
  return [
    ...renderColumns([['path', 'in flight', 'tasks/s', 'time'], ...rows], [1, 2, 3]),
    `one worker batch: ${count(b.tasks)} tasks in ${formatDuration(b.ms)} (${formatDuration(b.timeoutMs)} if every request times out, retries included); worker timeout ${formatDuration(b.limitMs)}`,
  ];
}

/** Idempotency writes: per task ('task': one), per message (unless 'off': two), per orchestrator segment (two). */
function writesDetail(plan: BudgetPlan): string {
  const { cost, config: c } = plan;
  const { taskWrites, messageWrites, segmentWrites } = cost.dynamodb;
  const segments = segmentWrites / 2;
  const parts = [
    taskWrites > 0 && `${count(taskWrites)} tasks`,
    messageWrites > 0 && `2 x ${count(messageWrites / 2)} messages`,
    segmentWrites > 0 && `2 x ${count(segments)} segment${segments === 1 ? '' : 's'}`,
  ].filter(Boolean);
  return `idempotency ${c.idempotency}: ${parts.join(' + ') || 'none'}`;
}

const plural = (n: number, word: string) => `${rate(n)} ${word}${n === 1 ? '' : 's'}`;

/** The job ledger: a 2-item transaction and a read per settle (message, segment), a few per run, cached reads. */
function ledgerRows(plan: BudgetPlan): string[][] {
  const l = plan.cost.ledger;
  const [messages, segments, runs] = [
    plural(l.messages, 'message'),
    plural(l.segments, 'segment'),
    plural(l.runs, 'run'),
  ];
  const busy = count(l.workerBusySeconds);
  return [
    [
      'Job ledger writes',
      count(l.writeUnits),
      `${SETTLE_WRITE_UNITS} x (${messages} + ${segments}) + ${RUN_WRITE_UNITS} x ${runs} + ${count(l.beats)} heartbeat${l.beats === 1 ? '' : 's'}: settles are 2-item transactions`,
      usd(l.writeUsd),
    ],
    [
      'Job ledger reads',
      count(l.readUnits),
      `${count(l.messages + l.segments)} settles + ${runs} + worker ${busy} s busy / ${RECORD_CACHE_SECONDS} s cache`,
      usd(l.readUsd),
    ],
    ['EventBridge events', rate(l.events), 'Run Finished, one per run, default bus', usd(l.eventsUsd)],
  ];
}

function costRows(plan: BudgetPlan): string[] {
  const { cost, config: c } = plan;
  const { sqs, lambda, dynamodb } = cost;
  const requests = sqs.sendRequests + sqs.receiveRequests + sqs.deleteRequests;
  const rows = [
    [
      'SQS requests',
      count(requests),
      `${count(sqs.messages)} messages of ${c.tasksPerMessage} tasks: ${count(sqs.sendRequests)} send + ${count(sqs.receiveRequests)} receive + ${count(sqs.deleteRequests)} delete`,
      usd(sqs.usd),
    ],
    [
      'Lambda invocations',
      count(lambda.workerInvocations + lambda.orchestratorInvocations),
      `${count(lambda.workerInvocations)} worker + ${count(lambda.orchestratorInvocations)} orchestrator`,
      usd(lambda.requestsUsd),
    ],
    [
      'Lambda GB-seconds',
      count(lambda.workerGbSeconds + lambda.orchestratorGbSeconds),
      `worker ${count(lambda.workerGbSeconds)} + orchestrator ${count(lambda.orchestratorGbSeconds)}, arm64`,
      usd(lambda.durationUsd),
    ],
    ['Idempotency writes', count(dynamodb.writeUnits), writesDetail(plan), usd(dynamodb.writeUsd)],
    ...(dynamodb.readUnits > 0
      ? [
          [
            'Idempotency reads',
            count(dynamodb.readUnits),
            'task records, each read once before its message runs',
            usd(dynamodb.readUsd),
          ],
        ]
      : []),
    ...ledgerRows(plan),
    ...leaseCostRows(cost.leases, usd),
    ['total', '', '', usd(cost.usd)],
  ];
  const modes = Object.entries(cost.usdByIdempotency).map(([mode, total]) => `${mode} ${usd(total)}`);
  return [
    ...renderColumns([['item', 'quantity', 'detail', 'USD'], ...rows], [1, 3]),
    `total by idempotency mode: ${modes.join(', ')}`,
    'Idempotency records: per task (task: 1 write, 1 read), per message (task, message: 2 writes), per orchestrator segment (all: 2 writes)',
    'Job ledger (always on): a settle per message and per segment, never per task; reads strongly consistent',
    ...(cost.leases.length > 0
      ? [
          'Lease writes: per block of permits and per renewal, never per request; each shared host as if every task went to it, the total counts the dearest',
        ]
      : []),
    'left out: free tiers, retries, the event source polling an idle queue, logs, S3, table storage and backups',
  ];
}

/** The whole plan as text: concurrency, downstream hosts, drain times, cost, then warnings and problems. */
export function formatBudgetTable(plan: BudgetPlan): string {
  const { options: o, prices } = plan;
  const lines = [
    `Concurrency budget (${count(o.tasks)} tasks at ${count(o.latencyMs)} ms a request)`,
    '',
    ...section('Worst-case concurrency', concurrencyRows(plan)),
    '',
    ...section('Reserved concurrency', reservationLines(plan.config)),
    '',
    ...section('Downstream hosts', hostRows(plan)),
    '',
    ...section(
      `Time to drain ${count(o.tasks)} tasks (every request ${count(o.latencyMs)} ms, full batches, no cold starts)`,
      drainRows(plan),
    ),
    '',
    ...section(
      `Cost per ${count(plan.cost.tasks)} queued tasks (${prices.currency}, ${prices.region}, ${prices.architecture}, prices checked ${prices.checkedOn})`,
      costRows(plan),
    ),
  ];
  if (plan.warnings.length > 0)
    lines.push(
      '',
      ...section(
        'Warnings',
        plan.warnings.map((w) => `- ${w}`),
      ),
    );
  if (plan.problems.length > 0) {
    lines.push(
      '',
      ...section(
        'Problems (validateBudget refuses this config)',
        plan.problems.map((p) => `- ${formatProblem(p)}`),
      ),
    );
  }
  return lines.join('\n');
}
