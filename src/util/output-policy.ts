/**
 * The one output policy every command follows (docs/cli.md, "Outputs"):
 *
 * - Paths are compared as real paths (symlinks and `..` resolved, hard links by inode): an output
 *   that is, contains or lies inside an input is refused (OUTPUT_IS_INPUT), `--force` or not.
 * - An existing output is replaced only with `force`, and only when it is a previous output of
 *   the same kind, recognised by its content (a merge folder by its mergelens_merge.json record,
 *   a metrics file by its "format", …); anything else is refused (OUTPUT_NOT_OURS).
 * - Claiming an output takes an exclusive lock file next to it (O_EXCL, holding our pid), so a
 *   second writer fails at once with OUTPUT_LOCKED; a lock whose pid is dead is reclaimed.
 *   Claiming happens before the work starts, so an unwritable location fails first.
 * - Data goes to a temp name in the output's folder (`.mergelens-tmp-<pid>-<hex>-<name>`), is
 *   fsynced and renamed into place. Temps and locks of dead runs are removed by the next claim
 *   in that folder, by any later command (each run notes its folders in a small state file;
 *   `sweepInterrupted`) and by `mergelens clean`.
 */
import { constants as fsc, promises as fsp, rmSync, readdirSync, readFileSync, unlinkSync, type Stats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { MergelensError, fsError } from '../errors.js';

/** What a command writes; decides how a previous output of that kind is recognised. */
export type OutputKind =
  | 'merge' // a merged checkpoint: HF folder with mergelens_merge.json, or a .safetensors file we wrote
  | 'merge-record' // the mergelens_merge.json next to a single-file merge
  | 'metrics' // metrics JSON (complete or a --shard partial)
  | 'metrics-csv' // metrics CSV (a,b,<metric ids>)
  | 'predictor' // fit -o
  | 'predictions' // predict -o / screen -o / screen --csv: JSON, CSV or the text ranking
  | 'report' // HTML report
  | 'study' // the study's output folder
  | 'dashboard-export' // the dashboard's `e` exports
  | 'eval-scores' // eval-mnist -o: {"scores": {task: accuracy}}
  | 'sweep-curve' // sweep-curve --json
  | 'sweep' // a sweep folder (journal.jsonl of a sweep, sweep.json)
  | 'search' // a search folder (search.json, or the journal.jsonl of a search)
  | 'merge-handoff'; // screen --emit: a folder of mergekit YAMLs and merge.sh

export interface OutputRequest {
  path: string;
  kind: OutputKind;
  /** The output is a folder (merge to a HF folder, the study folder), not a file. */
  folder?: boolean;
  /** The option that named it, for messages ("-o", "--csv"). */
  flag?: string;
  /**
   * The command continues what is there itself (a sweep resuming from its journal): existing
   * contents are its business, not --force's. Inputs, locks and writability are still checked.
   */
  reuse?: boolean;
}

export interface ClaimOptions {
  /** Every file and folder the command reads (checkpoints, shards, adapters, JSON inputs). */
  inputs: readonly (string | undefined | null)[];
  /** Replace a previous output of the same kind. */
  force?: boolean;
}

export interface ClaimedOutput {
  /** The path as given. */
  readonly path: string;
  /** Where it is written: the real path (symlinks and `..` resolved). */
  readonly real: string;
  readonly kind: OutputKind;
  readonly folder: boolean;
  /** Whether something (a previous output of this kind) is there now. */
  readonly exists: boolean;
  /** A fresh temp path next to the output (same filesystem, so the final rename is atomic). */
  tempPath(): string;
  /** Write a whole file: temp, fsync, rename into place, fsync the folder. */
  write(data: string | Uint8Array): Promise<void>;
  /** Move a finished temp file or folder (from tempPath) into place, replacing the previous output. */
  commit(temp: string): Promise<void>;
}

export interface OutputClaim {
  readonly outputs: ClaimedOutput[];
  /** Drop the locks (and the run's state file); idempotent. */
  release(): Promise<void>;
}

export const TEMP_PREFIX = '.mergelens-tmp-';
export const LOCK_PREFIX = '.mergelens-lock-';
/** `.mergelens-tmp-<pid>-<8 hex>-<name>`; also the `.tmp-<name>-<pid>-<8 hex>` of earlier versions. */
const TEMP_RE = /^\.mergelens-tmp-(\d+)-[0-9a-f]{8}-/;
const LEGACY_TEMP_RE = /^\.tmp-.+-(\d+)-[0-9a-f]{8}$/;

// ---------------------------------------------------------------------------------------------
// A test seam: filesystem failures that cannot be produced for real without root tricks
// (EACCES as root, EROFS, ENOSPC at one precise write) are injected here. Never set in production.

export const faults: { beforeWrite?: (file: string, op: 'write' | 'rename') => void } = {};

/** Write a whole file durably (exclusive create, fsync); through the test seam. */
export async function writeDurable(file: string, data: string | Uint8Array): Promise<void> {
  faults.beforeWrite?.(file, 'write');
  const fh = await fsp.open(file, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function renameInto(from: string, to: string): Promise<void> {
  faults.beforeWrite?.(to, 'rename');
  await fsp.rename(from, to);
}

// ---------------------------------------------------------------------------------------------
// Temps, liveness, cleaning

/** The pid that made a temp file, or undefined when `name` is not one of ours. */
export function tempOwner(name: string): number | undefined {
  const m = TEMP_RE.exec(name) ?? LEGACY_TEMP_RE.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Folders where this process made temps: removed on SIGINT/SIGTERM (see removeOwnTemps). */
const tempDirs = new Set<string>();

/** A sibling temp path of `target`, recognisable by `clean` and the next run. */
export function tempName(target: string): string {
  const dir = path.dirname(path.resolve(target));
  tempDirs.add(dir);
  return path.join(dir, `${TEMP_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}-${path.basename(target)}`);
}

export function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

export interface Removed {
  path: string;
  bytes: number;
  what: 'temp' | 'lock';
}

async function sizeOf(p: string): Promise<number> {
  const st = await fsp.lstat(p).catch(() => null);
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  const entries = await fsp.readdir(p).catch(() => [] as string[]);
  let total = 0;
  for (const e of entries) total += await sizeOf(path.join(p, e));
  return total;
}

/**
 * Remove the temps and locks that runs which are no longer alive left in `dir` (not recursive).
 * Temps of live runs are left alone: another run may be writing right now.
 */
export async function cleanFolder(dir: string, opts: { dryRun?: boolean; onlyPid?: number } = {}): Promise<Removed[]> {
  const entries = await fsp.readdir(dir).catch(() => [] as string[]);
  const removed: Removed[] = [];
  for (const name of entries) {
    const p = path.join(dir, name);
    const owner = tempOwner(name);
    if (owner !== undefined) {
      if (opts.onlyPid !== undefined ? owner !== opts.onlyPid : isAlive(owner)) continue;
      removed.push({ path: p, bytes: await sizeOf(p), what: 'temp' });
      if (!opts.dryRun) await fsp.rm(p, { recursive: true, force: true });
    } else if (name.startsWith(LOCK_PREFIX)) {
      const holder = await readLock(p);
      const dead = holder ? (opts.onlyPid !== undefined ? holder.pid === opts.onlyPid : holder.host === os.hostname() && !isAlive(holder.pid)) : opts.onlyPid === undefined && (await olderThan(p, 60_000));
      if (!dead) continue;
      removed.push({ path: p, bytes: 0, what: 'lock' });
      if (!opts.dryRun) await fsp.rm(p, { force: true });
    }
  }
  return removed;
}

async function olderThan(p: string, ms: number): Promise<boolean> {
  const st = await fsp.stat(p).catch(() => null);
  return !!st && Date.now() - st.mtimeMs > ms;
}

/** On SIGINT/SIGTERM: remove this process's temps and locks, synchronously (we are about to exit). */
export function removeOwnTemps(): void {
  for (const dir of tempDirs) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const p = path.join(dir, name);
      if (tempOwner(name) === process.pid) rmSync(p, { recursive: true, force: true });
    }
  }
  for (const lock of heldLocks) {
    try {
      if (readFileSync(lock, 'utf8') === lockText) unlinkSync(lock);
    } catch {
      /* already gone */
    }
  }
  heldLocks.clear();
  try {
    unlinkSync(stateFile());
  } catch {
    /* none */
  }
}

// ---------------------------------------------------------------------------------------------
// Run state: the folders this run writes in, so that after a `kill -9` any later command
// (sweepInterrupted, called by the CLI at start) finds and removes what it left.

export function stateDir(): string {
  if (process.env.MERGELENS_STATE_DIR) return process.env.MERGELENS_STATE_DIR;
  const base = process.env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'mergelens', 'runs');
}

const stateFile = () => path.join(stateDir(), `${os.hostname()}-${process.pid}.json`);
const runDirs = new Set<string>();

async function noteRunDir(dir: string): Promise<void> {
  if (runDirs.has(dir)) return;
  runDirs.add(dir);
  try {
    await fsp.mkdir(stateDir(), { recursive: true });
    await fsp.writeFile(stateFile(), JSON.stringify({ pid: process.pid, host: os.hostname(), dirs: [...runDirs] }) + '\n');
  } catch {
    /* best effort: the folder-level cleaning still works without it */
  }
}

/** Remove what interrupted runs (dead pids) left behind in the folders they noted. Never throws. */
export async function sweepInterrupted(): Promise<Removed[]> {
  const removed: Removed[] = [];
  const dir = stateDir();
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  const host = os.hostname();
  for (const name of names) {
    const m = /^(.*)-(\d+)\.json$/.exec(name);
    if (!m || m[1] !== host) continue;
    const pid = Number(m[2]);
    if (isAlive(pid)) continue;
    const file = path.join(dir, name);
    try {
      const state = JSON.parse(await fsp.readFile(file, 'utf8')) as { dirs?: unknown };
      const dirs = Array.isArray(state.dirs) ? state.dirs.filter((d): d is string => typeof d === 'string') : [];
      for (const d of dirs) removed.push(...(await cleanFolder(d, { onlyPid: pid })));
    } catch {
      /* unreadable state: drop it */
    }
    await fsp.rm(file, { force: true }).catch(() => {});
  }
  return removed;
}

// ---------------------------------------------------------------------------------------------
// Locks

interface LockHolder {
  pid: number;
  host: string;
  createdAt: string;
}

const heldLocks = new Set<string>();
const lockText = JSON.stringify({ pid: process.pid, host: os.hostname(), createdAt: new Date().toISOString() }) + '\n';

async function readLock(p: string): Promise<LockHolder | null> {
  try {
    const v = JSON.parse(await fsp.readFile(p, 'utf8')) as LockHolder;
    return typeof v.pid === 'number' ? v : null;
  } catch {
    return null;
  }
}

export function lockPathFor(real: string): string {
  return path.join(path.dirname(real), `${LOCK_PREFIX}${path.basename(real)}`);
}

async function acquireLock(real: string, shown: string): Promise<string> {
  const lock = lockPathFor(real);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fh = await fsp.open(lock, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o644);
      try {
        await fh.writeFile(lockText);
      } finally {
        await fh.close();
      }
      heldLocks.add(lock);
      return lock;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(e, lock) ?? e;
    }
    const text = await fsp.readFile(lock, 'utf8').catch(() => null);
    if (text === null) continue; // released meanwhile
    let holder: LockHolder | null = null;
    try {
      holder = JSON.parse(text) as LockHolder;
    } catch {
      holder = null;
    }
    const stale = holder ? holder.host === os.hostname() && !isAlive(holder.pid) : await olderThan(lock, 10_000);
    if (stale) {
      // Reclaim only the lock we judged stale (another run may have reclaimed it already).
      if ((await fsp.readFile(lock, 'utf8').catch(() => null)) === text) await fsp.rm(lock, { force: true });
      continue;
    }
    if (!holder) {
      await new Promise((r) => setTimeout(r, 50)); // a lock being written right now
      continue;
    }
    throw new MergelensError('OUTPUT_LOCKED', `another mergelens run (pid ${holder.pid} on ${holder.host}, since ${holder.createdAt}) is writing this output`, {
      file: shown,
      hint: `wait for it to finish or choose another output; if that run no longer exists, remove ${lock}`,
    });
  }
  throw new MergelensError('OUTPUT_LOCKED', 'could not take the output lock', { file: shown, hint: `retry; if it persists remove ${lock}` });
}

