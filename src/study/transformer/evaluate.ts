/**
 * Evaluation helpers on top of `forward`: log-probabilities of candidate continuations (how a
 * classification task is scored: the label whose bytes the model finds most likely), mean loss
 * over batches, and greedy/sampled generation.
 */
import { createRng } from '../rng.js';
import type { TransformerConfig } from './config.js';
import { forward } from './forward.js';
import type { Params } from './params.js';
import { promptBatch, type LmBatch } from './tokens.js';

/** log-softmax of row `r` of [rows, V] logits at column `c`. */
function logProbAt(logits: Float64Array, r: number, V: number, c: number): number {
  const b = r * V;
  let max = -Infinity;
  for (let v = 0; v < V; v++) if (logits[b + v] > max) max = logits[b + v];
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(logits[b + v] - max);
  return logits[b + c] - max - Math.log(sum);
}

export interface ScoreOptions {
  /** Rows per forward pass (default 64). */
  batch?: number;
  /** Row length (default cfg.maxSeq); long prompts keep their last bytes. */
  seq?: number;
}

/**
 * log P(candidate | prompt) summed over the candidate's bytes, for every prompt × candidate:
 * [prompts.length, candidates.length] row-major. Prompts and candidates are byte tokens.
 */
export function scoreCandidates(params: Params, cfg: TransformerConfig, prompts: readonly Uint8Array[], candidates: readonly Uint8Array[], opts: ScoreOptions = {}): Float64Array {
  const seq = opts.seq ?? cfg.maxSeq;
  const rowsPer = opts.batch ?? 64;
  const C = candidates.length;
  const out = new Float64Array(prompts.length * C);
  if (C > 0 && candidates.every((c) => c.length === 1)) {
    // One-byte labels: one row per prompt; every candidate is read off the same position.
    for (let s = 0; s < prompts.length; s += rowsPer) {
      const ps = prompts.slice(s, s + rowsPer);
      const b = promptBatch(ps.map((prompt) => ({ prompt, target: candidates[0] })), seq);
      const { logits } = forward(params, cfg, b.tokens, b.batch, seq);
      ps.forEach((_, r) => {
        const k = b.mask.indexOf(1, r * seq);
        for (let c = 0; c < C; c++) out[(s + r) * C + c] = logProbAt(logits, k, cfg.vocabSize, candidates[c][0]);
      });
    }
    return out;
  }
  const jobs: { p: number; c: number }[] = [];
  for (let p = 0; p < prompts.length; p++) for (let c = 0; c < C; c++) jobs.push({ p, c });
  for (let s = 0; s < jobs.length; s += rowsPer) {
    const chunk = jobs.slice(s, s + rowsPer);
    const b = promptBatch(chunk.map((j) => ({ prompt: prompts[j.p], target: candidates[j.c] })), seq);
    const { logits } = forward(params, cfg, b.tokens, b.batch, seq);
    chunk.forEach((j, r) => {
      let lp = 0;
      for (let t = 0; t < seq; t++) {
        const k = r * seq + t;
        if (b.mask[k] > 0) lp += logProbAt(logits, k, cfg.vocabSize, b.targets[k]);
      }
      out[j.p * C + j.c] = lp;
    });
  }
  return out;
}

/** Index of the most likely candidate for each prompt (ties → the first). */
export function classify(params: Params, cfg: TransformerConfig, prompts: readonly Uint8Array[], candidates: readonly Uint8Array[], opts: ScoreOptions = {}): Int32Array {
  const scores = scoreCandidates(params, cfg, prompts, candidates, opts);
  const C = candidates.length;
  const out = new Int32Array(prompts.length);
  for (let p = 0; p < prompts.length; p++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (scores[p * C + c] > scores[p * C + best]) best = c;
    out[p] = best;
  }
  return out;
}

/** Mean masked cross-entropy (nats per scored token) over batches, no gradients. */
export function evaluateLoss(params: Params, cfg: TransformerConfig, batches: readonly LmBatch[]): { loss: number; weight: number } {
  let sum = 0;
  let weight = 0;
  for (const b of batches) {
    const { logits } = forward(params, cfg, b.tokens, b.batch, b.seq);
    for (let k = 0; k < b.batch * b.seq; k++) {
      const w = b.mask[k];
      if (w === 0) continue;
      sum -= w * logProbAt(logits, k, cfg.vocabSize, b.targets[k]);
      weight += w;
    }
  }
  return { loss: weight > 0 ? sum / weight : NaN, weight };
}

/**
 * Continue `prompt` by `maxNew` bytes: greedy at temperature 0 (default), else sampled (seeded).
 * The context is the last cfg.maxSeq bytes.
 */
export function generate(params: Params, cfg: TransformerConfig, prompt: Uint8Array, maxNew: number, opts: { temperature?: number; seed?: number } = {}): Uint8Array {
  const temp = opts.temperature ?? 0;
  const rng = createRng(opts.seed ?? 0);
  const seqOut = Array.from(prompt);
  const V = cfg.vocabSize;
  for (let n = 0; n < maxNew; n++) {
    const ctx = seqOut.slice(-cfg.maxSeq);
    const { logits } = forward(params, cfg, ctx, 1, ctx.length);
    const b = (ctx.length - 1) * V;
    let next = 0;
    if (temp <= 0) {
      for (let v = 1; v < V; v++) if (logits[b + v] > logits[b + next]) next = v;
    } else {
      let max = -Infinity;
      for (let v = 0; v < V; v++) max = Math.max(max, logits[b + v] / temp);
      const p = new Float64Array(V);
      let sum = 0;
      for (let v = 0; v < V; v++) sum += p[v] = Math.exp(logits[b + v] / temp - max);
      let u = rng.next() * sum;
      next = V - 1;
      for (let v = 0; v < V; v++) if ((u -= p[v]) <= 0) {
        next = v;
        break;
      }
    }
    seqOut.push(next);
  }
  return Uint8Array.from(seqOut.slice(prompt.length));
}
