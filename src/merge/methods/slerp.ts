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
import type { MergeMethod } from '../../types.js';
import { num } from '../params.js';

export const COLLINEAR_THRESHOLD = 0.9995;

export function slerpVectors(t: number, a: Float32Array, b: Float32Array): Float32Array {
  const n = a.length;
  let aa = 0;
  let bb = 0;
  let ab = 0;
  for (let i = 0; i < n; i++) {
    aa += a[i] * a[i];
    bb += b[i] * b[i];
    ab += a[i] * b[i];
  }
  const na = Math.sqrt(aa) > 1e-8 ? Math.sqrt(aa) : 1;
  const nb = Math.sqrt(bb) > 1e-8 ? Math.sqrt(bb) : 1;
  const dot = ab / (na * nb);
  let s0: number;
  let s1: number;
  if (Math.abs(dot) > COLLINEAR_THRESHOLD) {
    s0 = 1 - t;
    s1 = t;
  } else {
    const omega = Math.acos(dot);
    const sinOmega = Math.sin(omega);
    s0 = Math.sin(omega - omega * t) / sinOmega;
    s1 = Math.sin(omega * t) / sinOmega;
  }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = s0 * a[i] + s1 * b[i];
  return out;
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
  mergeTensor({ base, experts, params }) {
    const t = num(params, 't');
    if (experts.length === 2) return slerpVectors(t, experts[0], experts[1]);
    if (!base) throw new Error('slerp with one expert interpolates from the base, which is missing');
    return slerpVectors(t, base, experts[0]);
  },
};
