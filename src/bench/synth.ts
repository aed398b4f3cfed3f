/**
 * Synthetic LLaMA-shaped checkpoints for the benchmark: a base and N experts written in BF16
 * as Hugging Face sharded folders through our streaming writer. Experts are base + structured
 * task vectors τₑ = s·(cₑ·S_g + √(1−cₑ²)·Rₑ): S_g is a direction shared by expert group g (two
 * groups), Rₑ is the expert's own noise, so within a group cos(τᵢ, τⱼ) ≈ cᵢcⱼ (before BF16
 * rounding) and across groups ≈ 0. Memory is bounded by one tensor: the base tensor is kept,
 * S_g is regenerated from its seed for each expert rather than stored.
 */
import { promises as fsp, statfsSync } from 'node:fs';
import path from 'node:path';
import type { ProgressSink } from '../types.js';
import { createCheckpointWriter, type WriteSpec } from '../safetensors/writer.js';
import { writeFileAtomic } from '../util/atomic.js';

export interface ModelShape {
  vocab: number;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
}

/** ~1.1B parameters (TinyLlama-1.1B's shapes: hidden 2048, intermediate 5632, 22 layers, GQA 32/4). */
export const SHAPE_1B: ModelShape = { vocab: 32000, hidden: 2048, intermediate: 5632, layers: 22, heads: 32, kvHeads: 4 };
/** ~50M parameters, for quick runs. */
export const SHAPE_SMALL: ModelShape = { vocab: 8000, hidden: 512, intermediate: 1408, layers: 14, heads: 8, kvHeads: 4 };

/** Per-expert correlation with its group's shared direction: strong, medium, weak, none. */
const GROUP_CORRELATION = [0.8, 0.6, 0.4, 0];

export interface SynthOptions {
  dir: string;
  shape: ModelShape;
  experts: number;
  /** Shard size in bytes (HF default for 1B models is ~2 GB; we use 500 MB so even small runs shard). */
  shardBytes?: number;
  seed?: number;
  onProgress?: ProgressSink;
}

export interface SynthResult {
  base: string;
  experts: string[];
  shape: ModelShape;
  /** Parameters per checkpoint. */
  params: number;
  /** Bytes of tensor data per checkpoint. */
  bytesPerCheckpoint: number;
  /** Per-expert correlation cₑ with its group direction and the group index. */
  correlation: number[];
  group: number[];
  seconds: number;
}

