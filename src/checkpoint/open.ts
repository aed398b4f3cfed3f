/**
 * `openCheckpoint(path)`: one entry point for every supported layout —
 *   a `.safetensors` file;
 *   a Hugging Face folder (`model.safetensors`, or `*.safetensors.index.json` + shards; config.json read when present);
 *   a PEFT LoRA folder (`adapter_config.json` + `adapter_model.safetensors`).
 * Anything else is a NOT_FOUND error that says what was found and what to do.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Checkpoint, LoraCheckpoint } from '../types.js';
import { MergelensError } from '../errors.js';
import { SafetensorsFile } from '../safetensors/reader.js';
import { SafetensorsCheckpoint } from './files.js';
import { readJsonObject } from './json.js';
import { notRegular, openError, resolveInModelFolder } from './safe-path.js';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, openLoraAdapter } from './lora.js';
import { openSharded } from './sharded.js';
import { resolveModelRef } from './hf-resolve.js';
import { LoraAppliedCheckpoint } from './lora-applied.js';
import { isLora } from './lowrank.js';

const PICKLE = /\.(bin|pt|pth|ckpt|pkl)$/i;
const OTHER_FORMATS = /\.(gguf|ggml|onnx|h5|msgpack|npz)$/i;
const CONVERT_HINT = 'convert it to safetensors first (e.g. load with transformers and save_pretrained(..., safe_serialization=True))';

function unsupportedFile(file: string): MergelensError | undefined {
  if (PICKLE.test(file)) return new MergelensError('UNSUPPORTED_FORMAT', 'PyTorch pickle checkpoints (.bin/.pt) are unsupported; mergelens reads safetensors', { file, hint: CONVERT_HINT });
  if (OTHER_FORMATS.test(file)) return new MergelensError('UNSUPPORTED_FORMAT', `${path.extname(file)} files are unsupported; mergelens reads safetensors`, { file, hint: CONVERT_HINT });
  return undefined;
}

/** config.json is optional and informative: a broken one becomes a warning, not a failure. */
async function readConfig(dir: string, warnings: string[]): Promise<Record<string, unknown> | undefined> {
  const p = path.join(dir, 'config.json');
  try {
    if ((await resolveInModelFolder(dir, 'config.json', { what: 'config.json' })) === undefined) return undefined;
    return await readJsonObject(p, 'BAD_INPUT', 'config.json');
  } catch (e) {
    warnings.push((e as Error).message);
    return undefined;
  }
}

export async function openCheckpoint(p: string): Promise<Checkpoint | LoraCheckpoint> {
  // Hugging Face ids (`org/name[@rev]`, from the local cache) and mergekit's `base+lora` (hf-resolve.ts).
  const ref = await resolveModelRef(p);
  if (ref.lora) return openWithAdapter(p, ref.path, ref.lora);
  p = ref.path;
  const stat = await fsp.stat(p).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw openError(e, p, 'checkpoint');
  });
  if (!stat) throw new MergelensError('NOT_FOUND', 'no such file or folder', { file: p });
  if (stat.isFile()) {
    const bad = unsupportedFile(p);
    if (bad) throw bad;
    return SafetensorsCheckpoint.ofFile(await SafetensorsFile.open(p), p, 'safetensors');
  }
  if (!stat.isDirectory()) throw notRegular(p, stat, 'checkpoint');

  const entries = (await fsp.readdir(p)).sort();
  const warnings: string[] = [];
  const hasModelWeights = entries.some((e) => e.endsWith('.safetensors') && e !== ADAPTER_WEIGHTS);
  if (entries.includes(ADAPTER_WEIGHTS) || (entries.includes(ADAPTER_CONFIG) && !hasModelWeights)) {
    if (!entries.includes(ADAPTER_CONFIG)) {
      throw new MergelensError('NOT_FOUND', `folder has ${ADAPTER_WEIGHTS} but no ${ADAPTER_CONFIG}`, { file: p, hint: 'the adapter config is needed for r, lora_alpha and patterns' });
    }
    if (!entries.includes(ADAPTER_WEIGHTS)) {
      const bin = entries.find((e) => PICKLE.test(e));
      throw new MergelensError(
        bin ? 'UNSUPPORTED_FORMAT' : 'NOT_FOUND',
        bin ? `LoRA adapter has ${bin} but no ${ADAPTER_WEIGHTS}; .bin adapters are unsupported` : `LoRA adapter folder has no ${ADAPTER_WEIGHTS}`,
        { file: p, hint: bin ? CONVERT_HINT : undefined },
      );
    }
    for (const f of [ADAPTER_CONFIG, ADAPTER_WEIGHTS]) await resolveInModelFolder(p, f, { what: f });
    return openLoraAdapter(p, await readConfig(p, warnings));
  }
  const config = await readConfig(p, warnings);
  const indexes = entries.filter((e) => e.endsWith('.safetensors.index.json'));
  if (indexes.length > 1 && !indexes.includes('model.safetensors.index.json')) {
    throw new MergelensError('NOT_FOUND', `several shard indexes (${indexes.join(', ')}); point at one model`, { file: p });
  }
  if (indexes.length) {
    const index = indexes.includes('model.safetensors.index.json') ? 'model.safetensors.index.json' : indexes[0];
    const indexPath = await resolveInModelFolder(p, index, { what: 'shard index' });
    return openSharded(p, indexPath ?? path.join(p, index), config, warnings);
  }
  const weights = entries.filter((e) => e.endsWith('.safetensors'));
  const single = weights.includes('model.safetensors') ? 'model.safetensors' : weights.length === 1 ? weights[0] : undefined;
  if (single) {
    const file = (await resolveInModelFolder(p, single, { what: 'weights file' })) ?? path.join(p, single);
    return SafetensorsCheckpoint.ofFile(await SafetensorsFile.open(file), p, 'hf-folder', config, warnings);
  }
  if (weights.length > 1) {
    throw new MergelensError('NOT_FOUND', `folder has several .safetensors files (${weights.slice(0, 4).join(', ')}${weights.length > 4 ? ', …' : ''}) but no index`, {
      file: p,
      hint: 'add a model.safetensors.index.json or pass one file',
    });
  }
  const pickle = entries.find((e) => PICKLE.test(e));
  if (pickle) {
    throw new MergelensError('UNSUPPORTED_FORMAT', `folder has ${pickle} but no safetensors weights; .bin (pickle) checkpoints are unsupported`, { file: p, hint: CONVERT_HINT });
  }
  throw new MergelensError('NOT_FOUND', 'folder has no safetensors weights (model.safetensors, a shard index, or a LoRA adapter)', { file: p });
}

/** `base+lora`: the base with the PEFT adapter applied (lora-applied.ts). */
async function openWithAdapter(ref: string, basePath: string, loraPath: string): Promise<Checkpoint> {
  const [base, lora] = await openCheckpoints([basePath, loraPath]);
  if (isLora(base) || !isLora(lora)) {
    await Promise.all([base.close(), lora.close()]);
    throw new MergelensError('BAD_INPUT', `"${ref}": expected base+lora, a full model and a PEFT adapter`, { file: isLora(base) ? basePath : loraPath });
  }
  return new LoraAppliedCheckpoint(ref, base, lora);
}

/** Open several checkpoints; on any failure the ones already opened are closed. */
export async function openCheckpoints(paths: readonly string[]): Promise<(Checkpoint | LoraCheckpoint)[]> {
  const out: Checkpoint[] = [];
  try {
    for (const p of paths) out.push(await openCheckpoint(p));
    return out;
  } catch (e) {
    await Promise.all(out.map((c) => c.close()));
    throw e;
  }
}
