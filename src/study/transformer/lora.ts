/**
 * LoRA for the tiny transformer with PEFT's semantics: on each targeted linear module,
 * W' = W + (alpha / r)·B·A with A [r, in] (PEFT's default init: kaiming-uniform, bound 1/√in)
 * and B [out, r] initialised to zero, so training starts at the base model. Only A and B train.
 *
 * Gradients: with G = dLoss/dW' (the dense gradient of the merged weight),
 * dLoss/dB = s·G·Aᵀ and dLoss/dA = s·Bᵀ·G (s = alpha/r). The forward pass runs on the merged
 * weights (merging costs out·in·r per module, small next to a batch), which is exactly what the
 * adapter computes: x·W'ᵀ = x·Wᵀ + s·(x·Aᵀ)·Bᵀ.
 */
import { MergelensError } from '../../errors.js';
import { createRng, deriveSeed } from '../rng.js';
import { LINEAR_MODULES, linearName, linearShape, modulePath, type LinearModule, type TransformerConfig } from './config.js';
import { cloneParams, tensorOf, type Params } from './params.js';
import { lossAndGrad, type LossAndGrad } from './backward.js';
import type { LmBatch } from './tokens.js';

export interface LoraConfig {
  /** Rank of every adapted module. */
  r: number;
  /** PEFT's lora_alpha: the update is scaled by alpha / r. */
  alpha: number;
  /** Linear modules adapted in every layer, by PEFT's short names (e.g. ['q_proj', 'v_proj']). */
  targetModules: LinearModule[];
}

/** A LoRA adapter: its config and its factors, keyed as PEFT keys them minus `base_model.model.`. */
export interface LoraAdapter {
  config: LoraConfig;
  /** `model.layers.N.<module>.lora_A.weight` [r, in] and `….lora_B.weight` [out, r], float64. */
  tensors: Params;
}

