/**
 * Lazy reader for one safetensors file: `open` reads only the 8-byte length and the JSON
 * header; tensor data is fetched on demand with positioned reads (FileHandle.read at an
 * offset) into a fresh, aligned buffer, so files larger than RAM work and unaligned tensor
 * offsets in the file cost nothing extra.
 *
 * We do not use the npm `safetensors` package: it is an in-memory browser toy that loads the
 * whole file into one buffer.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { TensorLocation } from '../types.js';
import { MergelensError } from '../errors.js';
import { FLOAT_DTYPE_BYTES, decodeToFloat32, decodeToFloat64, requireFloatDType } from './dtype.js';
import { openRegularFile } from '../checkpoint/safe-path.js';
import { numelOf, parseHeader, parseHeaderLength, type HeaderEntry, type SafetensorsHeader } from './header.js';

/** FileHandle.read takes an int32 length; stay well below it per call. */
const MAX_READ_CHUNK = 1 << 30;

/** Read exactly `length` bytes at `position` into `buf[offset..]`, or fail with TRUNCATED. */
export async function readExactly(fh: FileHandle, buf: Uint8Array, offset: number, length: number, position: number, file: string): Promise<void> {
  let done = 0;
  while (done < length) {
    const want = Math.min(length - done, MAX_READ_CHUNK);
    const { bytesRead } = await fh.read(buf, offset + done, want, position + done);
    if (bytesRead === 0) {
      throw new MergelensError('TRUNCATED', `unexpected end of file at byte ${position + done} (wanted ${length - done} more bytes)`, { file });
    }
    done += bytesRead;
  }
}

export class SafetensorsFile {
  private closed = false;

  private constructor(
    readonly path: string,
    readonly size: number,
    readonly header: SafetensorsHeader,
    /** SHA-256 of the 8-byte length + JSON header: identifies the file's layout cheaply. */
    readonly headerSha256: string,
    private readonly fh: FileHandle,
    /** What the file was when opened (fstat), to notice it changing under a long run. */
    private readonly opened?: { mtimeMs: number; ino: number; dev: number },
  ) {}

  /**
   * How the file on disk differs from when it was opened — replaced (another inode at the path),
   * resized or modified (mtime) — or undefined when it looks the same. A long pass (metrics,
   * merge) calls this at the end: results computed from a file rewritten midway are refused.
   */
  async changedSinceOpen(): Promise<string | undefined> {
    if (!this.opened) return undefined;
    const now = await fsp.stat(this.path).catch(() => null);
    if (!now) return 'it was removed';
    if (now.ino !== this.opened.ino || now.dev !== this.opened.dev) return 'it was replaced by another file';
    if (now.size !== this.size) return `its size changed from ${this.size} to ${now.size} bytes`;
    if (now.mtimeMs !== this.opened.mtimeMs) return 'it was modified (mtime changed)';
    return undefined;
  }

  /** Open a file and validate its header (no tensor data is read). */
  static async open(path: string): Promise<SafetensorsFile> {
    // O_NONBLOCK + fstat: a FIFO or device is refused by name instead of blocking forever.
    const { fh, stat } = await openRegularFile(path);
    try {
      const prefix = new Uint8Array(Math.min(stat.size, 64));
      if (prefix.length) await readExactly(fh, prefix, 0, prefix.length, 0, path);
      const n = parseHeaderLength(prefix, stat.size, path);
      const headerBytes = new Uint8Array(n);
      await readExactly(fh, headerBytes, 0, n, 8, path);
      const header = parseHeader(headerBytes, path, stat.size);
      const sha = createHash('sha256').update(prefix.subarray(0, 8)).update(headerBytes).digest('hex');
      return new SafetensorsFile(path, stat.size, header, sha, fh, { mtimeMs: stat.mtimeMs, ino: stat.ino, dev: stat.dev });
    } catch (e) {
      await fh.close().catch(() => {});
      throw e;
    }
  }

  get metadata(): Record<string, string> {
    return this.header.metadata;
  }

  /** Tensor names, sorted. */
  names(): string[] {
    return this.header.entries.map((e) => e.name).sort();
  }

  entry(name: string): HeaderEntry | undefined {
    return this.header.byName.get(name);
  }

  /** Spec and absolute byte range of a tensor. */
  location(name: string): TensorLocation | undefined {
    const e = this.header.byName.get(name);
    if (!e) return undefined;
    const base = this.header.dataStart;
    return { name, dtype: e.dtype, shape: e.shape.slice(), file: this.path, begin: base + e.begin, end: base + e.end };
  }

