/** The edit's AbortSignal fired; the pipeline stops at the next stage or step boundary. */
export class EditCanceledError extends Error {
  readonly code = 'canceled';
  constructor(readonly beforeStep?: number) {
    super(beforeStep === undefined ? 'the edit was canceled' : `the edit was canceled before step ${beforeStep}`);
  }
}
