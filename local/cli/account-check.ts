// `plan`'s check of the stack's reserved concurrency against the account's: Lambda GetAccountSettings at the
// --endpoint given, or at AWS with the default credentials (--account). Asked only when one of the two flags
// says so: plan stays offline otherwise (the credential chain would probe the instance metadata address). An
// endpoint that cannot be reached, or refuses, is said in one line: the check is advice, never a failure.
import { GetAccountSettingsCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { type AccountFit, accountFit } from '../../lib/budget/index.js';
import type { FanoutConfig } from '../../lib/config.js';
import { isLoopbackEndpoint } from './sqs-endpoint.js';

/** Where to ask: an endpoint, or AWS itself (the SDK's own endpoint resolution, AWS_ENDPOINT_URL_LAMBDA included). */
export interface AccountTarget {
  readonly endpoint?: string;
  readonly region?: string;
}

export type AccountCheck =
  | { readonly checked: true; readonly source: string; readonly fit: AccountFit }
  | { readonly checked: false; readonly source?: string; readonly reason: string };

export const NOT_ASKED =
  'not checked (give --account to read it from AWS with the default credentials, or --endpoint URL for a Lambda endpoint)';

export async function checkAccount(
  config: FanoutConfig,
  target: AccountTarget | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AccountCheck> {
  if (!target) return { checked: false, reason: NOT_ASKED };
  const region = target.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const endpoint = target.endpoint;
  const source = `Lambda GetAccountSettings, ${endpoint ?? env.AWS_ENDPOINT_URL_LAMBDA ?? `AWS ${region}`}`;
  const hasCredentials = Boolean(env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE);
  const client = new LambdaClient({
    region,
    ...(endpoint ? { endpoint } : {}),
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 10_000 }),
    // Emulators accept any credentials; a loopback endpoint should not need real ones.
    ...(endpoint && !hasCredentials && isLoopbackEndpoint(endpoint)
      ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
      : {}),
  });
  try {
    const { AccountLimit: limits } = await client.send(new GetAccountSettingsCommand({}));
    const limit = limits?.ConcurrentExecutions;
    const unreserved = limits?.UnreservedConcurrentExecutions;
    if (typeof limit !== 'number' || typeof unreserved !== 'number') {
      return {
        checked: false,
        source,
        reason: 'could not check (the answer had no AccountLimit concurrency)',
      };
    }
    return { checked: true, source, fit: accountFit(config, { limit, unreserved }) };
  } catch (error) {
    const message = (error as Error)?.message?.split('\n')[0] || String(error);
    return { checked: false, source, reason: `could not check (${message})` };
  } finally {
    client.destroy();
  }
}

/** The check as text, after the budget table. */
export function formatAccountCheck(check: AccountCheck): string {
  if (!check.checked) {
    return check.source
      ? `Account concurrency (${check.source}): ${check.reason}`
      : `Account concurrency: ${check.reason}`;
  }
  return [`Account concurrency (${check.source})`, ...check.fit.lines.map((line) => `  ${line}`)].join('\n');
}
