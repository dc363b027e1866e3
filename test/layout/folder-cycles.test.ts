// lib/'s folders form layers: a folder may import the folders below it, never one that imports it back
// (issue 15: manifest <-> fanout through sqs-limits, downstream <-> budget through host-limits). The graph is
// read from the source's import specifiers; the top-level files of lib/ count as one folder, `.`.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../local/cli/cli-process.js';
import { cycleEvidence, folderCycles, folderGraph } from './import-graph.js';

const scratch = mkdtempSync(join(tmpdir(), 'bf-layout-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(scratch, 'lib-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), text);
  }
  return root;
}

describe('folder cycles in lib/', () => {
  it('none: every folder imports only folders that do not import it back', () => {
    const edges = folderGraph(join(repoRoot, 'lib'));
    const cycles = folderCycles(edges);
    expect(cycles.map((c) => ({ cycle: c, imports: cycleEvidence(edges, c) }))).toEqual([]);
  });

  it('reads the graph it checks: lib/ has folders that import each other one way', () => {
    const edges = folderGraph(join(repoRoot, 'lib'));
    expect(edges.get('fanout')?.has('manifest')).toBe(true);
    expect(edges.get('budget')?.has('downstream')).toBe(true);
  });

  it('finds a two-folder cycle, with the imports that make it', () => {
    const root = tree({
      'a/x.ts': "import { y } from '../b/y.js';\nexport const x = y;\n",
      'b/y.ts': "export { z as y } from '../a/z.js';\n",
      'a/z.ts': 'export const z = 1;\n',
      'c/w.ts': "import type { x } from '../a/x.js';\n",
    });
    const edges = folderGraph(root);
    expect(folderCycles(edges)).toEqual([['a', 'b']]);
    expect(cycleEvidence(edges, ['a', 'b'])).toEqual([
      'a -> b: a/x.ts imports ../b/y.js',
      'b -> a: b/y.ts imports ../a/z.js',
    ]);
  });

  it('finds a cycle through the top-level folder and a dynamic import, and none in a one-way tree', () => {
    const cyclic = tree({
      'top.ts': "const m = await import('./deep/d.js');\nexport const t = m;\n",
      'deep/d.ts': "import { u } from '../util.js';\nexport const d = u;\n",
      'util.ts': 'export const u = 1;\n',
    });
    expect(folderCycles(folderGraph(cyclic))).toEqual([['.', 'deep']]);
    const oneWay = tree({
      'a/x.ts': "import { y } from '../b/y.js';\n",
      'b/y.ts': "import { z } from '../c/z.js';\n",
      'c/z.ts': "import { e } from '../errors.js';\n",
      'errors.ts': 'export const e = 1;\n',
    });
    expect(folderCycles(folderGraph(oneWay))).toEqual([]);
  });
});
