/**
 * Gram kernel: for N expert task-vector chunks of equal length, add every ⟨τᵢ, τⱼ⟩ (i ≤ j)
 * over elements [from, to) into a float64 N×N matrix (row-major; upper triangle written,
 * the engine mirrors it). One call covers all N(N+1)/2 pairs, so each element is loaded from
 * cache N times rather than read from disk N² times. Pure, allocation-free: worker-safe.
 */

/** gram[i*N+j] += Σ_{e∈[from,to)} τᵢ[e]·τⱼ[e] for all i ≤ j. */
export function accumulateGram(tau: Float32Array[], from: number, to: number, gram: Float64Array): void {
  const N = tau.length;
  for (let i = 0; i < N; i++) {
    const a = tau[i];
    for (let j = i; j < N; j++) {
      const b = tau[j];
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      let e = from;
      const end4 = to - ((to - from) % 4);
      for (; e < end4; e += 4) {
        s0 += a[e] * b[e];
        s1 += a[e + 1] * b[e + 1];
        s2 += a[e + 2] * b[e + 2];
        s3 += a[e + 3] * b[e + 3];
      }
      for (; e < to; e++) s0 += a[e] * b[e];
      gram[i * N + j] += s0 + s1 + s2 + s3;
    }
  }
}

/** Copy the upper triangle onto the lower one. */
export function symmetrize(gram: Float64Array | number[], N: number): void {
  for (let i = 0; i < N; i++) for (let j = 0; j < i; j++) gram[i * N + j] = gram[j * N + i];
}

/** Pair (i<j) ↔ flat index p in lexicographic order: (0,1),(0,2),…,(1,2),… */
export function pairList(N: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < N; i++) for (let j = i + 1; j < N; j++) out.push([i, j]);
  return out;
}
