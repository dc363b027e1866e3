// Functions over about 60 lines split where a second concern hides (issue 15, the developers' guide). The check
// lists every function over the limit in the product's code (lib, functions, local, cdk; tests and bench do
// not count) with the TypeScript parser, and fails on any. (The allow-list it began with, 15 functions at
// e2b6626, is empty since issue 15's last splits: no exceptions now.)
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../local/cli/cli-process.js';
import { allFunctionLengths, functionLengths } from './function-lengths.js';
import { sourceFiles } from './import-graph.js';

const MAX_LINES = 60;
const FOLDERS = ['lib', 'functions', 'local', 'cdk'] as const;

const functions = allFunctionLengths(
  FOLDERS.flatMap((dir) => sourceFiles(join(repoRoot, dir), ['.ts', '.mjs'])),
  repoRoot,
);

describe('function length', () => {
  it(`no function over ${MAX_LINES} lines`, () => {
    const over = functions
      .filter((f) => f.lines > MAX_LINES)
      .map((f) => `${f.id} (line ${f.line}): ${f.lines} lines`);
    expect(over).toEqual([]);
  });

  it('reads every folder it checks and measures a function from its first line to its last', () => {
    for (const dir of FOLDERS) expect(functions.some((f) => f.file.startsWith(`${dir}/`))).toBe(true);
    const text = [
      'export function outer(a: number) {', // 1
      '  const inner = (b: number) => {', // 2
      '    return b;', // 3
      '  };', // 4
      '  return inner(a);', // 5
      '}', // 6
      'class Box {', // 7
      '  get size() { return 1; }', // 8
      '  #twice(n: number) {', // 9
      '    return n * 2;', // 10
      '  }', // 11
      '}', // 12
      'const f = function () {};', // 13
      'run(() => 1);', // 14
    ].join('\n');
    const found = functionLengths('/r/x.ts', text, '/r').map((f) => [f.id, f.line, f.lines]);
    expect(found).toEqual([
      ['x.ts:outer', 1, 6],
      ['x.ts:inner', 2, 3],
      ['x.ts:Box.size', 8, 1],
      ['x.ts:Box.#twice', 9, 3],
      ['x.ts:f', 13, 1],
      ['x.ts:<arrow>@14', 14, 1],
    ]);
  });
});
