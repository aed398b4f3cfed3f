/**
 * Parameters of the tiny transformer as named float64 tensors with Hugging Face names and shapes
 * (weights [out, in] row-major): training and the gradient check need float64; checkpoints are
 * written as float32/bfloat16 by hf-folder.ts. Gradients use the same type and names.
 */
import { MergelensError } from '../../errors.js';
import { createRng, deriveSeed } from '../rng.js';
import { paramSpecs, type TransformerConfig } from './config.js';

/** A row-major float64 tensor. */
export interface Tensor {
  shape: number[];
  data: Float64Array;
}

/** Named tensors, in the canonical order of paramSpecs (or of the LoRA adapter's keys). */
export type Params = Map<string, Tensor>;

/** A named float32 tensor, the shape the safetensors writer and the study's files take. */
export interface NamedF32 {
  name: string;
  shape: number[];
  data: Float32Array;
}

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Fresh parameters (seeded): linear weights N(0, 1/in), the output projections (o_proj,
 * down_proj) further scaled by 1/√(2·nLayers) so the residual stream does not grow with depth
 * (GPT-2's rule), embeddings N(0, 1) (the residual stream starts at unit scale; RMSNorm
 * follows), lm_head N(0, 1/d)·¼ (small initial logits), norms 1. With tied embeddings the shared
 * matrix is N(0, 1/d) so the initial logits stay small.
 */
export function initParams(cfg: TransformerConfig, seed: number): Params {
  const out: Params = new Map();
  for (const s of paramSpecs(cfg)) {
    const data = new Float64Array(numel(s.shape));
    if (s.shape.length === 1) data.fill(1);
    else {
      const rng = createRng(deriveSeed(seed, `init:${s.name}`));
      let std: number;
      if (s.name === 'model.embed_tokens.weight') std = cfg.tieEmbeddings ? 1 / Math.sqrt(cfg.dModel) : 1;
      else if (s.name === 'lm_head.weight') std = 0.25 / Math.sqrt(cfg.dModel);
      else {
        std = 1 / Math.sqrt(s.shape[1]);
        if (/\.(o_proj|down_proj)\.weight$/.test(s.name)) std /= Math.sqrt(2 * cfg.nLayers);
      }
      for (let i = 0; i < data.length; i++) data[i] = std * rng.normal();
    }
    out.set(s.name, { shape: s.shape.slice(), data });
  }
  return out;
}

/** Zero tensors with the same names and shapes. */
export function zerosLike(p: Params): Params {
  const out: Params = new Map();
  for (const [k, t] of p) out.set(k, { shape: t.shape.slice(), data: new Float64Array(t.data.length) });
  return out;
}

/** A deep copy. */
export function cloneParams(p: Params): Params {
  const out: Params = new Map();
  for (const [k, t] of p) out.set(k, { shape: t.shape.slice(), data: t.data.slice() });
  return out;
}

/** The tensor `name`, or a MISSING_TENSOR error naming `where`. */
export function tensorOf(p: Params, name: string, where = 'parameters'): Tensor {
  const t = p.get(name);
  if (!t) throw new MergelensError('MISSING_TENSOR', 'tensor missing', { file: where, tensor: name });
  return t;
}

/** float32 copies, in map order (for safetensors files and the study's gradient files). */
export function toNamedF32(p: Params): NamedF32[] {
  return [...p].map(([name, t]) => ({ name, shape: t.shape.slice(), data: Float32Array.from(t.data) }));
}

/**
 * Parameters of `cfg` from a tensor lookup (a checkpoint read into memory, a merged stream):
 * every tensor of paramSpecs must be there with its exact shape; `where` names the source in errors.
 */
export function paramsFromLookup(cfg: TransformerConfig, get: (name: string) => { shape: number[]; data: ArrayLike<number> } | undefined, where: string): Params {
  const out: Params = new Map();
  for (const s of paramSpecs(cfg)) {
    const t = get(s.name);
    if (!t) throw new MergelensError('MISSING_TENSOR', 'tensor missing', { file: where, tensor: s.name });
    if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
      throw new MergelensError('SHAPE_MISMATCH', `expected [${s.shape.join(', ')}], got [${t.shape.join(', ')}]`, { file: where, tensor: s.name });
    }
    out.set(s.name, { shape: s.shape.slice(), data: Float64Array.from(t.data) });
  }
  return out;
}
