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
import { exists, readJsonObject } from './json.js';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, openLoraAdapter } from './lora.js';
import { openSharded } from './sharded.js';

const PICKLE = /\.(bin|pt|pth|ckpt|pkl)$/i;
const OTHER_FORMATS = /\.(gguf|ggml|onnx|h5|msgpack|npz)$/i;
const CONVERT_HINT = 'convert it to safetensors first (e.g. load with transformers and save_pretrained(..., safe_serialization=True))';

function unsupportedFile(file: string): MergelensError | undefined {
  if (PICKLE.test(file)) return new MergelensError('NOT_FOUND', 'PyTorch pickle checkpoints (.bin/.pt) are unsupported; mergelens reads safetensors', { file, hint: CONVERT_HINT });
  if (OTHER_FORMATS.test(file)) return new MergelensError('NOT_FOUND', `${path.extname(file)} files are unsupported; mergelens reads safetensors`, { file, hint: CONVERT_HINT });
  return undefined;
}

/** config.json is optional and informative: a broken one becomes a warning, not a failure. */
async function readConfig(dir: string, warnings: string[]): Promise<Record<string, unknown> | undefined> {
  const p = path.join(dir, 'config.json');
  if (!(await exists(p))) return undefined;
  try {
    return await readJsonObject(p, 'BAD_INPUT', 'config.json');
  } catch (e) {
    warnings.push((e as Error).message);
    return undefined;
  }
}

export async function openCheckpoint(p: string): Promise<Checkpoint | LoraCheckpoint> {
  const stat = await fsp.stat(p).catch(() => null);
  if (!stat) throw new MergelensError('NOT_FOUND', 'no such file or folder', { file: p });
  if (stat.isFile()) {
    const bad = unsupportedFile(p);
    if (bad) throw bad;
    return SafetensorsCheckpoint.ofFile(await SafetensorsFile.open(p), p, 'safetensors');
  }
  if (!stat.isDirectory()) throw new MergelensError('NOT_FOUND', 'not a file or folder', { file: p });

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
        'NOT_FOUND',
        bin ? `LoRA adapter has ${bin} but no ${ADAPTER_WEIGHTS}; .bin adapters are unsupported` : `LoRA adapter folder has no ${ADAPTER_WEIGHTS}`,
        { file: p, hint: bin ? CONVERT_HINT : undefined },
      );
    }
    return openLoraAdapter(p, await readConfig(p, warnings));
  }
  const config = await readConfig(p, warnings);
  const indexes = entries.filter((e) => e.endsWith('.safetensors.index.json'));
  if (indexes.length > 1 && !indexes.includes('model.safetensors.index.json')) {
    throw new MergelensError('NOT_FOUND', `several shard indexes (${indexes.join(', ')}); point at one model`, { file: p });
  }
  if (indexes.length) {
    const index = indexes.includes('model.safetensors.index.json') ? 'model.safetensors.index.json' : indexes[0];
    return openSharded(p, path.join(p, index), config, warnings);
  }
  const weights = entries.filter((e) => e.endsWith('.safetensors'));
  const single = weights.includes('model.safetensors') ? 'model.safetensors' : weights.length === 1 ? weights[0] : undefined;
  if (single) return SafetensorsCheckpoint.ofFile(await SafetensorsFile.open(path.join(p, single)), p, 'hf-folder', config, warnings);
  if (weights.length > 1) {
    throw new MergelensError('NOT_FOUND', `folder has several .safetensors files (${weights.slice(0, 4).join(', ')}${weights.length > 4 ? ', …' : ''}) but no index`, {
      file: p,
      hint: 'add a model.safetensors.index.json or pass one file',
    });
  }
  const pickle = entries.find((e) => PICKLE.test(e));
  if (pickle) {
    throw new MergelensError('NOT_FOUND', `folder has ${pickle} but no safetensors weights; .bin (pickle) checkpoints are unsupported`, { file: p, hint: CONVERT_HINT });
  }
  throw new MergelensError('NOT_FOUND', 'folder has no safetensors weights (model.safetensors, a shard index, or a LoRA adapter)', { file: p });
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
