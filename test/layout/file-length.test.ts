// No source file over 300 lines (issue 15, the developers' guide): a longer file holds more than one concept.
// Every .ts and .mjs file of the product counts (lib, functions, local, cdk, bench); tests do not.
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../local/cli/cli-process.js';
import { sourceFiles } from './import-graph.js';

const MAX_LINES = 300;
const FOLDERS = ['lib', 'functions', 'local', 'cdk', 'bench'] as const;

/** Lines as an editor numbers them: a final newline ends the last line, it does not start another. */
function lineCount(text: string): number {
  if (text === '') return 0;
  const lines = text.split('\n').length;
  return text.endsWith('\n') ? lines - 1 : lines;
}

const lengths = new Map(
  FOLDERS.flatMap((dir) => sourceFiles(join(repoRoot, dir), ['.ts', '.mjs'])).map((file) => [
    relative(repoRoot, file),
    lineCount(readFileSync(file, 'utf8')),
  ]),
);

describe('file length', () => {
  it(`no source file over ${MAX_LINES} lines`, () => {
    const over = [...lengths]
      .filter(([, lines]) => lines > MAX_LINES)
      .map(([file, lines]) => `${file}: ${lines} lines`);
    expect(over).toEqual([]);
  });

  it('reads every folder it checks, and counts lines as an editor does', () => {
    for (const dir of FOLDERS) expect([...lengths.keys()].some((f) => f.startsWith(`${dir}/`))).toBe(true);
    expect(lengths.has('lib/index.ts')).toBe(true);
    expect(lengths.has('local/cli/bin.mjs')).toBe(true);
    expect([lineCount(''), lineCount('a'), lineCount('a\n'), lineCount('a\nb'), lineCount('a\n\n')]).toEqual([
      0, 1, 1, 2, 2,
    ]);
  });
});
