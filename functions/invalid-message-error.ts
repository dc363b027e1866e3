// The worker's error for a message or Invoke payload that is not a task message.
import { BoundedFanoutError, ErrorCodes } from '../lib/errors.js';
import { redactText } from '../lib/http/redact.js';

export class InvalidMessageError extends BoundedFanoutError {
  /** `message` is the parser's, which quotes offending values: redacted, as Lambda logs a thrown error itself. */
  constructor(message: string) {
    super(redactText(message), ErrorCodes.INVALID_MESSAGE);
    this.name = 'InvalidMessageError';
  }
}
