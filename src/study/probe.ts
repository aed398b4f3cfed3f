/**
 * The group study's linear probe: how well a (frozen) encoder's features serve a task, measured by
 * a closed-form ridge regression to one-hot targets on a fixed subset of that task's training
 * split, scored by argmax accuracy on its test split. Closed form, so it is deterministic, needs no
 * seed or learning rate, and costs one d×d solve per (encoder, task) — the encoder forward pass
 * dominates. Features are standardized first (per column, on the probe's training rows) so the
 * one fixed ridge strength means the same for every encoder whatever its feature scale.
 */
import { cholesky, choleskySolve } from '../numerics/linalg/cholesky.js';
import { denseForward, type Dense, type Floats } from './mlp.js';

/** Training samples per task for the probe: a fixed prefix of the task's seeded training split. */
export const PROBE_SAMPLES = 250;
/**
 * Ridge strength per training row on standardized features: λ = PROBE_RIDGE · n. Chosen once on the
 * committed zoo's base and experts (0.001, 0.01, 0.1, 1 tried; 0.1 gave the highest mean probe accuracy).
 */
export const PROBE_RIDGE = 0.1;

export const PROBE_DESCRIPTION =
  `linear probe: closed-form ridge regression (λ = ${PROBE_RIDGE}·n, intercept unpenalized) from the encoder's last-layer ` +
  `features, standardized per column on the probe's training rows, to one-hot labels; trained on the first ${PROBE_SAMPLES} ` +
  `images of the task's seeded training split, scored by argmax accuracy on the task's test split`;

/** Last encoder layer's post-ReLU output for n inputs: [n, outDim] row-major. */
export function encode(encoder: Dense[], x: Floats, n: number, batch = 500): Float64Array {
  const inDim = encoder[0].inDim;
  const outDim = encoder[encoder.length - 1].outDim;
  const out = new Float64Array(n * outDim);
  const bufs = encoder.map((l) => new Float64Array(Math.min(batch, n) * l.outDim));
  for (let s = 0; s < n; s += batch) {
    const rows = Math.min(batch, n - s);
    let input: Floats = x.subarray(s * inDim, (s + rows) * inDim);
    for (let l = 0; l < encoder.length; l++) {
      denseForward(encoder[l], input, rows, bufs[l], true);
      input = bufs[l];
    }
    out.set(input.subarray(0, rows * outDim), s * outDim);
  }
  return out;
}

/** A fitted probe: scores = ((x − mean) · scale) · W + bias, one column per class. */
export interface LinearProbe {
  dim: number;
  classes: number;
  mean: Float64Array;
  /** 1/std per feature; 0 for a constant feature (dead ReLU unit), which the probe then ignores. */
  scale: Float64Array;
  /** [dim, classes] row-major. */
  w: Float64Array;
  bias: Float64Array;
}

/**
 * Ridge regression with an unpenalized intercept on already-centred inputs Z [n, d] to targets
 * T [n, c]: W = (ZᵀZ + λI)⁻¹ Zᵀ(T − T̄), intercept T̄ (the column means of T). With centred Z this is
 * exactly the minimizer of ‖Z W + 1 bᵀ − T‖² + λ‖W‖².
 */
export function ridgeCentred(Z: Float64Array, n: number, d: number, T: Float64Array, c: number, lambda: number): { w: Float64Array; bias: Float64Array } {
  const bias = new Float64Array(c);
  for (let r = 0; r < n; r++) for (let k = 0; k < c; k++) bias[k] += T[r * c + k];
  for (let k = 0; k < c; k++) bias[k] /= n;
  const G = new Float64Array(d * d);
  const R = new Float64Array(d * c); // Zᵀ(T − T̄)
  for (let r = 0; r < n; r++) {
    const zb = r * d;
    for (let i = 0; i < d; i++) {
      const zi = Z[zb + i];
      if (zi === 0) continue;
      const gb = i * d;
      for (let j = 0; j <= i; j++) G[gb + j] += zi * Z[zb + j];
      for (let k = 0; k < c; k++) R[i * c + k] += zi * (T[r * c + k] - bias[k]);
    }
  }
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < i; j++) G[j * d + i] = G[i * d + j];
    G[i * d + i] += lambda;
  }
  if (!cholesky(G, d)) throw new Error(`ridge probe: ZᵀZ + λI is not positive definite (λ = ${lambda})`);
  const w = new Float64Array(d * c);
  const col = new Float64Array(d);
  for (let k = 0; k < c; k++) {
    for (let i = 0; i < d; i++) col[i] = R[i * c + k];
    choleskySolve(G, d, col);
    for (let i = 0; i < d; i++) w[i * c + k] = col[i];
  }
  return { w, bias };
}

