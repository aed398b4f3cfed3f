/**
 * The tiny transformer's building blocks, forward and backward: linear layers on the WebAssembly
 * panel-product kernels (src/wasm/assembly/gemm.ts) and causal softmax attention on its own
 * kernel (src/wasm/assembly/transformer.ts), both float64; RMSNorm, rotary embeddings (HF's
 * rotate-half layout) and SwiGLU in plain TypeScript (elementwise, a small share of a step;
 * docs/transformer-model.md has the measurements).
 *
 * Every buffer passed to a linear op must live on the kernels' heap (`Scratch.f64`), so the
 * kernels read activations in place; weights are copied in once per pass (`Scratch.place`).
 */
import { kernels, type KernelExports, type WasmHeap } from '../../wasm/kernels.js';

/** Heap-backed float64 buffers for one pass (freed together by the caller's heap.scoped). */
export class Scratch {
  readonly k: KernelExports;
  readonly heap: WasmHeap;
  constructor() {
    const { exports, heap } = kernels();
    this.k = exports;
    this.heap = heap;
  }
  /**
   * A float64 buffer of n elements on the heap, NOT zeroed (every pass writes its buffers whole
   * before reading them; zero-filling shared memory was a tenth of a training step).
   */
  f64(n: number): Float64Array {
    return this.heap.f64(this.heap.alloc(n * 8), n);
  }
  /** A heap copy of a float64 array (or the array itself when it already lives there). */
  place(x: Float64Array): Float64Array {
    const at = this.heap.offsetOf(x);
    return at >= 0 ? x : this.heap.f64(this.heap.place(x), x.length);
  }
  /** Byte offset of a heap buffer (throws for any other array: a kernel must never read stray memory). */
  ptr(x: Float64Array): number {
    const at = this.heap.offsetOf(x);
    if (at < 0) throw new Error('transformer ops: buffer is not on the kernels heap');
    return at;
  }
}

/** y[N, out] = x[N, in]·Wᵀ, W [out, in]. */
export function linear(s: Scratch, x: Float64Array, N: number, W: Float64Array, out: number, inDim: number, y: Float64Array): void {
  s.k.mulPanelF64(s.ptr(W), out, inDim, s.ptr(x), N, s.ptr(y), out);
}

/** dx[N, in] = dy[N, out]·W (overwrites dx). */
export function linearBackInput(s: Scratch, dy: Float64Array, N: number, W: Float64Array, out: number, inDim: number, dx: Float64Array): void {
  s.k.mulTPanelF64(s.ptr(W), out, inDim, inDim, s.ptr(dy), N, s.ptr(dx), inDim);
}

/**
 * dW[out, in] += dyᵀ·x. The kernel computes Z = Qᵀ-panels times x, so dy is transposed into
 * [out, N] panels first (cheap next to the product).
 */
export function linearBackWeight(s: Scratch, dy: Float64Array, x: Float64Array, N: number, out: number, inDim: number, dW: Float64Array): void {
  const m = s.heap.mark();
  try {
    const dyT = s.f64(out * N);
    // Blocks of 16 rows: the reads stay in 16 cache lines and the writes run contiguously.
    for (let j0 = 0; j0 < N; j0 += 16) {
      const j1 = Math.min(N, j0 + 16);
      for (let o = 0; o < out; o++) {
        const w = o * N;
        for (let j = j0; j < j1; j++) dyT[w + j] = dy[j * out + o];
      }
    }
    const z = s.f64(out * inDim);
    s.k.mulTPanelF64(s.ptr(x), N, inDim, inDim, s.ptr(dyT), out, s.ptr(z), inDim);
    for (let i = 0; i < z.length; i++) dW[i] += z[i];
  } finally {
    s.heap.release(m);
  }
}

/** y = g ⊙ x / rms(x) per row of [N, d]; rstd[r] = 1/√(mean(x²)+eps) kept for backward. */
export function rmsNorm(x: Float64Array, g: Float64Array, N: number, d: number, eps: number, y: Float64Array, rstd: Float64Array): void {
  for (let r = 0; r < N; r++) {
    const b = r * d;
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[b + i] * x[b + i];
    const rs = 1 / Math.sqrt(ss / d + eps);
    rstd[r] = rs;
    for (let i = 0; i < d; i++) y[b + i] = g[i] * x[b + i] * rs;
  }
}

/**
 * Backward of rmsNorm: dx (+= when accumulate) and dg += Σ_r dy⊙x·rstd.
 * With u = g⊙dy: dx = rstd·u − (rstd³/d)·(u·x)·x.
 */
