/**
 * Deterministic per-tensor random streams for stochastic merges (DARE).
 *
 * Each tensor gets its own stream seeded from (seed, tensor name), so the result for a
 * tensor does not depend on which other tensors were merged or in which order — a merge
 * restricted with `include` reproduces exactly the same values as the full merge.
 *
 * Generator: xoshiro128** (32-bit state words, fast with JS int32 ops), state filled by
 * splitmix32 from an FNV-1a hash of the UTF-8 name mixed with the 53-bit seed.
 */

const TEXT = new TextEncoder();

/** FNV-1a 32-bit over bytes, starting from `offset` (so two offsets give two independent hashes). */
export function fnv1a32(bytes: Uint8Array, offset = 0x811c9dc5): number {
  let h = offset >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** splitmix32 step: returns [next state, output]. Used only to expand a seed into generator state. */
function splitmix32(state: number): [number, number] {
  const s = (state + 0x9e3779b9) | 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [s, z >>> 0];
}

/** xoshiro128** over four 32-bit words; returns uniform floats in [0, 1) with 32 random bits. */
export function xoshiro128(state: [number, number, number, number]): () => number {
  let [a, b, c, d] = state.map((x) => x | 0);
  if ((a | b | c | d) === 0) a = 1; // the all-zero state is a fixed point
  return () => {
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9);
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return (r >>> 0) / 4294967296;
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * The RNG for one tensor of one merge: uniform in [0,1), identical for identical
 * (seed, name), independent across names. `seed` must be a safe integer.
 */
export function tensorRandom(seed: number, name: string): () => number {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  const bytes = TEXT.encode(name);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  let s = (fnv1a32(bytes) ^ lo) >>> 0;
  const words: number[] = [];
  // Mix the second name hash and the seed's high word in, so (seed, name) pairs that collide
  // in one 32-bit hash still differ in the full 128-bit state.
  const extra = [fnv1a32(bytes, 0x050c5d1f) ^ hi, hi, lo ^ 0x5bd1e995, fnv1a32(bytes, 0x2545f491)];
  for (let i = 0; i < 4; i++) {
    let out: number;
    [s, out] = splitmix32((s ^ extra[i]) | 0);
    words.push(out);
  }
  return xoshiro128(words as [number, number, number, number]);
}
