/**
 * A dense Checkpoint backed by one or more safetensors files (single file, HF folder,
 * sharded HF folder): a name → file map over lazily-read SafetensorsFiles.
 */
import path from 'node:path';
import type { Checkpoint, CheckpointKind, TensorLocation } from '../types.js';
import { MergelensError } from '../errors.js';
import type { SafetensorsFile } from '../safetensors/reader.js';

export class SafetensorsCheckpoint implements Checkpoint {
  readonly metadata: Record<string, string>;
  private readonly sorted: string[];

  constructor(
    readonly path: string,
    readonly name: string,
    readonly kind: Exclude<CheckpointKind, 'lora'>,
    /** The underlying files, in shard order. */
    readonly files: readonly SafetensorsFile[],
    private readonly owner: ReadonlyMap<string, SafetensorsFile>,
    readonly config?: Record<string, unknown>,
    readonly warnings: string[] = [],
  ) {
    this.metadata = files[0]?.metadata ?? {};
    this.sorted = [...owner.keys()].sort();
  }

  /** A checkpoint over a single file holding every tensor. */
  static ofFile(file: SafetensorsFile, userPath: string, kind: Exclude<CheckpointKind, 'lora'>, config?: Record<string, unknown>, warnings: string[] = []): SafetensorsCheckpoint {
    const owner = new Map(file.names().map((n) => [n, file]));
    return new SafetensorsCheckpoint(userPath, displayName(userPath), kind, [file], owner, config, warnings);
  }

  tensorNames(): string[] {
    return this.sorted.slice();
  }

  location(name: string): TensorLocation | undefined {
    return this.owner.get(name)?.location(name);
  }

  /** The file holding a tensor, or a MISSING_TENSOR error naming the checkpoint. */
  fileOf(name: string): SafetensorsFile {
    const f = this.owner.get(name);
    if (!f) throw new MergelensError('MISSING_TENSOR', 'no such tensor in this checkpoint', { file: this.path, tensor: name });
    return f;
  }

  read(name: string, start?: number, count?: number): Promise<Float32Array> {
    return this.fileOf(name).read(name, start, count);
  }

  readInto(name: string, start: number, count: number, dest: Uint8Array): Promise<void> {
    return this.fileOf(name).readInto(name, start, count, dest);
  }

  readFloat64(name: string, start?: number, count?: number): Promise<Float64Array> {
    return this.fileOf(name).readFloat64(name, start, count);
  }

  /** Raw little-endian bytes of a tensor (fast paths that decode themselves). */
  readBytes(name: string, byteStart?: number, byteCount?: number): Promise<Uint8Array> {
    return this.fileOf(name).readBytes(name, byteStart, byteCount);
  }

  async close(): Promise<void> {
    await Promise.all(this.files.map((f) => f.close()));
  }
}

/** "…/llama-7b/" → "llama-7b", "a/expert.safetensors" → "expert". */
export function displayName(p: string): string {
  return path.basename(path.resolve(p)).replace(/\.safetensors$/, '');
}
