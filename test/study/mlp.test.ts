import { describe, expect, it } from 'vitest';
import {
  createWorkspace,
  denseForward,
  forward,
  initDense,
  initEncoder,
  initHead,
  lossAndGradients,
  softmaxCrossEntropy,
  zeroGradients,
  type Dense,
  type Mlp,
} from '../../src/study/mlp.js';
import { createRng } from '../../src/study/rng.js';
import { denseFromTensors, denseToTensors, lookupOf } from '../../src/study/tensors.js';
import { Adam } from '../../src/study/train.js';

function tinyModel(seed: number): Mlp {
  const rng = createRng(seed);
  const encoder = initEncoder([6, 5, 4], rng);
  // non-zero biases so every code path (bias gradients, ReLU cut) is exercised
  for (const d of encoder) for (let i = 0; i < d.b.length; i++) d.b[i] = 0.1 * rng.normal();
  return { encoder, head: initHead(4, 3, rng) };
}

function batch(seed: number, rows: number, inDim: number) {
  const rng = createRng(seed);
  const x = new Float64Array(rows * inDim);
  for (let i = 0; i < x.length; i++) x[i] = rng.next() < 0.3 ? 0 : rng.normal(); // some exact zeros, like MNIST
  const y = Uint8Array.from({ length: rows }, () => rng.int(3));
  return { x, y };
}

const lossOf = (m: Mlp, x: Float64Array, y: Uint8Array, rows: number) => {
  const ws = createWorkspace(m, rows);
  forward(m, x, rows, ws);
  return softmaxCrossEntropy(ws.logits, y, rows, m.head.outDim).loss;
};

describe('MLP backprop', () => {
  it('matches central finite differences (float64) for every parameter and the input', () => {
    const m = tinyModel(3);
    const rows = 5;
    const { x, y } = batch(4, rows, 6);
    const g = zeroGradients(m);
    const dx = new Float64Array(x.length);
    lossAndGradients(m, x, y, rows, createWorkspace(m, rows), g, dx);
    const h = 1e-6;
    const check = (arr: Float64Array, grad: Float64Array) => {
      for (let i = 0; i < arr.length; i++) {
        const keep = arr[i];
        arr[i] = keep + h;
        const up = lossOf(m, x, y, rows);
        arr[i] = keep - h;
        const down = lossOf(m, x, y, rows);
        arr[i] = keep;
        const fd = (up - down) / (2 * h);
        expect(Math.abs(fd - grad[i])).toBeLessThan(1e-7 + 1e-5 * Math.abs(fd));
      }
    };
    m.encoder.forEach((d, l) => {
      check(d.wt, g.encoder[l].wt);
      check(d.b, g.encoder[l].b);
    });
    check(m.head.wt, g.head.wt);
    check(m.head.b, g.head.b);
    check(x, dx);
    // the check is not vacuous: gradients are non-trivial
    expect(g.encoder[0].wt.some((v) => Math.abs(v) > 1e-4)).toBe(true);
  });

  it('softmax cross-entropy matches a hand-computed case', () => {
    // logits [0, ln 3], label 1: p = 3/4, loss = ln(4/3); dlogits = p − onehot = [1/4, −1/4]
    const logits = Float64Array.from([0, Math.log(3)]);
    const d = new Float64Array(2);
    const r = softmaxCrossEntropy(logits, [1], 1, 2, d);
    expect(r.loss).toBeCloseTo(Math.log(4 / 3), 12);
    expect(r.correct).toBe(1);
    expect(d[0]).toBeCloseTo(0.25, 12);
    expect(d[1]).toBeCloseTo(-0.25, 12);
  });

  it('a dense layer in checkpoint layout ([out, in] weight) computes W·x + b', () => {
    const d = initDense(3, 2, createRng(9));
    d.b.set([0.5, -0.25]);
    const [w, b] = denseToTensors('layer', d);
    expect(w.shape).toEqual([2, 3]);
    const x = Float64Array.from([1, -2, 0.5]);
    const out = new Float64Array(2);
    denseForward(d, x, 1, out, false);
    for (let o = 0; o < 2; o++) {
      let s = b.data[o];
      for (let i = 0; i < 3; i++) s += w.data[o * 3 + i] * x[i];
      expect(out[o]).toBeCloseTo(s, 5); // float32 round trip of the weights
    }
    const back: Dense = denseFromTensors(lookupOf([w, b]), 'layer', 'test');
    expect(Array.from(back.wt)).toEqual(Array.from(Float32Array.from(d.wt)));
  });

  it('missing or mis-shaped tensors are named errors', () => {
    const d = initDense(3, 2, createRng(1));
    const [w, b] = denseToTensors('enc', d);
    expect(() => denseFromTensors(lookupOf([w]), 'enc', 'f.safetensors')).toThrow(/f\.safetensors: tensor "enc\.bias"/);
    expect(() => denseFromTensors(lookupOf([w, b]), 'enc', 'f.safetensors', 4)).toThrow(/tensor "enc\.weight".*\[out, 4\]/);
  });
});

describe('Adam', () => {
  it('moves each parameter by lr against the gradient sign on the first step', () => {
    // m̂ = g and v̂ = g² after one step, so the update is lr·g/(|g|+ε)
    const opt = new Adam({ lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
    const p = Float64Array.from([1, 2, 3]);
    opt.step(p, Float64Array.from([0.5, -3, 1e-3]));
    expect(p[0]).toBeCloseTo(0.99, 6);
    expect(p[1]).toBeCloseTo(2.01, 6);
    expect(p[2]).toBeCloseTo(2.99, 4);
  });
});
