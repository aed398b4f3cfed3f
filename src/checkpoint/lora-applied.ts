/**
 * mergekit's `base+lora`: a full model seen as base weights with a PEFT adapter applied,
 * W = W₀ + scale·B·A for the adapter's targets and the adapter's `modules_to_save` tensors in
 * place of the base's. Tensors the adapter changes read as float32 (their stored dtype says
 * F32); the others pass straight through from the base.
 */
import type { Checkpoint, LoraCheckpoint, TensorLocation } from '../types.js';
import { MergelensError } from '../errors.js';
import { denseDeltaRows } from './lowrank.js';

export class LoraAppliedCheckpoint implements Checkpoint {
  readonly kind;
  readonly name: string;
  readonly metadata: Record<string, string>;
  readonly config?: Record<string, unknown>;
  readonly warnings: string[];
  private readonly low: Set<string>;
  private readonly saved: Set<string>;

  constructor(
    readonly path: string,
    private readonly base: Checkpoint,
    private readonly lora: LoraCheckpoint,
  ) {
    this.kind = base.kind;
    this.name = `${base.name}+${lora.name}`;
    this.metadata = base.metadata;
    this.config = base.config;
    this.warnings = [...(base.warnings ?? []), ...(lora.warnings ?? [])];
    const names = new Set(base.tensorNames());
    this.low = new Set(lora.lowRankNames());
    this.saved = new Set(lora.tensorNames());
    const missing = [...this.low, ...this.saved].find((n) => !names.has(n));
    if (missing) throw new MergelensError('MISSING_TENSOR', `the adapter targets "${missing}", which the base does not have`, { file: lora.path, tensor: missing, hint: 'is this adapter for a different base model?' });
  }

  tensorNames(): string[] {
    return this.base.tensorNames();
  }

  location(name: string): TensorLocation | undefined {
    const loc = this.saved.has(name) ? this.lora.location(name) : this.base.location(name);
    if (!loc || !this.low.has(name)) return loc;
    const numel = loc.shape.reduce((a, b) => a * b, 1);
    return { ...loc, dtype: 'F32', begin: 0, end: numel * 4 };
  }

  async read(name: string, start = 0, count?: number): Promise<Float32Array> {
    if (this.saved.has(name)) return this.lora.read(name, start, count);
    const w = await this.base.read(name, start, count);
    if (!this.low.has(name)) return w;
    const delta = await this.lora.lowRank(name);
    const cols = delta.shape[1];
    const r0 = Math.floor(start / cols);
    const r1 = Math.ceil((start + w.length) / cols);
    const d = denseDeltaRows(delta, r0, r1 - r0);
    const off = start - r0 * cols;
    for (let i = 0; i < w.length; i++) w[i] += d[off + i];
    return w;
  }

  async readInto(name: string, start: number, count: number, dest: Uint8Array): Promise<void> {
    if (!this.low.has(name)) return (this.saved.has(name) ? this.lora : this.base).readInto(name, start, count, dest);
    const v = await this.read(name, start, count);
    dest.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  }

  async close(): Promise<void> {
    await Promise.all([this.base.close(), this.lora.close()]);
  }
}
