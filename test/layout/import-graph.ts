// The import graph of the source, as the layout checks read it: every relative specifier of a static import,
// an `export ... from` or a dynamic import(), resolved to the file it names and grouped by folder.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** Every file under `dir` whose name ends with one of `extensions`, as absolute paths, sorted. */
export function sourceFiles(dir: string, extensions: readonly string[]): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path, extensions));
    else if (extensions.some((ext) => entry.name.endsWith(ext))) out.push(path);
  }
  return out.sort();
}

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;

/** The relative specifiers a source text imports or re-exports (type-only ones too: they tie folders alike). */
export function relativeSpecifiers(text: string): string[] {
  return [...text.matchAll(SPECIFIER)].map((m) => m[1]).filter((s) => s.startsWith('.'));
}

/** One folder's import of another, with the files and specifiers that make it. */
export type FolderEdges = Map<string, Map<string, string[]>>;

/**
 * Folder -> folder edges of the files under `root`: a file in `root/a` importing `root/b/x.js` adds a -> b
 * (`.` names `root` itself). Imports within one folder and imports that leave `root` add nothing.
 */
export function folderGraph(root: string): FolderEdges {
  const edges: FolderEdges = new Map();
  for (const file of sourceFiles(root, ['.ts'])) {
    const from = relative(root, dirname(file)) || '.';
    for (const spec of relativeSpecifiers(readFileSync(file, 'utf8'))) {
      const target = relative(root, dirname(resolve(dirname(file), spec)));
      if (target.startsWith('..')) continue;
      const to = target || '.';
      if (to === from) continue;
      const targets = edges.get(from) ?? new Map<string, string[]>();
      targets.set(to, [...(targets.get(to) ?? []), `${relative(root, file)} imports ${spec}`]);
      edges.set(from, targets);
    }
  }
  return edges;
}

/** The strongly connected groups of more than one folder (Tarjan): each is a cycle, folders sorted. */
export function folderCycles(edges: FolderEdges): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of edges.get(node)?.keys() ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const group: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      group.push(member);
    } while (member !== node);
    if (group.length > 1) cycles.push(group.sort());
  };
  for (const node of [...edges.keys()].sort()) if (!index.has(node)) visit(node);
  return cycles.sort((a, b) => a.join().localeCompare(b.join()));
}

/** The imports that make a cycle, one line each, for the failure message. */
export function cycleEvidence(edges: FolderEdges, cycle: readonly string[]): string[] {
  const members = new Set(cycle);
  const lines: string[] = [];
  for (const from of cycle) {
    for (const [to, why] of edges.get(from) ?? []) {
      if (members.has(to)) lines.push(...why.map((w) => `${from} -> ${to}: ${w}`));
    }
  }
  return lines;
}
