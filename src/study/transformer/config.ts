/**
 * The tiny decoder-only transformer's hyper-parameters, the Llama-style `config.json` they map to,
 * and the parameter tensors they imply (Hugging Face names and [out, in] shapes), so that a saved
 * model is read by mergelens (and by `transformers`) as a LlamaForCausalLM folder.
 *
 * Architecture (as Llama): byte-level tokens → embed_tokens → nLayers × [RMSNorm → causal
 * multi-head attention with RoPE → residual; RMSNorm → SwiGLU MLP → residual] → RMSNorm → lm_head.
 * No biases anywhere (Llama has none).
 */
import { MergelensError } from '../../errors.js';

export interface TransformerConfig {
  /** Tokens are bytes: 256. */
  vocabSize: number;
  /** Model width (hidden_size). */
  dModel: number;
  nLayers: number;
  /** Attention heads; dModel must be divisible by it (head_dim = dModel / nHeads). */
  nHeads: number;
  /** SwiGLU inner width (intermediate_size). */
  dFf: number;
  /** Longest sequence the model is used on (max_position_embeddings; RoPE itself has no table). */
  maxSeq: number;
  /** lm_head shares embed_tokens' weight (no separate lm_head.weight tensor). */
  tieEmbeddings: boolean;
  /** RoPE base frequency (rope_theta); Llama's 10000. */
  ropeTheta: number;
  /** RMSNorm epsilon (rms_norm_eps). */
  normEps: number;
}

/** The study's default size: measured to pretrain in ~2 minutes on 2 cores (docs/transformer-model.md). */
export const DEFAULT_TRANSFORMER_CONFIG: TransformerConfig = {
  vocabSize: 256,
  dModel: 64,
  nLayers: 2,
  nHeads: 4,
  dFf: 176,
  maxSeq: 128,
  tieEmbeddings: false,
  ropeTheta: 10000,
  normEps: 1e-5,
};

/** Width of one attention head. */
export const headDim = (cfg: TransformerConfig): number => cfg.dModel / cfg.nHeads;

/** Throw BAD_PARAM when the hyper-parameters cannot make a model. */
export function validateConfig(cfg: TransformerConfig, where = 'transformer config'): void {
  const ints: (keyof TransformerConfig)[] = ['vocabSize', 'dModel', 'nLayers', 'nHeads', 'dFf', 'maxSeq'];
  for (const k of ints) {
    const v = cfg[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new MergelensError('BAD_PARAM', `${k} must be a positive integer, got ${JSON.stringify(v)}`, { file: where });
  }
  if (cfg.dModel % cfg.nHeads !== 0) throw new MergelensError('BAD_PARAM', `dModel ${cfg.dModel} is not divisible by nHeads ${cfg.nHeads}`, { file: where });
  if (headDim(cfg) % 2 !== 0) throw new MergelensError('BAD_PARAM', `head dim ${headDim(cfg)} must be even (RoPE rotates pairs)`, { file: where });
  if (!(cfg.normEps > 0) || !(cfg.ropeTheta > 0)) throw new MergelensError('BAD_PARAM', 'normEps and ropeTheta must be positive', { file: where });
}

/** One linear module of a layer: its HF module path suffix and [out, in] shape. */
export const LINEAR_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LinearModule = (typeof LINEAR_MODULES)[number];

/** `self_attn.q_proj` etc. (the module path under `model.layers.N`). */
export const modulePath = (m: LinearModule): string => (m === 'gate_proj' || m === 'up_proj' || m === 'down_proj' ? `mlp.${m}` : `self_attn.${m}`);

/** [out, in] of a linear module. */
export function linearShape(cfg: TransformerConfig, m: LinearModule): [number, number] {
  const d = cfg.dModel;
  switch (m) {
    case 'gate_proj':
    case 'up_proj':
      return [cfg.dFf, d];
    case 'down_proj':
      return [d, cfg.dFf];
    default:
      return [d, d];
  }
}

/** HF name of layer l's linear module weight, e.g. `model.layers.0.self_attn.q_proj.weight`. */
export const linearName = (l: number, m: LinearModule): string => `model.layers.${l}.${modulePath(m)}.weight`;

export interface ParamSpec {
  name: string;
  shape: number[];
}

/** Every parameter tensor in canonical order (embeddings, layers in order, final norm, lm_head unless tied). */
export function paramSpecs(cfg: TransformerConfig): ParamSpec[] {
  const d = cfg.dModel;
  const specs: ParamSpec[] = [{ name: 'model.embed_tokens.weight', shape: [cfg.vocabSize, d] }];
  for (let l = 0; l < cfg.nLayers; l++) {
    specs.push({ name: `model.layers.${l}.input_layernorm.weight`, shape: [d] });
    for (const m of ['q_proj', 'k_proj', 'v_proj', 'o_proj'] as const) specs.push({ name: linearName(l, m), shape: linearShape(cfg, m) });
    specs.push({ name: `model.layers.${l}.post_attention_layernorm.weight`, shape: [d] });
    for (const m of ['gate_proj', 'up_proj', 'down_proj'] as const) specs.push({ name: linearName(l, m), shape: linearShape(cfg, m) });
  }
  specs.push({ name: 'model.norm.weight', shape: [d] });
  if (!cfg.tieEmbeddings) specs.push({ name: 'lm_head.weight', shape: [cfg.vocabSize, d] });
  return specs;
}

/** Number of scalar parameters. */
export const paramCount = (cfg: TransformerConfig): number => paramSpecs(cfg).reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);

