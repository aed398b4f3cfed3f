/**
 * The tiny transformer's numerics against independent computations: central finite differences
 * in float64 for every parameter tensor (untied and tied embeddings) and for LoRA factors; a
 * hand-computed one-token forward; attention's causality; LoRA's merge identity.
 */
import { describe, expect, it } from 'vitest';
import {
  forward,
  initLora,
  initParams,
  lossAndGrad,
  loraLossAndGrad,
  mergeLora,
  paramSpecs,
  promptBatch,
  encodeText,
  pretrainBase,
  unigramEntropy,
  scoreCandidates,
  classify,
  type LmBatch,
  type Params,
  type TransformerConfig,
} from '../../src/study/transformer/model.js';
import { createRng } from '../../src/study/rng.js';
import { byteTokenizerJson } from '../../src/study/transformer/hf-folder.js';

const TINY: TransformerConfig = { vocabSize: 13, dModel: 8, nLayers: 2, nHeads: 2, dFf: 12, maxSeq: 8, tieEmbeddings: false, ropeTheta: 10000, normEps: 1e-5 };

function randomBatch(cfg: TransformerConfig, B: number, T: number, seed: number): LmBatch {
  const rng = createRng(seed);
  const n = B * T;
  const tokens = Int32Array.from({ length: n }, () => rng.int(cfg.vocabSize));
  const targets = Int32Array.from({ length: n }, () => rng.int(cfg.vocabSize));
  // Some positions unscored, the others weighted unequally: the loss is Σ mask·CE / Σ mask.
  const mask = Float64Array.from({ length: n }, (_, i) => (i % 4 === 1 ? 0 : 0.5 + rng.next()));
  return { batch: B, seq: T, tokens, targets, mask };
}

/** Perturb the norm gains away from 1 so their gradients are generic. */
function jitter(p: Params, seed: number): Params {
  const rng = createRng(seed);
  for (const t of p.values()) if (t.shape.length === 1) for (let i = 0; i < t.data.length; i++) t.data[i] = 1 + 0.3 * rng.normal();
  return p;
}

/**
 * Max over tensors of ‖g_num − g‖ / max(‖g_num‖, ‖g‖), with central differences of step h on
 * every element; returns the per-tensor errors.
 */
function gradCheck(tensors: Params, analytic: Params, loss: () => number, h = 1e-5): Map<string, number> {
  const errs = new Map<string, number>();
  for (const [name, t] of tensors) {
    const g = analytic.get(name)!.data;
    let diff = 0;
    let nNum = 0;
    let nAna = 0;
    for (let i = 0; i < t.data.length; i++) {
      const x0 = t.data[i];
      t.data[i] = x0 + h;
      const up = loss();
      t.data[i] = x0 - h;
      const down = loss();
      t.data[i] = x0;
      const num = (up - down) / (2 * h);
      diff += (num - g[i]) ** 2;
      nNum += num * num;
      nAna += g[i] * g[i];
    }
    errs.set(name, Math.sqrt(diff) / Math.max(Math.sqrt(nNum), Math.sqrt(nAna), 1e-300));
  }
  return errs;
}

