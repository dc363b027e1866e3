// `--secrets FILE` of run and serve: read and checked before anything starts, a bad file is bad usage (exit 2)
// naming the file and the entry, never a value.
import { readSecretsFile, SecretsFileError } from '../secret-store.js';
import { UsageError } from './usage-error.js';

export async function readSecrets(file: string): Promise<Record<string, string>> {
  try {
    return await readSecretsFile(file);
  } catch (error) {
    if (error instanceof SecretsFileError) throw new UsageError(error.message, { flag: '--secrets' });
    throw error;
  }
}
