import { BoundedFanoutError, ErrorCodes } from '../errors.js';

export const ManifestErrorCodes = {
  INVALID_MANIFEST: ErrorCodes.INVALID_MANIFEST,
} as const;

/** One problem found in a manifest: the field's path (`limits.inline`, `headers.x-id`) and the message. */
export interface ManifestIssue {
  readonly path: string;
  /** Starts with the path: `limits.inline: -1 is not a positive integer`. */
  readonly message: string;
}

/**
 * A manifest the job cannot run: a bad header, a stream that is not JSON, a missing `tasks`.
 * A bad task is never this error: it is reported with its line and skipped.
 */
export class ManifestError extends BoundedFanoutError {
  readonly issues: readonly ManifestIssue[];
  /** The first issue's path: the field that is wrong. */
  readonly field: string;
  constructor(issues: readonly ManifestIssue[], where?: string) {
    const first = issues[0] ?? { path: 'manifest', message: 'manifest: is invalid' };
    const text = issues.map((issue) => issue.message).join('; ');
    super(where ? `${where}: ${text}` : text, ManifestErrorCodes.INVALID_MANIFEST);
    this.name = 'ManifestError';
    this.issues = issues.length > 0 ? issues : [first];
    this.field = first.path;
  }

  static of(path: string, reason: string): ManifestError {
    return new ManifestError([{ path, message: `${path}: ${reason}` }]);
  }
}
