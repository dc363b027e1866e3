import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../lib/config.js';
import { containersEnv, demoTasksEnv, hostOrCidr, parseCliArgs } from '../../../local/cli/args.js';
import { UsageError } from '../../../local/cli/usage-error.js';

function usage(argv: string[], env: NodeJS.ProcessEnv = {}): UsageError {
  try {
    parseCliArgs(argv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error(`expected ${argv.join(' ')} to be refused`);
}

// The destination guard's own words (lib/http/allow-entry.ts): the flag and the guard share one parser.
const ALLOW_FORMS =
  'a host name (api.example.com, *.example.com), an IP address or a CIDR, optionally with a port (127.0.0.1:8080, [::1]:8080, api.example.com:8443)';

describe('parseCliArgs', () => {
  it('parses run with every flag into the shared config', () => {
    const args = parseCliArgs([
      'run',
      '--manifest',
      'jobs/a.ndjson',
      '--report',
      'out/r.json',
      '--report',
      'out/r.html',
      '--allow-host',
      '10.0.0.0/8',
      '--allow-host',
      'partner.internal',
      '--allow-host',
      '127.0.0.1:8080',
      '--inline-concurrency',
      '8',
      '--worker-concurrency',
      '20',
      '--per-invocation-concurrency',
      '4',
      '--tasks-per-message',
      '10',
      '--max-sockets',
      '32',
      '--max-sockets-per-host',
      '8',
      '--max-receive-count',
      '3',
      '--idempotency',
      'message',
      '--endpoint',
      'http://localhost:4566/',
      '--format',
      'json',
      '--verbose',
    ]);
    expect(args).toMatchObject({
      command: 'run',
      manifest: 'jobs/a.ndjson',
      reports: ['out/r.json', 'out/r.html'],
      endpoint: 'http://localhost:4566',
      format: 'json',
      verbose: true,
    });
    if (args.command !== 'run') throw new Error('not run');
    expect(args.config).toMatchObject({
      inlineConcurrency: 8,
      workerMaxConcurrency: 20,
      // Raised to the event source's maximum plus the direct invokes: below it the poller would be throttled.
      workerReservedConcurrency:
        20 + defaultConfig.invokeConcurrency * (defaultConfig.orchestratorReservedConcurrency as number),
      perInvocationConcurrency: 4,
      tasksPerMessage: 10,
      maxSockets: 32,
      maxSocketsPerHost: 8,
      maxReceiveCount: 3,
      idempotency: 'message',
      allowHosts: ['10.0.0.0/8', 'partner.internal', '127.0.0.1:8080'],
    });
    expect(args.config.prefix).toBe(defaultConfig.prefix);
  });

  it('keeps defaults when no flag is given, and a reserved concurrency above the maximum', () => {
    const args = parseCliArgs(['run']);
    if (args.command !== 'run') throw new Error('not run');
    expect(args.config).toEqual(defaultConfig);
    expect(args.reports).toEqual([]);
    expect(args.format).toBe('text');
    const low = parseCliArgs(['run', '--worker-concurrency', '2']);
    if (low.command !== 'run') throw new Error('not run');
    expect(low.config.workerReservedConcurrency).toBe(defaultConfig.workerReservedConcurrency);
  });

  it('keeps the job ledger unless --ledger off, and names a bad value', () => {
    expect(parseCliArgs(['run'])).toMatchObject({ ledger: true });
    expect(parseCliArgs(['run', '--ledger', 'off'])).toMatchObject({ ledger: false });
    expect(() => parseCliArgs(['run', '--ledger', 'no'])).toThrow('--ledger');
    expect(() => parseCliArgs(['run', '--ledger', 'no'])).toThrow('one of on, off');
  });

  it('runs worker containers in this process unless --containers threads (or the environment) says so', () => {
    expect(parseCliArgs(['run'], {})).toMatchObject({ containers: 'inline' });
    expect(parseCliArgs(['run', '--containers', 'threads'], {})).toMatchObject({ containers: 'threads' });
    expect(parseCliArgs(['run'], { [containersEnv]: 'threads' })).toMatchObject({ containers: 'threads' });
    expect(parseCliArgs(['run', '--containers', 'inline'], { [containersEnv]: 'threads' })).toMatchObject({
      containers: 'inline',
    });
    expect(() => parseCliArgs(['run', '--containers', 'procs'], {})).toThrow('--containers');
    expect(() => parseCliArgs(['run', '--containers', 'procs'], {})).toThrow('one of inline, threads');
  });

  it('sizes the demo from --demo-tasks, else from the environment', () => {
    expect(parseCliArgs(['run', '--demo-tasks', '50'], { [demoTasksEnv]: '9' })).toMatchObject({
      demoTasks: 50,
    });
    expect(parseCliArgs(['run'], { [demoTasksEnv]: '9' })).toMatchObject({ demoTasks: 9 });
    expect(usage(['run'], { [demoTasksEnv]: 'lots' }).message).toBe(
      `${demoTasksEnv}: expected an integer >= 1, got "lots"`,
    );
  });

  it.each([
    [['run', '--inline-concurrency', '0'], '--inline-concurrency: expected an integer >= 1, got "0"'],
    [['run', '--max-sockets', 'abc'], '--max-sockets: expected an integer >= 1, got "abc"'],
    [['run', '--tasks-per-message', '2.5'], '--tasks-per-message: expected an integer >= 1, got "2.5"'],
    [['run', '--worker-concurrency=-3'], '--worker-concurrency: expected an integer >= 1, got "-3"'],
    [
      ['run', '--worker-concurrency', '-3'],
      '--worker-concurrency: missing value (a value starting with "-" is written --worker-concurrency=-VALUE)',
    ],
    [['plan', '--latency-ms', '1e3'], '--latency-ms: expected an integer >= 1, got "1e3"'],
    [['run', '--format', 'yaml'], '--format: expected one of text, json, got "yaml"'],
    [
      ['run', '--idempotency', 'sometimes'],
      '--idempotency: expected one of task, message, off, got "sometimes"',
    ],
    [
      ['run', '--report', 'out.txt'],
      '--report: expected a file name ending in .json or .html, got "out.txt"',
    ],
    [
      ['run', '--endpoint', 'localhost:4566'],
      '--endpoint: expected an http:// or https:// URL, got "localhost:4566"',
    ],
    [['run', '--endpoint', 'ftp://x'], '--endpoint: expected an http:// or https:// URL, got "ftp://x"'],
    [['run', '--allow-host', '10.0.0.0/33'], `--allow-host: expected ${ALLOW_FORMS}, got "10.0.0.0/33"`],
    [['run', '--allow-host', 'bad host'], `--allow-host: expected ${ALLOW_FORMS}, got "bad host"`],
    [['run', '--allow-host', '127.1'], `--allow-host: expected ${ALLOW_FORMS}, got "127.1"`],
    [['run', '--allow-host', '0x7f000001'], `--allow-host: expected ${ALLOW_FORMS}, got "0x7f000001"`],
    [['run', '--allow-host', '*.254'], `--allow-host: expected ${ALLOW_FORMS}, got "*.254"`],
    [['run', '--allow-host', '127.0.0.1:0'], `--allow-host: expected ${ALLOW_FORMS}, got "127.0.0.1:0"`],

    [['run', '--manifest', 's3://'], '--manifest: expected s3://BUCKET/KEY or a file path, got "s3://"'],
    [['run', '--bogus'], 'Unknown option --bogus for "run" (see: bounded-fanout help run)'],
    [['plan', '--report', 'x.json'], 'Unknown option --report for "plan" (see: bounded-fanout help plan)'],
    [['run', '--manifest'], '--manifest: missing value'],
    [['run', '--verbose=yes'], '--verbose: takes no value'],
    [['run', 'extra'], 'Unexpected argument "extra" for "run"'],
    [
      ['deploy'],
      'Unknown command "deploy": expected one of run, serve, plan, redrive, smoke, status, runs, pause, resume, cancel, limits, report, help',
    ],
    [
      [],
      'Missing command: expected one of run, serve, plan, redrive, smoke, status, runs, pause, resume, cancel, limits, report, help',
    ],
    [['redrive'], 'redrive needs --endpoint URL (the SQS endpoint holding the dead-letter queue)'],
    [
      ['redrive', '--endpoint', 'http://x', '--region', 'mars'],
      '--region: expected an AWS region such as us-east-1, got "mars"',
    ],
    [
      ['help', 'deploy'],
      'Unknown help topic "deploy": expected one of run, serve, plan, redrive, smoke, status, runs, pause, resume, cancel, limits, report',
    ],
  ])('refuses %j with a message naming the flag and the value', (argv, message) => {
    expect(usage(argv).message).toBe(message);
  });

  it('refuses --manifest with --retry-from, and --tasks with --manifest', () => {
    expect(usage(['run', '--manifest', 'a.json', '--retry-from', 'r.json']).flag).toBe('--retry-from');
    expect(usage(['plan', '--manifest', 'a.json', '--tasks', '5']).flag).toBe('--tasks');
  });

  it('parses plan and redrive', () => {
    expect(
      parseCliArgs(['plan', '--tasks', '5000', '--latency-ms', '250', '--max-sockets', '8']),
    ).toMatchObject({
      command: 'plan',
      tasks: 5000,
      latencyMs: 250,
      config: { maxSockets: 8 },
    });
    expect(parseCliArgs(['plan'])).toMatchObject({ latencyMs: 100, tasks: undefined });
    expect(
      parseCliArgs(['redrive', '--endpoint', 'http://127.0.0.1:4566', '--prefix', 'acme']),
    ).toMatchObject({
      command: 'redrive',
      endpoint: 'http://127.0.0.1:4566',
      prefix: 'acme',
    });
  });

  it('parses --listen for run and serve: loopback, or another host with --allow-remote', () => {
    expect(parseCliArgs(['run', '--listen', '127.0.0.1:4566'])).toMatchObject({
      command: 'run',
      listen: { host: '127.0.0.1', port: 4566 },
    });
    expect(parseCliArgs(['run'])).toMatchObject({ command: 'run', listen: undefined });
    expect(parseCliArgs(['serve', '--listen', '0.0.0.0:4566', '--allow-remote'])).toMatchObject({
      command: 'serve',
      listen: { host: '0.0.0.0', port: 4566 },
    });
    expect(parseCliArgs(['serve', '--worker-concurrency', '7'])).toMatchObject({
      command: 'serve',
      config: { workerMaxConcurrency: 7 },
    });
    expect(parseCliArgs(['help', 'serve'])).toEqual({ command: 'help', topic: 'serve' });
    expect(usage(['run', '--listen', '127.0.0.1:1', '--endpoint', 'http://127.0.0.1:4566']).message).toBe(
      '--listen and --endpoint cannot be used together: against --endpoint the run serves no endpoint of its own',
    );
    expect(usage(['serve', '--allow-remote']).message).toBe('--allow-remote needs --listen HOST:PORT');
    expect(usage(['serve', '--listen', 'nowhere']).message).toBe(
      '--listen: expected HOST:PORT with an IP address or localhost, e.g. 127.0.0.1:4566, got "nowhere"',
    );
    expect(usage(['serve', '--report', 'x.json']).message).toBe(
      'Unknown option --report for "serve" (see: bounded-fanout help serve)',
    );
  });

  it('answers help in every form', () => {
    expect(parseCliArgs(['--help'])).toEqual({ command: 'help' });
    expect(parseCliArgs(['-h'])).toEqual({ command: 'help' });
    expect(parseCliArgs(['help', 'plan'])).toEqual({ command: 'help', topic: 'plan' });
    expect(parseCliArgs(['run', '--help'])).toEqual({ command: 'help', topic: 'run' });
    expect(parseCliArgs(['--version'])).toEqual({ command: 'version' });
  });
});

describe('hostOrCidr', () => {
  it.each(['10.0.0.0/8', 'fd00::/8', '127.0.0.1', '::1', 'partner.example.com', 'localhost'])(
    'accepts %s',
    (h) => {
      expect(hostOrCidr(h)).toBe(h);
    },
  );
  it.each(['1.2.3.999', '10.0.0.0/99', '-bad.example', 'a..b', ''])('refuses %j', (h) => {
    expect(() => hostOrCidr(h)).toThrow(UsageError);
  });
});
