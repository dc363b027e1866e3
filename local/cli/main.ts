// The bounded-fanout command line: parses, dispatches, and turns every failure into one clear line on stderr
// and an exit code (0 ok, 1 tasks failed, 2 bad usage or config, 3 a report not written, 4 a watched run's end
// not seen, 130 interrupted). A stack only with --verbose.
import { readFile } from 'node:fs/promises';
import { type ParsedArgs, parseCliArgs } from './args.js';
import { ExitCodes, exitCodeFor } from './exit-code.js';
import { helpText } from './help.js';
import { type CliIo, processIo } from './io.js';
import { withKeptRunFlags } from './resume-flags.js';
import { loadSharedConfig } from './shared-config.js';
import { UsageError } from './usage-error.js';

export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const verbose = argv.includes('--verbose');
  // The SDK's "Node 22 will be required" notice is about the SDK's future releases, not this run: it would
  // open every run with seven lines of warning. --verbose keeps it.
  if (!verbose) io.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  let args: ParsedArgs;
  try {
    args = parseCliArgs(withKeptRunFlags(argv), io.env, loadSharedConfig());
  } catch (error) {
    printError(io, error, verbose);
    if (error instanceof UsageError && error.message.startsWith('Missing command'))
      io.stderr.write(`\n${helpText()}\n`);
    return ExitCodes.USAGE;
  }
  try {
    return await dispatch(args, io);
  } catch (error) {
    printError(io, error, verbose);
    return exitCodeFor({ error });
  }
}

/** Runs the command; each command's module is imported only when that command runs. */
async function dispatch(args: ParsedArgs, io: CliIo): Promise<number> {
  switch (args.command) {
    case 'help':
      io.stdout.write(`${helpText(args.topic)}\n`);
      return ExitCodes.OK;
    case 'version':
      io.stdout.write(`${await version()}\n`);
      return ExitCodes.OK;
    case 'run': {
      const { runCommand } = await import('./commands/run.js');
      return await runCommand(args, io);
    }
    case 'plan': {
      const { planCommand } = await import('./commands/plan.js');
      return await planCommand(args, io);
    }
    case 'serve': {
      const { serveCommand } = await import('./commands/serve.js');
      return await serveCommand(args, io);
    }
    case 'redrive': {
      const { runRedrive } = await import('./commands/redrive.js');
      return await runRedrive(args, io);
    }
    case 'smoke': {
      const { smokeCommand } = await import('./commands/smoke.js');
      return await smokeCommand(args, io);
    }
    case 'status': {
      const { statusCommand } = await import('./commands/status.js');
      return await statusCommand(args, io);
    }
    case 'runs': {
      const { runsCommand } = await import('./commands/runs.js');
      return await runsCommand(args, io);
    }
    case 'pause':
    case 'resume':
    case 'cancel': {
      const { runControlCommand } = await import('./commands/run-control.js');
      return await runControlCommand(args, io);
    }
    case 'limits': {
      const { limitsCommand } = await import('./commands/limits.js');
      return await limitsCommand(args, io);
    }
    case 'report': {
      const { reportCommand } = await import('./commands/report.js');
      return await reportCommand(args, io);
    }
  }
}

/** One line per error (a budget error lists each problem on its own line); the stack only when asked. */
export function formatError(error: unknown, verbose: boolean): string {
  if (verbose && error instanceof Error && error.stack) {
    const cause =
      error.cause instanceof Error && error.cause.stack ? `\nCaused by: ${error.cause.stack}` : '';
    return `${error.stack}${cause}`;
  }
  const message = error instanceof Error ? error.message : String(error);
  const text = message.trim() || (error as Error)?.name || 'Unknown error';
  return `bounded-fanout: ${text}`;
}

function printError(io: CliIo, error: unknown, verbose: boolean): void {
  io.stderr.write(`${formatError(error, verbose)}\n`);
}

async function version(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return `bounded-fanout ${pkg.version} (node ${process.version})`;
}
