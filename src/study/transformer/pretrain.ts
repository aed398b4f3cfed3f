/**
 * Pretraining a base model: next-byte language modelling on the UTF-8 bytes of a text corpus
 * (random windows, AdamW with warm-up and cosine decay), optionally data-parallel on worker
 * threads. The tail of the corpus is held out, and the reported loss on it is set against the
 * corpus' unigram byte entropy — the loss of a model that ignores context.
 */
import { MergelensError } from '../../errors.js';
import { createRng, deriveSeed } from '../rng.js';
import { lossAndGrad } from './backward.js';
import { validateConfig, type TransformerConfig } from './config.js';
import { evaluateLoss } from './evaluate.js';
import { GradWorkers, shareParams } from './grad-workers.js';
import { cloneParams, initParams, type Params } from './params.js';
import { emptyBatch, encodeText, lmBatch, unigramEntropy, type LmBatch } from './tokens.js';
import { createStepper, type FitOptions } from './train.js';

export interface PretrainOptions {
  steps: number;
  seed: number;
  /** Rows per step (default 16). */
  batch?: number;
  /** Row length (default cfg.maxSeq). */
  seq?: number;
  /** Peak learning rate (default 3e-3). */
  lr?: number;
  /** Worker threads for data-parallel steps (default 1 = this thread). */
  workers?: number;
  /** Fraction of the corpus (its tail) held out for the reported loss (default 0.05). */
  heldOutFraction?: number;
  /** Start from these parameters instead of a fresh init (continued pretraining). */
  init?: Params;
}

export interface PretrainResult {
  params: Params;
  cfg: TransformerConfig;
  /** Mean training loss of the last 10% of steps (nats/byte). */
  trainLoss: number;
  /** Loss on the held-out tail of the corpus (nats/byte). */
  heldOutLoss: number;
  /** Unigram (byte-frequency) entropy of the training part, nats/byte: the loss to beat. */
  unigramEntropy: number;
  /** Training loss of every step. */
  losses: Float64Array;
  steps: number;
  seconds: number;
  secondsPerStep: number;
}

export type PretrainProgress = (p: { step: number; steps: number; loss: number; seconds: number }) => void;

/** Consecutive non-overlapping windows of a byte range, at most maxRows of them, as batches. */
export function windowBatches(bytes: Uint8Array, seq: number, rowsPerBatch: number, maxRows: number): LmBatch[] {
  const rows = Math.min(maxRows, Math.floor((bytes.length - 1) / seq));
  const out: LmBatch[] = [];
  for (let r0 = 0; r0 < rows; r0 += rowsPerBatch) {
    const n = Math.min(rowsPerBatch, rows - r0);
    const b = emptyBatch(n, seq);
    for (let r = 0; r < n; r++) {
      const at = (r0 + r) * seq;
      for (let t = 0; t < seq; t++) {
        b.tokens[r * seq + t] = bytes[at + t];
        b.targets[r * seq + t] = bytes[at + t + 1];
      }
    }
    b.mask.fill(1);
    out.push(b);
  }
  return out;
}

/** Rows [from, to) of a batch as a batch of its own. */
function rowsOf(b: LmBatch, from: number, to: number): LmBatch {
  const T = b.seq;
  return { batch: to - from, seq: T, tokens: b.tokens.slice(from * T, to * T), targets: b.targets.slice(from * T, to * T), mask: b.mask.slice(from * T, to * T) };
}

/** Pretrain a base (fresh seeded init, or opts.init) on the UTF-8 bytes of corpusText. */
export async function pretrainBase(corpusText: string, cfg: TransformerConfig, opts: PretrainOptions, onProgress?: PretrainProgress): Promise<PretrainResult> {
  validateConfig(cfg);
  const seq = opts.seq ?? cfg.maxSeq;
  const B = opts.batch ?? 16;
  const workers = Math.max(1, Math.min(opts.workers ?? 1, B));
  const bytes = encodeText(corpusText);
  const split = Math.floor(bytes.length * (1 - (opts.heldOutFraction ?? 0.05)));
  const train = bytes.subarray(0, split);
  const held = bytes.subarray(split);
  if (train.length < 4 * (seq + 1) || held.length < seq + 1) {
    throw new MergelensError('BAD_INPUT', `corpus of ${bytes.length} bytes is too short to pretrain on windows of ${seq} bytes`);
  }
  const fitOpts: FitOptions = { steps: opts.steps, lr: opts.lr ?? 3e-3, weightDecay: 0.01 };
  const rng = createRng(deriveSeed(opts.seed, 'pretrain:batches'));
  const start = opts.init ? cloneParams(opts.init) : initParams(cfg, deriveSeed(opts.seed, 'pretrain:init'));
  const params = workers > 1 ? shareParams(start) : start;
  const pool = workers > 1 ? GradWorkers.start(workers, cfg, params) : undefined;
  const st = createStepper(params, fitOpts);
  const t0 = performance.now();
  try {
    for (let s = 0; s < opts.steps; s++) {
      const batch = lmBatch(train, B, seq, rng);
      let r;
      if (pool) {
        const subs = Array.from({ length: workers }, (_, i) => rowsOf(batch, Math.floor((i * B) / workers), Math.floor(((i + 1) * B) / workers)));
        r = await pool.lossAndGrad(subs);
      } else r = lossAndGrad(params, cfg, batch);
      st.apply(s, r);
      onProgress?.({ step: s + 1, steps: opts.steps, loss: r.loss, seconds: (performance.now() - t0) / 1000 });
    }
  } finally {
    await pool?.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  const own = cloneParams(params); // plain ArrayBuffers again
  const tail = st.losses.subarray(Math.floor(opts.steps * 0.9));
  const trainLoss = tail.length ? tail.reduce((a, b) => a + b, 0) / tail.length : NaN;
  const heldOutLoss = evaluateLoss(own, cfg, windowBatches(held, seq, 32, 256)).loss;
  return {
    params: own,
    cfg,
    trainLoss,
    heldOutLoss,
    unigramEntropy: unigramEntropy(train),
    losses: st.losses,
    steps: opts.steps,
    seconds,
    secondsPerStep: opts.steps > 0 ? seconds / opts.steps : 0,
  };
}
