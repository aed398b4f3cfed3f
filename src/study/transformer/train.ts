/**
 * Training the tiny transformer: AdamW with linear warm-up and cosine decay, gradient-norm
 * clipping, over batches the caller supplies — the whole model (`fit`: pretraining, full
 * fine-tunes) or only a LoRA adapter on a frozen base (`fitLora`). Pure compute, no I/O.
 */
import type { TransformerConfig } from './config.js';
import type { Params } from './params.js';
import type { LmBatch } from './tokens.js';
import { lossAndGrad } from './backward.js';
import { loraLossAndGrad, type LoraAdapter } from './lora.js';

export interface AdamWConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay (AdamW), applied to matrices only (not to norm gains). */
  weightDecay: number;
}

export const DEFAULT_ADAMW: AdamWConfig = { lr: 3e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.0 };

/** AdamW with per-tensor state keyed by name. */
export class AdamW {
  private readonly state = new Map<string, { m: Float64Array; v: Float64Array }>();
  private t = 0;
  constructor(readonly cfg: AdamWConfig = DEFAULT_ADAMW) {}

  /** One update of every parameter that has a gradient, at learning rate `lr`. */
  step(params: Params, grads: Params, lr = this.cfg.lr): void {
    this.t++;
    const { beta1, beta2, eps, weightDecay } = this.cfg;
    const c1 = 1 - beta1 ** this.t;
    const c2 = 1 - beta2 ** this.t;
    for (const [name, g] of grads) {
      const p = params.get(name);
      if (!p) throw new Error(`AdamW: gradient for unknown parameter ${name}`);
      let s = this.state.get(name);
      if (!s) this.state.set(name, (s = { m: new Float64Array(p.data.length), v: new Float64Array(p.data.length) }));
      const { m, v } = s;
      const x = p.data;
      const gd = g.data;
      const decay = p.shape.length > 1 ? 1 - lr * weightDecay : 1;
      for (let i = 0; i < x.length; i++) {
        const gi = gd[i];
        m[i] = beta1 * m[i] + (1 - beta1) * gi;
        v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
        x[i] = x[i] * decay - (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps);
      }
    }
  }
}

export interface FitOptions {
  steps: number;
  /** Peak learning rate. */
  lr: number;
  /** Linear warm-up steps (default min(100, steps/10)). */
  warmupSteps?: number;
  /** Cosine decay ends at lr·minLrFraction (default 0.1). */
  minLrFraction?: number;
  weightDecay?: number;
  /** Clip the global gradient L2 norm to this (default 1; 0 = off). */
  gradClip?: number;
}

/** Called after every step. */
export type FitProgress = (p: { step: number; steps: number; loss: number; seconds: number }) => void;

export interface FitResult {
  /** Training loss of every step. */
  losses: Float64Array;
  seconds: number;
}

/** Learning rate at step s (0-based) of the warm-up + cosine schedule. */
export function scheduledLr(o: FitOptions, s: number): number {
  const warm = o.warmupSteps ?? Math.min(100, Math.floor(o.steps / 10));
  if (s < warm) return (o.lr * (s + 1)) / warm;
  const minF = o.minLrFraction ?? 0.1;
  const prog = o.steps > warm ? (s - warm) / (o.steps - warm) : 1;
  return o.lr * (minF + (1 - minF) * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, prog))));
}

/** Scale grads in place so their global L2 norm is at most maxNorm; returns the norm before. */
export function clipGradients(grads: Params, maxNorm: number): number {
  let sq = 0;
  for (const g of grads.values()) for (let i = 0; i < g.data.length; i++) sq += g.data[i] * g.data[i];
  const norm = Math.sqrt(sq);
  if (maxNorm > 0 && norm > maxNorm) {
    const f = maxNorm / norm;
    for (const g of grads.values()) for (let i = 0; i < g.data.length; i++) g.data[i] *= f;
  }
  return norm;
}

/** One optimizer over `target` with the schedule and clipping of `o`; `apply` makes step s from its loss and gradients. */
export function createStepper(target: Params, o: FitOptions): { apply(s: number, r: { loss: number; grads: Params }): void; losses: Float64Array } {
  const opt = new AdamW({ ...DEFAULT_ADAMW, lr: o.lr, weightDecay: o.weightDecay ?? 0 });
  const losses = new Float64Array(o.steps);
  return {
    losses,
    apply(s, r) {
      clipGradients(r.grads, o.gradClip ?? 1);
      opt.step(target, r.grads, scheduledLr(o, s));
      losses[s] = r.loss;
    },
  };
}

/** Shared loop: grads(step) computes loss+grads of the trained tensors, which AdamW updates in `target`. */
function loop(target: Params, grads: (step: number) => { loss: number; grads: Params }, o: FitOptions, onProgress?: FitProgress): FitResult {
  const st = createStepper(target, o);
  const t0 = performance.now();
  for (let s = 0; s < o.steps; s++) {
    const r = grads(s);
    st.apply(s, r);
    onProgress?.({ step: s + 1, steps: o.steps, loss: r.loss, seconds: (performance.now() - t0) / 1000 });
  }
  return { losses: st.losses, seconds: (performance.now() - t0) / 1000 };
}

/** Train every parameter in place on nextBatch(step) for o.steps steps (pretraining, full fine-tunes). */
export function fit(params: Params, cfg: TransformerConfig, nextBatch: (step: number) => LmBatch, o: FitOptions, onProgress?: FitProgress): FitResult {
  return loop(params, (s) => lossAndGrad(params, cfg, nextBatch(s)), o, onProgress);
}

/** Train only the adapter's factors in place (the base stays frozen) on nextBatch(step). */
export function fitLora(base: Params, cfg: TransformerConfig, adapter: LoraAdapter, nextBatch: (step: number) => LmBatch, o: FitOptions, onProgress?: FitProgress): FitResult {
  return loop(adapter.tensors, (s) => loraLossAndGrad(base, cfg, adapter, nextBatch(s)), o, onProgress);
}
