// Issue 14, "How to test" for secrets: a property over random secret values and placements (headers named like
// secrets, secret-named default headers, query parameters named like secrets and X-Amz-*, URL userinfo, bodies
// of failing POSTs, invalid manifest lines, values of secret references resolved from the serve's --secrets),
// each run a real `bounded-fanout serve --secrets FILE` and a real `run --endpoint` against it (subprocesses),
// every task failing at a loopback server. It greps every output: the run's stdout (--format json), its stderr
// with --verbose (the functions' log lines and EMF metrics), the JSON and HTML reports, the serve's own output,
// the S3 result object and its parts, and the dead-letter messages' error texts: zero hits. Only the work-queue
// and dead-letter messages' tasks, and the uploaded manifest, may hold a value (they are the tasks).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RunReport } from '../../../local/report/types.js';
import { runCli } from './cli-process.js';
import { loopbackRunFlags, prefixOf, useRunFixture, withServe } from './run-fixture.js';
import { buildJob, MARKER, type Placed, placement, secretValue } from './secret-placements.js';
import { deadLetterTexts, resultObjects } from './serve-outputs.js';

// Every task fails for good: its dead letter, its error and its task reach every output.
const fx = useRunFixture('secrets-property', (r) => ({ status: r.method === 'GET' ? 401 : 500 }));

let runs = 0;

// Each property run is a serve and a run (two stacks, about 15-20 s under the full suite): 4 runs of 6 to 14
// placements put as many placements through as 6 runs of 4 to 9 did, in two thirds of the time.
const PROPERTY_RUNS = Number(process.env.BF_PROPERTY_RUNS ?? 4);

describe('no secret value in any output of a run, wherever the manifest puts it', () => {
  it('greps stdout, stderr, both reports, the result object and its parts, the dead letters: zero hits', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ place: placement, value: secretValue }), { minLength: 6, maxLength: 14 }),
        async (placed: Placed[]) => {
          const n = ++runs;
          const job = buildJob(n, fx.server.url, fx.server.port, placed);
          const manifest = join(fx.dir, `prop${n}.ndjson`);
          await writeFile(manifest, `${job.lines.join('\n')}\n`);
          const secretsFile = join(fx.dir, `secrets${n}.json`);
          await writeFile(secretsFile, JSON.stringify({ 'bounded-fanout/unused': 'x', ...job.secrets }));
          const json = join(fx.dir, `prop${n}.json`);
          const html = join(fx.dir, `prop${n}.html`);
          const before = fx.server.requests.length;

          const serveArgs = ['--secrets', secretsFile, '--verbose'];
          const { result, serve } = await withServe(serveArgs, async (endpoint) => {
            const run = await runCli([
              'run',
              '--endpoint',
              endpoint,
              '--manifest',
              manifest,
              '--report',
              json,
              '--report',
              html,
              ...loopbackRunFlags(fx.server),
              '--verbose',
            ]);
            const prefix = prefixOf(run);
            return {
              run,
              objects: await resultObjects(endpoint, `${prefix}-data`),
              deadLetters: await deadLetterTexts(endpoint, `${prefix}-work-dlq`),
            };
          });
          const { run, objects, deadLetters } = result;

          // The run was real: every valid task failed at the server, carrying its secret there.
          expect(run.code, run.stderr).toBe(1);
          const report = JSON.parse(await readFile(json, 'utf8')) as RunReport;
          expect(report).toMatchObject({
            submitted: placed.length,
            succeeded: 0,
            deadLettered: job.sent.length,
            invalid: job.invalid,
          });
          const requests = fx.server.requests.slice(before);
          for (const e of job.expected) {
            const got = requests.filter((r) =>
              e.header ? r.headers[e.header] === e.value : `${r.method} ${r.path}`.includes(e.value),
            );
            expect(got.length, `${e.id} ${e.header ?? ''} ${e.value}`).toBeGreaterThan(0);
          }
          // The greps below read what they must: the result object and its parts, EMF lines, the dead letters.
          expect(Object.keys(objects).filter((k) => k.includes('/part-')).length).toBeGreaterThan(0);
          expect(run.stderr).toContain('"_aws":');
          const deadItems = deadLetters.flatMap(
            (text) => (JSON.parse(text).tasks ?? []) as { error: string }[],
          );
          expect(deadItems.length).toBe(job.sent.length);
          for (const item of deadItems)
            expect(item.error).toMatch(/^BF_HTTP_STATUS: Unexpected status (401|500) from task p\d+$/);

          const outputs: Record<string, string> = {
            stdout: run.stdout,
            stderr: run.stderr,
            'report JSON': await readFile(json, 'utf8'),
            'report HTML': await readFile(html, 'utf8'),
            'serve stdout': serve.stdout,
            'serve stderr': serve.stderr,
            'dead-letter texts': deadLetters.join('\n'),
            ...objects,
          };
          const hits = Object.entries(outputs).flatMap(([where, text]) =>
            placed
              .filter(({ value }) => text.includes(value))
              .map(({ place, value }) => `${value} (${JSON.stringify(place)}) in ${where}`),
          );
          expect(hits).toEqual([]);
          // No stray part of a value either: the marker appears nowhere (every value starts with it).
          const stray = Object.entries(outputs).filter(([, text]) => text.includes(MARKER));
          expect(stray.map(([where]) => where)).toEqual([]);
        },
      ),
      { numRuns: PROPERTY_RUNS, endOnFailure: true },
    );
  }, 600_000);
});