describe('transformer gradients (finite differences, float64)', () => {
  for (const tie of [false, true]) {
    it(`match every parameter tensor (${tie ? 'tied' : 'untied'} embeddings)`, () => {
      const cfg = { ...TINY, tieEmbeddings: tie };
      const params = jitter(initParams(cfg, 3), 4);
      const batch = randomBatch(cfg, 2, 6, 5);
      const res = lossAndGrad(params, cfg, batch, { inputGrad: true });
      expect(res.loss).toBeGreaterThan(0);
      expect([...res.grads.keys()]).toEqual(paramSpecs(cfg).map((s) => s.name));
      const errs = gradCheck(params, res.grads, () => lossAndGrad(params, cfg, batch, { trainable: () => false }).loss);
      for (const [name, e] of errs) expect(e, name).toBeLessThan(1e-6);
      // Every tensor really gets a gradient (a zero gradient would pass the relative check trivially only if the numeric one were zero too).
      for (const [name, g] of res.grads) expect(Math.hypot(...g.data), name).toBeGreaterThan(1e-8);
    });
  }

  it('inputGrad is the gradient w.r.t. the embedding rows summed over positions', () => {
    const cfg = TINY;
    const params = jitter(initParams(cfg, 8), 9);
    // Every position holds the same token, so dLoss/d(embed row of that token) = Σ positions dLoss/dx.
    const batch = randomBatch(cfg, 2, 5, 10);
    batch.tokens.fill(3);
    const res = lossAndGrad(params, cfg, batch, { inputGrad: true });
    const gE = res.grads.get('model.embed_tokens.weight')!.data;
    const row = Array.from(gE.subarray(3 * cfg.dModel, 4 * cfg.dModel));
    row.forEach((v, i) => expect(res.inputGrad![i]).toBeCloseTo(v, 12));
  });

  it('LoRA factor gradients match finite differences of the adapted loss', () => {
    const cfg = TINY;
    const base = jitter(initParams(cfg, 11), 12);
    const ad = initLora(cfg, { r: 2, alpha: 6, targetModules: ['q_proj', 'v_proj', 'down_proj', 'o_proj'] }, 13);
    // B starts at zero (PEFT); give it values so dA is not trivially zero.
    const rng = createRng(14);
    for (const [name, t] of ad.tensors) if (name.includes('lora_B')) for (let i = 0; i < t.data.length; i++) t.data[i] = 0.3 * rng.normal();
    const batch = randomBatch(cfg, 2, 6, 15);
    const res = loraLossAndGrad(base, cfg, ad, batch);
    expect([...res.grads.keys()].sort()).toEqual([...ad.tensors.keys()].sort());
    const errs = gradCheck(ad.tensors, res.grads, () => loraLossAndGrad(base, cfg, ad, batch).loss);
    for (const [name, e] of errs) expect(e, name).toBeLessThan(1e-6);
  });
});

