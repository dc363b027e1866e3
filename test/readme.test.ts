// The TypeScript examples of README and docs/*.md compile against the library as a user imports it, by
// package name (`bounded-fanout`, `bounded-fanout/http`, ...): each ```ts block is written
// to a scratch module and type-checked with the project's compiler options, `bounded-fanout` and its subpaths
// resolved to the sources the package's `exports` map builds from. An example that uses an undefined name or
// a wrong option fails here, so the README cannot rot.
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from './local/cli/cli-process.js';

const docs = ['README.md', ...(await markdownUnder('docs'))];
const scratch = join(repoRoot, '.tmp', `readme-examples-${process.pid}`);

async function markdownUnder(dir: string): Promise<string[]> {
  const names = await readdir(join(repoRoot, dir)).catch(() => [] as string[]);
  return names.filter((n) => n.endsWith('.md')).map((n) => join(dir, n));
}

function tsBlocks(markdown: string): { line: number; code: string }[] {
  const blocks: { line: number; code: string }[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```ts') continue;
    const start = i + 1;
    while (i + 1 < lines.length && lines[i + 1].trim() !== '```') i++;
    blocks.push({ line: start + 1, code: lines.slice(start, i + 1).join('\n') });
    i++;
  }
  return blocks;
}

/** `bounded-fanout[/sub]` -> the source file its dist entry is built from (package.json `exports`). */
async function sourcePaths(): Promise<Record<string, string[]>> {
  const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as {
    name: string;
    exports: Record<string, { default?: string } | string>;
  };
  const paths: Record<string, string[]> = {};
  for (const [entry, target] of Object.entries(pkg.exports)) {
    if (typeof target === 'string') continue;
    const name = entry === '.' ? pkg.name : `${pkg.name}/${entry.slice(2)}`;
    paths[name] = [join(repoRoot, target.default!.replace('./dist/', 'lib/').replace(/\.js$/, '.ts'))];
  }
  return paths;
}

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('README examples', () => {
  it('every ```ts block type-checks against the package', async () => {
    await mkdir(scratch, { recursive: true });
    const files: { file: string; origin: string }[] = [];
    for (const doc of docs) {
      const blocks = tsBlocks(await readFile(join(repoRoot, doc), 'utf8'));
      for (const block of blocks) {
        const file = join(scratch, `${doc.replace(/[/.]/g, '_')}_${block.line}.ts`);
        await writeFile(file, `${block.code}\nexport {};\n`);
        files.push({ file, origin: `${doc}:${block.line}` });
      }
    }
    // README's own example and docs/'s are both read (a parser that missed a page would pass on nothing).
    const origins = new Set(files.map((f) => f.origin.replace(/:\d+$/, '')));
    expect(origins.has('README.md')).toBe(true);
    expect([...origins].filter((o) => o.startsWith('docs/')).length).toBeGreaterThanOrEqual(3);
    // Examples import as a user does, by package name: a relative path would only resolve inside this repo.
    const relative = files.filter((f) => /from '\.{0,2}\//.test(readFileSync(f.file, 'utf8')));
    expect(relative.map((f) => f.origin)).toEqual([]);
    const config = ts.getParsedCommandLineOfConfigFile(
      join(repoRoot, 'tsconfig.json'),
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) => {
          throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
        },
      },
    )!;
    const program = ts.createProgram(
      files.map((f) => f.file),
      { ...config.options, noEmit: true, paths: await sourcePaths() },
    );
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file && files.some((f) => f.file === d.file!.fileName))
      .map((d) => {
        const origin = files.find((f) => f.file === d.file!.fileName)!.origin;
        const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
        return `${origin} (+${line}): ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
      });
    expect(problems).toEqual([]);
  }, 120_000);
});
