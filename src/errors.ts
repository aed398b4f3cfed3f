/**
 * The one error type mergelens throws for bad input. Every error names the file and,
 * where it applies, the tensor, so a user can act on it without a stack trace.
 */
export type ErrorCode =
  | 'NOT_FOUND'
  | 'TRUNCATED'
  | 'BAD_HEADER'
  | 'HEADER_TOO_LARGE'
  | 'BAD_OFFSETS'
  | 'SIZE_MISMATCH'
  | 'UNSUPPORTED_DTYPE'
  | 'LFS_POINTER'
  | 'BAD_INDEX'
  | 'MISSING_SHARD'
  | 'PATH_TRAVERSAL'
  | 'MISSING_TENSOR'
  | 'SHAPE_MISMATCH'
  | 'DTYPE_MISMATCH'
  | 'DIFFERENT_BASE'
  | 'NON_FINITE'
  | 'BAD_ADAPTER'
  | 'UNKNOWN_METHOD'
  | 'BAD_PARAM'
  | 'BAD_INPUT'
  | 'OUTPUT_EXISTS'
  | 'MISSING_METRICS';

export interface ErrorContext {
  file?: string;
  tensor?: string;
  /** What the user can do about it. */
  hint?: string;
}

export class MergelensError extends Error {
  readonly code: ErrorCode;
  readonly file?: string;
  readonly tensor?: string;
  readonly hint?: string;

  constructor(code: ErrorCode, problem: string, ctx: ErrorContext = {}) {
    const where = [ctx.file && `${ctx.file}`, ctx.tensor && `tensor "${ctx.tensor}"`].filter(Boolean).join(': ');
    super(`${where ? where + ': ' : ''}${problem}${ctx.hint ? ` (hint: ${ctx.hint})` : ''}`);
    this.name = 'MergelensError';
    this.code = code;
    this.file = ctx.file;
    this.tensor = ctx.tensor;
    this.hint = ctx.hint;
  }
}

export const isMergelensError = (e: unknown): e is MergelensError => e instanceof MergelensError;
