/**
 * The built-in tiny transformer LLM (issue 21), one import for everything built on it:
 * a byte-level, Llama-architecture decoder (RMSNorm pre-norm, causal multi-head attention with
 * RoPE, SwiGLU MLP, no biases) whose parameters carry Hugging Face Llama names and shapes, with
 * forward/backward (matmuls on the WebAssembly kernels), AdamW training, LoRA with PEFT
 * semantics, and HF/PEFT folders on disk. docs/transformer-model.md describes it.
 *
 *   const cfg = DEFAULT_TRANSFORMER_CONFIG;
 *   const base = (await pretrainBase(text, cfg, { steps: 600, seed: 1 })).params;
 *   const expert = cloneParams(base); fit(expert, cfg, (s) => promptBatch(examples(s), 64), { steps: 200, lr: 1e-3 });
 *   const ad = initLora(cfg, { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'] }, 7); fitLora(base, cfg, ad, next, opts);
 *   await writeHfFolder('zoo/base', cfg, base); await writeLoraAdapter('zoo/lora-x', ad, '../base');
 *   const scores = scoreCandidates(params, cfg, prompts, [encodeText('0'), encodeText('1')]);
 */
export {
  DEFAULT_TRANSFORMER_CONFIG,
  LINEAR_MODULES,
  fromHfConfig,
  headDim,
  linearName,
  linearShape,
  modulePath,
  paramCount,
  paramSpecs,
  toHfConfig,
  validateConfig,
  type LinearModule,
  type ParamSpec,
  type TransformerConfig,
} from './config.js';
export { cloneParams, initParams, paramsFromLookup, tensorOf, toNamedF32, zerosLike, type NamedF32, type Params, type Tensor } from './params.js';
export { decodeTokens, emptyBatch, encodeText, lmBatch, promptBatch, unigramEntropy, type LmBatch, type PromptExample } from './tokens.js';
export { forward, type ForwardOptions, type ForwardResult } from './forward.js';
export { lossAndGrad, type LossAndGrad, type LossAndGradOptions } from './backward.js';
export {
  DEFAULT_LORA_CONFIG,
  initLora,
  loraConfigFromPeft,
  loraLossAndGrad,
  loraModuleNames,
  loraScale,
  loraTargets,
  mergeLora,
  peftAdapterConfig,
  type LoraAdapter,
  type LoraConfig,
} from './lora.js';
export { AdamW, DEFAULT_ADAMW, clipGradients, createStepper, fit, fitLora, scheduledLr, type AdamWConfig, type FitOptions, type FitProgress, type FitResult } from './train.js';
export { pretrainBase, windowBatches, type PretrainOptions, type PretrainProgress, type PretrainResult } from './pretrain.js';
export { GradWorkers, shareParams } from './grad-workers.js';
export { classify, evaluateLoss, generate, scoreCandidates, type ScoreOptions } from './evaluate.js';
export { readHfFolder, readLoraAdapter, writeHfFolder, writeLoraAdapter, type SaveDType } from './hf-folder.js';
