import { PipelineError } from '../pipeline-error';

export type TokenizerErrorCode =
  | 'tokenizer_file_missing'
  | 'tokenizer_file_invalid'
  | 'tokenizer_checksum_mismatch'
  | 'tokenizer_special_token_mismatch'
  | 'chat_template_missing'
  | 'chat_template_unsupported';

/** A tokenizer or chat template that cannot be loaded or is not the one the pipeline was built for. */
export class TokenizerLoadError extends PipelineError<TokenizerErrorCode> {
  override readonly name = 'TokenizerLoadError';
}
