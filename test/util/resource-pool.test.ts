import { describe, expect, it } from 'vitest';
import { resourcePool } from '../../src/util/resource-pool.js';

describe('resourcePool', () => {
  it('hands out each item to one holder at a time, waiters in arrival order, longest-free first', async () => {
    const pool = resourcePool(['a', 'b']);
    const held = new Set<string>();
    const order: string[] = [];
    let most = 0;
    // 6 jobs of different lengths over 2 items: never more than 2 held, never one item twice
    await Promise.all(
      [5, 1, 3, 2, 4, 1].map(async (ms, k) => {
        const item = await pool.take();
        expect(held.has(item)).toBe(false);
        held.add(item);
        most = Math.max(most, held.size);
        order.push(`${k}:${item}`);
        await new Promise((r) => setTimeout(r, ms));
        held.delete(item);
        pool.give(item);
      }),
    );
    expect(most).toBe(2);
    expect(order.slice(0, 2)).toEqual(['0:a', '1:b']);
    expect(order.map((o) => Number(o.split(':')[0]))).toEqual([0, 1, 2, 3, 4, 5]); // FIFO waiters
    // after everything is returned both are free again, in the order given back
    const [x, y] = [await pool.take(), await pool.take()];
    expect(new Set([x, y])).toEqual(new Set(['a', 'b']));
  });
});
