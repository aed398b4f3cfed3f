/**
 * Completion flags of calls handed to helper threads: a helper stores a non-zero state in its
 * call's slot, then notifies. A wake-up alone proves nothing — the notify of an earlier call
 * whose flag the caller had already read can land after the slot was cleared for the next call
 * and wake that call's wait (a helper preempted between its store and its notify: under CPU
 * contention a merge chunk went to disk before its kernel had finished). So the caller waits
 * until the flag itself says done.
 */

/** Atomics.waitAsync (Node ≥ 16; not in the ES2023 lib typings). */
type AtomicsWaitAsync = { waitAsync(a: Int32Array, i: number, v: number): { async: false; value: string } | { async: true; value: Promise<string> } };

/** The state a helper stored in `flags[slot]` (non-zero), once it has; the event loop runs meanwhile. */
export async function settled(flags: Int32Array, slot: number): Promise<number> {
  for (;;) {
    const state = Atomics.load(flags, slot);
    if (state !== 0) return state;
    const w = (Atomics as unknown as AtomicsWaitAsync).waitAsync(flags, slot, 0);
    if (w.async) await w.value;
  }
}

/** `settled`, blocking this thread. */
export function settledSync(flags: Int32Array, slot: number): number {
  for (;;) {
    const state = Atomics.load(flags, slot);
    if (state !== 0) return state;
    Atomics.wait(flags, slot, 0);
  }
}
