// The value of one flag, checked on its own: each error names the flag and the value it got.
import { InvalidArgumentError } from '../../lib/errors.js';
import { ALLOW_ENTRY_FORMS, parseAllowEntry } from '../../lib/http/allow-entry.js';
import { UsageError } from './usage-error.js';

export function stringValue(flag: string, raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || raw.trim() === '') throw UsageError.invalid(flag, raw, 'a non-empty value');
  return raw;
}

export function integer(flag: string, raw: unknown, min: number): number {
  const text = typeof raw === 'string' ? raw.trim() : raw;
  const value = typeof text === 'string' && /^[+]?\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min)
    throw UsageError.invalid(flag, raw, `an integer >= ${min}`);
  return value;
}

/** A reserved concurrency: N >= 1 or "none". Not 0: Lambda's reserved concurrency 0 throttles everything. */
export function reservation(flag: string, raw: unknown): number | 'none' {
  if (raw === 'none') return raw;
  if (typeof raw === 'string' && /^[+]?0+$/.test(raw.trim())) {
    throw UsageError.invalid(
      flag,
      raw,
      'an integer >= 1, or "none" for no reservation (0 would throttle every invocation)',
    );
  }
  try {
    return integer(flag, raw, 1);
  } catch {
    throw UsageError.invalid(flag, raw, 'an integer >= 1, or "none" for no reservation');
  }
}

export function oneOf<T extends string>(flag: string, raw: unknown, allowed: readonly T[], fallback: T): T {
  if (raw === undefined) return fallback;
  if (typeof raw === 'string' && (allowed as readonly string[]).includes(raw)) return raw as T;
  throw UsageError.invalid(flag, raw, `one of ${allowed.join(', ')}`);
}

export function manifestValue(raw: unknown): string | undefined {
  const value = stringValue('--manifest', raw);
  if (value?.startsWith('s3://') && !/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+/.test(value)) {
    throw UsageError.invalid('--manifest', value, 's3://BUCKET/KEY or a file path');
  }
  return value;
}

export function endpointUrl(raw: unknown): string {
  let url: URL | undefined;
  try {
    url = typeof raw === 'string' ? new URL(raw) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw UsageError.invalid('--endpoint', raw, 'an http:// or https:// URL');
  }
  return url.href.replace(/\/$/, '');
}

/**
 * An --allow-host value, checked by the destination guard's own parser (lib/http/allow-entry.ts), so a value
 * the flag accepts never fails a container at start: a host name, `*.name`, an IP address or a CIDR,
 * optionally with a port.
 */
export function hostOrCidr(raw: string): string {
  try {
    parseAllowEntry(raw, '--allow-host');
    return raw.trim();
  } catch (error) {
    if (error instanceof InvalidArgumentError)
      throw UsageError.invalid('--allow-host', raw, ALLOW_ENTRY_FORMS);
    throw error;
  }
}
