/**
 * The one error type mergelens throws for bad input. Every error names the file and,
 * where it applies, the tensor, so a user can act on it without a stack trace.
 */
export type ErrorCode =
  | 'NOT_FOUND'
  | 'UNSUPPORTED_FORMAT'
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
  | 'MISSING_METRICS'
  // Output policy (src/util/output-policy.ts).
  | 'OUTPUT_IS_INPUT'
  | 'OUTPUT_NOT_OURS'
  | 'OUTPUT_LOCKED'
  | 'OUTPUT_CONFLICT'
  | 'BAD_OUTPUT'
  // Filesystem failures (fsError below), each with the path and a hint.
  | 'NO_SPACE'
  | 'PERMISSION_DENIED'
  | 'READ_ONLY_FS'
  | 'IS_A_DIRECTORY'
  | 'NOT_A_DIRECTORY'
  | 'FILE_BUSY'
  | 'SYMLINK_LOOP'
  | 'NAME_TOO_LONG'
  | 'TOO_MANY_OPEN_FILES'
  | 'IO_ERROR'
  // A command-line option with an invalid value (exit code 2, like commander's own errors).
  | 'USAGE'
  // Input safety (docs/safety.md): FIFOs/devices, JSON nested too deep, whole-tensor memory, inputs changed during a run.
  | 'NOT_REGULAR_FILE'
  | 'TOO_DEEP'
  | 'MEMORY_BUDGET'
  | 'INPUT_CHANGED';

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

/** Codes that mean "the command line was wrong" (exit code 2) rather than "the input was bad" (1). */
const USAGE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['USAGE', 'BAD_PARAM']);

/**
 * Exit codes of the CLI (docs/cli.md): 0 ok, 1 checks found problems or bad input (every
 * MergelensError but usage ones), 2 usage error, 70 internal error (a bug: anything else).
 */
export const EXIT = { OK: 0, PROBLEMS: 1, USAGE: 2, INTERNAL: 70 } as const;

export function exitCodeOf(e: MergelensError): number {
  return USAGE_CODES.has(e.code) ? EXIT.USAGE : EXIT.PROBLEMS;
}

/** errno code → our code and what the user can do about it. */
const FS_ERRORS: Record<string, { code: ErrorCode; problem: string; hint: string }> = {
  ENOSPC: { code: 'NO_SPACE', problem: 'no space left on the device', hint: 'free some space or write the output to another disk' },
  EDQUOT: { code: 'NO_SPACE', problem: 'disk quota exceeded', hint: 'free some space or write the output to another disk' },
  EFBIG: { code: 'NO_SPACE', problem: 'file too large for this filesystem', hint: 'write the output to another filesystem (or shard it with --shard-size)' },
  EACCES: { code: 'PERMISSION_DENIED', problem: 'permission denied', hint: 'check the permissions of the file and its folder, or choose another path' },
  EPERM: { code: 'PERMISSION_DENIED', problem: 'operation not permitted', hint: 'check the permissions of the file and its folder, or choose another path' },
  EROFS: { code: 'READ_ONLY_FS', problem: 'read-only filesystem', hint: 'write the output to a writable location' },
  EISDIR: { code: 'IS_A_DIRECTORY', problem: 'is a folder where a file is needed', hint: 'give a file path (e.g. -o out/result.json), not a folder' },
  ENOTDIR: { code: 'NOT_A_DIRECTORY', problem: 'a part of the path is a file where a folder is needed', hint: 'check the path' },
  EBUSY: { code: 'FILE_BUSY', problem: 'resource busy (in use or a mount point)', hint: 'close what uses it or choose another path' },
  ETXTBSY: { code: 'FILE_BUSY', problem: 'file busy', hint: 'close what uses it or choose another path' },
  ELOOP: { code: 'SYMLINK_LOOP', problem: 'too many levels of symbolic links (a symlink loop)', hint: 'fix the symlinks along this path' },
  ENAMETOOLONG: { code: 'NAME_TOO_LONG', problem: 'file name too long', hint: 'choose a shorter path' },
  EMFILE: { code: 'TOO_MANY_OPEN_FILES', problem: 'too many open files', hint: 'raise the limit (ulimit -n) or pass fewer inputs' },
  ENFILE: { code: 'TOO_MANY_OPEN_FILES', problem: 'too many open files in the system', hint: 'close other programs or raise the limit' },
  EIO: { code: 'IO_ERROR', problem: 'input/output error', hint: 'the disk or network filesystem failed; check it and retry' },
  ENOENT: { code: 'NOT_FOUND', problem: 'no such file or folder', hint: 'check the path' },
  EEXIST: { code: 'OUTPUT_EXISTS', problem: 'already exists', hint: 'choose another path' },
  EXDEV: { code: 'BAD_OUTPUT', problem: 'cannot move a file across filesystems', hint: 'choose an output on one filesystem' },
  EINVAL: { code: 'BAD_OUTPUT', problem: 'invalid operation on this path', hint: 'choose another output path' },
};

/** A Node system error (has an errno `code` and usually a `path`). */
export function isSystemError(e: unknown): e is NodeJS.ErrnoException & { code: string } {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && /^E[A-Z0-9]+$/.test((e as NodeJS.ErrnoException).code!);
}

/**
 * A filesystem failure as a MergelensError naming the path and what to do; undefined when `e`
 * is not a system error we know. `file` is used when the error carries no path.
 */
export function fsError(e: unknown, file?: string): MergelensError | undefined {
  if (isMergelensError(e)) return e;
  if (!isSystemError(e)) return undefined;
  const known = FS_ERRORS[e.code];
  if (!known) return undefined;
  const where = e.path ?? file;
  const dest = (e as { dest?: string }).dest;
  return new MergelensError(known.code, `${known.problem} (${e.syscall ?? 'fs'}${dest ? ` → ${dest}` : ''}, ${e.code})`, { file: where, hint: known.hint });
}