/** Fit the probe on features [n, dim] with labels in [0, classes). */
export function fitProbe(features: Float64Array, labels: ArrayLike<number>, n: number, dim: number, classes: number, ridge = PROBE_RIDGE): LinearProbe {
  if (!(n > 0) || features.length !== n * dim) throw new Error(`probe: expected ${n}×${dim} features, got ${features.length} values`);
  const mean = new Float64Array(dim);
  const scale = new Float64Array(dim);
  for (let r = 0; r < n; r++) for (let i = 0; i < dim; i++) mean[i] += features[r * dim + i];
  for (let i = 0; i < dim; i++) mean[i] /= n;
  for (let r = 0; r < n; r++) for (let i = 0; i < dim; i++) scale[i] += (features[r * dim + i] - mean[i]) ** 2;
  let maxVar = 0;
  for (let i = 0; i < dim; i++) maxVar = Math.max(maxVar, scale[i] / n);
  for (let i = 0; i < dim; i++) {
    const v = scale[i] / n;
    // A (numerically) constant column carries nothing; scaling it up would only amplify rounding.
    scale[i] = v > 1e-12 * maxVar && v > 0 ? 1 / Math.sqrt(v) : 0;
  }
  const Z = standardize(features, n, dim, mean, scale);
  const T = new Float64Array(n * classes);
  for (let r = 0; r < n; r++) {
    const y = labels[r];
    if (!(y >= 0 && y < classes)) throw new Error(`probe: label ${y} outside [0, ${classes})`);
    T[r * classes + y] = 1;
  }
  const { w, bias } = ridgeCentred(Z, n, dim, T, classes, ridge * n);
  return { dim, classes, mean, scale, w, bias };
}

function standardize(features: Float64Array, n: number, dim: number, mean: Float64Array, scale: Float64Array): Float64Array {
  const Z = new Float64Array(n * dim);
  for (let r = 0; r < n; r++) for (let i = 0; i < dim; i++) Z[r * dim + i] = (features[r * dim + i] - mean[i]) * scale[i];
  return Z;
}

/** Fraction of rows whose highest-scoring class is the label (ties: the lowest class). */
export function probeAccuracy(p: LinearProbe, features: Float64Array, labels: ArrayLike<number>, n: number): number {
  const Z = standardize(features, n, p.dim, p.mean, p.scale);
  const s = new Float64Array(p.classes);
  let correct = 0;
  for (let r = 0; r < n; r++) {
    s.set(p.bias);
    for (let i = 0; i < p.dim; i++) {
      const z = Z[r * p.dim + i];
      if (z === 0) continue;
      for (let k = 0; k < p.classes; k++) s[k] += z * p.w[i * p.classes + k];
    }
    let arg = 0;
    for (let k = 1; k < p.classes; k++) if (s[k] > s[arg]) arg = k;
    if (arg === labels[r]) correct++;
  }
  return n > 0 ? correct / n : 0;
}

export interface LabelledSet {
  x: Floats;
  y: ArrayLike<number>;
  n: number;
}

/** The whole recipe for one (encoder, task): features of both sets, fit on `train`, accuracy on `test`. */
export function probeTask(encoder: Dense[], train: LabelledSet, test: LabelledSet, classes: number): number {
  const dim = encoder[encoder.length - 1].outDim;
  const probe = fitProbe(encode(encoder, train.x, train.n), train.y, train.n, dim, classes);
  return probeAccuracy(probe, encode(encoder, test.x, test.n), test.y, test.n);
}
