/**
 * mulberry32: a tiny, fast, deterministic 32-bit PRNG, uniform in [0, 1). The one seeded
 * generator for fixtures, study data, randomised SVD sketches and test data; not
 * cryptographic. (DARE masks use src/merge/random.ts, which also keys streams by tensor name.)
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
