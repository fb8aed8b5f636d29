import type { z } from 'zod';
import { ApiError } from './api-error';
import { ErrorCode } from './error-codes';

/**
 * Custom checks put the contract's code into `params.apiCode`, so the mapping below needs no string matching.
 */
export interface ContractIssueParams {
  apiCode: ErrorCode;
}

function paramOf(path: readonly PropertyKey[]): string | null {
  if (path.length === 0) return null;
  // `items[17].instruction`: array indexes in brackets, as the contract names a batch's failing item.
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`))
    .join('');
}

/** One zod issue → the contract's error; unknown fields win over every other issue (CONTRACT.md, POST /v1/edits). */
export function apiErrorFromIssues(issues: readonly z.core.$ZodIssue[]): ApiError {
  const unknown = issues.find((issue) => issue.code === 'unrecognized_keys');
  if (unknown && unknown.code === 'unrecognized_keys') {
    const prefix = unknown.path.length > 0 ? `${paramOf(unknown.path)}.` : '';
    const field = `${prefix}${unknown.keys[0]}`;
    return new ApiError(ErrorCode.UnknownField, `unknown field "${field}"`, { param: field });
  }
  const issue = issues[0];
  if (!issue) return new ApiError(ErrorCode.InvalidRequest, 'invalid request');
  const param = paramOf(issue.path);
  const where = param ? `${param}: ` : '';
  switch (issue.code) {
    case 'too_big':
    case 'too_small':
      return new ApiError(ErrorCode.OutOfRange, `${where}${issue.message}`, { param });
    case 'invalid_value':
      // A number outside an allowed set (size_level 640) is out of range; an unknown word is a bad request.
      return new ApiError(
        typeof issue.input === 'number' ? ErrorCode.OutOfRange : ErrorCode.InvalidRequest,
        `${where}${issue.message}`,
        { param },
      );
    case 'custom': {
      const apiCode = (issue.params as Partial<ContractIssueParams> | undefined)?.apiCode;
      return new ApiError(apiCode ?? ErrorCode.InvalidRequest, `${where}${issue.message}`, { param });
    }
    default:
      return new ApiError(ErrorCode.InvalidRequest, `${where}${issue.message}`, { param });
  }
}

/** Parses `input` with `schema` or throws the contract's 400. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input, { reportInput: true });
  if (!result.success) throw apiErrorFromIssues(result.error.issues);
  return result.data;
}
