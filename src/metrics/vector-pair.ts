/**
 * Pairwise L2 / cosine / dot / magnitude ratio between per-expert vectors stored as safetensors
 * files — gradient files (encoder gradient = every tensor but `input`; input gradient = the
 * `input` tensor) and activation files (every tensor). For a pair, only tensors present in both
 * files count; their shapes must agree. Each tensor of each file is read once, in row chunks.
 */
import type { Checkpoint, MetricMatrix } from '../types.js';
import { MergelensError } from '../errors.js';

export interface VectorPairMatrices {
  l2: MetricMatrix;
  cosine: MetricMatrix;
  dot: MetricMatrix;
  magnitude_ratio: MetricMatrix;
}

const CHUNK = 1 << 24;

function numelOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Sums over the selected tensors of every pair, then the four matrices (null where no common tensor). */
export async function vectorPairMetrics(files: Checkpoint[], select: (name: string) => boolean, what: string): Promise<VectorPairMatrices> {
  const N = files.length;
  const dot = new Float64Array(N * N);
  const sq = new Float64Array(N * N); // sq[i*N+j] = ‖vᵢ‖² over tensors common with j
  const d2 = new Float64Array(N * N);
  const common = new Uint32Array(N * N);
  const names = [...new Set(files.flatMap((f) => f.tensorNames()))].filter(select).sort();
  for (const name of names) {
    const has = files.map((f) => f.location(name));
    const present = has.map((l, i) => (l ? i : -1)).filter((i) => i >= 0);
    if (present.length < 2) continue;
    const ref = has[present[0]]!;
    for (const i of present) {
      const l = has[i]!;
      if (l.shape.join(',') !== ref.shape.join(',')) {
        throw new MergelensError('SHAPE_MISMATCH', `${what} tensor has shape [${l.shape}] but [${ref.shape}] in ${files[present[0]].path}`, { file: files[i].path, tensor: name });
      }
    }
    const numel = numelOf(ref.shape);
    for (let start = 0; start < numel; start += CHUNK) {
      const count = Math.min(CHUNK, numel - start);
      const chunks = await Promise.all(present.map((i) => files[i].read(name, start, count)));
      chunks.forEach((c, k) => {
        let s = 0;
        for (let e = 0; e < c.length; e++) s += c[e];
        if (!Number.isFinite(s)) throw new MergelensError('NON_FINITE', `${what} tensor contains NaN or Inf`, { file: files[present[k]].path, tensor: name });
      });
      for (let a = 0; a < present.length; a++) {
        for (let b = a + 1; b < present.length; b++) {
          const x = chunks[a];
          const y = chunks[b];
          let xy = 0, xx = 0, yy = 0, dd = 0;
          for (let e = 0; e < count; e++) {
            const u = x[e];
            const v = y[e];
            xy += u * v;
            xx += u * u;
            yy += v * v;
            const d = u - v;
            dd += d * d;
          }
          const i = present[a];
          const j = present[b];
          dot[i * N + j] += xy;
          sq[i * N + j] += xx;
          sq[j * N + i] += yy;
          d2[i * N + j] += dd;
          if (start === 0) common[i * N + j]++;
        }
      }
    }
  }
  const mk = (): MetricMatrix => Array.from({ length: N }, () => Array.from({ length: N }, () => null));
  const out: VectorPairMatrices = { l2: mk(), cosine: mk(), dot: mk(), magnitude_ratio: mk() };
  const set = (m: MetricMatrix, i: number, j: number, v: number | null) => {
    m[i][j] = v;
    m[j][i] = v;
  };
  for (let i = 0; i < N; i++) {
    for (let j = i + 1; j < N; j++) {
      if (common[i * N + j] === 0) continue;
      const na = Math.sqrt(sq[i * N + j]);
      const nb = Math.sqrt(sq[j * N + i]);
      set(out.dot, i, j, dot[i * N + j]);
      set(out.l2, i, j, Math.sqrt(d2[i * N + j]));
      set(out.cosine, i, j, na > 0 && nb > 0 ? Math.max(-1, Math.min(1, dot[i * N + j] / (na * nb))) : null);
      set(out.magnitude_ratio, i, j, na === 0 && nb === 0 ? null : Math.min(na, nb) / Math.max(na, nb));
    }
  }
  return out;
}

/** Gradient-family matrices from one gradient file per expert. */
export async function gradientMetrics(files: Checkpoint[]): Promise<Record<string, MetricMatrix>> {
  const enc = await vectorPairMetrics(files, (n) => n !== 'input', 'gradient');
  const inp = await vectorPairMetrics(files, (n) => n === 'input', 'input-gradient');
  return {
    enc_grad_l2: enc.l2, enc_grad_cosine: enc.cosine, enc_grad_dot: enc.dot,
    input_grad_l2: inp.l2, input_grad_cosine: inp.cosine, input_grad_dot: inp.dot,
  };
}

/** Activation-family matrices from one activation file per expert. */
export async function activationMetrics(files: Checkpoint[]): Promise<Record<string, MetricMatrix>> {
  const a = await vectorPairMetrics(files, () => true, 'activation');
  return { act_l2: a.l2, act_cosine: a.cosine, act_dot: a.dot, act_magnitude_ratio: a.magnitude_ratio };
}
