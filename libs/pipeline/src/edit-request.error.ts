import type { EditParamName, ErrorCode } from '@step1x/contracts';
import { PipelineError } from './pipeline-error';

/**
 * An edit request outside the shared parameter ranges (`EDIT_PARAMS` of `@step1x/contracts`) or the loaded models'
 * size levels, refused before any work; `param` names the field as the API spells it.
 */
export class EditRequestError extends PipelineError<ErrorCode> {
  override readonly name = 'EditRequestError';
  constructor(
    code: ErrorCode,
    readonly param: EditParamName,
    message: string,
  ) {
    super(code, message);
  }
}
