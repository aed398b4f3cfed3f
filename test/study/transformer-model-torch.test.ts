/**
 * The tiny transformer against PyTorch: the same weights and batch through a Llama block written
 * in torch exactly as Hugging Face's modeling_llama does it (RMSNorm, rotate_half RoPE, causal
 * softmax attention, SwiGLU), in float64, with autograd for the gradients. Skipped when
 * /usr/bin/python3 has no torch (the finite-difference checks in transformer-model.test.ts
 * always run).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { forward, initParams, lossAndGrad, type TransformerConfig } from '../../src/study/transformer/model.js';
import { createRng } from '../../src/study/rng.js';

const PY = '/usr/bin/python3';
const hasTorch = spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;

const SCRIPT = String.raw`
import json, sys, torch
torch.set_default_dtype(torch.float64)
d = json.load(open(sys.argv[1]))
c = d['cfg']; B, T = d['B'], d['T']
P = {k: torch.tensor(v['data']).reshape(v['shape']).requires_grad_(True) for k, v in d['params'].items()}
tok = torch.tensor(d['tokens']).reshape(B, T)
tgt = torch.tensor(d['targets']).reshape(B, T)
mask = torch.tensor(d['mask']).reshape(B, T)
D, H = c['dModel'], c['nHeads']; hd = D // H
def rms(x, w):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + c['normEps']))
def rotate_half(x):
    return torch.cat((-x[..., hd // 2:], x[..., :hd // 2]), dim=-1)
inv = 1.0 / (c['ropeTheta'] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
fr = torch.outer(torch.arange(T, dtype=torch.float64), inv)
emb = torch.cat((fr, fr), dim=-1); cos, sin = emb.cos(), emb.sin()
x = P['model.embed_tokens.weight'][tok]
causal = torch.full((T, T), float('-inf')).triu(1)
for l in range(c['nLayers']):
    p = lambda n: P['model.layers.%d.%s' % (l, n)]
    h = rms(x, p('input_layernorm.weight'))
    q = (h @ p('self_attn.q_proj.weight').T).view(B, T, H, hd).transpose(1, 2)
    k = (h @ p('self_attn.k_proj.weight').T).view(B, T, H, hd).transpose(1, 2)
    v = (h @ p('self_attn.v_proj.weight').T).view(B, T, H, hd).transpose(1, 2)
    q = q * cos + rotate_half(q) * sin
    k = k * cos + rotate_half(k) * sin
    a = torch.softmax(q @ k.transpose(-1, -2) / hd ** 0.5 + causal, dim=-1) @ v
    x = x + a.transpose(1, 2).reshape(B, T, D) @ p('self_attn.o_proj.weight').T
    h = rms(x, p('post_attention_layernorm.weight'))
    g = torch.nn.functional.silu(h @ p('mlp.gate_proj.weight').T) * (h @ p('mlp.up_proj.weight').T)
    x = x + g @ p('mlp.down_proj.weight').T
head = P['model.embed_tokens.weight'] if c['tieEmbeddings'] else P['lm_head.weight']
logits = rms(x, P['model.norm.weight']) @ head.T
ce = torch.nn.functional.cross_entropy(logits.reshape(B * T, -1), tgt.reshape(-1), reduction='none')
loss = (ce * mask.reshape(-1)).sum() / mask.sum()
loss.backward()
json.dump({'loss': loss.item(), 'logits': logits.detach().reshape(-1).tolist(), 'grads': {k: v.grad.reshape(-1).tolist() for k, v in P.items()}}, sys.stdout)
`;

describe.skipIf(!hasTorch)('transformer vs a PyTorch Llama reference (float64)', () => {
  for (const tie of [false, true]) {
    it(`logits, loss and every gradient agree (${tie ? 'tied' : 'untied'})`, () => {
      const cfg: TransformerConfig = { vocabSize: 40, dModel: 16, nLayers: 2, nHeads: 4, dFf: 24, maxSeq: 12, tieEmbeddings: tie, ropeTheta: 500, normEps: 1e-5 };
      const params = initParams(cfg, 7);
      const rng = createRng(8);
      for (const t of params.values()) if (t.shape.length === 1) for (let i = 0; i < t.data.length; i++) t.data[i] = 1 + 0.2 * rng.normal();
      const B = 3;
      const T = 10;
      const tokens = Int32Array.from({ length: B * T }, () => rng.int(cfg.vocabSize));
      const targets = Int32Array.from({ length: B * T }, () => rng.int(cfg.vocabSize));
      const mask = Float64Array.from({ length: B * T }, (_, i) => (i % 3 === 0 ? 0 : 1));
      const dir = mkdtempSync(path.join(tmpdir(), 'mergelens-torch-'));
      try {
        const input = path.join(dir, 'in.json');
        writeFileSync(input, JSON.stringify({ cfg, B, T, tokens: [...tokens], targets: [...targets], mask: [...mask], params: Object.fromEntries([...params].map(([k, t]) => [k, { shape: t.shape, data: [...t.data] }])) }));
        const script = path.join(dir, 'ref.py');
        writeFileSync(script, SCRIPT);
        const r = spawnSync(PY, [script, input], { encoding: 'utf8', maxBuffer: 64 << 20 });
        expect(r.status, r.stderr).toBe(0);
        const ref = JSON.parse(r.stdout) as { loss: number; logits: number[]; grads: Record<string, number[]> };
        const logits = forward(params, cfg, tokens, B, T).logits;
        ref.logits.forEach((v, i) => expect(Math.abs(logits[i] - v)).toBeLessThan(1e-10));
        const res = lossAndGrad(params, cfg, { batch: B, seq: T, tokens, targets, mask });
        expect(res.loss).toBeCloseTo(ref.loss, 12);
        for (const [name, g] of res.grads) {
          const want = ref.grads[name];
          let diff = 0;
          let norm = 0;
          want.forEach((v, i) => {
            diff += (g.data[i] - v) ** 2;
            norm += v * v;
          });
          expect(Math.sqrt(diff / norm), name).toBeLessThan(1e-10);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
