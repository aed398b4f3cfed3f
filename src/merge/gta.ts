/**
 * The "generalized task arithmetic" kernel shared by task_arithmetic, ties, dare and
 * dare_ties (mergekit's GTA family), so each method module only chooses its options:
 *
 *   τᵢ = θᵢ − θ₀,  τ̃ᵢ = sparsify(τᵢ),  vᵢ = wᵢ·τ̃ᵢ
 *   without consensus: Δ = Σᵢ vᵢ,            divisor = Σᵢ wᵢ
 *   with consensus:    s = sign⁺(Σᵢ vᵢ)  (ties → +),  maskᵢ = [sign(vᵢ) = s]  (0 counts as disagreeing),
 *                      Δ = Σᵢ maskᵢ·vᵢ,     divisor = Σᵢ maskᵢ·wᵢ   (per entry)
 *   normalize: Δ ← Δ / divisor  (a divisor of 0, or |Σw| < 1e-8 without consensus, is taken as 1)
 *   θ = θ₀ + λ·Δ
 *
 * Accumulation is in float64; per-expert task vectors are held as float32 (θᵢ − θ₀ of two
 * float32 values within a factor of 2 is exact).
 */
import { applyCut, magnitudeTrim, randomDrop, type RescaleRule, type TrimCut } from './sparsify.js';

export interface GtaOptions {
  sparsify: 'none' | 'magnitude' | 'random';
  consensus: boolean;
  density: number;
  rescale: RescaleRule;
  normalize: boolean;
  lambda: number;
  random?: () => number;
  /** Per-expert streams (TensorMergeInput.expertRandom); preferred over `random` when given. */
  randomFor?: (expert: number) => () => number;
  /** Per-expert whole-tensor cuts for a row chunk (magnitude sparsify); without them each input is trimmed as a whole. */
  cuts?: TrimCut[];
}

export function taskVector(expert: Float32Array, base: Float32Array): Float32Array {
  const n = base.length;
  const tau = new Float32Array(n);
  for (let i = 0; i < n; i++) tau[i] = expert[i] - base[i];
  return tau;
}

export function gtaMerge(base: Float32Array, experts: Float32Array[], weights: number[], opts: GtaOptions): Float32Array {
  const n = base.length;
  const N = experts.length;
  const deltas: Float32Array[] = [];
  for (let e = 0; e < N; e++) {
    let tau = taskVector(experts[e], base);
    if (opts.sparsify === 'magnitude') tau = opts.cuts ? applyCut(tau, opts.cuts[e]) : magnitudeTrim(tau, opts.density);
    else if (opts.sparsify === 'random') {
      const random = opts.randomFor ? opts.randomFor(e) : opts.random;
      if (!random) throw new Error('gtaMerge: random sparsification needs a random stream');
      tau = randomDrop(tau, opts.density, random, opts.rescale);
    }
    deltas.push(tau);
  }
  const out = new Float32Array(n);
  const lambda = opts.lambda;
  if (!opts.consensus) {
    let wsum = 0;
    for (const w of weights) wsum += w;
    const div = opts.normalize && Math.abs(wsum) >= 1e-8 ? wsum : 1;
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let e = 0; e < N; e++) acc += weights[e] * deltas[e][j];
      out[j] = base[j] + (lambda * acc) / div;
    }
    return out;
  }
  for (let j = 0; j < n; j++) {
    let total = 0;
    for (let e = 0; e < N; e++) total += weights[e] * deltas[e][j];
    const positive = total >= 0; // ties go to +, as mergekit's `sign_weight >= 0`
    let num = 0;
    let den = 0;
    for (let e = 0; e < N; e++) {
      const v = weights[e] * deltas[e][j];
      if (positive ? v > 0 : v < 0) {
        num += v;
        den += weights[e];
      }
    }
    const div = opts.normalize && den !== 0 ? den : 1;
    out[j] = base[j] + (lambda * num) / div;
  }
  return out;
}

/** θ₀ + α·Σwᵢτᵢ/Σwᵢ: the elementwise rule TSV and Iso-C use for scalars and 1-D tensors. */
export function meanTaskVectorMerge(base: Float32Array, experts: Float32Array[], weights: number[], alpha: number): Float32Array {
  return gtaMerge(base, experts, weights, { sparsify: 'none', consensus: false, density: 1, rescale: 'none', normalize: true, lambda: alpha });
}
