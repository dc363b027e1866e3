// The command line of the ledger commands (status, runs, pause, resume, cancel, limits): what each parses to,
// and every bad argument refused with one line naming the flag and the value, exit code 2, nothing contacted.
import { describe, expect, it } from 'vitest';
import { defaultConfig, withDefaults } from '../../../lib/config.js';
import { parseCliArgs } from '../../../local/cli/args.js';
import { UsageError } from '../../../local/cli/usage-error.js';
import { runCli } from './cli-process.js';

function usage(argv: string[]): UsageError {
  try {
    parseCliArgs(argv, {});
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error(`expected ${argv.join(' ')} to be refused`);
}

const base = {
  endpoint: undefined,
  region: undefined,
  prefix: defaultConfig.prefix,
  retentionDays: defaultConfig.resultsRetentionDays,
  verbose: false,
};

describe('ledger command arguments', () => {
  it('parses each command with its defaults', () => {
    expect(parseCliArgs(['status', '--job', 'j1'], {}, defaultConfig)).toEqual({
      command: 'status',
      ...base,
      format: 'text',
      job: 'j1',
      run: undefined,
      watch: false,
    });
    expect(
      parseCliArgs(
        [
          'status',
          '--job=j1',
          '--run',
          'r.2',
          '--watch',
          '--format',
          'json',
          '--endpoint',
          'http://127.0.0.1:4566/',
          '--prefix',
          'acme',
          '--region',
          'eu-west-1',
        ],
        {},
      ),
    ).toEqual({
      command: 'status',
      endpoint: 'http://127.0.0.1:4566',
      region: 'eu-west-1',
      prefix: 'acme',
      retentionDays: defaultConfig.resultsRetentionDays,
      verbose: false,
      format: 'json',
      job: 'j1',
      run: 'r.2',
      watch: true,
    });
    expect(parseCliArgs(['runs', '--job', 'j1', '--format', 'json'], {})).toMatchObject({
      command: 'runs',
      job: 'j1',
      format: 'json',
    });
    for (const command of ['pause', 'resume', 'cancel'] as const) {
      expect(parseCliArgs([command, '--job', 'j1'], {})).toEqual({
        command,
        ...base,
        format: 'text',
        job: 'j1',
        run: undefined,
      });
    }
    const deployed = withDefaults({ prefix: 'from-cdk', perInvocationConcurrency: 3 });
    expect(
      parseCliArgs(
        ['limits', '--job', 'j1', 'perInvocationConcurrency=2', 'eventSourceMaxConcurrency=2'],
        {},
        deployed,
      ),
    ).toEqual({
      command: 'limits',
      ...base,
      prefix: 'from-cdk',
      format: 'text',
      job: 'j1',
      run: undefined,
      pairs: ['perInvocationConcurrency=2', 'eventSourceMaxConcurrency=2'],
      config: deployed,
    });
  });

  it('accepts every loopback form of --endpoint', () => {
    for (const endpoint of [
      'http://127.0.0.1:4566',
      'http://localhost:4566',
      'http://[::1]:4566',
      'https://127.0.0.2',
    ]) {
      expect(parseCliArgs(['status', '--job', 'j', '--endpoint', endpoint], {})).toMatchObject({ endpoint });
    }
  });

  it('answers --help with the command page', () => {
    expect(parseCliArgs(['limits', '--help'], {})).toEqual({ command: 'help', topic: 'limits' });
    expect(parseCliArgs(['help', 'pause'], {})).toEqual({ command: 'help', topic: 'pause' });
  });

  it.each([
    [['runs'], 'runs needs --job ID'],
    [['status', '--watch'], 'status --watch needs --job ID'],
    [['pause'], 'pause needs --job ID'],
    [['resume', '--run', 'r1'], '--run needs --job ID'],
    [
      ['cancel', '--job', ''],
      '--job: expected an id of letters, digits, ".", "_" or "-" (at most 128; no ":", which separates ids in keys), got ""',
    ],
    [
      ['status', '--job', 'a/b'],
      '--job: expected an id of letters, digits, ".", "_" or "-" (at most 128; no ":", which separates ids in keys), got "a/b"',
    ],
    [
      ['status', '--job', 'j', '--run', 'r:2'],
      '--run: expected an id of letters, digits, ".", "_" or "-" (at most 128; no ":", which separates ids in keys), got "r:2"',
    ],
    [
      ['status', '--job', 'j', '--run', '-x'],
      '--run: missing value (a value starting with "-" is written --run=-VALUE)',
    ],
    [
      ['status', '--job', 'j', '--endpoint', 'http://10.0.0.1:4566'],
      '--endpoint: expected a URL on this machine (127.0.0.1, [::1] or localhost), got "http://10.0.0.1:4566"',
    ],
    [
      ['pause', '--job', 'j', '--endpoint', 'http://example.com'],
      '--endpoint: expected a URL on this machine (127.0.0.1, [::1] or localhost), got "http://example.com"',
    ],
    [
      ['runs', '--job', 'j', '--endpoint', '127.0.0.1:4566'],
      '--endpoint: expected an http:// or https:// URL, got "127.0.0.1:4566"',
    ],
    [['status', '--job', 'j', '--format', 'yaml'], '--format: expected one of text, json, got "yaml"'],
    [
      ['status', '--job', 'j', '--prefix', 'Acme'],
      '--prefix: expected 1-40 lowercase letters, digits or hyphens, got "Acme"',
    ],
    [
      ['status', '--job', 'j', '--region', 'mars'],
      '--region: expected an AWS region such as us-east-1, got "mars"',
    ],
    [
      ['pause', '--job', 'j', '--watch'],
      'Unknown option --watch for "pause" (see: bounded-fanout help pause)',
    ],
    [
      ['pause', '--job', 'j', '--format', 'json'],
      'Unknown option --format for "pause" (see: bounded-fanout help pause)',
    ],
    [['status', '--job', 'j', 'extra'], 'Unexpected argument "extra" for "status"'],
    [['limits', '--job', 'j'], 'limits needs at least one KEY=VALUE (see: bounded-fanout help limits)'],
  ])('refuses %j', (argv, message) => {
    expect(usage(argv).message).toBe(message);
  });

  it('exits 2 with one line for bad arguments and refused limits, before reaching anything', async () => {
    const bad = await runCli(['status', '--job', 'j', '--endpoint', 'http://192.168.1.1:4566']);
    expect(bad).toMatchObject({ code: 2, stdout: '' });
    expect(bad.stderr).toBe(
      'bounded-fanout: --endpoint: expected a URL on this machine (127.0.0.1, [::1] or localhost), got "http://192.168.1.1:4566"\n',
    );
    // Checked against cdk.json's config before any client is made: no endpoint needed to refuse it.
    const above = await runCli([
      'limits',
      '--job',
      'j',
      'perInvocationConcurrency=100000',
      'inlineConcurrency=0',
    ]);
    expect(above).toMatchObject({ code: 2, stdout: '' });
    expect(above.stderr).toMatch(
      /^bounded-fanout: Invalid concurrency budget \(2 problems\):\n {2}- perInvocationConcurrency: 100000 is above the deployed perInvocationConcurrency \(\d+\): an override only lowers what the budget proved at synth\n {2}- inlineConcurrency: "0" is not a whole number >= 1\n$/,
    );
    const runKey = await runCli(['limits', 'inlineConcurrency=1']);
    expect(runKey).toMatchObject({
      code: 2,
      stderr: "bounded-fanout: limits: inlineConcurrency is a run's limit: give --job ID\n",
    });
  });
});
