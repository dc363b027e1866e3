// The linter's rule that the primitives load no AWS SDK, undici or zod (biome.json, issue 15) names its files
// one by one: it holds only if that list is every file the package's main entry reaches. A primitive split
// into a new file that the list forgets could import zod with the linter silent (test/package.test.ts would
// see it only after a build), so the list is checked against the import graph of lib/index.ts.
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../local/cli/cli-process.js';
import { relativeSpecifiers } from './import-graph.js';

interface Override {
  readonly includes?: readonly string[];
  readonly linter?: {
    rules?: { style?: { noRestrictedImports?: { options?: { patterns?: { group: string[] }[] } } } };
  };
}

/** Repository-relative .ts files reached from `entry` through relative imports and re-exports. */
function reachedFrom(entry: string): string[] {
  const seen = new Set<string>();
  const pending = [join(repoRoot, entry)];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of relativeSpecifiers(readFileSync(file, 'utf8'))) {
      pending.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
    }
  }
  return [...seen].map((f) => relative(repoRoot, f)).sort();
}

const biome = JSON.parse(readFileSync(join(repoRoot, 'biome.json'), 'utf8')) as { overrides: Override[] };
const primitivesRule = biome.overrides.filter((o) =>
  o.linter?.rules?.style?.noRestrictedImports?.options?.patterns?.some((p) => p.group.includes('zod')),
);

describe("the linter's primitives rule", () => {
  it('covers exactly the files the main entry reaches', () => {
    expect(primitivesRule).toHaveLength(1);
    expect([...(primitivesRule[0].includes ?? [])].sort()).toEqual(reachedFrom('lib/index.ts'));
  });

  it('reads the graph it checks: the main entry reaches the primitives and stops at them', () => {
    const reached = reachedFrom('lib/index.ts');
    expect(reached).toContain('lib/semaphore.ts');
    expect(reached).toContain('lib/queue-waiters.ts');
    expect(reached.some((f) => f.startsWith('lib/http/') || f.startsWith('lib/aws/'))).toBe(false);
  });
});
