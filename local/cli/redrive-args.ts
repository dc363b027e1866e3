// The redrive command's flags: the SQS endpoint holding the dead-letter queue, its region and the stack prefix.
import type { Common, Values } from './command-options.js';
import { endpointUrl, stringValue } from './flag-values.js';
import { UsageError } from './usage-error.js';

export interface RedriveArgs extends Common {
  readonly command: 'redrive';
  readonly endpoint: string;
  readonly region?: string;
  readonly prefix?: string;
}

export function parseRedrive(values: Values, common: Common): RedriveArgs {
  if (values.endpoint === undefined) {
    throw new UsageError('redrive needs --endpoint URL (the SQS endpoint holding the dead-letter queue)', {
      flag: '--endpoint',
    });
  }
  const prefix = stringValue('--prefix', values.prefix);
  if (prefix !== undefined && !/^[A-Za-z0-9_-]{1,60}$/.test(prefix)) {
    throw UsageError.invalid('--prefix', prefix, 'letters, digits, "-" or "_" (at most 60)');
  }
  const region = stringValue('--region', values.region);
  if (region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
    throw UsageError.invalid('--region', region, 'an AWS region such as us-east-1');
  }
  return { command: 'redrive', ...common, endpoint: endpointUrl(values.endpoint), region, prefix };
}
