/**
 * src/util/output-file.ts: ranges written in any order, with blocks shared between ranges, read
 * back byte for byte — through O_DIRECT where the filesystem takes it (checked independently
 * here) and through the page cache. The folder is inside the repository (test-output/), which
 * lies on a disk, not on a tmpfs that may refuse O_DIRECT (before Linux 6.6).
 */
import { constants as fsc, promises as fsp, mkdirSync, openSync, closeSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { openOutputFile } from '../../src/util/output-file.js';
import { createCheckpointWriter } from '../../src/safetensors/writer.js';
import { SafetensorsFile } from '../../src/safetensors/reader.js';
import { mulberry32 } from '../../src/util/mulberry32.js';

const DIR = path.join(import.meta.dirname, '../../test-output/output-file');
rmSync(DIR, { recursive: true, force: true });
mkdirSync(DIR, { recursive: true });
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

/** Whether this folder's filesystem takes an aligned O_DIRECT write (from a WebAssembly memory: page-aligned). */
function takesDirect(): boolean {
  if (fsc.O_DIRECT === undefined) return false;
  const probe = path.join(DIR, 'probe');
  try {
    const fd = openSync(probe, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_DIRECT);
    try {
      writeSync(fd, new Uint8Array(new WebAssembly.Memory({ initial: 1 }).buffer), 0, 4096, 0);
      return true;
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  } finally {
    rmSync(probe, { force: true });
  }
}

/** Cut [0, size) at random points: tiny ranges inside one block, ranges over block and staging-slot edges. */
function randomRanges(size: number, rand: () => number): [number, number][] {
  const cuts = new Set([0, size]);
  for (let i = 0; i < 60; i++) cuts.add(Math.floor(rand() * size));
  for (let i = 0; i < 20; i++) cuts.add(Math.min(size, 4096 * Math.floor(rand() * (size / 4096)) + Math.floor(rand() * 3))); // near block edges
  const sorted = [...cuts].sort((a, b) => a - b);
  return sorted.slice(1).map((end, i) => [sorted[i], end] as [number, number]).filter(([a, b]) => b > a);
}

const direct = takesDirect();

type Write = (...a: unknown[]) => unknown;
/** fsp.open spied: every handle it opens sends its writes through `wrap` (with the real write). */
function spyOnWrites(wrap: (write: Write, ...a: unknown[]) => unknown) {
  const realOpen = fsp.open.bind(fsp);
  return vi.spyOn(fsp, 'open').mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
    const fh = await realOpen(...args);
    return new Proxy(fh, {
      get(target, key) {
        if (key === 'write') return (...a: unknown[]) => wrap((target.write as Write).bind(target), ...a);
        const v = Reflect.get(target, key, target) as unknown;
        return typeof v === 'function' ? (v as Write).bind(target) : v;
      },
    });
  });
}

