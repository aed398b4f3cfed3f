import { denseForward, initDense, type Dense, type Floats } from './src/study/mlp.js';
import { buildTaskData, getTask } from './src/study/data.js';
import { createRng } from './src/study/rng.js';
function simple(layer: Dense, x: Floats, rows: number, out: Float64Array, relu: boolean): void {
  const { inDim: I, outDim: O, wt, b } = layer;
  for (let r = 0; r < rows; r++) {
    const ob = r * O;
    for (let o = 0; o < O; o++) out[ob + o] = b[o];
    const xb = r * I;
    for (let i = 0; i < I; i++) {
      const xv = x[xb + i];
      if (xv === 0) continue;
      const wb = i * O;
      for (let o = 0; o < O; o++) out[ob + o] += xv * wt[wb + o];
    }
    if (relu) for (let o = 0; o < O; o++) if (out[ob + o] < 0) out[ob + o] = 0;
  }
}
const L = initDense(784, 256, createRng(1));
const out = new Float64Array(500 * 256);
for (const id of ['digits', 'invert']) {
  const td = buildTaskData(getTask(id), 1, { train: 10, test: 500 });
  for (let rep = 0; rep < 3; rep++) for (const [name, f] of [['simple', simple], ['blocked', denseForward]] as const) {
    const t = performance.now();
    for (let k = 0; k < 5; k++) f(L, td.test.x, 500, out, true);
    console.log(id, name, ((performance.now() - t) / 5).toFixed(0), 'ms');
  }
}
