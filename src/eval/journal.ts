/**
 * The evaluation journal: an append-only JSON-lines file, one fsync'ed line per finished attempt,
 * so a run killed at any instant (kill -9 included) leaves every recorded attempt intact and at
 * most one torn last line, which `openJournal` cuts off before appending again.
 *
 * Line 1 is a header naming what the journal belongs to (`identity`: the inputs that decide the
 * outcomes — models, command, seed); a later run may only append to a journal with the same
 * identity. Every other line is an `AttemptRecord`.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { MergelensError } from '../errors.js';

export const JOURNAL_FORMAT = 'mergelens.eval-journal';

export interface JournalHeader {
  kind: 'header';
  format: typeof JOURNAL_FORMAT;
  version: 1;
  createdAt: string;
  identity: unknown;
}

export interface AttemptRecord {
  kind: 'attempt';
  id: string;
  attempt: number;
  status: 'ok' | 'failed';
  /** Why the attempt failed: exit code, timeout, unusable results … */
  reason?: string;
  scores?: Record<string, number>;
  /** Which result contract the scores came from. */
  contract?: string;
  seconds: { materialise: number; evaluate: number };
  at: string;
  meta?: Record<string, unknown>;
}

export interface Journal {
  file: string;
  header: JournalHeader;
  records: AttemptRecord[];
  append(r: AttemptRecord): Promise<void>;
  close(): Promise<void>;
}

const stable = (v: unknown): string => JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));

export const sameIdentity = (a: unknown, b: unknown): boolean => stable(a) === stable(b);

/** Parse journal text; a torn (unterminated or unparsable) final line is reported, not fatal. */
export function parseJournal(text: string, file: string): { header: JournalHeader | null; records: AttemptRecord[]; validBytes: number } {
  let header: JournalHeader | null = null;
  const records: AttemptRecord[] = [];
  let pos = 0;
  let validBytes = 0;
  let lineNo = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    if (nl < 0) break; // torn last line: written partially when the run died
    const line = text.slice(pos, nl);
    lineNo++;
    pos = nl + 1;
    if (line.trim() === '') {
      validBytes = Buffer.byteLength(text.slice(0, pos));
      continue;
    }
    let rec: { kind?: string };
    try {
      rec = JSON.parse(line);
    } catch {
      if (pos >= text.length) break; // torn final line that happened to end in \n
      throw new MergelensError('BAD_INPUT', `journal line ${lineNo} is not valid JSON`, { file, hint: 'the journal was edited or corrupted; move it away to start over' });
    }
    if (lineNo === 1) {
      if (rec.kind !== 'header' || (rec as JournalHeader).format !== JOURNAL_FORMAT) throw new MergelensError('BAD_INPUT', `not a mergelens evaluation journal (line 1 is not its header)`, { file });
      header = rec as JournalHeader;
    } else if (rec.kind === 'attempt') records.push(rec as AttemptRecord);
    validBytes = Buffer.byteLength(text.slice(0, pos));
  }
  return { header, records, validBytes };
}

/**
 * Open (or create) the journal at `file` for `identity`. An existing journal of another identity
 * is an error (the caller decides whether --force may remove it first).
 */
export async function openJournal(file: string, identity: unknown): Promise<Journal> {
  await fsp.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const text = await fsp.readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw e;
  });
  let header: JournalHeader;
  let records: AttemptRecord[] = [];
  const fh = await fsp.open(file, text === null ? 'w' : 'r+');
  try {
    if (text === null || text.length === 0) {
      header = { kind: 'header', format: JOURNAL_FORMAT, version: 1, createdAt: new Date().toISOString(), identity };
      await fh.truncate(0);
      await fh.write(JSON.stringify(header) + '\n', 0);
      await fh.sync();
    } else {
      const parsed = parseJournal(text, file);
      if (!parsed.header) throw new MergelensError('BAD_INPUT', 'journal has no complete header line', { file, hint: 'move it away to start over' });
      if (!sameIdentity(parsed.header.identity, identity)) {
        throw new MergelensError('OUTPUT_EXISTS', 'this folder holds a run of different inputs (models, command or seed differ)', { file, hint: 'use another -o folder, or --force to start over' });
      }
      header = parsed.header;
      records = parsed.records;
      // Cut a torn last line so the next record starts on a fresh line.
      if (parsed.validBytes !== Buffer.byteLength(text)) {
        await fh.truncate(parsed.validBytes);
        await fh.sync();
      }
    }
  } catch (e) {
    await fh.close();
    throw e;
  }
  await fh.close();
  const out = await fsp.open(file, 'a');
  // Appends are serialised so concurrent finishers never interleave bytes within a line.
  let chain: Promise<void> = Promise.resolve();
  return {
    file,
    header,
    records,
    append(r) {
      records.push(r);
      chain = chain.then(async () => {
        await out.write(JSON.stringify(r) + '\n');
        await out.sync();
      });
      return chain;
    },
    async close() {
      await chain.catch(() => {});
      await out.close();
    },
  };
}

/** Per id: the successful record (if any) and the number of failed attempts, in file order. */
export function summarise(records: readonly AttemptRecord[]): Map<string, { ok?: AttemptRecord; failures: AttemptRecord[] }> {
  const m = new Map<string, { ok?: AttemptRecord; failures: AttemptRecord[] }>();
  for (const r of records) {
    const e = m.get(r.id) ?? { failures: [] };
    if (r.status === 'ok') e.ok ??= r;
    else e.failures.push(r);
    m.set(r.id, e);
  }
  return m;
}
