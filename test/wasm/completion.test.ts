import { Worker } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { settled, settledSync } from '../../src/wasm/completion.js';

// A helper stores its call's state, then notifies. A notify left over from an earlier call can
// wake the wait for the next one before its flag is set: a wake-up must not count as done.
describe('completion flags of helper calls', () => {
  it('settled: a wake-up with the flag still 0 keeps waiting; the flag ends the wait with its state', async () => {
    const flags = new Int32Array(new SharedArrayBuffer(16));
    let state: number | undefined;
    const wait = settled(flags, 1).then((s) => (state = s));
    expect(Atomics.notify(flags, 1)).toBe(1); // the stale wake-up reached a waiter
    await sleep(20);
    expect(state).toBeUndefined();
    Atomics.store(flags, 1, 2);
    Atomics.notify(flags, 1);
    await wait;
    expect(state).toBe(2);
    // a flag already set returns at once
    expect(await settled(flags, 1)).toBe(2);
  });

  it('settledSync: a wake-up from another thread with the flag still 0 keeps blocking', async () => {
    const flags = new Int32Array(new SharedArrayBuffer(16));
    // the other thread wakes the blocked waiter first with nothing stored, then stores 1 and notifies
    const w = new Worker(
      `const { workerData } = require('node:worker_threads');
       const f = new Int32Array(workerData);
       while (Atomics.notify(f, 1) === 0);
       const t = Date.now(); while (Date.now() - t < 20);
       Atomics.store(f, 1, 1);
       Atomics.notify(f, 1);`,
      { eval: true, workerData: flags.buffer },
    );
    expect(settledSync(flags, 1)).toBe(1);
    await new Promise((r) => w.once('exit', r));
  });
});
