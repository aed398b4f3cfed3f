/**
 * Calibration statistics of one expert on samples of its own task — the inputs the metrics
 * engine's gradient and activation families read:
 *  - gradient file: mean gradient of the expert's cross-entropy loss w.r.t. every encoder
 *    parameter (same name and [out, in] shape as the checkpoint) plus `input`, the mean gradient
 *    w.r.t. the input image [784];
 *  - activation file: mean post-ReLU activation of each encoder layer (`encoder.<l>`, [dim]).
 * Pure compute; writing the files is the caller's job.
 */
import { INPUT_DIM, type Split } from './data.js';
import { createWorkspace, lossAndGradients, zeroGradients, type Mlp } from './mlp.js';
import { encoderToTensors, type NamedTensor } from './tensors.js';

export interface CalibrationStats {
  grads: NamedTensor[];
  acts: NamedTensor[];
  /** Mean loss on the calibration samples (a sanity value for the manifest/report). */
  loss: number;
}

export function calibrationStats(model: Mlp, samples: Split): CalibrationStats {
  const n = samples.n;
  const ws = createWorkspace(model, n);
  const g = zeroGradients(model);
  const dx = new Float64Array(n * INPUT_DIM);
  // The gradient of the mean loss is the mean of the per-sample gradients.
  const { loss } = lossAndGradients(model, samples.x, samples.y, n, ws, g, dx);
  // dx rows are d(mean loss)/dx_r = (1/n)·dℓ_r/dx_r, so their sum is the mean per-sample input gradient.
  const input = new Float32Array(INPUT_DIM);
  for (let i = 0; i < INPUT_DIM; i++) {
    let s = 0;
    for (let r = 0; r < n; r++) s += dx[r * INPUT_DIM + i];
    input[i] = s;
  }
  const grads = [...encoderToTensors(g.encoder), { name: 'input', shape: [INPUT_DIM], data: input }];
  const acts = model.encoder.map((layer, l) => {
    const h = ws.hidden[l];
    const mean = new Float32Array(layer.outDim);
    for (let o = 0; o < layer.outDim; o++) {
      let s = 0;
      for (let r = 0; r < n; r++) s += h[r * layer.outDim + o];
      mean[o] = s / n;
    }
    return { name: `encoder.${l}`, shape: [layer.outDim], data: mean };
  });
  return { grads, acts, loss };
}
