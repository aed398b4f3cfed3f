/**
 * Expert ordering for the heatmaps: average-linkage (UPGMA) hierarchical clustering on a
 * distance derived from one metric, leaves read left to right. Pure, deterministic.
 */
import type { MetricMatrix } from '../types.js';
import { lowerIsSimilar } from './metric-direction.js';

export interface LinkageStep {
  /** Leaf indices of the two clusters joined, each in dendrogram order. */
  left: number[];
  right: number[];
  /** Average pairwise distance between the two clusters when joined. */
  height: number;
}

export interface Linkage {
  steps: LinkageStep[];
  /** All leaves in dendrogram order. */
  order: number[];
}

/**
 * Average linkage on a symmetric distance matrix. At each step the two clusters with the
 * smallest mean pairwise distance are joined (ties: the first pair in index order); the
 * cluster holding the smaller leaf index goes left.
 */
export function averageLinkage(dist: number[][]): Linkage {
  const n = dist.length;
  for (const row of dist) {
    if (row.length !== n) throw new RangeError(`averageLinkage: distance matrix is not square (${n} rows, a row of ${row.length})`);
  }
  let clusters = Array.from({ length: n }, (_, i) => ({ leaves: [i], minLeaf: i }));
  // Cluster-to-cluster mean distances, updated by Lance–Williams (size-weighted average).
  let d = dist.map((row) => row.slice());
  const steps: LinkageStep[] = [];
  while (clusters.length > 1) {
    let bi = 0;
    let bj = 1;
    for (let i = 0; i < clusters.length; i++) {
      for (let j = i + 1; j < clusters.length; j++) {
        if (d[i][j] < d[bi][bj]) {
          bi = i;
          bj = j;
        }
      }
    }
    const [a, b] = clusters[bi].minLeaf < clusters[bj].minLeaf ? [bi, bj] : [bj, bi];
    const ca = clusters[a];
    const cb = clusters[b];
    steps.push({ left: ca.leaves.slice(), right: cb.leaves.slice(), height: d[bi][bj] });
    const merged = { leaves: [...ca.leaves, ...cb.leaves], minLeaf: Math.min(ca.minLeaf, cb.minLeaf) };
    const na = ca.leaves.length;
    const nb = cb.leaves.length;
    const keep = clusters.map((_, k) => k).filter((k) => k !== bi && k !== bj);
    const mergedRow = keep.map((k) => (na * d[a][k] + nb * d[b][k]) / (na + nb));
    const nextD = keep.map((k, r) => [...keep.map((l) => d[k][l]), mergedRow[r]]);
    nextD.push([...mergedRow, 0]);
    clusters = [...keep.map((k) => clusters[k]), merged];
    d = nextD;
  }
  return { steps, order: clusters.length ? clusters[0].leaves : [] };
}

/**
 * Distance between experts from one metric matrix: off-diagonal values are mapped affinely
 * to [0,1] (so for a cosine this orders exactly like 1−cos, since average linkage is
 * invariant to affine rescaling), flipped when higher means more alike. Missing values get
 * the mean of the known distances, so they neither attract nor repel.
 */
export function metricDistance(matrix: MetricMatrix, lowerMeansSimilar: boolean): number[][] {
  const n = matrix.length;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = matrix[i][j];
      if (i === j || v === null || !Number.isFinite(v)) continue;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  const span = max - min;
  const norm = (v: number) => (span > 0 ? (v - min) / span : 0);
  const out = Array.from({ length: n }, () => new Array<number>(n).fill(NaN));
  let sum = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) {
        out[i][j] = 0;
        continue;
      }
      // Symmetrise: use whichever triangle has a value (mean when both do).
      const vals = [matrix[i][j], matrix[j][i]].filter((v): v is number => v !== null && Number.isFinite(v));
      if (!vals.length) continue;
      const r = norm(vals.reduce((s, v) => s + v, 0) / vals.length);
      out[i][j] = lowerMeansSimilar ? r : 1 - r;
      sum += out[i][j];
      count++;
    }
  }
  const fill = count ? sum / count : 0;
  for (const row of out) for (let j = 0; j < n; j++) if (Number.isNaN(row[j])) row[j] = fill;
  return out;
}

/** Expert order for a heatmap of metric `id`: dendrogram leaf order of average linkage. */
export function clusterOrder(matrix: MetricMatrix, id: string): number[] {
  return averageLinkage(metricDistance(matrix, lowerIsSimilar(id))).order;
}
