import { InvalidArgumentError } from '../../lib/errors.js';
import { type ListenAddress, parseListenAddress } from '../edge-listen.js';
import type { Values } from './command-options.js';
import { stringValue } from './flag-values.js';
import { UsageError } from './usage-error.js';

/** --listen HOST:PORT, loopback unless --allow-remote; --allow-remote alone says nothing. */
export function listenValue(values: Values): ListenAddress | undefined {
  const allowRemote = values['allow-remote'] === true;
  if (values.listen === undefined) {
    if (allowRemote)
      throw new UsageError('--allow-remote needs --listen HOST:PORT', { flag: '--allow-remote' });
    return undefined;
  }
  const raw = stringValue('--listen', values.listen) ?? '';
  try {
    return parseListenAddress(raw, { allowNonLoopback: allowRemote });
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    const loopbackOnly = !allowRemote && error.message.includes('loopback');
    throw UsageError.invalid(
      '--listen',
      raw,
      loopbackOnly
        ? 'a loopback address (127.0.0.1, [::1], localhost): the endpoint has no authentication, so anyone who reaches it could read the queues, invoke the functions and change the worker’s concurrency; add --allow-remote to listen there anyway'
        : 'HOST:PORT with an IP address or localhost, e.g. 127.0.0.1:4566',
    );
  }
}