describe('transformer forward', () => {
  it('one token, one layer: equals a hand computation', () => {
    // With a single position, attention's softmax is 1, so the block output is o(v(n1 x)),
    // and RoPE at position 0 is the identity.
    const cfg: TransformerConfig = { vocabSize: 5, dModel: 4, nLayers: 1, nHeads: 2, dFf: 3, maxSeq: 4, tieEmbeddings: false, ropeTheta: 10000, normEps: 1e-6 };
    const p = jitter(initParams(cfg, 21), 22);
    const get = (n: string) => p.get(n)!.data;
    const matvec = (W: Float64Array, x: number[], out: number) => Array.from({ length: out }, (_, o) => x.reduce((s, v, i) => s + W[o * x.length + i] * v, 0));
    const norm = (x: number[], g: Float64Array) => {
      const r = 1 / Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length + cfg.normEps);
      return x.map((v, i) => v * r * g[i]);
    };
    const tok = 2;
    let x = Array.from(get('model.embed_tokens.weight').subarray(tok * 4, tok * 4 + 4));
    const n1 = norm(x, get('model.layers.0.input_layernorm.weight'));
    const v = matvec(get('model.layers.0.self_attn.v_proj.weight'), n1, 4);
    const a = matvec(get('model.layers.0.self_attn.o_proj.weight'), v, 4);
    x = x.map((xi, i) => xi + a[i]);
    const n2 = norm(x, get('model.layers.0.post_attention_layernorm.weight'));
    const gt = matvec(get('model.layers.0.mlp.gate_proj.weight'), n2, 3);
    const up = matvec(get('model.layers.0.mlp.up_proj.weight'), n2, 3);
    const m = gt.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
    const dn = matvec(get('model.layers.0.mlp.down_proj.weight'), m, 4);
    x = x.map((xi, i) => xi + dn[i]);
    const logits = matvec(get('lm_head.weight'), norm(x, get('model.norm.weight')), 5);
    const got = forward(p, cfg, [tok], 1, 1).logits;
    logits.forEach((l, i) => expect(got[i]).toBeCloseTo(l, 12));
  });

  it('is causal: changing a later token leaves earlier logits unchanged, and changes later ones', () => {
    const p = initParams(TINY, 31);
    const a = [1, 2, 3, 4, 5, 6];
    const b = [1, 2, 3, 9, 5, 6];
    const la = forward(p, TINY, a, 1, 6).logits;
    const lb = forward(p, TINY, b, 1, 6).logits;
    const V = TINY.vocabSize;
    for (let i = 0; i < 3 * V; i++) expect(lb[i]).toBe(la[i]);
    let diff = 0;
    for (let i = 3 * V; i < 6 * V; i++) diff += Math.abs(lb[i] - la[i]);
    expect(diff).toBeGreaterThan(1e-6);
  });

  it('rows of a batch are independent', () => {
    const p = initParams(TINY, 41);
    const r0 = [1, 2, 3, 4];
    const r1 = [7, 7, 0, 12];
    const both = forward(p, TINY, [...r0, ...r1], 2, 4).logits;
    const one = forward(p, TINY, r1, 1, 4).logits;
    for (let i = 0; i < one.length; i++) expect(both[4 * TINY.vocabSize + i]).toBeCloseTo(one[i], 12);
  });

  it('rejects tokens outside the vocabulary and sequences longer than maxSeq', () => {
    const p = initParams(TINY, 1);
    expect(() => forward(p, TINY, [1, 13], 1, 2)).toThrow(/outside the vocabulary/);
    expect(() => forward(p, TINY, new Array(9).fill(1), 1, 9)).toThrow(/maxSeq/);
  });
});

describe('LoRA', () => {
  it('merged weights equal W + (alpha/r)·B·A, and a fresh adapter (B = 0) changes nothing', () => {
    const cfg = TINY;
    const base = initParams(cfg, 51);
    const ad = initLora(cfg, { r: 3, alpha: 12, targetModules: ['up_proj'] }, 52);
    const fresh = mergeLora(base, cfg, ad);
    for (const [n, t] of base) expect(Array.from(fresh.get(n)!.data)).toEqual(Array.from(t.data));
    const B = ad.tensors.get('model.layers.1.mlp.up_proj.lora_B.weight')!;
    const A = ad.tensors.get('model.layers.1.mlp.up_proj.lora_A.weight')!;
    expect(A.shape).toEqual([3, 8]);
    expect(B.shape).toEqual([12, 3]);
    B.data[2 * 3 + 1] = 0.5; // B[2,1]
    const merged = mergeLora(base, cfg, ad);
    const W0 = base.get('model.layers.1.mlp.up_proj.weight')!.data;
    const W1 = merged.get('model.layers.1.mlp.up_proj.weight')!.data;
    for (let o = 0; o < 12; o++) for (let i = 0; i < 8; i++) expect(W1[o * 8 + i]).toBeCloseTo(W0[o * 8 + i] + (o === 2 ? 4 * 0.5 * A.data[1 * 8 + i] : 0), 14);
  });
});

describe('prompt batches', () => {
  it('score only the target bytes, after the prompt', () => {
    const b = promptBatch([{ prompt: encodeText('ab'), target: encodeText('XY') }], 6);
    // row "abXY": positions 0..2 predict b, X, Y; X and Y are scored.
    expect(Array.from(b.tokens)).toEqual([97, 98, 88, 0, 0, 0]);
    expect(Array.from(b.targets)).toEqual([98, 88, 89, 0, 0, 0]);
    expect(Array.from(b.mask)).toEqual([0, 1, 1, 0, 0, 0]);
  });
});