describe('openOutputFile', () => {
  for (const mode of [true, false]) {
    it(`${mode ? 'O_DIRECT' : 'page cache'}: ranges in random order, several in flight, read back exactly`, async () => {
      const rand = mulberry32(mode ? 11 : 12);
      const size = 19 * (1 << 20) + 777; // past two 8 MiB staging slots, ends inside a block
      const expected = new Uint8Array(size);
      for (let i = 0; i < size; i++) expected[i] = (rand() * 256) | 0;
      const ranges = randomRanges(size, rand);
      ranges.push([0, 0]); // an empty write is harmless
      for (let i = ranges.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [ranges[i], ranges[j]] = [ranges[j], ranges[i]];
      }
      const file = path.join(DIR, `ranges-${mode}.bin`);
      const f = await openOutputFile(file, size, { direct: mode });
      expect(f.direct).toBe(mode && direct);
      // four at a time, each from its own copy (a caller's bytes stay unchanged only until its write settles)
      for (let i = 0; i < ranges.length; i += 4) {
        await Promise.all(ranges.slice(i, i + 4).map(([a, b]) => f.write(expected.slice(a, b), a)));
      }
      await f.sync();
      await f.close();
      expect(statSync(file).size).toBe(size);
      expect(Buffer.from(readFileSync(file)).equals(Buffer.from(expected))).toBe(true);
    });
  }

  it('O_DIRECT: bytes never written read back as zeros, and the file keeps its size', async () => {
    const size = 3 * 4096 + 100;
    const file = path.join(DIR, 'holes.bin');
    const f = await openOutputFile(file, size, { direct: true });
    const a = new Uint8Array(5000).fill(7); // [10, 5010): block 0 partly, block 1 partly
    await f.write(a, 10);
    await f.write(new Uint8Array(50).fill(9), size - 50); // in the last, short block
    await f.sync();
    await f.close();
    const want = new Uint8Array(size);
    want.fill(7, 10, 5010);
    want.fill(9, size - 50);
    expect(Buffer.from(readFileSync(file)).equals(Buffer.from(want))).toBe(true);
  });

  it.runIf(direct)('O_DIRECT: a failed device write fails the next write and sync(), after the rest have finished', async () => {
    // the writer's file handle, with its third write (the first is the open probe) failing as a disk would
    let calls = 0;
    const spy = spyOnWrites((write, ...a) => (++calls === 3 ? Promise.reject(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' })) : write(...a)));
    try {
      const f = await openOutputFile(path.join(DIR, 'failing.bin'), 32 << 20, { direct: true });
      expect(f.direct).toBe(true);
      await f.write(new Uint8Array(12 << 20).fill(1), 0); // three staging slots' worth: returns once copied
      await expect(f.sync()).rejects.toMatchObject({ code: 'EIO' });
      await expect(f.write(new Uint8Array(4096), 12 << 20)).rejects.toMatchObject({ code: 'EIO' });
      await f.close();
      expect(calls).toBe(4); // probe + 3 pieces; nothing written after the failure was known
    } finally {
      spy.mockRestore();
    }
  });

  for (const refused of ['open', 'write'] as const) {
    it(`where the filesystem refuses O_DIRECT (EINVAL on ${refused}), writes go through the page cache`, async () => {
      const einval = () => Object.assign(new Error('EINVAL: invalid argument'), { code: 'EINVAL' });
      const realOpen = fsp.open.bind(fsp);
      const spy = vi.spyOn(fsp, 'open').mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
        const isDirect = typeof args[1] === 'number' && (args[1] & fsc.O_DIRECT) !== 0;
        if (isDirect && refused === 'open') throw einval();
        const fh = await realOpen(...args);
        if (!isDirect) return fh;
        return new Proxy(fh, {
          get(target, key) {
            if (key === 'write') return () => Promise.reject(einval());
            const v = Reflect.get(target, key, target) as unknown;
            return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
          },
        });
      });
      try {
        const file = path.join(DIR, `refused-${refused}.bin`);
        const want = new Uint8Array(100_000).map((_, i) => (i * 7) & 0xff);
        const f = await openOutputFile(file, want.length, { direct: true });
        expect(f.direct).toBe(false);
        await f.write(want.subarray(0, 5000), 0);
        await f.write(want.subarray(5000), 5000);
        await f.sync();
        await f.close();
        expect(Buffer.from(readFileSync(file)).equals(Buffer.from(want))).toBe(true);
      } finally {
        spy.mockRestore();
      }
    });
  }

  it.runIf(direct)('O_DIRECT: files one after another share one staging region, and a closed file can no longer write into it', async () => {
    const Memory = WebAssembly.Memory;
    let made = 0;
    const spy = vi.spyOn(WebAssembly, 'Memory').mockImplementation(function (this: unknown, d: WebAssembly.MemoryDescriptor) {
      made++;
      return new Memory(d);
    } as unknown as typeof WebAssembly.Memory);
    try {
      const size = 9 * 4096 + 3;
      const want = (k: number) => Uint8Array.from({ length: size }, (_, i) => (i * 7 + k) & 255);
      let closedOne: Awaited<ReturnType<typeof openOutputFile>> | undefined;
      for (let k = 0; k < 3; k++) {
        const file = path.join(DIR, `serial-${k}.bin`);
        const f = await openOutputFile(file, size, { direct: true });
        // the previous file, closed: its write must fail, not land in the region this file now uses
        if (closedOne) await expect(closedOne.write(new Uint8Array(8192).fill(255), 0)).rejects.toThrow(/closed/);
        await f.write(want(k).subarray(0, 5000), 0);
        await f.write(want(k).subarray(5000), 5000);
        await f.sync();
        await f.close();
        await f.close(); // twice: harmless, gives nothing back twice
        expect(Buffer.from(readFileSync(file)).equals(Buffer.from(want(k)))).toBe(true);
        closedOne = f;
      }
      expect(made).toBeLessThanOrEqual(1); // at most the first file's; none where an earlier test's was left idle
    } finally {
      spy.mockRestore();
    }
  });

  it.runIf(direct)('O_DIRECT: ranges in WebAssembly memory at the file\'s alignment go out from it, settling once written', async () => {
    const rand = mulberry32(21);
    const size = 5 * (1 << 20) + 333; // ends inside a block: the last one goes out padded
    const expected = Uint8Array.from({ length: size }, () => (rand() * 256) | 0);
    const ranges = randomRanges(size, rand).filter(([a, b]) => b - a <= 1 << 20);
    // three regions in turn, as the merge's chunks: each range at its file offset modulo 4 KiB, or one byte off
    const span = (1 << 20) + 8192;
    const mem = new Uint8Array(new WebAssembly.Memory({ initial: Math.ceil((3 * span) / 65536) }).buffer);
    let fromCaller = 0;
    const spy = spyOnWrites((write, ...a) => ((fromCaller += +((a[0] as Uint8Array).buffer === mem.buffer)), write(...a)));
    try {
      const f = await openOutputFile(path.join(DIR, 'in-place.bin'), size, { direct: true });
      const writing: Promise<void>[] = [Promise.resolve(), Promise.resolve(), Promise.resolve()];
      let aligned = 0;
      for (let k = 0; k < ranges.length; k++) {
        const [a, b] = ranges[k];
        const r = k % 3;
        await writing[r];
        mem.fill(0xee, r * span, (r + 1) * span); // the region reused: what an early settle would let through
        const off = r * span + (a % 4096) + (k % 4 === 3 ? 1 : 0);
        if (k % 4 !== 3 && Math.floor(b / 4096) > Math.ceil(a / 4096)) aligned++;
        mem.set(expected.subarray(a, b), off);
        writing[r] = f.write(mem.subarray(off, off + b - a), a, { wasmMemory: true });
      }
      await Promise.all(writing);
      mem.fill(0xee);
      await f.sync();
      await f.close();
      expect(aligned).toBeGreaterThan(5); // the case reached the in-place path, and the copying one (k % 4 = 3)
      expect(fromCaller).toBe(aligned);
      expect(Buffer.from(readFileSync(path.join(DIR, 'in-place.bin'))).equals(Buffer.from(expected))).toBe(true);
    } finally {
      spy.mockRestore();
    }
  });

  it('a write past the declared size is refused', async () => {
    const f = await openOutputFile(path.join(DIR, 'small.bin'), 10_000, { direct: true });
    await expect(f.write(new Uint8Array(20), 9_990)).rejects.toThrow(/past the file's 10000 bytes/);
    await f.close();
  });
});

describe('checkpoint writer through O_DIRECT', () => {
  it('tensors written out of layout order, in chunks, read back exactly', async () => {
    const rand = mulberry32(5);
    // odd sizes, so tensors start and end inside blocks; BF16 and F32 mixed (layout: F32 first)
    const specs = [
      { name: 'b', dtype: 'BF16' as const, shape: [1001, 517] },
      { name: 'a', dtype: 'F32' as const, shape: [333, 129] },
      { name: 'c', dtype: 'BF16' as const, shape: [2049, 1023] },
      { name: 'd', dtype: 'BF16' as const, shape: [7] },
    ];
    const bytes = specs.map((s) => {
      const n = s.shape.reduce((p, d) => p * d, 1) * (s.dtype === 'F32' ? 4 : 2);
      const u = new Uint8Array(n);
      for (let i = 0; i < n; i++) u[i] = (rand() * 256) | 0;
      // keep F32 values finite and BF16 ones too (exponent bits below all-ones)
      const step = s.dtype === 'F32' ? 4 : 2;
      for (let i = step - 1; i < n; i += step) u[i] &= 0x3f;
      return u;
    });
    const out = path.join(DIR, 'direct.safetensors');
    const w = createCheckpointWriter(out, specs, { directIO: true });
    const chunk = 100_003;
    await Promise.all(
      specs.map(async (s, k) => {
        const eb = s.dtype === 'F32' ? 4 : 2;
        const numel = bytes[k].length / eb;
        for (let e = 0; e < numel; e += chunk) {
          const n = Math.min(chunk, numel - e);
          await w.writeRangeBytes(s.name, e, n, bytes[k].subarray(e * eb, (e + n) * eb));
        }
      }),
    );
    await w.finish();
    const f = await SafetensorsFile.open(out);
    for (const [k, s] of specs.entries()) expect(Buffer.from(await f.readBytes(s.name)).equals(Buffer.from(bytes[k]))).toBe(true);
    await f.close();
  });
});
