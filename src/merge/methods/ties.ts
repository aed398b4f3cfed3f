/**
 * ties (Yadav et al. 2023, "TIES-Merging"), with mergekit's parameter names and rules:
 *
 *   1. trim:  τ̂ᵢ = top-k(|τᵢ|) entries of τᵢ, k = max(1, ⌊density·numel⌋), others 0
 *   2. elect: s = sign(Σᵢ wᵢτ̂ᵢ) per entry, ties (sum 0) → +   ("mass" rule)
 *   3. disjoint mean: Δ = Σᵢ [sign(wᵢτ̂ᵢ) = s]·wᵢτ̂ᵢ / Σᵢ [sign(wᵢτ̂ᵢ) = s]·wᵢ
 *      (an entry trimmed to 0 counts as disagreeing; divisor 0 → 1)
 *   θ = θ₀ + λ·Δ
 *
 * Defaults: density = 0.2 (the TIES paper's top-20%), normalize = true (disjoint mean),
 * λ = 1 (TIES paper and mergekit). Note: the Demystifying Mergeability code merges pairs
 * with TIES at λ = 0.3 (conf/merger/ties.yaml, scaling_coefficient: 0.3) — pass
 * `lambda=0.3` to reproduce its numbers.
 */
import type { ChunkPrepass, MergeMethod } from '../../types.js';
import { AbsRadixSelect } from '../../numerics/select/radix-select.js';
import { tauSources } from '../../numerics/sources.js';
import { radixPass } from '../../numerics/select/trim.js';
import { kernels } from '../../wasm/kernels.js';
import { gtaMerge, taskVector } from '../gta.js';
import { bool, densityParam, lambdaParam, normalizeParam, num, requireBase } from '../params.js';
import { countAbove, keepCount, type TrimCut } from '../sparsify.js';

/**
 * Each τᵢ's exact top-k cut over a tensor seen in row chunks: passes 1–2 are a streaming
 * radix selection of the k-th largest |τᵢ| (high 15 bits, then low 16 bits within the
 * chosen bin), pass 3 counts |τᵢ| above it, which fixes how many ties at the threshold the
 * trim keeps (the first ones in flat order, as magnitudeTrim does on the whole tensor).
 */
class TrimCutScan implements ChunkPrepass {
  readonly passes = 3;
  private readonly k: number[];
  private readonly select: AbsRadixSelect[];
  private readonly thresholds: number[];
  private readonly above: number[];

  /** One density per expert; an expert at density ≥ 1 gets no cut (kept whole). */
  constructor(numel: number, private readonly densities: number[]) {
    const experts = densities.length;
    this.k = densities.map((d) => keepCount(numel, Math.min(d, 1)));
    this.select = Array.from({ length: experts }, (_, e) => new AbsRadixSelect(this.k[e]));
    this.thresholds = new Array<number>(experts).fill(0);
    this.above = new Array<number>(experts).fill(0);
  }

  visit(pass: number, base: Float32Array | null, experts: Float32Array[]): void {
    experts.forEach((x, e) => {
      if (this.densities[e] >= 1) return;
      const tau = taskVector(x, base!);
      if (pass === 2) this.above[e] += countAbove(tau, this.thresholds[e]);
      else {
        const { heap } = kernels();
        heap.scoped(() => radixPass(this.select[e], tauSources(heap, [tau]), 0));
      }
    });
  }

  endPass(pass: number): void {
    if (pass === 0) for (const s of this.select) s.resolveHi();
    else if (pass === 1) this.select.forEach((s, e) => (this.thresholds[e] = s.value()));
  }

  result(): (TrimCut | undefined)[] {
    return this.thresholds.map((threshold, e) => (this.densities[e] >= 1 ? undefined : { threshold, ties: this.k[e] - this.above[e] }));
  }
}

export const ties: MergeMethod = {
  id: 'ties',
  aliases: [],
  description:
    'Trim each τᵢ to its top-density magnitudes, elect sign s = sign(Σ wᵢτ̂ᵢ) (ties → +), disjoint mean of agreeing entries Σ wᵢτ̂ᵢ·maskᵢ / Σ wᵢ·maskᵢ, θ = θ₀ + λ·Δ (density 0.2, λ 1).',
  params: [
    densityParam(0.2, 'Fraction of each task vector kept by magnitude (k = max(1, ⌊density·numel⌋)).'),
    lambdaParam(1, 'Default 1 (TIES paper, mergekit); Demystifying Mergeability used 0.3.'),
    normalizeParam(true, 'Disjoint mean (divide by Σ wᵢ·maskᵢ); false: disjoint sum.'),
  ],
  needsBase: true,
  minExperts: 1,
  maxExperts: Infinity,
  rowChunks: () => true, // elementwise once each τᵢ's whole-tensor cut is known (prepareChunks)
  perExpertParams: ['density'],
  prepareChunks: ({ numel, experts, params, expertParams }) => {
    const densities = expertParams?.density ?? new Array<number>(experts).fill(num(params, 'density'));
    return densities.every((d) => d >= 1) ? null : new TrimCutScan(numel, densities);
  },
  mergeTensor({ base, experts, weights, params, prepared, expertParams }) {
    return gtaMerge(requireBase(base, 'ties'), experts, weights, {
      sparsify: 'magnitude',
      consensus: true,
      density: num(params, 'density'),
      densities: expertParams?.density,
      rescale: 'none',
      normalize: bool(params, 'normalize'),
      lambda: num(params, 'lambda'),
      cuts: prepared as (TrimCut | undefined)[] | undefined,
    });
  },
};
