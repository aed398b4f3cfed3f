/**
 * Forward pass of the tiny transformer (Llama architecture, byte tokens):
 *   x = embed[tokens]; per layer: x += o_proj(attn(rope(q(n1 x)), rope(k(n1 x)), v(n1 x)));
 *   x += down(silu(gate(n2 x)) ⊙ up(n2 x)); logits = lm_head(norm x).
 * `runForward` keeps every intermediate the backward pass needs (on the kernels' heap, freed by
 * the caller's heap scope); `forward` is the public wrapper that returns plain arrays.
 */
import { MergelensError } from '../../errors.js';
import { headDim, linearName, linearShape, type LinearModule, type TransformerConfig } from './config.js';
import { applyRope, attention, linear, rmsNorm, ropeTables, Scratch, swiglu } from './ops.js';
import { tensorOf, type Params } from './params.js';

export interface ForwardOptions {
  /**
   * Also return mean activations: `model.layers.N` (layer N's residual-stream output, [d]) and
   * `model.norm` (final normed hidden state, [d]), averaged over positions with weight
   * `activationMask` (default: every position).
   */
  collectActivations?: boolean;
  activationMask?: ArrayLike<number>;
}

export interface ForwardResult {
  /** [batch·seq, vocab] row-major, float64. */
  logits: Float64Array;
  activations?: Map<string, Float64Array>;
}

/** One layer's kept intermediates ([N, ·] row-major, N = batch·seq). */
export interface LayerCache {
  /** Residual stream entering the layer. */
  xIn: Float64Array;
  n1: Float64Array;
  rstd1: Float64Array;
  /** q and k after RoPE. */
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  /** Attention probabilities [B, H, T, T]. */
  P: Float64Array;
  att: Float64Array;
  /** Residual stream after the attention block. */
  xMid: Float64Array;
  n2: Float64Array;
  rstd2: Float64Array;
  gate: Float64Array;
  up: Float64Array;
  m: Float64Array;
}

export interface ForwardCache {
  B: number;
  T: number;
  N: number;
  layers: LayerCache[];
  /** Residual stream after the last layer. */
  xOut: Float64Array;
  nf: Float64Array;
  rstdF: Float64Array;
  logits: Float64Array;
  /** Heap copies of the weights, by name. */
  w: Map<string, Float64Array>;
  rope: { cos: Float64Array; sin: Float64Array };
}

/** The lm_head matrix: its own, or embed_tokens when tied. */
export const lmHeadName = (cfg: TransformerConfig): string => (cfg.tieEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight');

function checkTokens(cfg: TransformerConfig, tokens: ArrayLike<number>, B: number, T: number): void {
  if (tokens.length !== B * T) throw new MergelensError('BAD_PARAM', `got ${tokens.length} tokens for batch ${B} × seq ${T}`);
  if (T > cfg.maxSeq) throw new MergelensError('BAD_PARAM', `sequence of ${T} tokens is longer than the model's maxSeq ${cfg.maxSeq}`);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (!(t >= 0 && t < cfg.vocabSize && Number.isInteger(t))) throw new MergelensError('BAD_PARAM', `token ${t} at position ${i} is outside the vocabulary [0, ${cfg.vocabSize})`);
  }
}

