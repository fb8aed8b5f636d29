export type LocalServiceErrorCode = 'local_service_not_installed' | 'local_service_failed';

/** A local redis-server or s3rver that could not be started. */
export class LocalServiceError extends Error {
  override readonly name = 'LocalServiceError';

  constructor(
    readonly code: LocalServiceErrorCode,
    message: string,
  ) {
    super(message);
  }
}
