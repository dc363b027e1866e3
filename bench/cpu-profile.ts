// Where a `.cpuprofile` (node --cpu-prof) spent its time: self time summed per function and per module (the
// package under node_modules, or the project's own folder, or node's internals), top N of each. --from / --to keep
// the samples in that window (ms from the profile's start; a run's job window, without its start-up), and
// --timeline prints the busy share of each second (a thread that is never near 100% is waiting, not working).
//   npx tsx bench/cpu-profile.ts FILE.cpuprofile [--top 20] [--from MS] [--to MS] [--timeline]
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  readonly name: string;
  readonly ms: number;
  readonly share: number;
}

/** The module a script URL belongs to: an npm package, a project folder, or node's own code. */
export function moduleOf(url: string): string {
  if (!url) return '(native / vm)';
  if (url.startsWith('node:')) return url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  const own = /\/(lib|local|functions|bench)\/(.*\/)?/.exec(url);
  if (own) return `${own[1]}/${own[2] ?? ''}`;
  return url;
}

const top = (totals: Map<string, number>, all: number, n: number): SelfTime[] =>
  [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, ms: us / 1000, share: us / all }));

/** Coarse groups of modules, for "where the time goes". */
const GROUPS: readonly [string, RegExp][] = [
  ['garbage collection', /^\(garbage collector\)$/],
  ['idle', /^\(idle\)$/],
  ['AWS SDK (@smithy, @aws-sdk, Powertools)', /^@(smithy|aws-sdk|aws-crypto|aws-lambda-powertools)\//],
  [
    'emulators (dynalite, LevelDB, fauxqs)',
    /^(dynalite|level|abstract-level|memory-level|classic-level|fauxqs|fastify|@fastify|lodash)/,
  ],
  ['task HTTP client (undici)', /^(undici|wasm:)/],
  [
    'node http, net, streams, crypto',
    /^(node:|writev|writeLatin1String|writeUtf8String|writeBuffer|parse$|toString$)/,
  ],
  ['project code (lib, local, functions)', /^(lib|local|functions)\//],
  ['schema checks (zod)', /^zod/],
];
const groupOf = (mod: string) => GROUPS.find(([, re]) => re.test(mod))?.[0] ?? 'other';

const ownCode = /\/(lib|local|functions)\//;

const nameOf = (frame: ProfileNode['callFrame']) => {
  const mod = moduleOf(frame.url);
  const sep = mod.endsWith('/') ? '' : '/';
  const file = frame.url.startsWith('node:') ? frame.url : `${mod}${sep}${frame.url.split('/').pop()}`;
  return `${frame.functionName || '(anonymous)'} ${frame.url ? `${file}:${frame.lineNumber + 1}` : ''}`.trim();
};

/**
 * Self time per function and per module, and each sample charged to the nearest function of the project's own
 * code on its stack (who asked for the SDK's, node's or an emulator's work), or to its module when none is.
 */
export function summarise(
  profile: Profile,
  n = 20,
  { from = 0, to = Number.POSITIVE_INFINITY }: { from?: number; to?: number } = {},
): { totalMs: number; functions: SelfTime[]; modules: SelfTime[]; callers: SelfTime[]; groups: SelfTime[] } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const fns = new Map<string, number>();
  const mods = new Map<string, number>();
  const callers = new Map<string, number>();
  const groups = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, dt: number) => map.set(key, (map.get(key) ?? 0) + dt);
  let all = 0;
  let at = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    at += dt;
    if (at < from * 1000 || at > to * 1000) return;
    const frame = byId.get(id)?.callFrame;
    if (!frame) return;
    all += dt;
    add(fns, nameOf(frame), dt);
    const mod = frame.url ? moduleOf(frame.url) : frame.functionName;
    add(mods, mod, dt);
    add(groups, groupOf(mod), dt);
    let up: number | undefined = id;
    while (up !== undefined && !ownCode.test(byId.get(up)?.callFrame.url ?? '')) up = parent.get(up);
    const own = up === undefined ? undefined : byId.get(up)?.callFrame;
    add(callers, own ? nameOf(own) : `(no own caller) ${mod}`, dt);
  });
  return {
    totalMs: all / 1000,
    functions: top(fns, all, n),
    modules: top(mods, all, n),
    callers: top(callers, all, n),
    groups: top(groups, all, GROUPS.length + 1),
  };
}

/** The busy share (not idle, not the profiler's own (program) gaps) of each whole second of the profile. */
export function timeline(profile: Profile): number[] {
  const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  const busy: number[] = [];
  let at = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    at += dt;
    const second = Math.floor(at / 1e6);
    busy[second] = (busy[second] ?? 0) + (idle.has(id) ? 0 : dt / 1e6);
  });
  return Array.from(busy, (b) => b ?? 0);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;
  if (process.argv.includes('--timeline')) {
    console.log(
      `busy share by second: ${timeline(profile)
        .map((b) => `${Math.round(b * 100)}%`)
        .join(' ')}\n`,
    );
  }
  const { totalMs, functions, modules, callers, groups } = summarise(profile, arg('--top') ?? 20, {
    from: arg('--from'),
    to: arg('--to'),
  });
  const row = (s: SelfTime) => `| ${s.name} | ${s.ms.toFixed(0)} | ${(s.share * 100).toFixed(1)}% |`;
  console.log(`Profile ${file}: ${(totalMs / 1000).toFixed(1)} s sampled\n`);
  console.log(['| where (self time) | ms | share |', '|---|---:|---:|', ...groups.map(row), ''].join('\n'));
  console.log(['| function (self) | ms | share |', '|---|---:|---:|', ...functions.map(row)].join('\n'));
  console.log(['', '| module (self) | ms | share |', '|---|---:|---:|', ...modules.map(row)].join('\n'));
  console.log(['', '| nearest own caller | ms | share |', '|---|---:|---:|', ...callers.map(row)].join('\n'));
}