/** The full forward pass with every intermediate kept; call inside `s.heap.scoped`. */
export function runForward(s: Scratch, params: Params, cfg: TransformerConfig, tokens: ArrayLike<number>, B: number, T: number): ForwardCache {
  checkTokens(cfg, tokens, B, T);
  const { dModel: d, nHeads: H, dFf: F, vocabSize: V } = cfg;
  const hd = headDim(cfg);
  const N = B * T;
  const w = new Map<string, Float64Array>();
  const W = (name: string) => {
    let x = w.get(name);
    if (!x) w.set(name, (x = s.place(tensorOf(params, name).data)));
    return x;
  };
  const rope = ropeTables(T, hd, cfg.ropeTheta);
  const emb = W('model.embed_tokens.weight');
  let x = s.f64(N * d);
  for (let r = 0; r < N; r++) x.set(emb.subarray(tokens[r] * d, tokens[r] * d + d), r * d);
  const lin = (l: number, m: LinearModule, input: Float64Array, out: Float64Array) => {
    const [o, i] = linearShape(cfg, m);
    linear(s, input, N, W(linearName(l, m)), o, i, out);
  };
  const layers: LayerCache[] = [];
  for (let l = 0; l < cfg.nLayers; l++) {
    const c: LayerCache = {
      xIn: x,
      n1: s.f64(N * d),
      rstd1: s.f64(N),
      q: s.f64(N * d),
      k: s.f64(N * d),
      v: s.f64(N * d),
      P: s.f64(B * H * T * T),
      att: s.f64(N * d),
      xMid: s.f64(N * d),
      n2: s.f64(N * d),
      rstd2: s.f64(N),
      gate: s.f64(N * F),
      up: s.f64(N * F),
      m: s.f64(N * F),
    };
    rmsNorm(x, W(`model.layers.${l}.input_layernorm.weight`), N, d, cfg.normEps, c.n1, c.rstd1);
    lin(l, 'q_proj', c.n1, c.q);
    lin(l, 'k_proj', c.n1, c.k);
    lin(l, 'v_proj', c.n1, c.v);
    applyRope(c.q, B, T, H, hd, rope, false);
    applyRope(c.k, B, T, H, hd, rope, false);
    attention(s, c.q, c.k, c.v, B, T, H, hd, c.P, c.att);
    lin(l, 'o_proj', c.att, c.xMid);
    for (let i = 0; i < N * d; i++) c.xMid[i] += x[i];
    rmsNorm(c.xMid, W(`model.layers.${l}.post_attention_layernorm.weight`), N, d, cfg.normEps, c.n2, c.rstd2);
    lin(l, 'gate_proj', c.n2, c.gate);
    lin(l, 'up_proj', c.n2, c.up);
    swiglu(c.gate, c.up, N * F, c.m);
    const xOut = s.f64(N * d);
    lin(l, 'down_proj', c.m, xOut);
    for (let i = 0; i < N * d; i++) xOut[i] += c.xMid[i];
    layers.push(c);
    x = xOut;
  }
  const nf = s.f64(N * d);
  const rstdF = s.f64(N);
  rmsNorm(x, W('model.norm.weight'), N, d, cfg.normEps, nf, rstdF);
  const logits = s.f64(N * V);
  linear(s, nf, N, W(lmHeadName(cfg)), V, d, logits);
  return { B, T, N, layers, xOut: x, nf, rstdF, logits, w, rope };
}

/** Mean of rows of [N, d] weighted by mask (all rows when mask is undefined). */
function weightedMean(x: Float64Array, N: number, d: number, mask?: ArrayLike<number>): Float64Array {
  const out = new Float64Array(d);
  let wsum = 0;
  for (let r = 0; r < N; r++) {
    const wgt = mask ? mask[r] : 1;
    if (wgt === 0) continue;
    wsum += wgt;
    for (let i = 0; i < d; i++) out[i] += wgt * x[r * d + i];
  }
  if (wsum > 0) for (let i = 0; i < d; i++) out[i] /= wsum;
  return out;
}

/** Mean layer outputs (`model.layers.N`) and final normed state (`model.norm`) of a kept pass. */
export function meanActivations(c: ForwardCache, cfg: TransformerConfig, mask?: ArrayLike<number>): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  c.layers.forEach((_, l) => out.set(`model.layers.${l}`, weightedMean(l + 1 < c.layers.length ? c.layers[l + 1].xIn : c.xOut, c.N, cfg.dModel, mask)));
  out.set('model.norm', weightedMean(c.nf, c.N, cfg.dModel, mask));
  return out;
}

/** Logits of every position of `batch` rows of `seq` tokens (row-major [batch, seq]); causal. */
export function forward(params: Params, cfg: TransformerConfig, tokens: ArrayLike<number>, batch: number, seq: number, opts: ForwardOptions = {}): ForwardResult {
  const s = new Scratch();
  return s.heap.scoped(() => {
    const c = runForward(s, params, cfg, tokens, batch, seq);
    return { logits: c.logits.slice(), activations: opts.collectActivations ? meanActivations(c, cfg, opts.activationMask) : undefined };
  });
}
