// The functions' one Powertools Logger: every line it writes passes through the redaction module
// (lib/http/redact-log.ts), so no call site has to remember to redact the error it logs.
import { Logger } from '@aws-lambda-powertools/logger';
import { redactLogValue } from '../lib/http/redact-log.js';

export function functionLogger(serviceName: string): Logger {
  return new Logger({ serviceName, jsonReplacerFn: redactLogValue });
}
