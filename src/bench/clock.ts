/** The benchmark's clocks: wall seconds, this process's CPU seconds, and the best of n runs by either. */

export const wallSeconds = () => performance.now() / 1000;

/** User + system seconds of this process (all its threads). */
export const cpuSeconds = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};

/** The shortest of `reps` runs of fn by `clock` (the least disturbed on a shared machine). */
export function bestOf(reps: number, fn: () => void, clock: () => number = wallSeconds): number {
  let t = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = clock();
    fn();
    t = Math.min(t, clock() - t0);
  }
  return t;
}
