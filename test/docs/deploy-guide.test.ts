// docs/deploy.md's "Try it locally", walked as written: the three blocks marked `<!-- walked: terminal N -->`
// are read from the page and run (terminal 1's partner and terminal 3's steps by bash, terminal 2's serve
// through the CLI), with free ports in place of 8080 and 4566, and nothing else changed. Each command of
// terminal 3 is checked: its exit code, and what its comment in the guide says it prints. A command edited in
// the guide is run as edited; an expectation whose command is no longer in the guide fails the test.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { binPath, type CliRun, repoRoot, startCli } from '../local/cli/cli-process.js';

const guide = await readFile(join(repoRoot, 'docs/deploy.md'), 'utf8');

/** The body of the ```sh block that follows `<!-- walked: NAME -->`. */
function walkedBlock(name: string): string {
  const match = new RegExp(`<!-- walked: ${name} -->\\n\`\`\`sh\\n([\\s\\S]*?)\\n\`\`\``).exec(guide);
  if (!match?.[1]) throw new Error(`docs/deploy.md has no block marked <!-- walked: ${name} -->`);
  return match[1];
}

/** The block's commands: comment lines dropped, `\` continuations and `{ ... }` groups joined. */
function commandsOf(block: string): string[] {
  const commands: string[] = [];
  let current = '';
  for (const line of block.split('\n')) {
    if (current === '' && (line.trim() === '' || line.trim().startsWith('#'))) continue;
    current += (current ? '\n' : '') + line;
    const open = current.startsWith('{ ') && !/^\}/m.test(current);
    if (!line.endsWith('\\') && !open) {
      commands.push(current);
      current = '';
    }
  }
  return commands;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/ping/0' }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

interface Step {
  readonly command: string;
  readonly code: number;
  readonly output: string;
}

/** Runs the commands in one bash, in `cwd`, and splits what they print by command, with each exit code. */
async function walk(commands: readonly string[], cwd: string): Promise<Step[]> {
  const script = commands.map((c, i) => `${c}\nprintf '\\n@@step ${i} %d\\n' $?`).join('\n');
  const child = spawn('bash', ['-c', script], {
    cwd,
    env: { ...process.env, NO_COLOR: '1' },
    detached: true,
  });
  // A step that waits forever (the redrive loop, if the tasks never run again) ends the walk, not the suite.
  const limit = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 180_000);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  await new Promise((resolve) => child.on('close', resolve));
  clearTimeout(limit);
  const steps: Step[] = [];
  let rest = out;
  for (const [i, command] of commands.entries()) {
    const marker = new RegExp(`\\n@@step ${i} (\\d+)\\n`).exec(rest);
    if (!marker) throw new Error(`the walk stopped before step ${i} (${command}):\n${out}`);
    steps.push({ command, code: Number(marker[1]), output: rest.slice(0, marker.index) });
    rest = rest.slice(marker.index + marker[0].length);
  }
  return steps;
}