/** PEFT's default target set for Llama-style models is q_proj and v_proj. */
export const DEFAULT_LORA_CONFIG: LoraConfig = { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'] };

/** The update scale alpha / r. */
export const loraScale = (c: LoraConfig): number => c.alpha / c.r;

/** Keys of a module's factors (module path such as `model.layers.0.self_attn.q_proj`). */
export const loraModuleNames = (module: string): { a: string; b: string } => ({ a: `${module}.lora_A.weight`, b: `${module}.lora_B.weight` });

/** Every adapted module: its base weight name, factor keys and [out, in]. */
export function loraTargets(cfg: TransformerConfig, lc: LoraConfig): { weight: string; a: string; b: string; out: number; in: number }[] {
  const out: { weight: string; a: string; b: string; out: number; in: number }[] = [];
  for (let l = 0; l < cfg.nLayers; l++) {
    for (const m of LINEAR_MODULES) {
      if (!lc.targetModules.includes(m)) continue;
      const [o, i] = linearShape(cfg, m);
      out.push({ weight: linearName(l, m), ...loraModuleNames(`model.layers.${l}.${modulePath(m)}`), out: o, in: i });
    }
  }
  return out;
}

function validateLora(lc: LoraConfig): void {
  if (!Number.isSafeInteger(lc.r) || lc.r < 1) throw new MergelensError('BAD_PARAM', `LoRA r must be a positive integer, got ${lc.r}`);
  if (!Number.isFinite(lc.alpha) || lc.alpha <= 0) throw new MergelensError('BAD_PARAM', `LoRA alpha must be positive, got ${lc.alpha}`);
  const bad = lc.targetModules.filter((m) => !(LINEAR_MODULES as readonly string[]).includes(m));
  if (bad.length || lc.targetModules.length === 0) {
    throw new MergelensError('BAD_PARAM', `LoRA target modules must be among ${LINEAR_MODULES.join(', ')}; got ${JSON.stringify(lc.targetModules)}`);
  }
}

/** A fresh adapter (seeded): A kaiming-uniform with bound 1/√in as PEFT, B zero. */
export function initLora(cfg: TransformerConfig, lc: LoraConfig, seed: number): LoraAdapter {
  validateLora(lc);
  const tensors: Params = new Map();
  for (const t of loraTargets(cfg, lc)) {
    const rng = createRng(deriveSeed(seed, `lora:${t.a}`));
    const A = new Float64Array(lc.r * t.in);
    const bound = 1 / Math.sqrt(t.in);
    for (let i = 0; i < A.length; i++) A[i] = (2 * rng.next() - 1) * bound;
    tensors.set(t.a, { shape: [lc.r, t.in], data: A });
    tensors.set(t.b, { shape: [t.out, lc.r], data: new Float64Array(t.out * lc.r) });
  }
  return { config: { ...lc, targetModules: lc.targetModules.slice() }, tensors };
}

/** Base parameters with every adapted weight replaced by W + (alpha/r)·B·A (a new map; the base is untouched). */
export function mergeLora(base: Params, cfg: TransformerConfig, adapter: LoraAdapter): Params {
  const merged = cloneParams(base);
  const s = loraScale(adapter.config);
  const r = adapter.config.r;
  for (const t of loraTargets(cfg, adapter.config)) {
    const W = tensorOf(merged, t.weight, 'base').data;
    const A = tensorOf(adapter.tensors, t.a, 'adapter').data;
    const B = tensorOf(adapter.tensors, t.b, 'adapter').data;
    for (let o = 0; o < t.out; o++) {
      for (let k = 0; k < r; k++) {
        const bk = s * B[o * r + k];
        if (bk === 0) continue;
        const row = o * t.in;
        const arow = k * t.in;
        for (let i = 0; i < t.in; i++) W[row + i] += bk * A[arow + i];
      }
    }
  }
  return merged;
}

/**
 * Loss and gradients of the adapter's factors (keyed as adapter.tensors) on a batch, the base
 * frozen. Only the adapted weights' dense gradients are computed.
 */
export function loraLossAndGrad(base: Params, cfg: TransformerConfig, adapter: LoraAdapter, batch: LmBatch): LossAndGrad {
  const targets = loraTargets(cfg, adapter.config);
  const wanted = new Set(targets.map((t) => t.weight));
  const merged = mergeLora(base, cfg, adapter);
  const res = lossAndGrad(merged, cfg, batch, { trainable: (name) => wanted.has(name) });
  const s = loraScale(adapter.config);
  const r = adapter.config.r;
  const grads: Params = new Map();
  for (const t of targets) {
    const G = tensorOf(res.grads, t.weight, 'gradients').data;
    const A = tensorOf(adapter.tensors, t.a, 'adapter').data;
    const B = tensorOf(adapter.tensors, t.b, 'adapter').data;
    const dA = new Float64Array(r * t.in);
    const dB = new Float64Array(t.out * r);
    for (let o = 0; o < t.out; o++) {
      const row = o * t.in;
      for (let k = 0; k < r; k++) {
        const arow = k * t.in;
        // dB[o,k] = s·Σ_i G[o,i]·A[k,i];  dA[k,i] += s·B[o,k]·G[o,i]
        let acc = 0;
        for (let i = 0; i < t.in; i++) acc += G[row + i] * A[arow + i];
        dB[o * r + k] = s * acc;
        const bk = s * B[o * r + k];
        if (bk !== 0) for (let i = 0; i < t.in; i++) dA[arow + i] += bk * G[row + i];
      }
    }
    grads.set(t.a, { shape: [r, t.in], data: dA });
    grads.set(t.b, { shape: [t.out, r], data: dB });
  }
  return { ...res, grads };
}

/** adapter_config.json exactly as PEFT (≥ 0.13) writes it for a LoRA on a causal LM (keys sorted, as PEFT's json dump). */
export function peftAdapterConfig(lc: LoraConfig, baseModel: string): Record<string, unknown> {
  const cfg: Record<string, unknown> = {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: lc.alpha,
    lora_dropout: 0.0,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: null,
    peft_type: 'LORA',
    r: lc.r,
    rank_pattern: {},
    revision: null,
    target_modules: lc.targetModules.slice(),
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: false,
  };
  return cfg;
}

/** The LoraConfig of an adapter_config.json (plain LoRA on linear modules only); `file` names it in errors. */
export function loraConfigFromPeft(c: Record<string, unknown>, file: string): LoraConfig {
  const r = c.r;
  const alpha = c.lora_alpha;
  const targets = c.target_modules;
  if (typeof r !== 'number' || typeof alpha !== 'number') throw new MergelensError('BAD_ADAPTER', '"r" and "lora_alpha" must be numbers', { file });
  if (c.use_rslora === true) throw new MergelensError('BAD_ADAPTER', 'rsLoRA adapters are not supported by the built-in transformer', { file });
  if (!Array.isArray(targets) || !targets.every((t) => typeof t === 'string')) throw new MergelensError('BAD_ADAPTER', '"target_modules" must be a list of module names', { file });
  const lc: LoraConfig = { r, alpha, targetModules: targets as LinearModule[] };
  try {
    validateLora(lc);
  } catch (e) {
    throw new MergelensError('BAD_ADAPTER', (e as Error).message, { file });
  }
  return lc;
}