/** The Llama-style config.json object for this model (what `transformers` and mergelens read). */
export function toHfConfig(cfg: TransformerConfig, torchDtype: 'float32' | 'bfloat16' | 'float16' = 'float32'): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: cfg.vocabSize,
    hidden_size: cfg.dModel,
    intermediate_size: cfg.dFf,
    num_hidden_layers: cfg.nLayers,
    num_attention_heads: cfg.nHeads,
    num_key_value_heads: cfg.nHeads,
    head_dim: headDim(cfg),
    hidden_act: 'silu',
    max_position_embeddings: cfg.maxSeq,
    rms_norm_eps: cfg.normEps,
    rope_theta: cfg.ropeTheta,
    attention_bias: false,
    mlp_bias: false,
    tie_word_embeddings: cfg.tieEmbeddings,
    bos_token_id: null,
    eos_token_id: null,
    torch_dtype: torchDtype,
  };
}

/** Read a config.json object back (as written by toHfConfig); `file` names it in errors. */
export function fromHfConfig(hf: Record<string, unknown>, file = 'config.json'): TransformerConfig {
  const num = (k: string, fallback?: number): number => {
    const v = hf[k];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new MergelensError('BAD_INPUT', `"${k}" must be a number, got ${JSON.stringify(v)}`, { file });
    return v;
  };
  if (hf.model_type !== undefined && hf.model_type !== 'llama') throw new MergelensError('BAD_INPUT', `model_type is ${JSON.stringify(hf.model_type)}, expected "llama"`, { file });
  const nHeads = num('num_attention_heads');
  if (hf.num_key_value_heads !== undefined && hf.num_key_value_heads !== nHeads) {
    throw new MergelensError('BAD_INPUT', 'grouped-query attention (num_key_value_heads ≠ num_attention_heads) is not supported by the built-in transformer', { file });
  }
  const cfg: TransformerConfig = {
    vocabSize: num('vocab_size'),
    dModel: num('hidden_size'),
    nLayers: num('num_hidden_layers'),
    nHeads,
    dFf: num('intermediate_size'),
    maxSeq: num('max_position_embeddings', 2048),
    tieEmbeddings: hf.tie_word_embeddings === true,
    ropeTheta: num('rope_theta', 10000),
    normEps: num('rms_norm_eps', 1e-6),
  };
  validateConfig(cfg, file);
  return cfg;
}
