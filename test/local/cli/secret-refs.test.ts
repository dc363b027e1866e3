// Issue 14 item 2 through the CLI (a real subprocess on the local runtime): header references resolved from
// `--secrets FILE` by the functions' real Powertools + SDK path against the local endpoint, and from the
// environment for `{ "env": NAME }`. A property over random secret values and placements (header named like
// a secret or not, each source, each mode): the loopback server receives every value, a reference that does
// not resolve is dead-lettered naming it, and no value appears in any output: stdout and stderr with
// --verbose (the functions' log lines), the JSON and HTML reports, the tasks file.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RunReport } from '../../../local/report/types.js';
import { runCli } from './cli-process.js';
import { loopbackRunFlags, useRunFixture, writeManifest } from './run-fixture.js';

// Tasks under /fail/ fail for good (401): their dead letters and errors reach every report.
const fx = useRunFixture('secret-refs', (r) => (r.path.startsWith('/fail/') ? { status: 401 } : undefined));

const ARN = (name: string) => `arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}`;
const SOURCES = ['secret', 'json', 'ssm', 'env'] as const;
const MODES = ['inline', 'queue', 'invoke'] as const;
const HEADERS = ['authorization', 'x-partner', 'x-request-source'] as const;

/** Header-safe characters that no output escapes (JSON, HTML), so a plain search finds any copy. */
const secretValue = fc.stringMatching(/^[A-Za-z0-9._~+/=-]{12,40}$/);
const placement = fc.record({
  value: secretValue,
  source: fc.constantFrom(...SOURCES),
  mode: fc.constantFrom(...MODES),
  header: fc.constantFrom(...HEADERS),
  fails: fc.boolean(),
});

let run = 0;

describe('secret references in a CLI run', () => {
  it('sends each resolved value, dead-letters a missing one by name, and prints no value anywhere', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(placement, { minLength: 3, maxLength: 5, selector: (p) => p.value }),
        async (places) => {
          const n = ++run;
          const secrets: Record<string, string> = {};
          const env: Record<string, string> = {};
          const tasks = places.map((p, i) => {
            const name = `bounded-fanout/r${n}-${i}`;
            let ref: Record<string, string>;
            if (p.source === 'secret') {
              secrets[name] = p.value;
              ref = { secret: ARN(name) };
            } else if (p.source === 'json') {
              secrets[name] = JSON.stringify({ token: p.value, other: 'not-secret' });
              ref = { secret: ARN(name), jsonKey: 'token' };
            } else if (p.source === 'ssm') {
              secrets[`/${name}`] = p.value;
              ref = { ssm: `/${name}` };
            } else {
              env[`BF_TEST_SECRET_${n}_${i}`] = p.value;
              ref = { env: `BF_TEST_SECRET_${n}_${i}` };
            }
            const path = `/${p.fails ? 'fail' : 'ok'}/r${n}-${i}`;
            return {
              id: `t${i}`,
              url: `${fx.server.url}${path}`,
              mode: p.mode,
              headers: { [p.header]: ref },
            };
          });
          const missing = ARN(`bounded-fanout/r${n}-missing`);
          tasks.push({
            id: 'missing',
            url: `${fx.server.url}/ok/r${n}-missing`,
            mode: 'queue',
            headers: { 'x-partner': { secret: missing } },
          });
          const manifest = await writeManifest(join(fx.dir, `refs${n}.ndjson`), [
            { jobId: `refs${n}` },
            ...tasks,
          ]);
          const secretsFile = join(fx.dir, `secrets${n}.json`);
          await writeFile(secretsFile, JSON.stringify(secrets));
          const json = join(fx.dir, `refs${n}.json`);
          const html = join(fx.dir, `refs${n}.html`);
          const result = await runCli(
            [
              'run',
              '--manifest',
              manifest,
              '--secrets',
              secretsFile,
              '--report',
              json,
              '--report',
              html,
              ...loopbackRunFlags(fx.server),
              '--verbose',
            ],
            env,
          );
          expect(result.code, result.stderr).toBe(1);
          const report = JSON.parse(await readFile(json, 'utf8')) as RunReport;
          const failing = places.filter((p) => p.fails).length;
          expect(report).toMatchObject({
            submitted: places.length + 1,
            succeeded: places.length - failing,
            deadLettered: failing + 1,
            invalid: 0,
          });
          // The requests were real: each value arrived in its header.
          places.forEach((p, i) => {
            const path = `/${p.fails ? 'fail' : 'ok'}/r${n}-${i}`;
            const got = fx.server.requests.filter((r) => r.path === path).map((r) => r.headers[p.header]);
            expect(got, path).toEqual([p.value]);
          });
          expect(fx.server.requests.filter((r) => r.path === `/ok/r${n}-missing`)).toEqual([]);
          const dead = report.deadLetteredTasks.find((t) => t.id === 'missing');
          expect(dead?.error).toBe(
            `BF_SECRET_UNAVAILABLE: headers.x-partner: secret ${missing} could not be read (ResourceNotFoundException)`,
          );
          expect((dead?.task as { headers?: unknown } | undefined)?.headers).toEqual({
            'x-partner': { secret: missing },
          });

          const outputs: Record<string, string> = {
            stdout: result.stdout,
            stderr: result.stderr,
            'report JSON': await readFile(json, 'utf8'),
            'report HTML': await readFile(html, 'utf8'),
          };
          const tasksFile = join(fx.dir, `refs${n}.tasks.ndjson`);
          if (existsSync(tasksFile)) outputs['tasks file'] = await readFile(tasksFile, 'utf8');
          const hits = Object.entries(outputs).flatMap(([where, text]) =>
            places
              .filter((p) => text.includes(p.value))
              .map((p) => `${p.value} (${p.source}, ${p.header}) in ${where}`),
          );
          expect(hits).toEqual([]);
        },
      ),
      { numRuns: 3, endOnFailure: true },
    );
  }, 300_000);

  it('refuses a --secrets file that is not an object of strings, naming the entry and not its value (exit 2)', async () => {
    const file = join(fx.dir, 'bad-secrets.json');
    await writeFile(file, JSON.stringify({ 'bounded-fanout/a': { token: 'nested-s3cret' } }));
    const result = await runCli(['run', '--secrets', file, '--demo-tasks', '1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `--secrets ${file}: the value of "bounded-fanout/a" is not a string (a JSON secret is written as one string)`,
    );
    expect(result.stderr + result.stdout).not.toContain('nested-s3cret');
  }, 60_000);
});
