/**
 * A small MLP written by hand: encoder of Dense+ReLU layers (784→256→128 in the study) and a
 * linear classification head per task, with batched forward and backward (softmax cross-entropy).
 *
 * Layout: each Dense keeps its weight transposed, `wt` [in, out] row-major, so all three hot loops
 * (forward, weight gradient, input gradient) walk memory contiguously (i-k-j order) and the forward
 * and weight-gradient loops skip zero inputs — MNIST pixels and ReLU outputs are mostly zero.
 * Checkpoints use the PyTorch convention `weight` [out, in]; see toTensors/fromTensors.
 * Parameters and activations are float64 (accumulation precision; also what the gradient check needs).
 */
import type { Rng } from './rng.js';

export type Floats = Float32Array | Float64Array;

export interface Dense {
  inDim: number;
  outDim: number;
  /** [inDim, outDim] row-major (transposed PyTorch weight). */
  wt: Float64Array;
  b: Float64Array;
}

export interface Mlp {
  /** Dense+ReLU layers. */
  encoder: Dense[];
  /** Linear head on the last encoder layer's output. */
  head: Dense;
}

export const ENCODER_DIMS: readonly number[] = [784, 256, 128];

/** He-normal weights (ReLU layers), zero biases. */
export function initDense(inDim: number, outDim: number, rng: Rng, gain = 2): Dense {
  const wt = new Float64Array(inDim * outDim);
  const std = Math.sqrt(gain / inDim);
  for (let i = 0; i < wt.length; i++) wt[i] = std * rng.normal();
  return { inDim, outDim, wt, b: new Float64Array(outDim) };
}

export function initEncoder(dims: readonly number[], rng: Rng): Dense[] {
  const layers: Dense[] = [];
  for (let l = 0; l + 1 < dims.length; l++) layers.push(initDense(dims[l], dims[l + 1], rng));
  return layers;
}

/** Head init: variance 1/in (a linear layer feeding softmax). */
export const initHead = (inDim: number, classes: number, rng: Rng): Dense => initDense(inDim, classes, rng, 1);

export const cloneDense = (d: Dense): Dense => ({ inDim: d.inDim, outDim: d.outDim, wt: d.wt.slice(), b: d.b.slice() });
export const cloneEncoder = (e: Dense[]): Dense[] => e.map(cloneDense);
export const zerosLike = (d: Dense): Dense => ({ inDim: d.inDim, outDim: d.outDim, wt: new Float64Array(d.wt.length), b: new Float64Array(d.b.length) });

// ───────────────────────────── kernels ─────────────────────────────

/**
 * out[rows, outDim] = x[rows, inDim] · wt + b, then ReLU when asked. Rows go four at a time so
 * each weight row is loaded once per four samples; an input column that is zero in all four is skipped.
 */
export function denseForward(layer: Dense, x: Floats, rows: number, out: Float64Array, relu: boolean): void {
  const { inDim: I, outDim: O, wt, b } = layer;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const o0 = r * O;
    const o1 = o0 + O;
    const o2 = o1 + O;
    const o3 = o2 + O;
    for (let o = 0; o < O; o++) out[o0 + o] = out[o1 + o] = out[o2 + o] = out[o3 + o] = b[o];
    const x0b = r * I;
    for (let i = 0; i < I; i++) {
      const x0 = x[x0b + i];
      const x1 = x[x0b + I + i];
      const x2 = x[x0b + 2 * I + i];
      const x3 = x[x0b + 3 * I + i];
      if (x0 === 0 && x1 === 0 && x2 === 0 && x3 === 0) continue;
      const wb = i * O;
      for (let o = 0; o < O; o++) {
        const w = wt[wb + o];
        out[o0 + o] += x0 * w;
        out[o1 + o] += x1 * w;
        out[o2 + o] += x2 * w;
        out[o3 + o] += x3 * w;
      }
    }
  }
  for (; r < rows; r++) {
    const ob = r * O;
    for (let o = 0; o < O; o++) out[ob + o] = b[o];
    const xb = r * I;
    for (let i = 0; i < I; i++) {
      const xv = x[xb + i];
      if (xv === 0) continue;
      const wb = i * O;
      for (let o = 0; o < O; o++) out[ob + o] += xv * wt[wb + o];
    }
  }
  if (relu) for (let k = 0, n = rows * O; k < n; k++) if (out[k] < 0) out[k] = 0;
}

/**
 * Backward through one Dense given dy = dLoss/d(pre-activation output) [rows, outDim]:
 * accumulates grad.wt += xᵀ·dy and grad.b += Σ dy; writes dx = dy·wtᵀ when dx is given.
 */
export function denseBackward(layer: Dense, x: Floats, rows: number, dy: Float64Array, grad: Dense, dx?: Float64Array): void {
  const { inDim: I, outDim: O, wt } = layer;
  const gw = grad.wt;
  const gb = grad.b;
  for (let r = 0; r < rows; r++) {
    const yb = r * O;
    for (let o = 0; o < O; o++) gb[o] += dy[yb + o];
    const xb = r * I;
    for (let i = 0; i < I; i++) {
      const xv = x[xb + i];
      if (xv === 0) continue;
      const wb = i * O;
      for (let o = 0; o < O; o++) gw[wb + o] += xv * dy[yb + o];
    }
    if (dx) {
      for (let i = 0; i < I; i++) {
        const wb = i * O;
        let s = 0;
        for (let o = 0; o < O; o++) s += wt[wb + o] * dy[yb + o];
        dx[xb + i] = s;
      }
    }
  }
}