  private require(name: string): HeaderEntry {
    const e = this.header.byName.get(name);
    if (!e) throw new MergelensError('MISSING_TENSOR', 'no such tensor in this file', { file: this.path, tensor: name });
    return e;
  }

  /** Validate an element range [start, start+count) of a float tensor; returns its byte range. */
  private range(name: string, start: number, count: number | undefined): { e: HeaderEntry; pos: number; bytes: number } {
    const e = this.require(name);
    const dtype = requireFloatDType(e.dtype, { file: this.path, tensor: name });
    const numel = numelOf(e.shape);
    const n = count ?? numel - start;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(n) || start < 0 || n < 0 || start + n > numel) {
      throw new MergelensError('BAD_INPUT', `read of elements [${start}, ${start + n}) outside the tensor's ${numel} elements`, { file: this.path, tensor: name });
    }
    const size = FLOAT_DTYPE_BYTES[dtype];
    return { e, pos: this.header.dataStart + e.begin + start * size, bytes: n * size };
  }

  /**
   * Raw little-endian bytes [byteStart, byteStart+byteCount) of a tensor (relative to the
   * tensor's first byte), in a fresh buffer whose byteOffset is 0 (so aligned for any view).
   */
  async readBytes(name: string, byteStart = 0, byteCount?: number): Promise<Uint8Array> {
    const e = this.require(name);
    const total = e.end - e.begin;
    const n = byteCount ?? total - byteStart;
    if (byteStart < 0 || n < 0 || byteStart + n > total) {
      throw new MergelensError('BAD_INPUT', `byte range [${byteStart}, ${byteStart + n}) outside the tensor's ${total} bytes`, { file: this.path, tensor: name });
    }
    return this.readAt(this.header.dataStart + e.begin + byteStart, n);
  }

  private async readAt(position: number, length: number): Promise<Uint8Array> {
    if (this.closed) throw new MergelensError('BAD_INPUT', 'file already closed', { file: this.path });
    const buf = new Uint8Array(new ArrayBuffer(length));
    await readExactly(this.fh, buf, 0, length, position, this.path);
    return buf;
  }

  /** Decode elements [start, start+count) (row-major) of a float tensor to float32. */
  async read(name: string, start = 0, count?: number): Promise<Float32Array> {
    const { e, pos, bytes } = this.range(name, start, count);
    return decodeToFloat32(e.dtype as 'F32', await this.readAt(pos, bytes), true);
  }

  /** Stored bytes of elements [start, start+count) of a float tensor into `dest` (exactly that many bytes). */
  async readInto(name: string, start: number, count: number, dest: Uint8Array): Promise<void> {
    const { pos, bytes } = this.range(name, start, count);
    if (dest.length !== bytes) throw new MergelensError('BAD_INPUT', `destination holds ${dest.length} bytes, the read is ${bytes}`, { file: this.path, tensor: name });
    if (this.closed) throw new MergelensError('BAD_INPUT', 'file already closed', { file: this.path });
    await readExactly(this.fh, dest, 0, bytes, pos, this.path);
  }

  /** Like `read`, but exact in float64 (F64 tensors keep full precision). */
  async readFloat64(name: string, start = 0, count?: number): Promise<Float64Array> {
    const { e, pos, bytes } = this.range(name, start, count);
    return decodeToFloat64(e.dtype as 'F64', await this.readAt(pos, bytes));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }
}

/** Open, use and close a file. */
export async function withSafetensors<T>(path: string, fn: (f: SafetensorsFile) => Promise<T>): Promise<T> {
  const f = await SafetensorsFile.open(path);
  try {
    return await fn(f);
  } finally {
    await f.close();
  }
}

/**
 * Parse a whole safetensors file already in memory (small files, tests). Tensor bytes are
 * decoded in place, through a DataView when their offset is not aligned to the element size.
 */
export function parseSafetensorsBuffer(bytes: Uint8Array, file = '<buffer>'): { header: SafetensorsHeader; tensor(name: string): Float32Array } {
  const n = parseHeaderLength(bytes.subarray(0, 64), bytes.length, file);
  const header = parseHeader(bytes.subarray(8, 8 + n), file, bytes.length);
  return {
    header,
    tensor(name: string): Float32Array {
      const e = header.byName.get(name);
      if (!e) throw new MergelensError('MISSING_TENSOR', 'no such tensor in this file', { file, tensor: name });
      const dtype = requireFloatDType(e.dtype, { file, tensor: name });
      return decodeToFloat32(dtype, bytes.subarray(header.dataStart + e.begin, header.dataStart + e.end));
    },
  };
}
