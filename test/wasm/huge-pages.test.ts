// The kernels' memory is advised for transparent huge pages where the addon is built (Linux):
// the kernel marks an advised mapping "hg" in /proc/self/smaps, so the advice is checked there,
// on a fresh instance's 4 GiB reservation, and its absence under MERGELENS_THP=0.
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { nativeKernels } from '../../src/native/load.js';
import { instantiateKernels } from '../../src/wasm/kernels.js';

/** Bytes of this process's mappings flagged hg (MADV_HUGEPAGE), from /proc/self/smaps. */
function advisedBytes(): number {
  let total = 0, size = 0;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const m = /^Size:\s+(\d+) kB/.exec(line);
    if (m) size = Number(m[1]) * 1024;
    else if (line.startsWith('VmFlags:') && line.split(/\s+/).includes('hg')) total += size;
  }
  return total;
}

const THP = '/sys/kernel/mm/transparent_hugepage/enabled';
const GiB = 2 ** 30;

describe.skipIf(!nativeKernels() || !existsSync(THP))('kernels memory: transparent huge pages', () => {
  const saved = process.env.MERGELENS_THP;
  afterEach(() => {
    if (saved === undefined) delete process.env.MERGELENS_THP;
    else process.env.MERGELENS_THP = saved;
  });

  it('a new instance advises its whole 4 GiB reservation, grown part and reserved part alike', () => {
    const before = advisedBytes();
    const { heap } = instantiateKernels();
    heap.u8(heap.alloc(8 << 20), 8 << 20).fill(1); // grows and touches the memory
    // 4 GiB less at most one 2 MiB page cut at each end for alignment
    expect(advisedBytes() - before).toBeGreaterThanOrEqual(4 * GiB - 4 * 2 ** 20);
  });

  it('MERGELENS_THP=0 leaves the mapping as V8 made it', () => {
    process.env.MERGELENS_THP = '0';
    const before = advisedBytes();
    instantiateKernels();
    expect(advisedBytes()).toBe(before);
  });

  it('the call itself: 0 over an aligned range, and nothing to do for a range under 2 MiB', () => {
    const native = nativeKernels()!;
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1024, shared: true });
    expect(native.adviseHugePages(new Uint8Array(memory.buffer), 1024 * 65536)).toBe(0);
    expect(native.adviseHugePages(new Uint8Array(memory.buffer), 65536)).toBe(0);
    expect(() => (native.adviseHugePages as unknown as (m: number, b: number) => number)(0, 1)).toThrow(/Uint8Array/);
  });
});
