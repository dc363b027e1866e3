// `bounded-fanout smoke` end to end against a real `serve` (child processes, the runtime's one endpoint) and a
// loopback target: every task succeeding exits 0 with each task called once; a target answering 500 exits 1;
// bad flags exit 2 naming the flag; the help lists the command.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../../bench/servers/counting-server.js';
import { type CliRun, runCli, startCli } from './cli-process.js';

let dir: string;
let server: CountingServer;
let serve: CliRun;
let endpoint: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-smoke-'));
  server = await startCountingServer();
  const port = new URL(server.url).port;
  // One receive per message: a failed queue task is dead-lettered at once instead of after a visibility timeout.
  serve = startCli([
    'serve',
    '--listen',
    '127.0.0.1:0',
    '--allow-host',
    `127.0.0.1:${port}`,
    '--max-receive-count',
    '1',
  ]);
  await serve.waitFor(/Ctrl-C stops/);
  endpoint =
    /^\[bounded-fanout\] endpoint: (http:\/\/127\.0\.0\.1:\d+)$/m.exec(serve.output().stdout)?.[1] ?? '';
  if (!endpoint) throw new Error(`no endpoint printed: ${serve.output().stdout}`);
});

afterAll(async () => {
  if (serve && serve.child.exitCode === null) {
    serve.child.kill('SIGINT');
    await serve.done;
  }
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('bounded-fanout smoke', () => {
  it('runs the tasks through the stack, calls each once, writes the report and exits 0', async () => {
    const report = join(dir, 'smoke.json');
    const result = await runCli([
      'smoke',
      '--endpoint',
      endpoint,
      '--url',
      `${server.url}/ok`,
      '--tasks',
      '4',
      '--report',
      report,
    ]);
    expect(result.stderr).toMatch(
      /^\[bounded-fanout\] smoke: job smoke-\S+, 4 tasks to http:\/\/127\.0\.0\.1:\d+\/ok\n/,
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('smoke: passed: 4 of 4 tasks succeeded\n');
    const calls = server.requests.filter((r) => r.path.startsWith('/ok?task='));
    expect(calls.map((r) => r.path).sort()).toEqual([1, 2, 3, 4].map((i) => `/ok?task=smoke-${i}`));
    const written = JSON.parse(await readFile(report, 'utf8'));
    expect(written).toMatchObject({
      passed: true,
      tasks: 4,
      record: { status: 'succeeded', submitted: 4, succeeded: 4, deadLettered: 0, invalid: 0 },
    });
  });

  it('exits 1 when the target answers 500, with the failed count printed', async () => {
    server.script((req) => (req.path.startsWith('/down') ? { status: 500 } : undefined));
    try {
      const result = await runCli([
        'smoke',
        '--endpoint',
        endpoint,
        '--url',
        `${server.url}/down`,
        '--tasks',
        '2',
        '--format',
        'json',
      ]);
      expect(result.code).toBe(1);
      const out = JSON.parse(result.stdout);
      expect(out).toMatchObject({ passed: false, tasks: 2, record: { submitted: 2, succeeded: 0 } });
      expect(out.record.status).not.toBe('succeeded');
    } finally {
      server.script(undefined);
    }
  });

  it('refuses bad flags with exit 2, naming the flag', async () => {
    const cases: Array<[string[], string]> = [
      [
        ['smoke', '--endpoint', 'http://127.0.0.1:9'],
        'bounded-fanout: smoke needs --url URL (the http or https address its tasks call)\n',
      ],
      [
        ['smoke', '--url', 'ftp://127.0.0.1/x'],
        'bounded-fanout: --url: expected an http or https URL, e.g. https://api.example.com/health, got "ftp://127.0.0.1/x"\n',
      ],
      [
        ['smoke', '--url', 'http://127.0.0.1:9/', '--tasks', '0'],
        'bounded-fanout: --tasks: expected an integer >= 1, got "0"\n',
      ],
      [
        ['smoke', '--url', 'http://127.0.0.1:9/', '--tasks', '101'],
        'bounded-fanout: --tasks: expected an integer from 1 to 100: a smoke test, not a load test, got "101"\n',
      ],
      [
        ['smoke', '--url', 'http://127.0.0.1:9/', '--report', 'out.html'],
        'bounded-fanout: --report: expected a file name ending in .json, got "out.html"\n',
      ],
      [
        ['smoke', '--url', 'http://127.0.0.1:9/', '--bogus'],
        'bounded-fanout: Unknown option --bogus for "smoke" (see: bounded-fanout help smoke)\n',
      ],
    ];
    for (const [argv, stderr] of cases) {
      const result = await runCli(argv);
      expect({ argv, code: result.code, stderr: result.stderr }).toEqual({ argv, code: 2, stderr });
    }
  });

  it('is listed in the help, with a page of its own', async () => {
    const main = await runCli(['help']);
    expect(main.stdout).toContain(
      '  bounded-fanout smoke --url URL [--endpoint URL] [--tasks N] [--report FILE.json]\n',
    );
    const page = await runCli(['help', 'smoke']);
    expect(page.code).toBe(0);
    expect(page.stdout).toMatch(/^bounded-fanout smoke --url URL/);
  });
});
