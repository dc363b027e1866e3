// README is a map and docs/ holds the details: the map stays short, its two commands are the ones CI runs,
// and every link between README and docs/ lands on a file and a heading that exist, so moving a section or
// renaming a page cannot leave a reader on a dead link.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseInlineManifest } from '../lib/manifest/index.js';
import { repoRoot } from './local/cli/cli-process.js';

const pages = [
  'README.md',
  ...(await readdir(join(repoRoot, 'docs'))).filter((n) => n.endsWith('.md')).map((n) => `docs/${n}`),
];
const text = async (page: string) => readFile(join(repoRoot, page), 'utf8');

/** The text outside fenced code blocks (a link in an example is not a link of the page). */
function prose(markdown: string): string {
  return markdown.replace(/^ *```[\s\S]*?^ *```/gm, '');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slugOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(markdown: string): Set<string> {
  return new Set(
    prose(markdown)
      .split('\n')
      .filter((line) => /^#{1,6} /.test(line))
      .map((line) => slugOf(line.replace(/^#+ /, ''))),
  );
}

/** Relative links `[text](path#anchor)`; web addresses and mail are not checked here. */
function linksOf(markdown: string): { target: string; anchor?: string }[] {
  const links: { target: string; anchor?: string }[] = [];
  for (const [, href] of prose(markdown).matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z]+:/i.test(href)) continue;
    const [target, anchor] = href.split('#');
    links.push(anchor === undefined ? { target } : { target, anchor });
  }
  return links;
}

describe('README and docs/', () => {
  it('README is a map of at most 300 lines that links every page of docs/', async () => {
    const readme = await text('README.md');
    expect(readme.split('\n').length).toBeLessThanOrEqual(300);
    const linked = new Set(linksOf(readme).map((l) => l.target));
    const unlinked = pages.filter((p) => p.startsWith('docs/') && !linked.has(p));
    expect(unlinked).toEqual([]);
  });

  it("README's set-up block is `npm install && npm start`, then the command .ci/run runs", async () => {
    const readme = await text('README.md');
    const block = readme.match(/## Set up a fresh clone\n+```sh\n([\s\S]*?)```/)?.[1] ?? '';
    const commands = block
      .split('\n')
      .map((line) => line.replace(/#.*/, '').trim())
      .filter(Boolean);
    const ci = await text('.ci/run');
    const ciTest = ci
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line.startsWith('npm test'));
    expect(ciTest).toEqual(['npm test']);
    expect(commands).toEqual(['npm install && npm start', 'npm test']);
  });

  it('every relative link lands on a file, and on a heading of it when it names one', async () => {
    const broken: string[] = [];
    for (const page of pages) {
      for (const { target, anchor } of linksOf(await text(page))) {
        const file = target === '' ? page : normalize(join(dirname(page), target));
        if (!existsSync(join(repoRoot, file))) {
          broken.push(`${page}: ${target} does not exist`);
          continue;
        }
        if (anchor === undefined || !file.endsWith('.md')) continue;
        if (!anchorsOf(await text(file)).has(anchor))
          broken.push(`${page}: ${file} has no heading #${anchor}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('every JSON manifest shown is one the orchestrator accepts, every task valid', async () => {
    const manifests: { origin: string; json: string }[] = [];
    for (const page of pages) {
      for (const m of (await text(page)).matchAll(/^ *```json\n([\s\S]*?)^ *```/gm)) {
        if (/"tasks"/.test(m[1])) manifests.push({ origin: page, json: m[1] });
      }
    }
    expect(manifests.map((m) => m.origin)).toContain('docs/service.md');
    const problems: string[] = [];
    for (const { origin, json } of manifests) {
      const manifest = parseInlineManifest(JSON.parse(json));
      for await (const item of manifest.items) if (!item.ok) problems.push(`${origin}: ${item.error}`);
    }
    expect(problems).toEqual([]);
  });

  it('every repository path the pages name exists (a file moved or renamed shows here)', async () => {
    const missing: string[] = [];
    for (const page of pages) {
      for (const [path] of (await text(page)).matchAll(
        /(?<![\w@/.-])(?:lib|functions|local|cdk|test|bench|docs)\/[\w./-]*\w/g,
      )) {
        if (!existsSync(join(repoRoot, path))) missing.push(`${page}: ${path}`);
      }
    }
    expect([...new Set(missing)]).toEqual([]);
  });

  it("README's task path names functions that its files define", async () => {
    const readme = await text('README.md');
    const path = readme.slice(readme.indexOf("## One task's path"), readme.indexOf('## Use the library'));
    // `file-or-folder` `name` (-> `name`)*: each name (each part of `Class.method`) is in that file or folder.
    const hop = /`((?:lib|functions|cdk|local)\/[\w./-]*)`\s+`([\w.]+)`((?:\s+->\s+`[\w.]+`)*)/g;
    const absent: string[] = [];
    let hops = 0;
    for (const [, where, first, more] of path.matchAll(hop)) {
      const names = [first, ...[...more.matchAll(/`([\w.]+)`/g)].map((m) => m[1])];
      const dir = join(repoRoot, where);
      const files = where.endsWith('.ts')
        ? [dir]
        : (await readdir(dir)).filter((n) => n.endsWith('.ts')).map((n) => join(dir, n));
      const source = (await Promise.all(files.map((f) => readFile(f, 'utf8')))).join('\n');
      for (const name of names) {
        hops++;
        for (const part of name.split('.')) {
          if (!new RegExp(`\\b${part}\\b`).test(source)) absent.push(`${where}: ${name}`);
        }
      }
    }
    expect(hops).toBeGreaterThanOrEqual(10);
    expect(absent).toEqual([]);
  });

  it('slugs headings as GitHub does', () => {
    expect(slugOf('Worker (functions/worker.ts)')).toBe('worker-functionsworkerts');
    expect(slugOf("Reserved concurrency and the account's quota")).toBe(
      'reserved-concurrency-and-the-accounts-quota',
    );
    expect(slugOf('`bounded-fanout plan` and `redrive`')).toBe('bounded-fanout-plan-and-redrive');
    expect(slugOf('Set the limits, the schedule and the manifest')).toBe(
      'set-the-limits-the-schedule-and-the-manifest',
    );
  });
});
