/** Small helpers around the N×N Gram matrix of task vectors and the pair list. */

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
