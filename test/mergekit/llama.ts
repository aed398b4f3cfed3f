/**
 * Small Llama-style checkpoints for the mergekit tests: HF folders (model.safetensors +
 * config.json) with `model.layers.N.*` names, F32 values from a seeded PRNG, so per-layer
 * parameters can be checked against a float64 recomputation from the very same inputs.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { llamaSpecs, type ModelShape } from '../../src/bench/synth.js';
import { writeSafetensors, type WriteTensor } from '../../src/safetensors/writer.js';
import { gaussian } from '../../src/fixtures/tiny.js';
import { mulberry32 } from '../../src/util/mulberry32.js';

export const shapeOf = (layers: number): ModelShape => ({ vocab: 12, hidden: 8, intermediate: 12, layers, heads: 2, kvHeads: 1 });

export interface TinyLlama {
  dir: string;
  tensors: Map<string, Float32Array>;
}

/** Write a tiny Llama folder; `expertOf` makes an expert (base + 0.05·noise) of a given base. */
export async function writeLlama(dir: string, layers: number, seed: number, expertOf?: TinyLlama): Promise<TinyLlama> {
  const g = gaussian(mulberry32(seed));
  const tensors = new Map<string, Float32Array>();
  const specs = llamaSpecs(shapeOf(layers)).sort((a, b) => (a.name < b.name ? -1 : 1));
  const out: WriteTensor[] = specs.map((s) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const from = expertOf?.tensors.get(s.name);
    for (let i = 0; i < n; i++) data[i] = from ? from[i] + 0.05 * g() : g() / Math.sqrt(s.shape[s.shape.length - 1]);
    tensors.set(s.name, data);
    return { name: s.name, shape: s.shape, dtype: 'F32', data };
  });
  await fsp.mkdir(dir, { recursive: true });
  await writeSafetensors(path.join(dir, 'model.safetensors'), out);
  const sh = shapeOf(layers);
  await fsp.writeFile(
    path.join(dir, 'config.json'),
    JSON.stringify({ architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: sh.hidden, intermediate_size: sh.intermediate, num_hidden_layers: layers, num_attention_heads: sh.heads, num_key_value_heads: sh.kvHeads, vocab_size: sh.vocab, torch_dtype: 'float32' }),
  );
  return { dir, tensors };
}
