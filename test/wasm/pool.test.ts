/**
 * The kernel pool's asynchronous calls (src/wasm/pool.ts): each call's return value comes back
 * in call order, whether it ran on a helper thread or here because its helper was still
 * starting (a fresh pool's first calls).
 */
import { describe, expect, it } from 'vitest';
import { kernels } from '../../src/wasm/kernels.js';
import { KernelPool } from '../../src/wasm/pool.js';

/** n float32 values with NaN/Inf at the given positions, in the kernels' memory. */
function withNonFinite(n: number, bad: number[]): number {
  const { heap } = kernels();
  const x = new Float32Array(n).map((_, i) => i / n);
  bad.forEach((i, k) => (x[i] = k % 2 ? Infinity : NaN));
  return heap.place(x);
}

/** Wait (up to 5 s) until `n` of the pool's helpers have started; how many have. */
async function booted(pool: KernelPool, n: number): Promise<number> {
  for (let t = 0; pool.booted < n && t < 200; t++) await new Promise((r) => setTimeout(r, 25));
  return pool.booted;
}

describe('KernelPool.runAsync', () => {
  it('returns what each call returned, in call order, before and after the helpers have started', async () => {
    const { exports, heap } = kernels();
    await heap.exclusive(async () => {
      const pool = new KernelPool(3);
      const parts = [
        [withNonFinite(1000, [3, 500, 999]), 1000],
        [withNonFinite(4096, []), 4096],
        [withNonFinite(77, [0, 1, 2, 3, 76]), 77],
      ];
      // the same kernel on this thread is the reference
      const expected = parts.map(([p, n]) => exports.countNonFinite(p, n));
      expect(expected).toEqual([3, 0, 5]);
      const early = pool.booted;
      expect(await pool.runAsync('countNonFinite', parts)).toEqual(expected);
      // helpers post "ready" once they have instantiated the kernels (3 parts: 3 helpers, `run` keeps its 2)
      expect(await booted(pool, 3)).toBe(3);
      expect(early).toBeLessThan(3); // the first call did not wait for them
      expect(await pool.runAsync('countNonFinite', parts)).toEqual(expected);
    });
  });

  it('a wake-up that arrives before the helper has finished does not end the call (src/wasm/completion.ts)', async () => {
    const { exports, heap } = kernels();
    await heap.exclusive(async () => {
      const pool = new KernelPool(2);
      const small = [withNonFinite(64, [5]), 64];
      const big = [withNonFinite(1 << 22, [1, 77, 1 << 21]), 1 << 22];
      const expected = exports.countNonFinite(big[0], big[1]);
      expect(expected).toBe(3);
      expect(await booted(pool, 1)).toBeGreaterThanOrEqual(1);
      expect(await pool.runAsync('countNonFinite', [small])).toEqual([1]); // on the helper: slot 2 (threads + 0) holds 1
      const call = pool.runAsync('countNonFinite', [big]);
      // the notify a helper preempted between its store and its notify would deliver late
      const done = (pool as unknown as { done: Int32Array }).done;
      expect(Atomics.notify(done, 2)).toBe(1);
      expect(await call).toEqual([expected]);
    });
  });
});
