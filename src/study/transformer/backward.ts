/**
 * Loss and gradients of the tiny transformer: masked next-token cross-entropy
 * (Σ mask·CE / Σ mask), backpropagated through runForward's kept intermediates. Gradients are
 * float64 with the parameters' names and shapes (gradient-checked in
 * test/study/transformer-model.test.ts).
 */
import { paramSpecs, headDim, linearName, linearShape, type LinearModule, type TransformerConfig } from './config.js';
import { lmHeadName, meanActivations, runForward } from './forward.js';
import { applyRope, attentionBackward, linearBackInput, linearBackWeight, rmsNormBackward, Scratch, swigluBackward } from './ops.js';
import type { Params } from './params.js';
import type { LmBatch } from './tokens.js';

export interface LossAndGradOptions {
  /** Compute gradients only for these parameters (others are absent from `grads`); default all. */
  trainable?: (name: string) => boolean;
  /** Also return `inputGrad`. */
  inputGrad?: boolean;
  /** Also return mean activations (as forward's collectActivations, weighted by the batch mask). */
  collectActivations?: boolean;
}

export interface LossAndGrad {
  /** Σ mask·CE / Σ mask (nats per scored token). */
  loss: number;
  /** Σ mask (scored tokens). */
  weight: number;
  /** Scored positions where argmax(logits) = target (weighted by mask). */
  correct: number;
  /** dLoss/dθ, same names and shapes as the parameters. */
  grads: Params;
  /** dLoss/d(input embedding vectors) summed over all positions, [d] (the transformer's "input gradient"). */
  inputGrad?: Float64Array;
  activations?: Map<string, Float64Array>;
}

const ATTN: readonly LinearModule[] = ['q_proj', 'k_proj', 'v_proj'];