describe('pretraining', () => {
  const text = 'the cat sat on the mat. the dog sat on the log. '.repeat(60);
  const cfg: TransformerConfig = { vocabSize: 256, dModel: 16, nLayers: 1, nHeads: 2, dFf: 32, maxSeq: 16, tieEmbeddings: false, ropeTheta: 10000, normEps: 1e-5 };

  it('learns context: held-out loss falls well below the unigram entropy', async () => {
    const r = await pretrainBase(text, cfg, { steps: 120, seed: 1, batch: 8, lr: 1e-2 });
    expect(r.unigramEntropy).toBeCloseTo(unigramEntropy(encodeText(text).subarray(0, Math.floor(text.length * 0.95))), 12);
    expect(r.heldOutLoss).toBeLessThan(0.6 * r.unigramEntropy);
    expect(r.losses[119]).toBeLessThan(r.losses[0]);
  }, 120_000);

  it('data-parallel workers give the same model as one thread (gradients summed by scored tokens)', async () => {
    const one = await pretrainBase(text, cfg, { steps: 3, seed: 2, batch: 6 });
    const two = await pretrainBase(text, cfg, { steps: 3, seed: 2, batch: 6, workers: 2 });
    for (const [name, t] of one.params) {
      const u = two.params.get(name)!.data;
      for (let i = 0; i < t.data.length; i++) expect(Math.abs(u[i] - t.data[i]), name).toBeLessThan(1e-9);
    }
    expect(two.losses[2]).toBeCloseTo(one.losses[2], 10);
  }, 120_000);
});

describe('scoring candidates', () => {
  it('one-byte fast path equals the general path, and a two-byte score is the sum of its two conditional log-probs', () => {
    const cfg: TransformerConfig = { ...TINY, vocabSize: 256, maxSeq: 12 };
    const p = initParams(cfg, 61);
    const prompts = [encodeText('hello'), encodeText('a much longer prompt')];
    const one = [encodeText('x'), encodeText('y')];
    const fast = scoreCandidates(p, cfg, prompts, one);
    const general = scoreCandidates(p, cfg, prompts, [...one, encodeText('xy')]);
    for (let i = 0; i < 2; i++) for (let c = 0; c < 2; c++) expect(fast[i * 2 + c]).toBeCloseTo(general[i * 3 + c], 12);
    // log P(xy | hello) = log P(x | hello) + log P(y | hellox)
    const py = scoreCandidates(p, cfg, [encodeText('hellox')], [encodeText('y')]);
    expect(general[2]).toBeCloseTo(fast[0] + py[0], 12);
    // Probabilities over all 256 one-byte candidates sum to 1.
    const all = scoreCandidates(p, cfg, [prompts[0]], Array.from({ length: 256 }, (_, b) => Uint8Array.of(b)));
    expect(all.reduce((s, v) => s + Math.exp(v), 0)).toBeCloseTo(1, 10);
    expect(Array.from(classify(p, cfg, prompts, one))).toEqual([0, 1].map((i) => (fast[i * 2] >= fast[i * 2 + 1] ? 0 : 1)));
  });
});

describe('byte tokenizer.json', () => {
  it('has 256 one-character tokens with id = byte value, printable ASCII as itself (GPT-2 byte alphabet)', () => {
    const t = byteTokenizerJson() as { model: { vocab: Record<string, number>; merges: unknown[] } };
    const entries = Object.entries(t.model.vocab);
    expect(entries).toHaveLength(256);
    expect(new Set(entries.map(([, id]) => id)).size).toBe(256);
    for (const [ch] of entries) expect([...ch]).toHaveLength(1);
    expect(t.model.vocab['a']).toBe(97);
    expect(t.model.vocab['~']).toBe(126);
    expect(t.model.vocab['Ġ']).toBe(32); // GPT-2 maps the space byte to U+0120
    expect(t.model.merges).toEqual([]);
  });
});
