// Issue 17: `--downstream FILE.json` for local runs. The file (host -> limits, the shape of cdk.json's
// `downstream`) replaces the shared config's downstream for that run (run, serve, plan); a bad file is bad
// usage: one message naming the file, the host and the field, exit 2, before anything starts.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig, type FanoutConfig } from '../../../lib/config.js';
import { parseCliArgs } from '../../../local/cli/args.js';
import { planHelp, runHelp, serveHelp } from '../../../local/cli/help.js';
import { UsageError } from '../../../local/cli/usage-error.js';
import { runCli } from './cli-process.js';

let dir: string;
const files: Record<string, string> = {};

/** The shared config as cdk.json would give it, with a host of its own that the file must replace. */
const base: FanoutConfig = { ...defaultConfig, downstream: { 'cdk.example.com': { maxConcurrency: 99 } } };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-downstream-'));
  const write = async (name: string, text: string) => {
    files[name] = join(dir, name);
    await writeFile(files[name], text);
  };
  await write(
    'good.json',
    JSON.stringify({
      'partner.example.com': { maxConcurrency: 12, maxRequestsPerSecond: 50, shared: true },
      '127.0.0.1:8080': { maxConcurrency: 30, adaptive: true },
    }),
  );
  await write('not-json.json', '{"api.example.com": {maxConcurrency: 3}}');
  await write('array.json', '[{"maxConcurrency":3}]');
  await write('bad-field.json', JSON.stringify({ 'api.example.com': { maxConcurrency: 0 } }));
  await write(
    'bad-shared.json',
    JSON.stringify({ 'api.example.com': { maxConcurrency: 12, shared: 'yes' } }),
  );
  await write(
    'two-bad.json',
    JSON.stringify({ 'bad host': { maxConcurrency: 3 }, 'api.example.com': { maxConcurency: 3 } }),
  );
  await write('empty.json', '{}');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function usage(argv: string[]): UsageError {
  try {
    parseCliArgs(argv, {}, base);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error(`expected ${argv.join(' ')} to be refused`);
}

describe('--downstream FILE', () => {
  it.each(['run', 'serve', 'plan'] as const)('%s: the file replaces cdk.json downstream', (command) => {
    const args = parseCliArgs([command, '--downstream', files['good.json']], {}, base);
    if (args.command !== command) throw new Error(`parsed as ${args.command}`);
    const downstream = {
      'partner.example.com': { maxConcurrency: 12, maxRequestsPerSecond: 50, shared: true },
      '127.0.0.1:8080': { maxConcurrency: 30, adaptive: true },
    };
    expect(args.config.downstream).toEqual(downstream);
    expect(args.overrides).toEqual({ downstream });
    // Everything else stays cdk.json's.
    expect({ ...args.config, downstream: base.downstream }).toEqual(base);
  });

  it('keeps cdk.json downstream without the flag, and an empty file declares no host', () => {
    const without = parseCliArgs(['run'], {}, base);
    if (without.command !== 'run') throw new Error('not run');
    expect(without.config.downstream).toEqual(base.downstream);
    const empty = parseCliArgs(['run', '--downstream', files['empty.json']], {}, base);
    if (empty.command !== 'run') throw new Error('not run');
    expect(empty.config.downstream).toEqual({});
  });

  it('refuses a missing file, naming it', () => {
    const missing = join(dir, 'missing.json');
    expect(usage(['run', '--downstream', missing]).message).toBe(`--downstream ${missing}: no such file`);
  });

  it('refuses a file that is not JSON, naming it', () => {
    expect(usage(['serve', '--downstream', files['not-json.json']]).message).toMatch(
      new RegExp(`^--downstream ${files['not-json.json']}: not valid JSON \\(.+\\)$`),
    );
  });

  it('refuses a file that is not an object of hosts', () => {
    expect(usage(['run', '--downstream', files['array.json']]).message).toBe(
      `--downstream ${files['array.json']}: expected an object of host names to limits, as cdk.json's "downstream" (e.g. {"api.example.com":{"maxConcurrency":8}}), got [{"maxConcurrency":3}]`,
    );
  });

  it('refuses a bad value, naming the file, the host, the field and the value', () => {
    expect(usage(['run', '--downstream', files['bad-field.json']]).message).toBe(
      `--downstream ${files['bad-field.json']}: downstream["api.example.com"].maxConcurrency: 0 is below 1`,
    );
    expect(usage(['plan', '--downstream', files['bad-shared.json']]).message).toBe(
      `--downstream ${files['bad-shared.json']}: downstream["api.example.com"].shared: "yes" is not a boolean`,
    );
  });

  it('lists every problem of the file in one message', () => {
    expect(usage(['serve', '--downstream', files['two-bad.json']]).message).toBe(
      `--downstream ${files['two-bad.json']}: downstream["bad host"]: "bad host" is not a host name (host or host:port); downstream["api.example.com"]: {"maxConcurency":3} has unknown field maxConcurency`,
    );
  });

  it('refuses an empty value and --downstream with --endpoint (the serve sends the requests)', () => {
    expect(usage(['run', '--downstream', '']).message).toBe(
      '--downstream: expected a non-empty value, got ""',
    );
    expect(
      usage(['run', '--downstream', files['good.json'], '--endpoint', 'http://127.0.0.1:4566']).message,
    ).toBe(
      '--downstream and --endpoint cannot be used together: give --downstream to the serve, whose functions send the requests',
    );
  });

  it('is in the help of run, serve and plan', () => {
    for (const help of [runHelp, serveHelp, planHelp]) {
      expect(help).toContain(
        "--downstream FILE.json          the hosts' limits for this run, replacing cdk.json's",
      );
    }
  });

  it('exits 2 with the one line through the real CLI', async () => {
    const result = await runCli(['run', '--downstream', files['bad-shared.json']]);
    expect(result.stderr).toBe(
      `bounded-fanout: --downstream ${files['bad-shared.json']}: downstream["api.example.com"].shared: "yes" is not a boolean\n`,
    );
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
  });

  it('plan prints the file limits: a shared cap of 12 under 15 processes accepted', async () => {
    const result = await runCli(['plan', '--downstream', files['good.json'], '--tasks', '1000']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      '    at once: at most its cap, 12 (+0 in expiry races while wall clocks agree within 1 s',
    );
    expect(result.stdout).not.toContain('cdk.example.com');
    expect(result.stdout).not.toContain('Problems (validateBudget refuses this config)');
  });
});