/** Mean masked cross-entropy of next-token prediction and its gradients. */
export function lossAndGrad(params: Params, cfg: TransformerConfig, batch: LmBatch, opts: LossAndGradOptions = {}): LossAndGrad {
  const s = new Scratch();
  const trainable = opts.trainable ?? (() => true);
  return s.heap.scoped(() => {
    const { batch: B, seq: T } = batch;
    const c = runForward(s, params, cfg, batch.tokens, B, T);
    const { dModel: d, nHeads: H, dFf: F, vocabSize: V } = cfg;
    const hd = headDim(cfg);
    const N = B * T;

    // Gradients: float64 arrays in the JS heap, zeroed; only the trainable ones.
    const grads: Params = new Map();
    for (const spec of paramSpecs(cfg)) if (trainable(spec.name)) grads.set(spec.name, { shape: spec.shape.slice(), data: new Float64Array(spec.shape.reduce((a, b) => a * b, 1)) });
    const G = (name: string) => grads.get(name)?.data;

    // Loss and dLogits = (softmax − onehot)·mask / Σmask.
    let wsum = 0;
    for (let r = 0; r < N; r++) wsum += batch.mask[r];
    const dLogits = s.f64(N * V);
    let loss = 0;
    let correct = 0;
    const lg = c.logits;
    for (let r = 0; r < N; r++) {
      const wgt = batch.mask[r];
      const b = r * V;
      if (wgt === 0) {
        dLogits.fill(0, b, b + V);
        continue;
      }
      let max = -Infinity;
      let arg = 0;
      for (let v = 0; v < V; v++) if (lg[b + v] > max) (max = lg[b + v]), (arg = v);
      let sum = 0;
      for (let v = 0; v < V; v++) sum += dLogits[b + v] = Math.exp(lg[b + v] - max);
      const y = batch.targets[r];
      loss += wgt * (Math.log(sum) + max - lg[b + y]);
      if (arg === y) correct += wgt;
      const f = wgt / wsum;
      const fs = f / sum;
      for (let v = 0; v < V; v++) dLogits[b + v] *= fs;
      dLogits[b + y] -= f;
    }
    loss = wsum > 0 ? loss / wsum : 0;

    // lm_head and final norm.
    const head = lmHeadName(cfg);
    const gHead = G(head);
    if (gHead) linearBackWeight(s, dLogits, c.nf, N, V, d, gHead);
    const dn = s.f64(N * d);
    linearBackInput(s, dLogits, N, c.w.get(head)!, V, d, dn);
    const dx = s.f64(N * d); // gradient w.r.t. the residual stream, carried down the layers
    rmsNormBackward(c.xOut, c.w.get('model.norm.weight')!, c.rstdF, dn, N, d, dx, G('model.norm.weight'), false);

    const tmpD = s.f64(N * d);
    const dGate = s.f64(N * F);
    const dUp = s.f64(N * F);
    const dm = s.f64(N * F);
    const dq = s.f64(N * d);
    const dk = s.f64(N * d);
    const dv = s.f64(N * d);
    const dAtt = s.f64(N * d);
    for (let l = cfg.nLayers - 1; l >= 0; l--) {
      const L = c.layers[l];
      const Wt = (m: LinearModule) => c.w.get(linearName(l, m))!;
      const gW = (m: LinearModule) => G(linearName(l, m));
      const backW = (m: LinearModule, dy: Float64Array, input: Float64Array) => {
        const g = gW(m);
        if (!g) return;
        const [o, i] = linearShape(cfg, m);
        linearBackWeight(s, dy, input, N, o, i, g);
      };
      // MLP block: xOut = xMid + down(m).
      backW('down_proj', dx, L.m);
      linearBackInput(s, dx, N, Wt('down_proj'), d, F, dm);
      swigluBackward(L.gate, L.up, dm, N * F, dGate, dUp);
      backW('gate_proj', dGate, L.n2);
      backW('up_proj', dUp, L.n2);
      linearBackInput(s, dGate, N, Wt('gate_proj'), F, d, dn);
      linearBackInput(s, dUp, N, Wt('up_proj'), F, d, tmpD);
      for (let i = 0; i < N * d; i++) dn[i] += tmpD[i];
      // dx (w.r.t. xMid) = dx (residual) + RMSNorm backward of dn.
      rmsNormBackward(L.xMid, c.w.get(`model.layers.${l}.post_attention_layernorm.weight`)!, L.rstd2, dn, N, d, dx, G(`model.layers.${l}.post_attention_layernorm.weight`), true);
      // Attention block: xMid = xIn + o(att).
      backW('o_proj', dx, L.att);
      linearBackInput(s, dx, N, Wt('o_proj'), d, d, dAtt);
      attentionBackward(s, L.q, L.k, L.v, L.P, dAtt, B, T, H, hd, dq, dk, dv);
      // q and k were rotated after projection; their stored values are post-rotation, so the
      // weight gradients need the pre-rotation gradients: rotate dq, dk back.
      applyRope(dq, B, T, H, hd, c.rope, true);
      applyRope(dk, B, T, H, hd, c.rope, true);
      const dqkv = [dq, dk, dv];
      ATTN.forEach((m, i) => backW(m, dqkv[i], L.n1));
      linearBackInput(s, dq, N, Wt('q_proj'), d, d, dn);
      linearBackInput(s, dk, N, Wt('k_proj'), d, d, tmpD);
      for (let i = 0; i < N * d; i++) dn[i] += tmpD[i];
      linearBackInput(s, dv, N, Wt('v_proj'), d, d, tmpD);
      for (let i = 0; i < N * d; i++) dn[i] += tmpD[i];
      rmsNormBackward(L.xIn, c.w.get(`model.layers.${l}.input_layernorm.weight`)!, L.rstd1, dn, N, d, dx, G(`model.layers.${l}.input_layernorm.weight`), true);
    }

    // Embeddings: dE[token] += dx[row].
    const gE = G('model.embed_tokens.weight');
    if (gE) {
      for (let r = 0; r < N; r++) {
        const t = batch.tokens[r] * d;
        for (let i = 0; i < d; i++) gE[t + i] += dx[r * d + i];
      }
    }
    let inputGrad: Float64Array | undefined;
    if (opts.inputGrad) {
      inputGrad = new Float64Array(d);
      for (let r = 0; r < N; r++) for (let i = 0; i < d; i++) inputGrad[i] += dx[r * d + i];
    }
    return {
      loss,
      weight: wsum,
      correct,
      grads,
      inputGrad,
      activations: opts.collectActivations ? meanActivations(c, cfg, batch.mask) : undefined,
    };
  });
}