async function releaseLock(lock: string): Promise<void> {
  if (!heldLocks.delete(lock)) return;
  if ((await fsp.readFile(lock, 'utf8').catch(() => null)) === lockText) await fsp.rm(lock, { force: true }).catch(() => {});
}

// ---------------------------------------------------------------------------------------------
// Real paths and overlap

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..' + path.sep) && rel !== '..' && !path.isAbsolute(rel));
}

/**
 * The real path of `p`, which need not exist: the deepest existing ancestor is resolved
 * (symlinks, `..`) and the rest appended. A dangling symlink is resolved through its target.
 */
export async function realPathOf(p: string): Promise<string> {
  const abs = path.resolve(p);
  const rest: string[] = [];
  let cur = abs;
  for (let hops = 0; ; ) {
    try {
      const real = await fsp.realpath(cur);
      return path.join(real, ...rest);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw fsError(e, p)!;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw fsError(e, p) ?? e;
    }
    const st = await fsp.lstat(cur).catch(() => null);
    if (st?.isSymbolicLink()) {
      // Dangling link: follow it by hand (bounded), so the output lands where the link points.
      if (++hops > 40) throw new MergelensError('SYMLINK_LOOP', 'too many levels of symbolic links', { file: p });
      cur = path.resolve(path.dirname(cur), await fsp.readlink(cur));
      continue;
    }
    const parent = path.dirname(cur);
    if (parent === cur) return path.join(cur, ...rest);
    rest.unshift(path.basename(cur));
    cur = parent;
  }
}

