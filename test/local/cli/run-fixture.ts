// What the CLI tests that drive a whole run share (secret-refs, secrets-property, report-command): a scratch
// folder and a loopback counting server for the file, a real `serve` in a child process and its endpoint, a
// manifest written as NDJSON, the flags of a run against the loopback server, and the prefix `run --endpoint`
// names its resources with.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import {
  type CountingServer,
  type Script,
  startCountingServer,
} from '../../../bench/servers/counting-server.js';
import { type CliResult, type CliRun, startCli } from './cli-process.js';

export interface RunFixture {
  /** The scratch folder, removed after the file's tests. */
  readonly dir: string;
  /** The loopback server the tasks go to, answering by `script`. */
  readonly server: CountingServer;
}

/** Registers the file's beforeAll and afterAll; the fields are set once beforeAll has run. */
export function useRunFixture(name: string, script: Script): RunFixture {
  const fixture = {} as { dir: string; server: CountingServer };
  beforeAll(async () => {
    fixture.dir = await mkdtemp(join(tmpdir(), `bf-${name}-`));
    fixture.server = await startCountingServer({ script });
  });
  afterAll(async () => {
    await fixture.server?.close();
    if (fixture.dir) await rm(fixture.dir, { recursive: true, force: true });
  });
  return fixture;
}

export interface Serve {
  readonly cli: CliRun;
  /** `http://127.0.0.1:<port>`, as the serve printed it. */
  readonly endpoint: string;
}

/** A `bounded-fanout serve` on a free port, once it is ready; throws when it printed no endpoint. */
export async function startServe(args: readonly string[] = []): Promise<Serve> {
  const cli = startCli(['serve', '--listen', '127.0.0.1:0', ...args]);
  await cli.waitFor(/Ctrl-C stops/);
  const endpoint = /^\[bounded-fanout\] endpoint: (http:\/\/127\.0\.0\.1:\d+)$/m.exec(
    cli.output().stdout,
  )?.[1];
  if (!endpoint) throw new Error(`no endpoint printed: ${cli.output().stdout}`);
  return { cli, endpoint };
}

/** A serve with `args` until `body` is done, then stopped (Ctrl-C); its own output comes with body's result. */
export async function withServe<T>(args: readonly string[], body: (endpoint: string) => Promise<T>) {
  const { cli, endpoint } = await startServe(args);
  try {
    return { result: await body(endpoint), serve: cli.output() };
  } finally {
    cli.child.kill('SIGINT');
    await cli.done;
  }
}

/** Writes `lines` (a header and tasks) as an NDJSON manifest. */
export async function writeManifest(file: string, lines: readonly unknown[]): Promise<string> {
  await writeFile(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  return file;
}

/** A run's flags for tasks at the loopback server: that host allowed, one receive (a failure dead-letters at once), the JSON summary. */
export const loopbackRunFlags = (server: CountingServer): string[] => [
  '--allow-host',
  `127.0.0.1:${server.port}`,
  '--max-receive-count',
  '1',
  '--format',
  'json',
];

/** The prefix of the resources `run --endpoint` made of its own on a serve (it says so on stderr). */
export function prefixOf(run: CliResult): string {
  const prefix = /resources of its own there, prefix "([^"]+)"/.exec(run.stderr)?.[1];
  if (!prefix) throw new Error(`no prefix printed:\n${run.stderr}`);
  return prefix;
}
