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
import { kernels } from '../wasm/kernels.js';
import { taskVector } from '../wasm/arrays.js';
import { magnitudeCut, randomDrop, type RescaleRule, type TrimCut } from './sparsify.js';

export interface GtaOptions {
  sparsify: 'none' | 'magnitude' | 'random';
  consensus: boolean;
  density: number;
  /** Per-expert densities (mergekit's per-model density); `density` when absent. */
  densities?: number[];
  rescale: RescaleRule;
  normalize: boolean;
  lambda: number;
  random?: () => number;
  /** Per-expert streams (TensorMergeInput.expertRandom); preferred over `random` when given. */
  randomFor?: (expert: number) => () => number;
  /** Per-expert whole-tensor cuts for a row chunk (magnitude sparsify); without them each input is trimmed as a whole. */
  cuts?: (TrimCut | undefined)[];
}

export { taskVector };

/**
 * The GTA merge of one tensor (or row chunk). Task vectors live in the kernels' memory from
 * subtraction to combine (the magnitude cut too runs there); only DARE's random drop, whose
 * random stream must stay the TypeScript one, takes a round trip.
 */
export function gtaMerge(base: Float32Array, experts: Float32Array[], weights: number[], opts: GtaOptions): Float32Array {
  const { exports, heap } = kernels();
  const n = base.length;
  return heap.scoped(() => {
    const b = heap.place(base);
    const taus = experts.map((x, e) => {
      // a copy of θᵢ turned into τᵢ in place (the caller's array is never touched)
      const p = heap.alloc(n * 4);
      heap.f32(p, n).set(x);
      exports.taskVector(p, b, n, p);
      const density = opts.densities?.[e] ?? opts.density;
      // density ≥ 1 keeps everything (as magnitudeTrim): no cut at all, so even a NaN stays
      if (opts.sparsify === 'magnitude' && (opts.cuts?.[e] || density < 1)) {
        const cut = opts.cuts?.[e] ?? magnitudeCut(heap.f32(p, n), density);
        cut.ties = exports.applyCut(p, n, cut.threshold, cut.ties);
      } else if (opts.sparsify === 'random') {
        const random = opts.randomFor ? opts.randomFor(e) : opts.random;
        if (!random) throw new Error('gtaMerge: random sparsification needs a random stream');
        heap.f32(p, n).set(randomDrop(heap.f32(p, n), density, random, opts.rescale));
      }
      return p;
    });
    let wsum = 0;
    for (const w of weights) wsum += w;
    const wdiv = opts.normalize && Math.abs(wsum) >= 1e-8 ? wsum : 1;
    return combineAt(b, taus, weights, n, opts.consensus, opts.normalize, opts.lambda, wdiv);
  });
}

/**
 * θ₀ + λ·Δ/divisor per entry (see the header; with no base, λ·Δ/divisor), on the WebAssembly
 * kernel: float64 in expert order, the same operations as the plain loop, so the result is
 * identical bit for bit.
 */
export function combine(base: Float32Array | null, deltas: Float32Array[], weights: number[], consensus: boolean, normalize: boolean, lambda: number, wdiv: number): Float32Array {
  const { heap } = kernels();
  return heap.scoped(() => combineAt(base ? heap.place(base) : 0, deltas.map((d) => heap.place(d)), weights, deltas[0].length, consensus, normalize, lambda, wdiv));
}

/** `combine` over arrays already in the kernels' memory (offsets; base 0 = none). */
function combineAt(base: number, deltas: number[], weights: number[], n: number, consensus: boolean, normalize: boolean, lambda: number, wdiv: number): Float32Array {
  const { exports, heap } = kernels();
  return heap.scoped(() => {
    const taus = heap.alloc(deltas.length * 4);
    heap.u32(taus, deltas.length).set(deltas);
    const w = heap.alloc(weights.length * 8);
    heap.f64(w, weights.length).set(weights);
    const out = heap.alloc(n * 4);
    exports.gtaCombine(base, taus, w, deltas.length, n, consensus, normalize, lambda, wdiv, out);
    return heap.f32(out, n).slice();
  });
}

/** θ₀ + α·Σwᵢτᵢ/Σwᵢ: the elementwise rule TSV and Iso-C use for scalars and 1-D tensors. */
export function meanTaskVectorMerge(base: Float32Array, experts: Float32Array[], weights: number[], alpha: number): Float32Array {
  return gtaMerge(base, experts, weights, { sparsify: 'none', consensus: false, density: 1, rescale: 'none', normalize: true, lambda: alpha });
}
