/**
 * Parse and validate a safetensors header: pure functions over bytes, no I/O, so the
 * same code checks files on disk, buffers in memory and fuzzed inputs.
 *
 * Rules follow the reference implementation (huggingface/safetensors `Metadata::validate`):
 * 8-byte LE u64 header length N ≤ 100,000,000; UTF-8 JSON starting with `{`, optionally
 * right-padded with spaces; `__metadata__` a flat string→string map; entries
 * {dtype, shape, data_offsets} with offsets relative to the data start; sorted by offset the
 * tensors cover the data exactly (from 0, no gaps, no overlaps); END−BEGIN = numel × size;
 * 8 + N + last END = file length. Every error names the file and, where it applies, the tensor.
 */
import { MergelensError } from '../errors.js';
import { DTYPE_BITS, isKnownDType } from './dtype.js';
import { assertJsonDepth } from './json-depth.js';

export const MAX_HEADER_BYTES = 100_000_000;
const LFS_MAGIC = 'version https://git-lfs';

export interface HeaderEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Byte offsets relative to the data start (8 + N); end exclusive. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  /** Entries in data order (ascending offsets). */
  entries: HeaderEntry[];
  byName: Map<string, HeaderEntry>;
  /** N: length of the JSON header in bytes (padding included). */
  headerLength: number;
  /** Absolute offset of the byte buffer: 8 + N. */
  dataStart: number;
  /** Bytes covered by tensors (= last END). */
  dataLength: number;
}

/** Whether the first bytes of a file are a Git LFS pointer instead of the real content. */
export function isLfsPointer(prefix: Uint8Array): boolean {
  if (prefix.length < LFS_MAGIC.length) return false;
  for (let i = 0; i < LFS_MAGIC.length; i++) if (prefix[i] !== LFS_MAGIC.charCodeAt(i)) return false;
  return true;
}

export function lfsPointerError(file: string): MergelensError {
  return new MergelensError('LFS_POINTER', 'this is a Git LFS pointer file, not the real safetensors data', {
    file,
    hint: 'run `git lfs pull` (or download the file directly) to fetch the actual weights',
  });
}

/**
 * Read N from the first 8 bytes and check it against the limits and the file size.
 * `prefix` must hold at least the first 8 bytes (more lets LFS pointers be recognised).
 */
export function parseHeaderLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (isLfsPointer(prefix)) throw lfsPointerError(file);
  if (fileSize < 8 || prefix.length < 8) {
    throw new MergelensError('TRUNCATED', `file is ${fileSize} bytes, too short for the 8-byte header length`, { file });
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new MergelensError('HEADER_TOO_LARGE', `declared header length ${n} bytes exceeds the 100,000,000-byte limit`, {
      file,
      hint: 'the file is probably not safetensors, or is corrupt',
    });
  }
  const len = Number(n);
  if (len < 2) throw new MergelensError('BAD_HEADER', `declared header length ${len} is too small for a JSON object`, { file });
  if (8 + len > fileSize) {
    throw new MergelensError('TRUNCATED', `header declares ${len} bytes but the file has only ${fileSize - 8} after the length field`, { file });
  }
  return len;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parse the N header bytes (without the 8-byte length). `fileSize`, when given, is checked
 * against 8 + N + data length.
 */
