/**
 * The tiny transformer on disk, as Hugging Face and PEFT write real models:
 *  - a model folder: config.json (Llama-style, config.ts), model.safetensors (HF tensor names,
 *    written by the project's safetensors writer), generation_config.json, and a byte-level
 *    tokenizer.json + tokenizer_config.json (one token per byte, id = byte value);
 *  - a LoRA adapter folder: adapter_config.json + adapter_model.safetensors with PEFT's keys
 *    (`base_model.model.<module>.lora_A.weight` [r, in], `…lora_B.weight` [out, r]).
 * Reading goes through mergelens' own checkpoint openers, so whatever they accept is accepted here.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { MergelensError } from '../../errors.js';
import type { FloatDType } from '../../types.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { createCheckpointWriter, writeSafetensors } from '../../safetensors/writer.js';
import { openCheckpoint } from '../../checkpoint/open.js';
import { isLora, openLoraAdapter, ADAPTER_CONFIG, ADAPTER_WEIGHTS } from '../../checkpoint/lora.js';
import { fromHfConfig, toHfConfig, type TransformerConfig } from './config.js';
import { paramsFromLookup, type Params } from './params.js';
import { loraConfigFromPeft, loraModuleNames, peftAdapterConfig, type LoraAdapter } from './lora.js';

/** Storage dtypes for the written weights. */
export type SaveDType = Extract<FloatDType, 'F32' | 'BF16' | 'F16'>;

const TORCH_DTYPE: Record<SaveDType, 'float32' | 'bfloat16' | 'float16'> = { F32: 'float32', BF16: 'bfloat16', F16: 'float16' };

const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';

/**
 * Write a model folder (config.json, model.safetensors, generation_config.json, tokenizer.json,
 * tokenizer_config.json). Each file is written atomically; the folder is created when missing.
 */
export async function writeHfFolder(dir: string, cfg: TransformerConfig, params: Params, dtype: SaveDType = 'F32', metadata?: Record<string, string>): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  const specs = [...params].map(([name, t]) => ({ name, dtype, shape: t.shape.slice() }));
  const w = createCheckpointWriter(dir, specs, { metadata });
  for (const [name, t] of params) await w.write(name, t.data);
  await w.finish();
  await writeFileAtomic(path.join(dir, 'config.json'), json(toHfConfig(cfg, TORCH_DTYPE[dtype])));
  await writeFileAtomic(path.join(dir, 'generation_config.json'), json({ _from_model_config: true, do_sample: false }));
  await writeFileAtomic(path.join(dir, 'tokenizer.json'), JSON.stringify(byteTokenizerJson()) + '\n');
  await writeFileAtomic(path.join(dir, 'tokenizer_config.json'), json({ tokenizer_class: 'PreTrainedTokenizerFast', model_max_length: cfg.maxSeq, clean_up_tokenization_spaces: false }));
}

/**
 * GPT-2's byte → printable-character map (bytes_to_unicode): the alphabet of a byte-level
 * tokenizer, so that every byte has a one-character token.
 */
function bytesToUnicode(): string[] {
  const keep = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const out: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(keep(b) ? b : 256 + n++);
  return out;
}

/**
 * tokenizer.json (Hugging Face tokenizers format) for the model's tokens: byte-level BPE with no
 * merges, so each UTF-8 byte is one token whose id is the byte's value — what encodeText does.
 */
export function byteTokenizerJson(): Record<string, unknown> {
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  const vocab: Record<string, number> = {};
  bytesToUnicode().forEach((ch, b) => (vocab[ch] = b));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: byteLevel,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [] },
  };
}

/** Read a model folder (or single .safetensors file with a config given) back into float64 parameters. */
export async function readHfFolder(dir: string, cfgOverride?: TransformerConfig): Promise<{ cfg: TransformerConfig; params: Params }> {
  const ck = await openCheckpoint(dir);
  try {
    if (isLora(ck)) throw new MergelensError('BAD_INPUT', 'is a LoRA adapter, not a model folder (use readLoraAdapter)', { file: dir });
    const hf = ck.config;
    if (!cfgOverride && !hf) throw new MergelensError('BAD_INPUT', 'no config.json next to the weights', { file: dir });
    const cfg = cfgOverride ?? fromHfConfig(hf!, path.join(dir, 'config.json'));
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const name of ck.tensorNames()) tensors.set(name, { shape: ck.location(name)!.shape, data: await ck.read(name) });
    return { cfg, params: paramsFromLookup(cfg, (n) => tensors.get(n), dir) };
  } finally {
    await ck.close();
  }
}

/**
 * Write a PEFT LoRA adapter folder for `adapter` (adapter_config.json + adapter_model.safetensors),
 * naming `baseModel` as base_model_name_or_path (a path or hub id, written as given).
 */
export async function writeLoraAdapter(dir: string, adapter: LoraAdapter, baseModel: string, dtype: SaveDType = 'F32'): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  const tensors = [...adapter.tensors].map(([name, t]) => ({ name: `base_model.model.${name}`, dtype, shape: t.shape.slice(), data: t.data }));
  await writeSafetensors(path.join(dir, ADAPTER_WEIGHTS), tensors);
  await writeFileAtomic(path.join(dir, ADAPTER_CONFIG), json(peftAdapterConfig(adapter.config, baseModel)));
}

/** Read a PEFT LoRA adapter folder written by writeLoraAdapter (or by PEFT, for linear modules). */
export async function readLoraAdapter(dir: string): Promise<LoraAdapter> {
  const ck = await openLoraAdapter(dir);
  try {
    const config = loraConfigFromPeft(ck.adapterConfig, path.join(dir, ADAPTER_CONFIG));
    const tensors: Params = new Map();
    for (const base of ck.lowRankNames()) {
      const spec = ck.lowRankSpec(base)!;
      if (spec.transposed) throw new MergelensError('BAD_ADAPTER', 'embedding or fan_in_fan_out LoRA is not supported by the built-in transformer', { file: dir, tensor: base });
      if (spec.rank !== config.r) throw new MergelensError('BAD_ADAPTER', `per-module rank ${spec.rank} ≠ r ${config.r} (rank_pattern is not supported here)`, { file: dir, tensor: base });
      const lr = await ck.lowRank(base);
      const { a, b } = loraModuleNames(spec.module);
      tensors.set(a, { shape: [lr.rank, lr.shape[1]], data: Float64Array.from(lr.A) });
      tensors.set(b, { shape: [lr.shape[0], lr.rank], data: Float64Array.from(lr.B) });
    }
    if (ck.tensorNames().length) throw new MergelensError('BAD_ADAPTER', 'modules_to_save weights are not supported by the built-in transformer', { file: dir, tensor: ck.tensorNames()[0] });
    return { config, tensors };
  } finally {
    await ck.close();
  }
}
