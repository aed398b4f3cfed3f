/**
 * scripts/grads_acts.py, the PyTorch helper that writes the --grads/--acts files for an HF model.
 * Always: it compiles (syntax check), and its --help runs without torch (argparse only). When torch and
 * transformers are importable: it runs on a tiny generated Llama, and mergelens reads what it
 * wrote — one gradient per parameter with the parameter's shape plus `input` [hidden], one mean
 * hidden state per layer — and computes the gradient and activation metrics from two such files.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { activationMetrics, gradientMetrics, openCheckpoint } from '../../src/index.js';
import { ROOT } from '../helpers/cli.js';

const SCRIPT = path.join(ROOT, 'scripts', 'grads_acts.py');
const py = (args: string[], input?: string) => spawnSync('python3', args, { cwd: ROOT, encoding: 'utf8', input, timeout: 300_000, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
const hasPython = py(['--version']).status === 0;
const hasTorch = hasPython && py(['-c', 'import torch, transformers, safetensors']).status === 0;
const dir = mkdtempSync(path.join(tmpdir(), 'mergelens-gradsacts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Reason: the script is Python; a machine without python3 cannot even compile it.
describe.skipIf(!hasPython)('scripts/grads_acts.py', () => {
  it('compiles, and --help works without torch installed', () => {
    // compile() rather than py_compile, which would leave a __pycache__ in the tree
    const c = py(['-B', '-c', 'import sys; compile(open(sys.argv[1], encoding="utf-8").read(), sys.argv[1], "exec")', SCRIPT]);
    expect(c.stderr).toBe('');
    expect(c.status).toBe(0);
    const h = py([SCRIPT, '--help']);
    expect(h.status).toBe(0);
    expect(h.stdout).toContain('--grads');
    expect(h.stdout).toContain('--token-ids');
    const none = py([SCRIPT, '--model', 'x', '--token-ids', 'y.json']);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('nothing to do: give --grads and/or --acts');
  });

  // Reason: torch is a large optional install; the run is checked wherever it is present.
  it.runIf(hasTorch)('on a tiny Llama: files mergelens reads, with the documented names and shapes', async () => {
    const model = path.join(dir, 'tiny-llama');
    const make = py(['-c', `
import sys, torch
from transformers import LlamaConfig, LlamaForCausalLM
for seed, out in ((0, sys.argv[1] + '-a'), (1, sys.argv[1] + '-b')):
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64)
    LlamaForCausalLM(cfg).save_pretrained(out)
`, model]);
    expect(make.stderr).not.toContain('Error');
    expect(make.status).toBe(0);
    const ids = path.join(dir, 'ids.json');
    writeFileSync(ids, JSON.stringify([[1, 5, 9, 12, 3], [2, 7, 7, 30, 41, 8], [4, 4]]));
    for (const e of ['a', 'b']) {
      const r = py([SCRIPT, '--model', `${model}-${e}`, '--token-ids', ids, '--grads', path.join(dir, `g-${e}.safetensors`), '--acts', path.join(dir, `a-${e}.safetensors`)]);
      expect(r.status, r.stderr).toBe(0);
    }
    const g = await openCheckpoint(path.join(dir, 'g-a.safetensors'));
    const a = await openCheckpoint(path.join(dir, 'a-a.safetensors'));
    expect(g.location('input')!.shape).toEqual([16]);
    expect(g.location('model.layers.1.mlp.down_proj.weight')!.shape).toEqual([16, 32]);
    expect(a.tensorNames()).toEqual(['hidden.0', 'hidden.1', 'hidden.2']);
    for (const n of a.tensorNames()) expect(a.location(n)!.shape).toEqual([16]);
    const g2 = await openCheckpoint(path.join(dir, 'g-b.safetensors'));
    const a2 = await openCheckpoint(path.join(dir, 'a-b.safetensors'));
    const gm = await gradientMetrics([g, g2]);
    const am = await activationMetrics([a, a2]);
    for (const m of [gm.enc_grad_l2, gm.input_grad_cosine, am.act_cosine]) expect(Number.isFinite(m[0][1])).toBe(true);
    expect(gm.enc_grad_l2[0][1]).toBeGreaterThan(0); // two different models: different gradients
    await Promise.all([g, a, g2, a2].map((c) => c.close()));
  });
});