/**
 * Mean softmax cross-entropy over rows; writes dLogits = dLoss/dlogits (already divided by rows)
 * when given. Returns the loss and the number of argmax-correct rows.
 */
export function softmaxCrossEntropy(
  logits: Float64Array,
  labels: ArrayLike<number>,
  rows: number,
  classes: number,
  dLogits?: Float64Array,
): { loss: number; correct: number } {
  let loss = 0;
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    const b = r * classes;
    let max = -Infinity;
    let arg = 0;
    for (let c = 0; c < classes; c++) {
      if (logits[b + c] > max) {
        max = logits[b + c];
        arg = c;
      }
    }
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[b + c] - max);
    const y = labels[r];
    loss += Math.log(sum) + max - logits[b + y];
    if (arg === y) correct++;
    if (dLogits) {
      for (let c = 0; c < classes; c++) dLogits[b + c] = (Math.exp(logits[b + c] - max) / sum - (c === y ? 1 : 0)) / rows;
    }
  }
  return { loss: loss / rows, correct };
}

// ───────────────────────────── whole model ─────────────────────────────

/** Buffers for one batch; reused across steps so the hot loop allocates nothing. */
export interface Workspace {
  rows: number;
  /** Post-ReLU output of each encoder layer, [rows, dim]. */
  hidden: Float64Array[];
  logits: Float64Array;
  dLogits: Float64Array;
  /** Gradient w.r.t. each encoder layer's output, [rows, dim]. */
  dHidden: Float64Array[];
}

export function createWorkspace(model: Mlp, rows: number): Workspace {
  return {
    rows,
    hidden: model.encoder.map((l) => new Float64Array(rows * l.outDim)),
    logits: new Float64Array(rows * model.head.outDim),
    dLogits: new Float64Array(rows * model.head.outDim),
    dHidden: model.encoder.map((l) => new Float64Array(rows * l.outDim)),
  };
}

/** Forward `rows` samples of x through encoder and head into ws (ws.rows ≥ rows). */
export function forward(model: Mlp, x: Floats, rows: number, ws: Workspace): void {
  let input: Floats = x;
  for (let l = 0; l < model.encoder.length; l++) {
    denseForward(model.encoder[l], input, rows, ws.hidden[l], true);
    input = ws.hidden[l];
  }
  denseForward(model.head, input, rows, ws.logits, false);
}

export interface Gradients {
  encoder: Dense[];
  head: Dense;
}

export const zeroGradients = (model: Mlp): Gradients => ({ encoder: model.encoder.map(zerosLike), head: zerosLike(model.head) });

export function clearGradients(g: Gradients): void {
  for (const d of [...g.encoder, g.head]) {
    d.wt.fill(0);
    d.b.fill(0);
  }
}

/**
 * Loss and gradients of the mean cross-entropy over the batch (accumulated into `grads`).
 * `inputGrad` [rows, 784], when given, receives dLoss/dx per sample.
 */
export function lossAndGradients(
  model: Mlp,
  x: Floats,
  y: ArrayLike<number>,
  rows: number,
  ws: Workspace,
  grads: Gradients,
  inputGrad?: Float64Array,
): { loss: number; correct: number } {
  forward(model, x, rows, ws);
  const res = softmaxCrossEntropy(ws.logits, y, rows, model.head.outDim, ws.dLogits);
  const L = model.encoder.length;
  denseBackward(model.head, ws.hidden[L - 1], rows, ws.dLogits, grads.head, ws.dHidden[L - 1]);
  for (let l = L - 1; l >= 0; l--) {
    // ReLU: pass the gradient only where the unit was active.
    const h = ws.hidden[l];
    const dh = ws.dHidden[l];
    const n = rows * model.encoder[l].outDim;
    for (let k = 0; k < n; k++) if (h[k] <= 0) dh[k] = 0;
    const below: Floats = l > 0 ? ws.hidden[l - 1] : x;
    const dBelow = l > 0 ? ws.dHidden[l - 1] : inputGrad;
    denseBackward(model.encoder[l], below, rows, dh, grads.encoder[l], dBelow);
  }
  return res;
}

/** Accuracy of a model on a labelled set, in batches (no gradients). */
export function accuracy(model: Mlp, x: Floats, y: ArrayLike<number>, n: number, batch = 500): number {
  const inDim = model.encoder[0].inDim;
  const ws = createWorkspace(model, Math.min(batch, n));
  let correct = 0;
  for (let s = 0; s < n; s += batch) {
    const rows = Math.min(batch, n - s);
    forward(model, x.subarray(s * inDim, (s + rows) * inDim), rows, ws);
    const C = model.head.outDim;
    for (let r = 0; r < rows; r++) {
      let arg = 0;
      for (let c = 1; c < C; c++) if (ws.logits[r * C + c] > ws.logits[r * C + arg]) arg = c;
      if (arg === y[s + r]) correct++;
    }
  }
  return n > 0 ? correct / n : 0;
}