interface InputEntry {
  shown: string;
  real: string;
  dir: boolean;
  ino?: string;
}

const inode = (st: Stats) => `${st.dev}:${st.ino}`;

/** Real paths of the inputs, and of each entry of an input folder (shards symlinked elsewhere, as in the HF cache). */
export async function resolveInputs(paths: readonly (string | undefined | null)[]): Promise<InputEntry[]> {
  const out: InputEntry[] = [];
  for (const p of paths) {
    if (!p || p.startsWith('memory:')) continue;
    const real = await fsp.realpath(p).catch(() => null);
    if (!real) continue; // a missing input fails where it is read, with its own error
    const st = await fsp.stat(real).catch(() => null);
    if (!st) continue;
    out.push({ shown: p, real, dir: st.isDirectory(), ino: inode(st) });
    if (st.isDirectory()) {
      const names = await fsp.readdir(real).catch(() => [] as string[]);
      for (const n of names) {
        const r = await fsp.realpath(path.join(real, n)).catch(() => null);
        if (!r || isInside(r, real)) continue; // inside the folder: covered by the folder itself
        const s = await fsp.stat(r).catch(() => null);
        if (s) out.push({ shown: path.join(p, n), real: r, dir: s.isDirectory(), ino: inode(s) });
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Recognising a previous output of a kind

async function head(file: string, bytes: number): Promise<Buffer> {
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** The top-level object of a JSON file we may have written (null when it is not one). */
async function jsonOf(file: string, size: number): Promise<Record<string, unknown> | null> {
  const start = (await head(file, 4096)).toString('utf8');
  const m = /^\s*\{\s*"format"\s*:\s*"([^"]{1,64})"/.exec(start);
  if (m) return { format: m[1] };
  if (!/^\s*[{[]/.test(start) || size > 256 * 2 ** 20) return null;
  try {
    const v = JSON.parse(await fsp.readFile(file, 'utf8')) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export const MERGE_RECORD_FILE = 'mergelens_merge.json';

async function isMergeSafetensors(file: string): Promise<boolean> {
  const buf = await head(file, 8);
  if (buf.length < 8) return false;
  const n = Number(buf.readBigUInt64LE(0));
  if (n <= 0 || n > 100 * 2 ** 20) return false;
  try {
    const header = JSON.parse((await head(file, 8 + n)).subarray(8).toString('utf8')) as { __metadata__?: Record<string, unknown> };
    return typeof header.__metadata__?.mergelens_method === 'string';
  } catch {
    return false;
  }
}

/**
 * A search folder (src/search/run.ts) and a sweep folder both hold the shared runner's
 * journal.jsonl; a search is told apart by its search.json (format mergelens.search) or, before
 * that is written (killed mid-way), by its journal header's identity.kind "search".
 */
async function isSearchFolder(dir: string): Promise<boolean> {
  if ((await jsonOf(path.join(dir, 'search.json'), 0).catch(() => null))?.format === 'mergelens.search') return true;
  const first = await head(path.join(dir, 'journal.jsonl'), 1 << 16).then((b) => b.toString('utf8').split('\n')[0], () => '');
  try {
    return (JSON.parse(first) as { identity?: { kind?: unknown } }).identity?.kind === 'search';
  } catch {
    return false;
  }
}

/** Whether the existing `real` is a previous output of `kind` (what --force may replace). */
export async function isOutputOfKind(kind: OutputKind, real: string): Promise<boolean> {
  const st = await fsp.stat(real).catch(() => null);
  if (!st) return false;
  if (st.isDirectory()) {
    if ((await fsp.readdir(real)).length === 0) return kind === 'merge' || kind === 'study';
    if (kind === 'merge') return (await jsonOf(path.join(real, MERGE_RECORD_FILE), 0).catch(() => null))?.format === 'mergelens.merge';
    if (kind === 'study') {
      if ((await jsonOf(path.join(real, 'study.json'), 0).catch(() => null))?.format === 'mergelens.study') return true;
      // The transformer study's folder (src/study/transformer/study.ts): per-kind studies below, summary.json on top.
      return (await jsonOf(path.join(real, 'summary.json'), 0).catch(() => null))?.format === 'mergelens.study-transformer';
    }
    if (kind === 'merge-handoff') return head(path.join(real, 'merge.sh'), 4096).then((b) => b.toString('utf8').includes('mergelens screen --emit'), () => false);
    if (kind === 'sweep' || kind === 'search') {
      const search = await isSearchFolder(real);
      return kind === 'search' ? search : !search && fsp.stat(path.join(real, 'journal.jsonl')).then((j) => j.isFile(), () => false);
    }
    return false;
  }
  if (!st.isFile()) return false;
  const text = () => head(real, 4096).then((b) => b.toString('utf8'));
  switch (kind) {
    case 'merge':
      return isMergeSafetensors(real);
    case 'merge-record':
      return (await jsonOf(real, st.size))?.format === 'mergelens.merge';
    case 'metrics': {
      const f = (await jsonOf(real, st.size))?.format;
      return f === 'mergelens.metrics' || f === 'mergelens.metrics-partial';
    }
    case 'metrics-csv': {
      const t = await text();
      return t.startsWith('a,b,') && !t.startsWith('a,b,method,');
    }
    case 'predictor':
      return (await jsonOf(real, st.size))?.format === 'mergelens.predictor';
    case 'predictions': {
      const t = await text();
      if (t.startsWith('a,b,method,predicted') || t.startsWith('Predictor: ')) return true;
      const j = await jsonOf(real, st.size);
      return !!j && Array.isArray(j.predictions) && 'predictor' in j;
    }
    case 'report':
      return /<meta name="generator" content="mergelens/.test(await text());
    case 'eval-scores': {
      const j = await jsonOf(real, st.size);
      return !!j && !!j.scores && typeof j.scores === 'object' && !Array.isArray(j.scores);
    }
    case 'sweep-curve': {
      const j = await jsonOf(real, st.size);
      return !!j && Array.isArray(j.points) && Array.isArray(j.methods) && typeof j.total === 'number';
    }
    case 'dashboard-export': {
      const t = await text();
      return (await jsonOf(real, st.size))?.format === 'mergelens.dashboard-export' || /^(expert|rank),/.test(t);
    }
    default:
      return false;
  }
}

const KIND_TEXT: Record<OutputKind, string> = {
  merge: 'merge output (a folder with mergelens_merge.json, or a .safetensors file mergelens wrote)',
  'merge-record': 'merge record',
  metrics: 'metrics file',
  'metrics-csv': 'metrics CSV',
  predictor: 'predictor file',
  predictions: 'predictions file',
  report: 'mergelens report',
  study: 'study output folder (with study.json)',
  'dashboard-export': 'dashboard export',
  'eval-scores': 'evaluation result ({"scores": …})',
  'sweep-curve': 'sweep-curve JSON',
  sweep: 'sweep folder (with journal.jsonl)',
  search: 'search folder (with search.json or a search journal.jsonl)',
  'merge-handoff': 'screen --emit folder (with merge.sh)',
};

// ---------------------------------------------------------------------------------------------
// Claiming

const label = (r: OutputRequest) => (r.flag ? `${r.flag} ${r.path}` : r.path);

async function fsync(p: string): Promise<void> {
  const fh = await fsp.open(p, 'r').catch(() => null);
  if (!fh) return;
  await fh.sync().catch(() => {}); // some filesystems refuse to fsync a folder
  await fh.close();
}

/**
 * Check every output against the inputs and each other, lock them and clean what dead runs left
 * next to them — before any work. Throws a MergelensError naming the path on any refusal.
 */
export async function claimOutputs(reqs: readonly OutputRequest[], opts: ClaimOptions): Promise<OutputClaim> {
  const inputs = await resolveInputs(opts.inputs);
  const cwd = await realPathOf(process.cwd());
  const resolved: { req: OutputRequest; real: string; st: Stats | null }[] = [];
  for (const req of reqs) {
    if (!req.path || !req.path.trim()) throw new MergelensError('USAGE', `${req.flag ?? 'output'}: empty path`);
    const real = await realPathOf(req.path);
    const st = await fsp.stat(real).catch(() => null);
    resolved.push({ req, real, st });
  }
  // Two outputs of one command on the same path (metrics -o F --csv F), or one inside the other.
  for (let i = 0; i < resolved.length; i++) {
    for (let j = i + 1; j < resolved.length; j++) {
      const [a, b] = [resolved[i], resolved[j]];
      if (isInside(a.real, b.real) || isInside(b.real, a.real)) {
        throw new MergelensError('OUTPUT_CONFLICT', `${label(a.req)} and ${label(b.req)} are the same path; one would overwrite the other`, { file: a.req.path, hint: 'give each output its own path' });
      }
    }
  }
  for (const { req, real, st } of resolved) {
    for (const inp of inputs) {
      const same = real === inp.real || (!!st && !st.isDirectory() && inp.ino === inode(st));
      const inside = inp.dir && isInside(real, inp.real);
      const contains = isInside(inp.real, real);
      if (same || inside || contains) {
        const how = same ? 'is' : inside ? 'lies inside' : 'contains';
        throw new MergelensError('OUTPUT_IS_INPUT', `output ${how} the input ${inp.shown}${inp.real !== path.resolve(inp.shown) ? ` (real path ${inp.real})` : ''}; inputs are never overwritten`, {
          file: req.path,
          hint: 'choose an output path outside every input',
        });
      }
    }
    if (real === path.parse(real).root || isInside(cwd, real)) {
      throw new MergelensError('BAD_OUTPUT', `output is ${real === cwd ? 'the current folder' : 'a folder that contains the current folder'}`, { file: req.path, hint: 'name a new file or folder, e.g. -o merged' });
    }
    if (st) {
      if (st.isDirectory() && !req.folder) {
        throw new MergelensError('IS_A_DIRECTORY', 'is a folder where a file is needed', { file: req.path, hint: `give a file path, e.g. ${path.join(req.path, 'out' + (req.kind === 'report' ? '.html' : '.json'))}` });
      }
      if (!st.isDirectory() && !st.isFile()) {
        throw new MergelensError('BAD_OUTPUT', 'is not a regular file or folder (a device, FIFO or socket)', { file: req.path, hint: 'choose another output path' });
      }
      const emptyDir = st.isDirectory() && (await fsp.readdir(real)).length === 0;
      if (!emptyDir && !req.reuse) {
        if (!opts.force) {
          throw new MergelensError('OUTPUT_EXISTS', 'output already exists', { file: req.path, hint: 'pass --force to replace it, or choose another path' });
        }
        if (!(await isOutputOfKind(req.kind, real))) {
          throw new MergelensError('OUTPUT_NOT_OURS', `exists and is not a ${KIND_TEXT[req.kind]}; --force replaces only a previous output of this command`, {
            file: req.path,
            hint: 'remove it yourself if you mean to, or choose another path',
          });
        }
      }
    }
  }
  // Writable now, not after the work: create the folder, lock, clean leftovers of dead runs.
  const locks: string[] = [];
  const outputs: ClaimedOutput[] = [];
  try {
    for (const { req, real, st } of resolved) {
      const dir = path.dirname(real);
      await makeFolder(dir, req.path);
      await noteRunDir(dir);
      locks.push(await acquireLock(real, req.path));
      await cleanFolder(dir);
      outputs.push(makeOutput(req, real, !!st));
    }
  } catch (e) {
    for (const l of locks) await releaseLock(l);
    throw e;
  }
  let released = false;
  return {
    outputs,
    async release() {
      if (released) return;
      released = true;
      for (const l of locks) await releaseLock(l);
      if (heldLocks.size === 0) {
        runDirs.clear();
        await fsp.rm(stateFile(), { force: true }).catch(() => {});
      }
    },
  };
}

/**
 * mkdir -p, one level at a time: a file on the way is NOT_A_DIRECTORY (not EEXIST), and no
 * endless retry where the filesystem refuses (node's recursive mkdir can spin on /proc).
 */
async function makeFolder(dir: string, shown: string): Promise<void> {
  const missing: string[] = [];
  let cur = dir;
  for (;;) {
    const st = await fsp.stat(cur).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : Promise.reject(fsError(e, cur) ?? e)));
    if (st) {
      if (!st.isDirectory()) throw new MergelensError('NOT_A_DIRECTORY', `${cur} is a file, so no folder can be made under it`, { file: shown, hint: 'check the output path' });
      break;
    }
    missing.unshift(cur);
    const parent = path.dirname(cur);
    if (parent === cur) break;
    cur = parent;
  }
  for (const d of missing) {
    try {
      await fsp.mkdir(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(e, d) ?? e;
    }
  }
}

function makeOutput(req: OutputRequest, real: string, existed: boolean): ClaimedOutput {
  const dir = path.dirname(real);
  const out: ClaimedOutput = {
    path: req.path,
    real,
    kind: req.kind,
    folder: !!req.folder,
    exists: existed,
    tempPath: () => tempName(real),
    async write(data) {
      const tmp = tempName(real);
      try {
        await writeDurable(tmp, data);
        await renameInto(tmp, real);
      } catch (e) {
        await fsp.rm(tmp, { force: true }).catch(() => {});
        throw fsError(e, req.path) ?? e;
      }
      await fsync(dir);
    },
    async commit(temp) {
      try {
        const st = await fsp.lstat(real).catch(() => null);
        if (st?.isDirectory()) {
          // rename() cannot replace a non-empty folder: move the old one aside (a temp name, so
          // an interruption here leaves something `clean` recognises), then swap.
          const old = tempName(real);
          await fsp.rename(real, old);
          try {
            await renameInto(temp, real);
          } catch (e) {
            await fsp.rename(old, real).catch(() => {});
            throw e;
          }
          await fsp.rm(old, { recursive: true, force: true });
        } else {
          await renameInto(temp, real);
        }
      } catch (e) {
        throw fsError(e, req.path) ?? e;
      }
      await fsync(dir);
    },
  };
  return out;
}

/** claimOutputs, run `fn`, release — whatever happens. */
export async function withOutputs<T>(reqs: readonly OutputRequest[], opts: ClaimOptions, fn: (outputs: ClaimedOutput[]) => Promise<T>): Promise<T> {
  const claim = await claimOutputs(reqs, opts);
  try {
    return await fn(claim.outputs);
  } finally {
    await claim.release();
  }
}
