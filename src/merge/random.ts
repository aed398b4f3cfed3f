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

/** The 128-bit start state of (seed, name), as four int32 words, never all zero. */
function tensorState(seed: number, name: string): Int32Array {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  const bytes = TEXT.encode(name);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  let s = (fnv1a32(bytes) ^ lo) >>> 0;
  const words = new Int32Array(4);
  // Mix the second name hash and the seed's high word in, so (seed, name) pairs that collide
  // in one 32-bit hash still differ in the full 128-bit state.
  const extra = [fnv1a32(bytes, 0x050c5d1f) ^ hi, hi, lo ^ 0x5bd1e995, fnv1a32(bytes, 0x2545f491)];
  for (let i = 0; i < 4; i++) {
    let out: number;
    [s, out] = splitmix32((s ^ extra[i]) | 0);
    words[i] = out;
  }
  if ((words[0] | words[1] | words[2] | words[3]) === 0) words[0] = 1; // as xoshiro128 does
  return words;
}

/**
 * The RNG for one tensor of one merge: uniform in [0,1), identical for identical
 * (seed, name), independent across names. `seed` must be a safe integer.
 */
export function tensorRandom(seed: number, name: string): () => number {
  return tensorRandomAt(seed, name, 0);
}

/**
 * The same stream as `tensorRandom(seed, name)` with its first `offset` draws skipped, in
 * O(log offset) time: a merge that processes a tensor in row chunks starts each chunk's
 * draws where the whole-tensor merge would be, so chunking never changes a DARE mask.
 */
export function tensorRandomAt(seed: number, name: string, offset: number): () => number {
  const s = tensorStateAt(seed, name, offset);
  return xoshiro128([s[0], s[1], s[2], s[3]]);
}

/** The xoshiro128 state of that stream after `offset` draws (four int32 words): what the WebAssembly DARE kernel starts from. */
export function tensorStateAt(seed: number, name: string, offset: number): Int32Array {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`offset must be a non-negative safe integer, got ${offset}`);
  const s = jumpState(tensorState(seed, name), offset);
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1; // as xoshiro128 does
  return s;
}

// ── skip-ahead: the xoshiro state update is linear over GF(2), so k steps are the 128×128 bit
// matrix Tᵏ applied to the state; Tᵏ is the product of the precomputed T^(2^j) for the set bits of k.

/** One state update of xoshiro128 (the output is not needed to advance). */
function stepState(s: Int32Array): void {
  const t = s[1] << 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 11);
}

/** Matrix (128 columns of 4 words: column i = image of state bit i) times a state vector. */
function applyMatrix(m: Int32Array, v: Int32Array): Int32Array {
  const out = new Int32Array(4);
  for (let bit = 0; bit < 128; bit++) {
    if (((v[bit >>> 5] >>> (bit & 31)) & 1) === 0) continue;
    const o = bit * 4;
    out[0] ^= m[o];
    out[1] ^= m[o + 1];
    out[2] ^= m[o + 2];
    out[3] ^= m[o + 3];
  }
  return out;
}

let jumpTable: Int32Array[] | null = null;

/** T^(2^j) for j = 0..52 (offsets up to 2⁵³), built once on first use (~1 ms). */
function jumps(): Int32Array[] {
  if (jumpTable) return jumpTable;
  const t = new Int32Array(512);
  for (let bit = 0; bit < 128; bit++) {
    const v = new Int32Array(4);
    v[bit >>> 5] = 1 << (bit & 31);
    stepState(v);
    t.set(v, bit * 4);
  }
  const table = [t];
  for (let j = 1; j < 53; j++) {
    const prev = table[j - 1];
    const sq = new Int32Array(512);
    for (let bit = 0; bit < 128; bit++) sq.set(applyMatrix(prev, prev.subarray(bit * 4, bit * 4 + 4)), bit * 4);
    table.push(sq);
  }
  return (jumpTable = table);
}

function jumpState(state: Int32Array, offset: number): Int32Array {
  let s = state;
  if (offset === 0) return s;
  const table = jumps();
  for (let j = 0; offset > 0; j++) {
    // offset may exceed 2³¹: take bits by division, not by bitwise ops.
    if (offset % 2 === 1) s = applyMatrix(table[j], s);
    offset = Math.floor(offset / 2);
  }
  return s;
}
