/**
 * Byte-level tokens and training batches for the tiny transformer. A token is one UTF-8 byte
 * (vocabulary 256, no tokenizer file needed). A batch is `batch` right-padded rows of `seq`
 * tokens with, per position, the target token and a loss weight (0 = not scored): next-byte
 * language modelling scores every position, a classification prompt scores only its label bytes.
 */
import type { Rng } from '../rng.js';

/** A batch of token rows, all `seq` long (row-major [batch, seq]). */
export interface LmBatch {
  batch: number;
  seq: number;
  /** Input tokens. */
  tokens: Int32Array;
  /** Token to predict at each position (the next token). */
  targets: Int32Array;
  /** Loss weight per position; the loss is Σ mask·CE / Σ mask. 0 on padding and unscored positions. */
  mask: Float64Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

/** UTF-8 bytes of a string (the model's tokens). */
export const encodeText = (s: string): Uint8Array => encoder.encode(s);

/** A string from bytes (invalid sequences become U+FFFD). */
export const decodeTokens = (t: ArrayLike<number>): string => decoder.decode(Uint8Array.from(t as ArrayLike<number>));

/** An empty batch of the given size (all padding). */
export function emptyBatch(batch: number, seq: number): LmBatch {
  return { batch, seq, tokens: new Int32Array(batch * seq), targets: new Int32Array(batch * seq), mask: new Float64Array(batch * seq) };
}

/**
 * Next-byte language-modelling batch: `batch` windows of seq+1 bytes at random offsets of the
 * corpus (seeded by rng); every position is scored.
 */
export function lmBatch(corpus: Uint8Array, batch: number, seq: number, rng: Rng): LmBatch {
  if (corpus.length < seq + 1) throw new Error(`corpus of ${corpus.length} bytes is shorter than one window of ${seq + 1}`);
  const b = emptyBatch(batch, seq);
  for (let r = 0; r < batch; r++) {
    const at = rng.int(corpus.length - seq);
    for (let t = 0; t < seq; t++) {
      b.tokens[r * seq + t] = corpus[at + t];
      b.targets[r * seq + t] = corpus[at + t + 1];
    }
  }
  b.mask.fill(1);
  return b;
}

/** One supervised example: a prompt and the continuation that is scored (e.g. a label). */
export interface PromptExample {
  prompt: Uint8Array;
  target: Uint8Array;
}

/**
 * Batch of prompt → target examples: each row is prompt‖target right-padded to `seq`; only the
 * target's bytes are scored (the model sees the prompt and predicts the label). A prompt too long
 * for the row keeps its last bytes (the label must follow what the model saw).
 */
export function promptBatch(examples: readonly PromptExample[], seq: number): LmBatch {
  const b = emptyBatch(examples.length, seq);
  examples.forEach((ex, r) => {
    if (ex.target.length === 0 || ex.prompt.length === 0) throw new Error('prompt example with an empty prompt or target');
    if (ex.target.length + 1 > seq) throw new Error(`target of ${ex.target.length} bytes does not fit a row of ${seq}`);
    const keep = Math.min(ex.prompt.length, seq + 1 - ex.target.length);
    const row = new Uint8Array(keep + ex.target.length);
    row.set(ex.prompt.subarray(ex.prompt.length - keep), 0);
    row.set(ex.target, keep);
    // Position t sees row[0..t] and predicts row[t+1].
    const n = row.length - 1;
    for (let t = 0; t < n; t++) {
      b.tokens[r * seq + t] = row[t];
      b.targets[r * seq + t] = row[t + 1];
      if (t + 1 >= keep) b.mask[r * seq + t] = 1;
    }
  });
  return b;
}

/** Entropy (nats) of the corpus' byte frequencies: the loss a model predicting byte frequencies alone reaches. */
export function unigramEntropy(corpus: Uint8Array): number {
  const counts = new Float64Array(256);
  for (let i = 0; i < corpus.length; i++) counts[corpus[i]]++;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / corpus.length) * Math.log(c / corpus.length);
  return h;
}
