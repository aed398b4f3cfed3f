/**
 * A file written by positioned writes of non-overlapping ranges, in any order: the writer's
 * output. Big files go through O_DIRECT: the finished file is fsynced anyway (an atomic rename
 * must not expose unwritten data), so the disk bounds the time either way, and writing through
 * the page cache only adds a copy into fresh cache pages — 8 CPU-s and 7 s per 2.2 GB on the
 * bench VM against 0.4 CPU-s and 2 s direct (docs/performance.md) — and evicts the experts a
 * sweep reads again. Where O_DIRECT is refused (tmpfs before Linux 6.6, macOS, some FUSE), plain writes.
 *
 * O_DIRECT wants offsets, lengths and memory aligned to the device block: whole 4 KiB blocks go
 * out from page-aligned staging (a WebAssembly memory: its base is page-aligned, which a
 * Buffer's is not — unaligned memory measured 20× slower here), or straight from the caller's
 * WebAssembly memory where it is laid out at the file's alignment (the merge kernels' output:
 * the copy into staging was 6 % of a 1.1B SLERP merge's CPU); the blocks a range only partly
 * covers wait in memory until the ranges beside them fill them, and the last block is written
 * padded, then the file cut to its size.
 */
import { constants as fsc, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { resourcePool } from './resource-pool.js';

export interface OutputFile {
  /** Whether writes bypass the page cache. */
  readonly direct: boolean;
  /** Write `bytes` at file offset `at`; ranges never overlap; `bytes` must stay unchanged until it settles. */
  write(bytes: Uint8Array, at: number, opts?: WriteOptions): Promise<void>;
  /** Everything written is on the device and the file has its size (fsync). */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface WriteOptions {
  /**
   * `bytes` lies in a WebAssembly memory (whose base is page-aligned): a direct file writes the
   * whole blocks of a range whose memory and file offsets agree modulo the block from it, with
   * no staging copy, settling once the device has them.
   */
  wasmMemory?: boolean;
}

export interface OutputFileOptions {
  /** true: O_DIRECT where the filesystem takes it; false: page cache; default: files from DIRECT_MIN_BYTES (256 MiB) up, or as env MERGELENS_DIRECT_IO=0/1 says. */
  direct?: boolean;
}

/**
 * Files from this size are written direct by default. Smaller ones fit the page cache easily and
 * the kernel's write-back overlaps them better than synchronous direct writes: a 100 MB output
 * merged in 0.25 s took 0.36 s direct; 500 MB shards of a 2.2 GB output, 7.6–8.6 s direct
 * against 6.2–12.5 s (10.4 against 10.4–20.7 CPU-s) through the page cache.
 */
export const DIRECT_MIN_BYTES = 256 << 20;
const BLOCK = 4096;

/** Bytes a memory region needs beyond its data for alignedIn to place any range in it. */
export const ALIGN_SLACK = BLOCK;

/**
 * Where in a region of memory starting at `region` (an offset in a page-aligned WebAssembly
 * memory, ALIGN_SLACK bytes longer than the data) to lay out a range written at file offset `at`:
 * the first place agreeing with `at` modulo the block, so write(…, { wasmMemory: true }) sends
 * its whole blocks from there uncopied.
 */
export function alignedIn(region: number, at: number): number {
  return region + ((((at - region) % BLOCK) + BLOCK) % BLOCK);
}
/** Staging: this many slots of this many bytes (a merge writes 2 MiB chunks; up to 8 device writes in flight). */
const SLOT_BYTES = 4 << 20;
const SLOTS = 8;
/** Bytes of buffered writes between background flushes, so the final fsync waits for the tail only. */
const FLUSH_EVERY = 32 << 20;
/** One write call moves at most this many bytes (the platform's limit is just under 2 GiB). */
const MAX_WRITE = 1 << 30;

function wantsDirect(size: number, opt: boolean | undefined): boolean {
  if (fsc.O_DIRECT === undefined) return false;
  if (opt !== undefined) return opt;
  const env = process.env.MERGELENS_DIRECT_IO;
  return env === '0' || env === '1' ? env === '1' : size >= DIRECT_MIN_BYTES;
}

/** Create (truncate) `file` at `size` bytes, read back as zeros until written. */
export async function openOutputFile(file: string, size: number, opts: OutputFileOptions = {}): Promise<OutputFile> {
  if (wantsDirect(size, opts.direct)) {
    const direct = await openDirect(file, size);
    if (direct) return direct;
  }
  const fh = await fsp.open(file, 'w');
  try {
    await fh.truncate(size);
  } catch (e) {
    await fh.close();
    throw e;
  }
  return bufferedFile(fh);
}

async function writeAll(fh: FileHandle, bytes: Uint8Array, at: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await fh.write(bytes, done, Math.min(bytes.length - done, MAX_WRITE), at + done);
    done += bytesWritten;
  }
}

function bufferedFile(fh: FileHandle): OutputFile {
  let unflushed = 0;
  let flushing: Promise<void> | null = null;
  let flushError: unknown;
  return {
    direct: false,
    async write(bytes, at) {
      await writeAll(fh, bytes, at);
      // write back in the background every FLUSH_EVERY bytes, one flush at a time
      unflushed += bytes.length;
      if (unflushed < FLUSH_EVERY || flushing) return;
      unflushed = 0;
      flushing = fh.datasync().then(
        () => void (flushing = null),
        (err: unknown) => void (flushError ??= err), // kept for sync(), not left unhandled; no more flushes
      );
    },
    async sync() {
      await flushing;
      if (flushError !== undefined) throw flushError;
      await fh.sync();
    },
    close: () => fh.close(),
  };
}

const isEinval = (e: unknown) => (e as NodeJS.ErrnoException)?.code === 'EINVAL';

/**
 * Staging regions of closed direct files, for the next ones: a fresh region pays a page fault per
 * 4 KiB on first touch (on a VM, a hypervisor round trip each), and a merge opens one file per
 * shard, all at once — so a sweep's or search's later merges reuse the earlier ones' regions.
 * Only their touched pages stay resident. A file gives its region back once closed, with no
 * write running.
 */
const IDLE_STAGING = 8;
const idleStaging: Uint8Array[] = [];
const releaseStaging = (staging: Uint8Array) => void (idleStaging.length < IDLE_STAGING && idleStaging.push(staging));

/** An O_DIRECT output file, or null where the filesystem refuses O_DIRECT (open or a first block write). */
async function openDirect(file: string, size: number): Promise<OutputFile | null> {
  let fh: FileHandle;
  try {
    fh = await fsp.open(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_DIRECT, 0o666);
  } catch (e) {
    if (isEinval(e)) return null;
    throw e;
  }
  const staging = idleStaging.pop() ?? new Uint8Array(new WebAssembly.Memory({ initial: (SLOTS * SLOT_BYTES) >> 16 }).buffer);
  try {
    // a probe block (zeros, overwritten later): some filesystems take the flag but not the writes
    await fh.write(staging.fill(0, 0, BLOCK), 0, BLOCK, 0);
    await fh.truncate(size);
  } catch (e) {
    await fh.close();
    releaseStaging(staging);
    if (isEinval(e)) return null;
    throw e;
  }
  return directFile(fh, size, staging);
}

interface PartialBlock {
  bytes: Uint8Array;
  filled: number;
}

function directFile(fh: FileHandle, size: number, staging: Uint8Array): OutputFile {
  const slots = resourcePool(Array.from({ length: SLOTS }, (_, i) => staging.subarray(i * SLOT_BYTES, (i + 1) * SLOT_BYTES)));
  /** Device writes still running, and the first that failed (thrown by the next write or sync). */
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  /** Set by close(): later writes are refused (the staging region may serve another file by then). */
  let closed = false;
  /**
   * Copy whole blocks (the last one padded with zeros) into a staging slot and start writing
   * them at `at` (block-aligned); resolves once copied — the caller's memory is free again while
   * the device works, and a merge waits for the disk only when every slot is in flight.
   */
  const writeBlocks = async (bytes: Uint8Array, at: number) => {
    if (closed) throw new Error('write to a closed output file');
    const slot = await slots.take();
    if (closed) {
      slots.give(slot); // closed while this write waited for a slot
      throw new Error('write to a closed output file');
    }
    if (failure) {
      slots.give(slot);
      throw failure.error;
    }
    const len = Math.ceil(bytes.length / BLOCK) * BLOCK;
    slot.set(bytes);
    slot.fill(0, bytes.length, len);
    const w: Promise<void> = writeAll(fh, slot.subarray(0, len), at)
      .catch((error: unknown) => void (failure ??= { error }))
      .finally(() => {
        running.delete(w);
        slots.give(slot);
      });
    running.add(w);
  };
  /** Whole blocks at `at` (block-aligned) straight from the caller's page-aligned memory; settles once written. */
  const writeFrom = (bytes: Uint8Array, at: number): Promise<void> => {
    if (closed) return Promise.reject(new Error('write to a closed output file'));
    if (failure) return Promise.reject(failure.error);
    const w = writeAll(fh, bytes, at);
    const tracked: Promise<void> = w.then(
      () => void running.delete(tracked),
      () => void running.delete(tracked), // the caller sees the error (it awaits w)
    );
    running.add(tracked);
    return w;
  };
  const drain = async () => {
    while (running.size) await Promise.all(running);
  };
  /** Blocks only partly written so far, by index. */
  const partial = new Map<number, PartialBlock>();
  const blockBytes = (i: number) => Math.min(BLOCK, size - i * BLOCK);
  /** Put bytes into block i at `offset`; write the block once its ranges fill it. */
  const addToBlock = (i: number, offset: number, bytes: Uint8Array): Promise<void> | null => {
    let b = partial.get(i);
    if (!b) partial.set(i, (b = { bytes: new Uint8Array(blockBytes(i)), filled: 0 }));
    b.bytes.set(bytes, offset);
    b.filled += bytes.length;
    if (b.filled < b.bytes.length) return null;
    partial.delete(i);
    return writeBlocks(b.bytes, i * BLOCK);
  };

  return {
    direct: true,
    async write(bytes, at, opts) {
      const end = at + bytes.length;
      if (end > size) throw new RangeError(`write of [${at}, ${end}) past the file's ${size} bytes`);
      const pending: Promise<void>[] = [];
      const headEnd = Math.min(end, Math.ceil(at / BLOCK) * BLOCK);
      const tailStart = Math.max(headEnd, end === size ? end : Math.floor(end / BLOCK) * BLOCK);
      const add = (i: number, from: number, to: number) => {
        const p = addToBlock(i, from - i * BLOCK, bytes.subarray(from - at, to - at));
        if (p) pending.push(p);
      };
      if (headEnd > at) add(Math.floor(at / BLOCK), at, headEnd);
      let p = headEnd;
      // whole blocks from the caller's memory where it lies at the file's alignment; the file's
      // last block, short, is padded in staging
      const whole = Math.floor(tailStart / BLOCK) * BLOCK;
      if (opts?.wasmMemory && whole > p && (bytes.byteOffset + p - at) % BLOCK === 0) {
        pending.push(writeFrom(bytes.subarray(p - at, whole - at), p));
        p = whole;
      }
      for (; p < tailStart; p += SLOT_BYTES) {
        const to = Math.min(tailStart, p + SLOT_BYTES);
        pending.push(writeBlocks(bytes.subarray(p - at, to - at), p));
      }
      if (end > tailStart) add(Math.floor(tailStart / BLOCK), tailStart, end);
      await Promise.all(pending);
    },
    async sync() {
      // blocks some bytes of which were never written keep zeros there, as a truncated file reads
      const left = [...partial.entries()];
      partial.clear();
      await Promise.all(left.map(([i, b]) => writeBlocks(b.bytes, i * BLOCK)));
      await drain();
      if (failure) throw failure.error;
      await fh.truncate(size); // the last block went out padded
      await fh.sync();
    },
    async close() {
      if (closed) return;
      closed = true; // before draining: a write that came after close must not take a slot of a region given back
      await drain(); // never close the descriptor under a running write
      await fh.close();
      releaseStaging(staging);
    },
  };
}
