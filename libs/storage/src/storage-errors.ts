/** Machine-readable codes of storage failures (candidates for `libs/contracts` error codes). */
export type StorageErrorCode = 'object_not_found' | 'storage_unavailable' | 'invalid_argument';

export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StorageError';
  }
}

export class ObjectNotFoundError extends StorageError {
  constructor(readonly key: string) {
    super('object_not_found', `object not found: ${key}`);
    this.name = 'ObjectNotFoundError';
  }
}
