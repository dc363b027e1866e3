// The layout's import rules are the linter's (biome.json, run by `npm test`'s lint step, issue 15): lib imports
// nothing above it, only lib/aws speaks to AWS, the primitives load no AWS SDK, undici or zod, and bench
// imports nothing from test. This runs the project's biome.json on a scratch tree of one-line files, each
// breaking or keeping one rule, so a config edit or a biome upgrade that quietly stops a rule shows here.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../local/cli/cli-process.js';

const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), 'bf-import-rules-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const ABOVE = 'lib/ imports nothing above it';
const AWS = 'Only lib/aws/ speaks to AWS';
const PRIMITIVES = "The primitives (the package's main entry) load no AWS SDK, undici or zod.";
const BENCH = 'bench/ imports nothing from test/';

/** File -> the one module it imports -> the rule it breaks (undefined: allowed). */
const cases: readonly [file: string, imports: string, breaks: string | undefined][] = [
  ['lib/semaphore.ts', 'zod', PRIMITIVES],
  ['lib/queue-waiters.ts', 'undici', PRIMITIVES],
  ['lib/run-bounded.ts', '@aws-sdk/client-sqs', PRIMITIVES],
  ['lib/http/agents.ts', 'undici', undefined],
  ['lib/manifest/schema.ts', 'zod', undefined],
  ['lib/http/clients.ts', '@aws-sdk/client-s3', AWS],
  ['lib/fanout/powertools.ts', '@aws-lambda-powertools/logger', AWS],
  ['lib/aws/clients.ts', '@aws-sdk/client-s3', undefined],
  ['lib/fanout/segment.ts', '../../functions/worker.js', ABOVE],
  ['lib/aws/enqueue.ts', '../../local/poller.js', ABOVE],
  ['lib/config.ts', '../cdk/stack.js', ABOVE],
  ['bench/run.ts', '../test/helpers/server.js', BENCH],
  ['bench/servers/tally.ts', '../../lib/semaphore.js', undefined],
  ['functions/orchestrator-ports.ts', '@aws-sdk/client-lambda', undefined],
];

async function lint(): Promise<{ path: string; message: string }[]> {
  copyFileSync(join(repoRoot, 'biome.json'), join(scratch, 'biome.json'));
  for (const [file, spec] of cases) {
    mkdirSync(dirname(join(scratch, file)), { recursive: true });
    writeFileSync(join(scratch, file), `import { x } from '${spec}';\n\nexport const y = x;\n`);
  }
  const biome = join(repoRoot, 'node_modules/.bin/biome');
  const result = await run(biome, ['lint', '--vcs-enabled=false', '--reporter=json', '.'], {
    cwd: scratch,
  }).catch((error: { stdout: string }) => error);
  const report = JSON.parse(result.stdout) as {
    diagnostics: { category: string; message: string; location: { path: string } }[];
  };
  return report.diagnostics
    .filter((d) => d.category === 'lint/style/noRestrictedImports')
    .map((d) => ({ path: d.location.path, message: d.message }));
}

describe("the linter's import rules", () => {
  it('refuse each import the layout forbids, with its rule, and no other', async () => {
    const found = await lint();
    const broken = cases.filter(([, , rule]) => rule !== undefined);
    expect(found.map((d) => d.path).sort()).toEqual(broken.map(([file]) => file).sort());
    for (const [file, , rule] of broken) {
      expect(found.find((d) => d.path === file)?.message, file).toContain(rule);
    }
  }, 30_000);
});
