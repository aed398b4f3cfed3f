import { Matrix, solve } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { createWorkspace, forward, initEncoder, initHead } from '../../src/study/mlp.js';
import { encode, fitProbe, probeAccuracy, probeTask, PROBE_RIDGE } from '../../src/study/probe.js';
import { createRng } from '../../src/study/rng.js';

describe('linear probe (ridge to one-hot targets)', () => {
  it('1-D case by hand: w = Σz(t − t̄) / (Σz² + λ), intercept t̄', () => {
    // x = 0,1,2,3 → z = (x − 1.5)/√1.25 (population sd), Σz² = 4, λ = 0.1·4
    const p = fitProbe(Float64Array.from([0, 1, 2, 3]), [0, 0, 1, 1], 4, 1, 2);
    expect(p.mean[0]).toBe(1.5);
    expect(p.scale[0]).toBeCloseTo(1 / Math.sqrt(1.25), 14);
    const w1 = 2 / Math.sqrt(1.25) / (4 + PROBE_RIDGE * 4);
    expect(p.w[1]).toBeCloseTo(w1, 14);
    expect(p.w[0]).toBeCloseTo(-w1, 14);
    expect([...p.bias]).toEqual([0.5, 0.5]);
    expect(probeAccuracy(p, Float64Array.from([-5, 1.4, 1.6, 9]), [0, 0, 1, 1], 4)).toBe(1);
  });

  it('equals the closed form (AᵀA + λD)⁻¹AᵀT of ml-matrix, with an unpenalized intercept column', () => {
    const rng = createRng(7);
    const n = 40;
    const d = 6;
    const c = 3;
    const x = Float64Array.from({ length: n * d }, (_, i) => rng.normal() * (1 + (i % d)) + (i % d)); // unequal scales and means
    const y = Array.from({ length: n }, () => rng.int(c));
    const p = fitProbe(x, y, n, d, c);
    // Independent route: standardize by hand, augment with a ones column, solve the normal equations.
    const A = new Matrix(n, d + 1);
    for (let j = 0; j < d; j++) {
      let m = 0;
      for (let r = 0; r < n; r++) m += x[r * d + j] / n;
      let v = 0;
      for (let r = 0; r < n; r++) v += (x[r * d + j] - m) ** 2 / n;
      for (let r = 0; r < n; r++) A.set(r, j, (x[r * d + j] - m) / Math.sqrt(v));
    }
    for (let r = 0; r < n; r++) A.set(r, d, 1);
    const T = new Matrix(n, c);
    y.forEach((k, r) => T.set(r, k, 1));
    const lhs = A.transpose().mmul(A);
    for (let j = 0; j < d; j++) lhs.set(j, j, lhs.get(j, j) + PROBE_RIDGE * n);
    const W = solve(lhs, A.transpose().mmul(T));
    for (let j = 0; j < d; j++) for (let k = 0; k < c; k++) expect(p.w[j * c + k]).toBeCloseTo(W.get(j, k), 10);
    for (let k = 0; k < c; k++) expect(p.bias[k]).toBeCloseTo(W.get(d, k), 10);
  });

  it('separates linearly separable classes perfectly, and ignores a constant (dead) feature', () => {
    const rng = createRng(3);
    const centres = [
      [5, 0, 0],
      [0, 5, 0],
      [0, 0, 5],
    ];
    const make = (n: number) => {
      const x = new Float64Array(n * 4);
      const y = new Uint8Array(n);
      for (let r = 0; r < n; r++) {
        y[r] = r % 3;
        for (let j = 0; j < 3; j++) x[r * 4 + j] = centres[y[r]][j] + 0.5 * rng.normal();
        x[r * 4 + 3] = 0; // a dead ReLU unit
      }
      return { x, y, n };
    };
    const train = make(60);
    const test = make(300);
    const p = fitProbe(train.x, train.y, train.n, 4, 3);
    expect(p.scale[3]).toBe(0);
    expect(probeAccuracy(p, train.x, train.y, train.n)).toBe(1);
    expect(probeAccuracy(p, test.x, test.y, test.n)).toBe(1);
  });

  it('encode() is the encoder part of the model forward pass, batch size irrelevant', () => {
    const rng = createRng(11);
    const encoder = initEncoder([8, 6, 5], rng);
    const model = { encoder, head: initHead(5, 2, rng) };
    const n = 7;
    const x = Float64Array.from({ length: n * 8 }, () => (rng.next() < 0.3 ? 0 : rng.normal()));
    const ws = createWorkspace(model, n);
    forward(model, x, n, ws);
    const f = encode(encoder, x, n, 3); // batches of 3, 3, 1
    expect([...f]).toEqual([...ws.hidden[1]]);
  });

  it('probeTask trains on one set and scores another', () => {
    // An identity-like one-layer "encoder" (ReLU of x) on separable inputs: the probe must be perfect.
    const encoder = [{ inDim: 2, outDim: 2, wt: Float64Array.from([1, 0, 0, 1]), b: new Float64Array(2) }];
    const set = (pts: number[][], labels: number[]) => ({ x: Float64Array.from(pts.flat()), y: labels, n: labels.length });
    const train = set([[3, 0], [4, 0.5], [0, 3], [0.2, 4]], [0, 0, 1, 1]);
    const test = set([[2, 0.1], [0.1, 2]], [0, 1]);
    expect(probeTask(encoder, train, test, 2)).toBe(1);
    // Labels swapped at test time: every prediction is now wrong.
    expect(probeTask(encoder, train, set([[2, 0.1], [0.1, 2]], [1, 0]), 2)).toBe(0);
  });
});