export function parseHeader(bytes: Uint8Array, file: string, fileSize?: number): SafetensorsHeader {
  const bad = (problem: string, tensor?: string) => new MergelensError('BAD_HEADER', problem, { file, tensor });
  if (bytes.length === 0 || bytes[0] !== 0x7b) {
    throw bad(`header must start with "{" but starts with byte 0x${(bytes[0] ?? 0).toString(16).padStart(2, '0')}`);
  }
  // Only spaces may pad the JSON (NUL padding is rejected by the reference reader too).
  let last = bytes.length - 1;
  while (last > 0 && bytes[last] === 0x20) last--;
  if (bytes.indexOf(0) !== -1) throw bad('header contains NUL bytes (padding must be spaces)');
  let text: string;
  try {
    text = utf8.decode(bytes.subarray(0, last + 1));
  } catch {
    throw bad('header is not valid UTF-8');
  }
  assertJsonDepth(text, 'BAD_HEADER', file, 'header');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw bad(`header is not valid JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw bad('header JSON is not an object');
  const obj = json as Record<string, unknown>;
  const keys = Object.keys(obj);
  const duplicate = findDuplicateKey(text);
  if (duplicate) {
    throw duplicate.depth === 1 ? bad('duplicate key in header', duplicate.key) : bad(`duplicate key "${duplicate.key}" inside a header entry`);
  }

  // Null-prototype so a key named "__proto__" is stored, not interpreted.
  const metadata: Record<string, string> = Object.create(null);
  const entries: HeaderEntry[] = [];
  for (const name of keys) {
    const value = obj[name];
    if (name === '__metadata__') {
      if (value === null) continue;
      if (typeof value !== 'object' || Array.isArray(value)) throw bad('__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') throw bad(`__metadata__["${k}"] must be a string, got ${JSON.stringify(v)?.slice(0, 40)}`);
        metadata[k] = v;
      }
      continue;
    }
    entries.push(parseEntry(name, value, file));
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of entries) {
    if (e.begin !== expected) {
      throw new MergelensError(
        'BAD_OFFSETS',
        e.begin < expected
          ? `data_offsets [${e.begin}, ${e.end}] overlap the previous tensor, which ends at ${expected}`
          : `gap in the byte buffer: data_offsets start at ${e.begin} but the previous tensor ends at ${expected}`,
        { file, tensor: e.name },
      );
    }
    expected = e.end;
  }
  const headerLength = bytes.length;
  const dataStart = 8 + headerLength;
  if (fileSize !== undefined && dataStart + expected !== fileSize) {
    const lastName = entries.length ? entries[entries.length - 1].name : undefined;
    if (dataStart + expected > fileSize) {
      throw new MergelensError('TRUNCATED', `file is truncated: tensors need ${dataStart + expected} bytes but the file has ${fileSize}`, {
        file,
        tensor: lastName,
      });
    }
    throw new MergelensError('BAD_OFFSETS', `file has ${fileSize - dataStart - expected} trailing bytes not covered by any tensor`, { file });
  }
  return { metadata, entries, byName: new Map(entries.map((e) => [e.name, e])), headerLength, dataStart, dataLength: expected };
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function parseEntry(name: string, value: unknown, file: string): HeaderEntry {
  const bad = (problem: string) => new MergelensError('BAD_HEADER', problem, { file, tensor: name });
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad('entry is not an object with dtype, shape, data_offsets');
  const v = value as Record<string, unknown>;
  if (typeof v.dtype !== 'string') throw bad('entry has no string "dtype"');
  if (!isKnownDType(v.dtype)) {
    throw new MergelensError('UNSUPPORTED_DTYPE', `unknown dtype "${v.dtype.slice(0, 40)}" (not a safetensors dtype)`, { file, tensor: name });
  }
  if (!Array.isArray(v.shape) || !v.shape.every(isCount)) throw bad('"shape" must be an array of non-negative integers');
  const off = v.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !isCount(off[0]) || !isCount(off[1])) {
    throw bad('"data_offsets" must be [BEGIN, END] with non-negative integers');
  }
  const [begin, end] = off as [number, number];
  if (end < begin) throw new MergelensError('BAD_OFFSETS', `data_offsets [${begin}, ${end}] end before they begin`, { file, tensor: name });
  // Overflow-safe numel × bits in BigInt.
  let numel = 1n;
  for (const d of v.shape as number[]) numel *= BigInt(d);
  const bits = numel * BigInt(DTYPE_BITS[v.dtype]);
  if (bits % 8n !== 0n) throw bad(`${numel} elements of ${v.dtype} is not a whole number of bytes`);
  const expectedBytes = bits / 8n;
  if (BigInt(end - begin) !== expectedBytes) {
    throw new MergelensError(
      'SIZE_MISMATCH',
      `data_offsets span ${end - begin} bytes but shape [${(v.shape as number[]).join(', ')}] of ${v.dtype} needs ${expectedBytes}`,
      { file, tensor: name },
    );
  }
  return { name, dtype: v.dtype, shape: (v.shape as number[]).slice(), begin, end };
}

/**
 * JSON.parse keeps the last of duplicate keys silently, but the format forbids them. Find the
 * first key repeated within one object with a tiny string-aware scanner (O(N)); `depth` is
 * 1 for top-level keys. Only call on text JSON.parse accepted.
 */
export function findDuplicateKey(text: string): { key: string; depth: number; parent?: string } | undefined {
  // One frame per open object (null for arrays): its keys, the key being read, and the key it sits under.
  const stack: ({ keys: Set<string>; last?: string; parent?: string } | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        if (top.keys.has(key)) return { key, depth: stack.length, parent: top.parent };
        top.keys.add(key);
        top.last = key;
      }
      expectKey = false;
    } else if (c === 0x7b /* { */) {
      stack.push({ keys: new Set(), parent: stack[stack.length - 1]?.last });
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      expectKey = !!stack[stack.length - 1];
    }
  }
  return undefined;
}

/** Element count of a shape (a rank-0 tensor has one element). */
export function numelOf(shape: readonly number[]): number {
  if (shape.includes(0)) return 0;
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Serialise a header: JSON padded with spaces so the data start (8 + N) is a multiple of 8.
 * Returns the full prefix (8-byte length + header), ready to be written at offset 0.
 */
export function encodeHeader(metadata: Record<string, string> | undefined, entries: readonly HeaderEntry[]): Uint8Array {
  const obj: Record<string, unknown> = Object.create(null);
  if (metadata && Object.keys(metadata).length) obj.__metadata__ = metadata;
  for (const e of entries) obj[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [e.begin, e.end] };
  const json = new TextEncoder().encode(JSON.stringify(obj));
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const out = new Uint8Array(8 + padded);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.fill(0x20, 8);
  out.set(json, 8);
  return out;
}
