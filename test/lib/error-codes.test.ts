// One list of error codes (lib/error-codes.ts, issue 15): every BF_ code the source uses is in ErrorCodes, and
// no source file outside that list spells a code as a string of its own, so two spellings cannot drift apart.
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../lib/error-codes.js';
import { sourceFiles } from '../layout/import-graph.js';
import { repoRoot } from '../local/cli/cli-process.js';

const LIST = 'lib/error-codes.ts';
const CODE = /\bBF_[A-Z][A-Z0-9_]*\b/g;

/** Every source file of the product (not the tests), repo-relative. */
const sources = ['lib', 'functions', 'local', 'cdk', 'bench']
  .flatMap((dir) => sourceFiles(join(repoRoot, dir), ['.ts', '.mjs']))
  .map((file) => relative(repoRoot, file));

/** file -> the BF_ codes it mentions, in its code and its comments alike. */
function codesBy(files: readonly string[], pattern: RegExp): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(repoRoot, file), 'utf8');
    const codes = [...text.matchAll(pattern)].map((m) => m[1] ?? m[0]);
    if (codes.length > 0) found.set(file, codes);
  }
  return found;
}

describe('error codes', () => {
  const listed = new Set<string>(Object.values(ErrorCodes));

  it('every BF_ code the source names is in ErrorCodes', () => {
    const unlisted = [...codesBy(sources, CODE)]
      .flatMap(([file, codes]) => codes.filter((c) => !listed.has(c)).map((c) => `${file}: ${c}`))
      .sort();
    expect(unlisted).toEqual([]);
  });

  it('no file but lib/error-codes.ts writes a code as a string literal: each takes it from ErrorCodes', () => {
    const literal = /['"`](BF_[A-Z][A-Z0-9_]*)['"`]/g;
    const elsewhere = [...codesBy(sources, literal)].filter(([file]) => file !== LIST);
    expect(elsewhere).toEqual([]);
  });

  it('each code is spelt once: names and values are one to one, every value BF_ plus its name', () => {
    const entries = Object.entries(ErrorCodes);
    expect(listed.size).toBe(entries.length);
    for (const [name, code] of entries) expect(code).toBe(`BF_${name}`);
  });

  it('the scan reads what it checks: the list itself, and codes used by name across the folders', () => {
    expect(sources).toContain(LIST);
    const byName = codesBy(sources, /\bErrorCodes\.([A-Z_]+)/g);
    const folders = new Set([...byName.keys()].map((file) => file.split('/')[0]));
    expect([...folders].sort()).toEqual(['functions', 'lib', 'local']);
    for (const names of byName.values()) for (const n of names) expect(n in ErrorCodes).toBe(true);
  });
});
