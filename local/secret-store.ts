// The local stand-in for Secrets Manager and Parameter Store: the one local endpoint answers
// `secretsmanager.GetSecretValue` and `AmazonSSM.GetParameter` (the JSON protocol the SDK clients speak) from
// values given to `run`/`serve` with `--secrets FILE`, so the functions resolve secret references through
// the real Powertools and SDK path, as in Lambda. Values live in memory only; the store counts its calls
// (tests pin the per-container cache with them). Errors name what was asked for, never a value.
import { readFile } from 'node:fs/promises';
import { ErrorCodes } from '../lib/error-codes.js';
import { BoundedFanoutError } from '../lib/errors.js';

const LOCAL_ACCOUNT = '000000000000';
export const MAX_SECRET_REQUEST_BYTES = 64 * 1024;

/** The operations answered here, by their X-Amz-Target. */
export const SecretTargets = {
  GET_SECRET_VALUE: 'secretsmanager.GetSecretValue',
  GET_PARAMETER: 'AmazonSSM.GetParameter',
} as const;

export const isSecretTarget = (target: string): boolean =>
  target.startsWith('secretsmanager.') || target.startsWith('AmazonSSM.');

export type SecretAnswer =
  | { readonly status: 200; readonly body: unknown }
  | { readonly status: 400; readonly type: string; readonly message: string };

export class SecretsFileError extends BoundedFanoutError {
  constructor(message: string) {
    super(message, ErrorCodes.SECRETS_FILE);
    this.name = 'SecretsFileError';
  }
}

export class SecretStore {
  readonly #values = new Map<string, string>();
  readonly #region: string;
  /** Calls answered, by operation (found or not). */
  readonly calls = { GetSecretValue: 0, GetParameter: 0 };

  constructor(values: Readonly<Record<string, string>> = {}, region = 'us-east-1') {
    this.#region = region;
    this.load(values);
  }

  /**
   * Adds values by name: a secret's name (`bounded-fanout/partner`) or ARN, a parameter's name
   * (`/bounded-fanout/partner/token`). A later value replaces an earlier one.
   */
  load(values: Readonly<Record<string, string>>): void {
    for (const [name, value] of Object.entries(values)) this.#values.set(name, value);
  }

  get size(): number {
    return this.#values.size;
  }

  /** The answer to one request: `target` is its X-Amz-Target, `text` its body. */
  answer(target: string, text: string | undefined): SecretAnswer {
    if (text === undefined) return fault('ValidationException', 'The request is over 64 KiB');
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(text || '{}');
    } catch {
      return fault('SerializationException', 'The request body is not JSON');
    }
    if (target === SecretTargets.GET_SECRET_VALUE) return this.#secret(input.SecretId);
    if (target === SecretTargets.GET_PARAMETER) return this.#parameter(input.Name);
    return fault(
      'UnknownOperationException',
      `The local endpoint answers only GetSecretValue and GetParameter, not ${target}`,
    );
  }

  #secret(id: unknown): SecretAnswer {
    this.calls.GetSecretValue++;
    if (typeof id !== 'string' || id === '') return fault('ValidationException', 'SecretId is required');
    const given = secretName(id);
    // The secret's own name, as AWS answers it: the ARN's name part, less a random suffix it matched without.
    const name = [given, withoutSuffix(given)].find((n) => this.#values.has(n)) ?? given;
    const value = this.#values.get(id) ?? this.#values.get(name);
    if (value === undefined) {
      return fault('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    }
    const arn = id.startsWith('arn:')
      ? id
      : `arn:aws:secretsmanager:${this.#region}:${LOCAL_ACCOUNT}:secret:${name}`;
    return {
      status: 200,
      body: {
        ARN: arn,
        Name: name,
        VersionId: 'local-1',
        SecretString: value,
        VersionStages: ['AWSCURRENT'],
        CreatedDate: 0,
      },
    };
  }

  #parameter(name: unknown): SecretAnswer {
    this.calls.GetParameter++;
    if (typeof name !== 'string' || name === '') return fault('ValidationException', 'Name is required');
    const value = this.#values.get(name);
    if (value === undefined) return fault('ParameterNotFound', `Parameter ${name} not found.`);
    const path = name.startsWith('/') ? name : `/${name}`;
    return {
      status: 200,
      body: {
        Parameter: {
          Name: name,
          Type: 'SecureString',
          Value: value,
          Version: 1,
          ARN: `arn:aws:ssm:${this.#region}:${LOCAL_ACCOUNT}:parameter${path}`,
          DataType: 'text',
        },
      },
    };
  }
}

const fault = (type: string, message: string): SecretAnswer => ({ status: 400, type, message });

/** The name in a secret ARN (`arn:...:secret:NAME`), or the id itself. */
function secretName(id: string): string {
  const at = id.indexOf(':secret:');
  return id.startsWith('arn:') && at >= 0 ? id.slice(at + ':secret:'.length) : id;
}

/** AWS appends `-` and six characters to a secret's name in its ARN; a name given without them matches too. */
const withoutSuffix = (name: string) => name.replace(/-[A-Za-z0-9]{6}$/, '');

/**
 * The values of a `--secrets FILE`: a JSON object of names to strings. A problem names the file and the
 * entry, never a value.
 */
export async function readSecretsFile(file: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new SecretsFileError(
      `--secrets ${file}: cannot be read (${(error as NodeJS.ErrnoException).code})`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SecretsFileError(`--secrets ${file}: is not JSON (a JSON object of names to string values)`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new SecretsFileError(`--secrets ${file}: is not a JSON object of names to string values`);
  }
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value !== 'string') {
      throw new SecretsFileError(
        `--secrets ${file}: the value of ${JSON.stringify(name)} is not a string (a JSON secret is written as one string)`,
      );
    }
  }
  return parsed as Record<string, string>;
}
