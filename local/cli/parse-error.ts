import { UsageError } from './usage-error.js';

/** parseArgs' messages are long and written for programmers: say the same in one line for a user. */
export function translateParseError(command: string, error: Error & { code?: string }): UsageError {
  const quoted = /'([^']+)'/.exec(error.message)?.[1] ?? '';
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(
        `Unknown option ${quoted} for "${command}" (see: bounded-fanout help ${command})`,
        {
          flag: quoted,
        },
      );
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const flag = /--[\w-]+/.exec(error.message)?.[0] ?? quoted;
      if (error.message.includes('argument missing'))
        return new UsageError(`${flag}: missing value`, { flag });
      if (error.message.includes('ambiguous')) {
        return new UsageError(
          `${flag}: missing value (a value starting with "-" is written ${flag}=-VALUE)`,
          { flag },
        );
      }
      return new UsageError(`${flag}: takes no value`, { flag });
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError(`Unexpected argument ${JSON.stringify(quoted)} for "${command}"`, {
        value: quoted,
      });
    default:
      return new UsageError(error.message, {}, { cause: error });
  }
}
