/**
 * Sharded Hugging Face folders: `*.safetensors.index.json` + shards. The index is treated as
 * untrusted input: every shard must exist and stay inside the folder, the shard headers must
 * agree with `weight_map` exactly (no tensor in two shards, no extra or missing keys), and
 * `total_size` is only advisory (a mismatch is a warning, never an error).
 */
import path from 'node:path';
import { MergelensError } from '../errors.js';
import { findDuplicateKey } from '../safetensors/header.js';
import { SafetensorsFile } from '../safetensors/reader.js';
import { SafetensorsCheckpoint, displayName } from './files.js';
import { readJsonObject, readJsonText } from './json.js';
import { resolveInModelFolder } from './safe-path.js';

export interface ShardIndex {
  /** tensor → shard file name as written in the index. */
  weightMap: Map<string, string>;
  totalSize?: number;
}

/** Parse and validate the index JSON's structure (not the shards). */
export async function readShardIndex(indexPath: string): Promise<ShardIndex> {
  const text = await readJsonText(indexPath, 'BAD_INDEX', 'shard index');
  const json = await readJsonObject(indexPath, 'BAD_INDEX', 'shard index', text);
  const dup = findDuplicateKey(text);
  if (dup && dup.depth === 2 && dup.parent === 'weight_map') {
    throw new MergelensError('BAD_INDEX', 'tensor listed twice in weight_map', { file: indexPath, tensor: dup.key });
  }
  const wm = json.weight_map;
  if (wm === null || typeof wm !== 'object' || Array.isArray(wm)) {
    throw new MergelensError('BAD_INDEX', 'index has no "weight_map" object', { file: indexPath });
  }
  const weightMap = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(wm as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard === '') {
      throw new MergelensError('BAD_INDEX', `weight_map value must be a shard file name, got ${JSON.stringify(shard)?.slice(0, 60)}`, { file: indexPath, tensor });
    }
    weightMap.set(tensor, shard);
  }
  const meta = json.metadata as Record<string, unknown> | undefined;
  const ts = meta && typeof meta === 'object' ? meta.total_size : undefined;
  const totalSize = typeof ts === 'number' ? ts : typeof ts === 'string' && /^\d+$/.test(ts) ? Number(ts) : undefined;
  return { weightMap, totalSize };
}

/**
 * Resolve a shard name from an index to a path inside `dir`. Absolute paths, `..` segments
 * and symlinks that leave the folder are refused (PATH_TRAVERSAL) — except, in a Hugging Face
 * hub cache snapshot, symlinks into the same repository's blobs/ (see safe-path.ts).
 */
export async function resolveShardPath(dir: string, shard: string, indexPath: string, tensor: string): Promise<string> {
  const full = await resolveInModelFolder(dir, shard, { source: indexPath, tensor, what: 'shard path' });
  if (full === undefined) {
    throw new MergelensError('MISSING_SHARD', `shard "${shard}" listed in the index does not exist`, { file: indexPath, tensor, hint: 'download the missing shard' });
  }
  return full;
}

/** Open a sharded folder from its index, validating every shard against the map. */
export async function openSharded(dir: string, indexPath: string, config?: Record<string, unknown>, warnings: string[] = []): Promise<SafetensorsCheckpoint> {
  const index = await readShardIndex(indexPath);
  if (index.weightMap.size === 0) throw new MergelensError('BAD_INDEX', 'weight_map is empty', { file: indexPath });
  // shard name → first tensor mapped to it (for error messages), in first-seen order.
  const shardNames = new Map<string, string>();
  for (const [tensor, shard] of index.weightMap) if (!shardNames.has(shard)) shardNames.set(shard, tensor);
  const files: SafetensorsFile[] = [];
  const byShard = new Map<string, SafetensorsFile>();
  try {
    for (const [shard, tensor] of shardNames) {
      const full = await resolveShardPath(dir, shard, indexPath, tensor);
      const f = await SafetensorsFile.open(full);
      files.push(f);
      byShard.set(shard, f);
    }
    const owner = new Map<string, SafetensorsFile>();
    for (const [shard, f] of byShard) {
      for (const name of f.names()) {
        const other = owner.get(name);
        if (other) {
          throw new MergelensError('BAD_INDEX', `tensor is stored in two shards (${path.basename(other.path)} and ${shard})`, { file: indexPath, tensor: name });
        }
        const mapped = index.weightMap.get(name);
        if (mapped === undefined) {
          throw new MergelensError('BAD_INDEX', `tensor is in shard ${shard} but not in the index weight_map`, { file: indexPath, tensor: name });
        }
        if (mapped !== shard) {
          throw new MergelensError('BAD_INDEX', `tensor is in shard ${shard} but the index maps it to ${mapped}`, { file: indexPath, tensor: name });
        }
        owner.set(name, f);
      }
    }
    for (const [tensor, shard] of index.weightMap) {
      if (!owner.has(tensor)) throw new MergelensError('BAD_INDEX', `index maps tensor to ${shard} but that shard does not contain it`, { file: indexPath, tensor });
    }
    if (index.totalSize !== undefined) {
      const tensorBytes = files.reduce((s, f) => s + f.header.dataLength, 0);
      const fileBytes = files.reduce((s, f) => s + f.size, 0);
      if (index.totalSize !== tensorBytes && index.totalSize !== fileBytes) {
        warnings.push(`${indexPath}: metadata.total_size ${index.totalSize} matches neither the tensor bytes (${tensorBytes}) nor the shard file sizes (${fileBytes}); ignored (advisory)`);
      }
    }
    return new SafetensorsCheckpoint(dir, displayName(dir), 'hf-sharded', files, owner, config, warnings);
  } catch (e) {
    await Promise.all(files.map((f) => f.close()));
    throw e;
  }
}