/** The step's exit code, and each pattern in what it printed (the output in the message when it fails). */
function expectOutput(step: Step, code: number, ...patterns: RegExp[]): void {
  expect(step.code, `${step.command}\n${step.output}`).toBe(code);
  for (const pattern of patterns) expect(step.output, step.command).toMatch(pattern);
}

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('docs/deploy.md, Try it locally', () => {
  it('runs as written against a local serve: smoke, start a run, read it, report, redrive', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bf-guide-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    // `npm run -s cli` as in the clone, from a directory of the test's own (the walk writes files and ./broken).
    await writeFile(
      join(dir, 'package.json'),
      JSON.stringify({ private: true, scripts: { cli: `node ${JSON.stringify(binPath)}` } }),
    );
    const partnerPort = await freePort();
    const ports = (text: string) => text.replace(/\b8080\b/g, String(partnerPort));

    const partner = spawn('bash', ['-c', ports(walkedBlock('terminal 1'))], { cwd: dir, detached: true });
    cleanups.push(() => partner.pid && process.kill(-partner.pid, 'SIGKILL'));
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      up = await answers(partnerPort);
      if (!up) await new Promise((r) => setTimeout(r, 100));
    }
    expect(up, `terminal 1's partner answers on ${partnerPort}`).toBe(true);
    expect(existsSync(join(dir, 'broken'))).toBe(true);

    const serveLine = commandsOf(walkedBlock('terminal 2'));
    expect(serveLine).toHaveLength(1);
    const serveArgs = ports(serveLine[0] ?? '')
      .replace(/^npm run -s cli -- /, '')
      .split(' ');
    const serve: CliRun = startCli([...serveArgs, '--listen', '127.0.0.1:0']);
    cleanups.push(async () => {
      if (serve.child.exitCode === null) serve.child.kill('SIGINT');
      await serve.done;
    });
    await serve.waitFor(/Ctrl-C stops/);
    const endpoint = /^\[bounded-fanout\] endpoint: (http:\/\/127\.0\.0\.1:\d+)$/m.exec(
      serve.output().stdout,
    )?.[1];
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    // The default endpoint alone, not the start of a partner port that begins 4566 (a port 45667 became 465257).
    const block = ports(walkedBlock('terminal 3')).replace(
      /http:\/\/127\.0\.0\.1:4566(?!\d)/g,
      endpoint ?? '',
    );
    const steps = await walk(commandsOf(block), dir);
    const step = (start: string): Step => {
      const found = steps.filter((s) => s.command.startsWith(start));
      expect(
        found.map((s) => s.command),
        `one command starting ${start}`,
      ).toHaveLength(1);
      return found[0] as Step;
    };
    let reportStep = false;
    const counts = (submitted: number, succeeded: number, deadLettered: number) =>
      new RegExp(`submitted +${submitted}\\n +succeeded +${succeeded}\\n +dead-lettered +${deadLettered}\\n`);
    const expectations = new Map<string, (s: Step) => void>([
      ['bf smoke', (s) => expectOutput(s, 0, /\nsmoke: passed: 5 of 5 tasks succeeded\n/)],
      ['aws --endpoint-url $E lambda invoke', (s) => expectOutput(s, 0, /"StatusCode": 202/)],
      ['bf status --job try --watch', (s) => expectOutput(s, 1, /of job try: partial\n/, counts(11, 8, 3))],
      ['bf runs --job try', (s) => expectOutput(s, 0, /partial .* 11 +8 +3 +0 +0\n/)],
      [
        'aws --endpoint-url $E s3 cp "$RESULT" -',
        (s) => {
          expectOutput(s, 0);
          const lines = s.output
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l));
          expect(lines[0]).toMatchObject({ type: 'summary', submitted: 11, succeeded: 8, deadLettered: 3 });
          expect(lines.slice(1).map((l) => [l.type, l.task.id, l.status, l.error])).toEqual(
            [1, 2, 3].map((i) => [
              'dead-letter',
              `order-${i}`,
              404,
              `BF_HTTP_STATUS: Unexpected status 404 from task order-${i}`,
            ]),
          );
        },
      ],
      [
        'bf report --job try',
        (s) => {
          expectOutput(s, 1, /^report: run\.json\n$/);
          reportStep = true;
        },
      ],
      [
        'aws --endpoint-url $E sqs receive-message',
        (s) => expectOutput(s, 0, /"kind":"dead-letter","jobId":"try"/),
      ],
      [
        'bf redrive',
        (s) =>
          expectOutput(
            s,
            0,
            /^Moved 1 message from bounded-fanout-work-dlq to bounded-fanout-work \(receive-and-resend\)\.\n$/,
          ),
      ],
      [
        'bf status --job try --endpoint $E ',
        (s) => expectOutput(s, 0, /of job try: partial\n/, counts(11, 11, 0)),
      ],
    ]);
    for (const s of steps) {
      const check = [...expectations].find(([start]) => s.command.startsWith(start))?.[1];
      if (check) check(s);
      else expectOutput(s, 0);
    }
    for (const start of expectations.keys()) step(start);
    expect(reportStep).toBe(true);
    const report = JSON.parse(await readFile(join(dir, 'run.json'), 'utf8'));
    expect(report).toMatchObject({
      jobId: 'try',
      status: 'partial',
      submitted: 11,
      succeeded: 8,
      deadLettered: 3,
    });
  }, 240_000);
});
