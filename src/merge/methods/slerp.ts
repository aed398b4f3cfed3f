/**
 * slerp: spherical linear interpolation of two models' full weights, per tensor, flattened
 * (as mergekit `slerp`):
 *
 *   â = a/‖a‖, b̂ = b/‖b‖ (a vector with norm ≤ 1e-8 is left unnormalised), cos Ω = â·b̂
 *   |cos Ω| > 0.9995 → θ = (1−t)·a + t·b                       (nearly collinear: lerp)
 *   otherwise        → θ = sin((1−t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b
 *
 * The coefficients come from the normalised directions and multiply the raw tensors, so
 * norms interpolate too. Endpoints: a and b are the two experts when two are given, or the
 * base and the one expert (mergekit: t = 0 gives the base). Default t = 0.5.
 */
import type { ChunkPrepass, MergeMethod } from '../../types.js';
import { num } from '../params.js';

export const COLLINEAR_THRESHOLD = 0.9995;

/** Lanes of SlerpSums: element e of a tensor is summed in lane e mod 8. */
export const SLERP_LANES = 8;

/**
 * Σa², Σb², Σab in float64 as eight interleaved sums — element e in lane e mod 8, each lane in
 * element order — added pairwise at the end: ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)). Chunk by chunk
 * in row order they equal the whole-tensor sums (the lane follows the element's index), and
 * the WebAssembly kernel (merge.ts slerpSums) keeps the same lanes eight elements a step: one
 * chain of additions in flat order was ~3 cycles an element whatever the CPU, and its rounding
 * error bound is eight times this one's. (The products of float32 values are exact in float64.)
 */
export class SlerpSums implements ChunkPrepass {
  readonly passes = 1;
  /** [Σa² lanes, Σb² lanes, Σab lanes] (8 each), then the elements seen so far: merge.ts slerpSums' layout. */
  readonly lanes = new Float64Array(3 * SLERP_LANES + 1);

  /** Sums carried in the kernels' layout (the lanes and the count). */
  static fromLanes(lanes: ArrayLike<number>): SlerpSums {
    const s = new SlerpSums();
    s.lanes.set(lanes);
    return s;
  }

  add(a: Float32Array, b: Float32Array): void {
    const L = this.lanes;
    const n = L[3 * SLERP_LANES];
    for (let i = 0; i < a.length; i++) {
      const l = (n + i) % SLERP_LANES;
      L[l] += a[i] * a[i];
      L[SLERP_LANES + l] += b[i] * b[i];
      L[2 * SLERP_LANES + l] += a[i] * b[i];
    }
    L[3 * SLERP_LANES] = n + a.length;
  }

  /** Sum k (0: Σa², 1: Σb², 2: Σab) over its lanes, pairwise. */
  private total(k: number): number {
    const l = this.lanes.subarray(k * SLERP_LANES, (k + 1) * SLERP_LANES);
    return (l[0] + l[1] + (l[2] + l[3])) + (l[4] + l[5] + (l[6] + l[7]));
  }

  get aa(): number {
    return this.total(0);
  }
  get bb(): number {
    return this.total(1);
  }
  get ab(): number {
    return this.total(2);
  }

  visit(_pass: number, base: Float32Array | null, experts: Float32Array[]): void {
    const [a, b] = endpoints(base, experts);
    this.add(a, b);
  }

  endPass(): void {}

  result(): SlerpSums {
    return this;
  }

  /** The coefficients (s0, s1) of θ = s0·a + s1·b at position t. */
  coefficients(t: number): [number, number] {
    const na = Math.sqrt(this.aa) > 1e-8 ? Math.sqrt(this.aa) : 1;
    const nb = Math.sqrt(this.bb) > 1e-8 ? Math.sqrt(this.bb) : 1;
    const dot = this.ab / (na * nb);
    if (Math.abs(dot) > COLLINEAR_THRESHOLD) return [1 - t, t];
    const omega = Math.acos(dot);
    const sinOmega = Math.sin(omega);
    return [Math.sin(omega - omega * t) / sinOmega, Math.sin(omega * t) / sinOmega];
  }
}

function combine(s0: number, s1: number, a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = s0 * a[i] + s1 * b[i];
  return out;
}

export function slerpVectors(t: number, a: Float32Array, b: Float32Array): Float32Array {
  const sums = new SlerpSums();
  sums.add(a, b);
  const [s0, s1] = sums.coefficients(t);
  return combine(s0, s1, a, b);
}

/** a, b: the two experts, or the base and the one expert. */
function endpoints(base: Float32Array | null, experts: Float32Array[]): [Float32Array, Float32Array] {
  if (experts.length === 2) return [experts[0], experts[1]];
  if (!base) throw new Error('slerp with one expert interpolates from the base, which is missing');
  return [base, experts[0]];
}

export const slerp: MergeMethod = {
  id: 'slerp',
  aliases: [],
  description:
    'Spherical interpolation of two models per tensor: θ = sin((1−t)Ω)/sin Ω·a + sin(tΩ)/sin Ω·b, cos Ω from the normalised tensors; lerp when |cos Ω| > 0.9995 (t 0.5). a, b = the two experts, or base and expert.',
  params: [{ name: 't', type: 'number', default: 0.5, min: 0, max: 1, doc: 'Interpolation position: 0 gives the first model (the base when only one expert), 1 the second.' }],
  needsBase: false,
  minExperts: 1,
  maxExperts: 2,
  usesWeights: false,
  checkInputs: ({ experts, hasBase }) =>
    experts === 1 && !hasBase ? 'slerp needs two models: two experts, or a base and one expert' : undefined,
  rowChunks: () => true, // elementwise once the whole-tensor norms and dot are known (prepareChunks)
  prepareChunks: () => new SlerpSums(),
  mergeTensor({ base, experts, params, prepared }) {
    const t = num(params, 't');
    const [a, b] = endpoints(base, experts);
    if (!prepared) return slerpVectors(t, a, b);
    const [s0, s1] = (prepared as SlerpSums).coefficients(t);
    return combine(s0, s1, a, b);
  },
};
