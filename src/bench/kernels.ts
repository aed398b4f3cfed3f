/**
 * Micro-benchmark of the metrics pass's per-chunk kernels (no I/O): `npx tsx src/bench/kernels.ts
 * [experts=8] [elements=4194304] [reps=3]`. Prints ns per pair-element for the Gram kernel
 * (pairs i ≤ j) and the sign kernel (pairs i < j), best of `reps`, on synthetic task vectors
 * shaped like real ones (Gaussian-ish, ~2% exact zeros, 20% trim). Figures in README "## Metrics".
 */
import { accumulateGram } from '../metrics/gram.js';
import { accumulateSigns, PAIR_FIELDS, trimThreshold } from '../metrics/sign-agreement.js';

type SignKernel = typeof accumulateSigns;

/** Deterministic pseudo-Gaussian τ (sum of uniforms) with exact zeros, like BF16 fine-tune deltas. */
export function syntheticTaus(N: number, len: number, seed = 1): Float32Array[] {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  return Array.from({ length: N }, () => Float32Array.from({ length: len }, () => (u() < 0.02 ? 0 : (u() + u() + u() - 1.5) * 1e-3)));
}

const BLOCK = 8192;

/** Best-of-reps seconds of one kernel over all blocks of the chunk. */
function time(run: () => void, reps: number): number {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    run();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return best;
}

export function benchKernels(N: number, len: number, reps: number, signs: SignKernel = accumulateSigns): { gramNs: number; signNs: number } {
  const tau = syntheticTaus(N, len);
  const th = Float64Array.from(tau, (t) => trimThreshold(t, 0.2));
  const gram = new Float64Array(N * N);
  const counts = new Float64Array(((N * (N - 1)) / 2) * PAIR_FIELDS);
  const kept = new Float64Array(N);
  const blocks = (f: (from: number, to: number) => void) => () => {
    for (let from = 0; from < len; from += BLOCK) f(from, Math.min(len, from + BLOCK));
  };
  const g = time(blocks((a, b) => accumulateGram(tau, a, b, gram)), reps);
  const s = time(blocks((a, b) => signs(tau, a, b, th, counts, kept)), reps);
  return { gramNs: (g * 1e9) / (((N * (N + 1)) / 2) * len), signNs: (s * 1e9) / (((N * (N - 1)) / 2) * len) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [N = 8, len = 4 << 20, reps = 3] = process.argv.slice(2).map(Number);
  const r = benchKernels(N, len, reps);
  console.log(`${N} experts × ${len} elements: Gram ${r.gramNs.toFixed(3)} ns/pair-element, signs ${r.signNs.toFixed(3)} ns/pair-element`);
}