/** Tensor names and shapes of a LLaMA-style decoder, in HF naming. */
export function llamaSpecs(s: ModelShape): WriteSpec[] {
  const kv = (s.hidden / s.heads) * s.kvHeads;
  const specs: WriteSpec[] = [
    { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [s.vocab, s.hidden] },
    { name: 'model.norm.weight', dtype: 'BF16', shape: [s.hidden] },
    { name: 'lm_head.weight', dtype: 'BF16', shape: [s.vocab, s.hidden] },
  ];
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}`;
    specs.push(
      { name: `${p}.input_layernorm.weight`, dtype: 'BF16', shape: [s.hidden] },
      { name: `${p}.post_attention_layernorm.weight`, dtype: 'BF16', shape: [s.hidden] },
      { name: `${p}.self_attn.q_proj.weight`, dtype: 'BF16', shape: [s.hidden, s.hidden] },
      { name: `${p}.self_attn.k_proj.weight`, dtype: 'BF16', shape: [kv, s.hidden] },
      { name: `${p}.self_attn.v_proj.weight`, dtype: 'BF16', shape: [kv, s.hidden] },
      { name: `${p}.self_attn.o_proj.weight`, dtype: 'BF16', shape: [s.hidden, s.hidden] },
      { name: `${p}.mlp.gate_proj.weight`, dtype: 'BF16', shape: [s.intermediate, s.hidden] },
      { name: `${p}.mlp.up_proj.weight`, dtype: 'BF16', shape: [s.intermediate, s.hidden] },
      { name: `${p}.mlp.down_proj.weight`, dtype: 'BF16', shape: [s.hidden, s.intermediate] },
    );
  }
  return specs;
}

const numelOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

export function paramCount(s: ModelShape): number {
  return llamaSpecs(s).reduce((n, t) => n + numelOf(t.shape), 0);
}

/** Bytes of all checkpoints at this shape (BF16), plus index/config overhead ignored. */
export function synthBytes(s: ModelShape, experts: number): number {
  return paramCount(s) * 2 * (experts + 1);
}

/** Free bytes on the filesystem holding `dir` (nearest existing ancestor). */
export function freeBytes(dir: string): number {
  let d = path.resolve(dir);
  for (;;) {
    try {
      const st = statfsSync(d);
      return st.bavail * st.bsize;
    } catch {
      const up = path.dirname(d);
      if (up === d) return 0;
      d = up;
    }
  }
}

/**
 * Largest layer count ≤ s.layers whose checkpoints fit in `budget` bytes; 0 when even the
 * embeddings do not fit.
 */
export function fitLayers(s: ModelShape, experts: number, budget: number): number {
  for (let l = s.layers; l >= 1; l--) if (synthBytes({ ...s, layers: l }, experts) <= budget) return l;
  return 0;
}

/**
 * Uniform samples in [−√3, √3) (unit variance), mulberry32: ~10× cheaper than Box–Muller, and
 * the benchmark only needs realistic magnitudes and reproducibility, not Gaussian tails.
 */
function fill(out: Float32Array, seed: number, scale: number, offset = 0): void {
  let a = seed >>> 0;
  const k = (scale * 2 * Math.sqrt(3)) / 4294967296;
  const c = offset - scale * Math.sqrt(3);
  for (let i = 0; i < out.length; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = ((t ^ (t >>> 14)) >>> 0) * k + c;
  }
}

/** out[i] += scale·U[i], U from the same stream as `fill(…, seed, 1)`. */
function addNoise(out: Float32Array, seed: number, scale: number): void {
  let a = seed >>> 0;
  const k = (scale * 2 * Math.sqrt(3)) / 4294967296;
  const c = -scale * Math.sqrt(3);
  for (let i = 0; i < out.length; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] += ((t ^ (t >>> 14)) >>> 0) * k + c;
  }
}

/** Deterministic 32-bit seed from parts (FNV-1a over the string). */
function seedOf(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  for (const ch of parts.join('|')) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  return h >>> 0;
}

/** Write base + experts under `dir` (dir/base, dir/expert-0 …). */
export async function generateSynthetic(o: SynthOptions): Promise<SynthResult> {
  const t0 = Date.now();
  const specs = llamaSpecs(o.shape);
  const seed = o.seed ?? 1;
  const shardBytes = o.shardBytes ?? 500e6;
  const names = ['base', ...Array.from({ length: o.experts }, (_, e) => `expert-${e}`)];
  const dirs = names.map((n) => path.join(o.dir, n));
  const correlation = Array.from({ length: o.experts }, (_, e) => GROUP_CORRELATION[Math.floor(e / 2) % GROUP_CORRELATION.length] * (e % 2 === 0 ? 1 : 0.9));
  const group = Array.from({ length: o.experts }, (_, e) => (e < o.experts / 2 ? 0 : 1));
  const config = {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', torch_dtype: 'bfloat16',
    vocab_size: o.shape.vocab, hidden_size: o.shape.hidden, intermediate_size: o.shape.intermediate,
    num_hidden_layers: o.shape.layers, num_attention_heads: o.shape.heads, num_key_value_heads: o.shape.kvHeads,
  };
  const writers = dirs.map((d) => createCheckpointWriter(d, specs, { shardBytes, metadata: { generator: 'mergelens bench synth' } }));
  const total = specs.reduce((n, t) => n + numelOf(t.shape), 0) * 2 * names.length;
  let done = 0;
  let largest = 0;
  for (const t of specs) largest = Math.max(largest, numelOf(t.shape));
  // Two buffers of the largest tensor, reused: memory stays at 2 tensors whatever the model size.
  const baseBuf = new Float32Array(largest);
  const expBuf = new Float32Array(largest);
  try {
    for (const t of specs) {
      const n = numelOf(t.shape);
      const isNorm = t.shape.length === 1;
      const b = baseBuf.subarray(0, n);
      // LLaMA-like magnitudes: weights ~0.02, norms ~1; fine-tune deltas ~5% of the weight scale.
      fill(b, seedOf(seed, 'base', t.name), isNorm ? 0.05 : 0.02, isNorm ? 1 : 0);
      await writers[0].write(t.name, b);
      done += n * 2;
      const s = isNorm ? 0.005 : 0.001;
      for (let e = 0; e < o.experts; e++) {
        const x = expBuf.subarray(0, n);
        const c = correlation[e];
        fill(x, seedOf(seed, 'own', e, t.name), s * Math.sqrt(1 - c * c));
        if (c !== 0) addNoise(x, seedOf(seed, 'shared', group[e], t.name), s * c);
        for (let i = 0; i < n; i++) x[i] += b[i];
        await writers[e + 1].write(t.name, x);
        done += n * 2;
      }
      o.onProgress?.({ phase: 'synth', done, total, unit: 'bytes', detail: t.name });
    }
    for (const w of writers) await w.finish();
  } catch (err) {
    await Promise.all(writers.map((w) => w.abort()));
    throw err;
  }
  await Promise.all(dirs.map(async (d) => writeFileAtomic(path.join(d, 'config.json'), JSON.stringify(config, null, 2) + '\n')));
  const params = paramCount(o.shape);
  return { base: dirs[0], experts: dirs.slice(1), shape: o.shape, params, bytesPerCheckpoint: params * 2, correlation, group, seconds: (Date.now() - t0) / 1000 };
}

/** Remove a generated set (only the folders this module names). */
export async function removeSynthetic(r: Pick<SynthResult, 'base' | 'experts'>): Promise<void> {
  await Promise.all([r.base, ...r.experts].map((d) => fsp.rm(d, { recursive: true, force: true })));
}
