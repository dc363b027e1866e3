// `run --state DIR --resume` runs with the flags its run started with. A new `run --state` keeps its run flags
// (all but the manifest, which the directory keeps on its own, and the flags that only say where the run is
// kept and how this process shows it) in the directory's marker; a resume puts them back before its command
// line is parsed, so a resume given only `--state DIR --resume` cannot quietly run another way (no
// `--allow-host`, another idempotency mode). A run flag given again must be the one kept; another is refused,
// naming it, since half a run under other limits or modes is not the run that was started.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { commandOptions } from './command-options.js';
import { STATE_MARKER } from './state-dir.js';
import { UsageError } from './usage-error.js';

/** A resume's own flags: where the run is kept, and how this process shows it. */
const RESUME_OWN = new Set([
  'state',
  'resume',
  'report',
  'format',
  'verbose',
  'listen',
  'allow-remote',
  'help',
]);

type Token = ReturnType<typeof parseArgs>['tokens'] extends (infer T)[] | undefined ? T : never;

/** The run flags of a `run` command's arguments (after the command), as a resume of it takes them. */
export function runFlags(args: readonly string[]): string[] {
  return optionTokens(args)
    .filter((t) => !RESUME_OWN.has(t.name) && t.name !== 'manifest')
    .map(flagText);
}

/**
 * `argv` with the kept run flags put back when it is a `run --state DIR --resume` whose directory keeps them;
 * as given otherwise (a marker from before flags were kept, or no marker: the parser and the state directory
 * say what is wrong then).
 */
export function withKeptRunFlags(argv: readonly string[]): readonly string[] {
  if (argv[0] !== 'run') return argv;
  const rest = argv.slice(1);
  const tokens = optionTokens(rest);
  // Anything the parser refuses (a stray word, an unknown flag) is left for it to say.
  if (tokens.length === 0 || tokens.some((t) => !(t.name in commandOptions.run))) return argv;
  const state = tokens.find((t) => t.name === 'state')?.value;
  if (!tokens.some((t) => t.name === 'resume') || state === undefined) return argv;
  const kept = keptFlags(state);
  if (kept === undefined) return argv;
  const given = tokens.filter((t) => !RESUME_OWN.has(t.name));
  const extra = given.find((t) => !kept.includes(flagText(t)));
  const keptText = kept.length > 0 ? kept.join(' ') : 'no run flags';
  if (extra !== undefined) {
    throw new UsageError(
      `--resume runs with the flags the run in --state ${state} started with (${keptText}): ${flagText(extra)} is not one of them; leave it out`,
      { flag: extra.rawName },
    );
  }
  const own = tokens.filter((t) => RESUME_OWN.has(t.name)).map(flagText);
  return ['run', ...kept, ...own];
}

function optionTokens(args: readonly string[]) {
  try {
    const { tokens } = parseArgs({
      args: [...args],
      options: commandOptions.run,
      strict: false,
      allowPositionals: true,
      tokens: true,
    });
    if (tokens.some((t) => t.kind === 'positional')) return [];
    return tokens.filter((t): t is Extract<Token, { kind: 'option' }> => t.kind === 'option');
  } catch {
    return [];
  }
}

function flagText(t: { readonly name: string; readonly value?: string | undefined }): string {
  return t.value === undefined ? `--${t.name}` : `--${t.name}=${t.value}`;
}

function keptFlags(dir: string): string[] | undefined {
  try {
    const marker = JSON.parse(readFileSync(join(dir, STATE_MARKER), 'utf8')) as { flags?: unknown };
    const { flags } = marker;
    return Array.isArray(flags) && flags.every((f) => typeof f === 'string') ? flags : undefined;
  } catch {
    return undefined;
  }
}