export function rmsNormBackward(x: Float64Array, g: Float64Array, rstd: Float64Array, dy: Float64Array, N: number, d: number, dx: Float64Array, dg: Float64Array | undefined, accumulate: boolean): void {
  for (let r = 0; r < N; r++) {
    const b = r * d;
    const rs = rstd[r];
    let ux = 0;
    for (let i = 0; i < d; i++) ux += g[i] * dy[b + i] * x[b + i];
    const c = (rs * rs * rs * ux) / d;
    for (let i = 0; i < d; i++) {
      const v = rs * g[i] * dy[b + i] - c * x[b + i];
      dx[b + i] = accumulate ? dx[b + i] + v : v;
      if (dg) dg[i] += dy[b + i] * x[b + i] * rs;
    }
  }
}

/** cos/sin tables [T, hd/2] of rotary embeddings: angle = t·θ^(−2i/hd). */
export function ropeTables(T: number, hd: number, theta: number): { cos: Float64Array; sin: Float64Array } {
  const half = hd / 2;
  const cos = new Float64Array(T * half);
  const sin = new Float64Array(T * half);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const a = t * Math.pow(theta, (-2 * i) / hd);
      cos[t * half + i] = Math.cos(a);
      sin[t * half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}

/**
 * Rotate every head of x [B·T, H·hd] in place as HF Llama does (rotate_half: pairs (i, i+hd/2)).
 * `inverse` applies the transpose rotation (the backward pass).
 */
export function applyRope(x: Float64Array, B: number, T: number, H: number, hd: number, tab: { cos: Float64Array; sin: Float64Array }, inverse: boolean): void {
  const half = hd / 2;
  const d = H * hd;
  const sgn = inverse ? -1 : 1;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const row = (b * T + t) * d;
      const tb = t * half;
      for (let h = 0; h < H; h++) {
        const o = row + h * hd;
        for (let i = 0; i < half; i++) {
          const c = tab.cos[tb + i];
          const sn = sgn * tab.sin[tb + i];
          const a = x[o + i];
          const z = x[o + i + half];
          x[o + i] = a * c - z * sn;
          x[o + i + half] = z * c + a * sn;
        }
      }
    }
  }
}

/** The attention kernels of src/wasm/assembly/transformer.ts (not in KernelExports, which other modules own). */
interface AttentionKernels {
  attnForward(q: number, k: number, v: number, B: number, T: number, H: number, hd: number, P: number, out: number): void;
  attnBackward(q: number, k: number, v: number, P: number, dOut: number, B: number, T: number, H: number, hd: number, dq: number, dk: number, dv: number, dP: number): void;
}

const attn = (s: Scratch): AttentionKernels => s.k as unknown as AttentionKernels;

/**
 * Causal multi-head attention core (WebAssembly): for each row b and head h,
 * P = softmax(q·kᵀ/√hd) over positions s ≤ t, out_t = Σ_s P[t,s]·v_s.
 * q, k, v, out are [B·T, H·hd] heap buffers; P is kept, [B, H, T, T].
 */
export function attention(s: Scratch, q: Float64Array, k: Float64Array, v: Float64Array, B: number, T: number, H: number, hd: number, P: Float64Array, out: Float64Array): void {
  attn(s).attnForward(s.ptr(q), s.ptr(k), s.ptr(v), B, T, H, hd, s.ptr(P), s.ptr(out));
}

/** Backward of attention: dq, dk, dv (overwritten) from dOut, using the kept P. */
export function attentionBackward(
  s: Scratch,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  P: Float64Array,
  dOut: Float64Array,
  B: number,
  T: number,
  H: number,
  hd: number,
  dq: Float64Array,
  dk: Float64Array,
  dv: Float64Array,
): void {
  const m = s.heap.mark();
  try {
    const dP = s.f64(T);
    attn(s).attnBackward(s.ptr(q), s.ptr(k), s.ptr(v), s.ptr(P), s.ptr(dOut), B, T, H, hd, s.ptr(dq), s.ptr(dk), s.ptr(dv), s.ptr(dP));
  } finally {
    s.heap.release(m);
  }
}

/** σ(a). */
const sigmoid = (a: number): number => 1 / (1 + Math.exp(-a));

/** SwiGLU: m = silu(gate) ⊙ up, elementwise over n values. */
export function swiglu(gate: Float64Array, up: Float64Array, n: number, m: Float64Array): void {
  for (let i = 0; i < n; i++) {
    const a = gate[i];
    m[i] = (a * sigmoid(a)) * up[i];
  }
}

/** Backward of swiglu: dGate, dUp (overwritten) from dm. silu'(a) = σ(a)·(1 + a·(1 − σ(a))). */
export function swigluBackward(gate: Float64Array, up: Float64Array, dm: Float64Array, n: number, dGate: Float64Array, dUp: Float64Array): void {
  for (let i = 0; i < n; i++) {
    const a = gate[i];
    const sg = sigmoid(a);
    dUp[i] = dm[i] * a * sg;
    dGate[i] = dm[i] * up[i] * sg * (1 + a * (1 - sg));
  }
}
