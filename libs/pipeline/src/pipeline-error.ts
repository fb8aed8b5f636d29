/**
 * A refusal or failure the pipeline raises with a machine-readable code: callers (the worker, the CLI) branch on
 * `code` and the subclass, never on the message.
 */
export abstract class PipelineError<Code extends string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
