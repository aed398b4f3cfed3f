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

/** Σa², Σb², Σab in float64, flat order; accumulated chunk by chunk in row order they equal the whole-tensor sums. */
export class SlerpSums implements ChunkPrepass {
  readonly passes = 1;
  aa = 0;
  bb = 0;
  ab = 0;

  add(a: Float32Array, b: Float32Array): void {
    let { aa, bb, ab } = this;
    for (let i = 0; i < a.length; i++) {
      aa += a[i] * a[i];
      bb += b[i] * b[i];
      ab += a[i] * b[i];
    }
    Object.assign(this, { aa, bb, ab });
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
