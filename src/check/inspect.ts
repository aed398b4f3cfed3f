/** `mergelens inspect`: what is in a checkpoint, from headers only. */
import type { Checkpoint, CheckpointKind } from '../types.js';
import { numelOf } from '../safetensors/header.js';
import { DTYPE_BITS } from '../safetensors/dtype.js';
import { checkpointFiles } from '../checkpoint/fingerprint.js';
import { isLora } from '../checkpoint/lowrank.js';
import { LoraAdapterCheckpoint } from '../checkpoint/lora.js';
import { formatBytes } from '../util/progress.js';
import { escapeControl as esc } from '../util/terminal.js';

/** Longest string length, at least `min` (a loop: spreading 125k names into Math.max overflows the stack). */
function widest(names: Iterable<string>, min: number): number {
  let w = min;
  for (const n of names) if (n.length > w) w = n.length;
  return w;
}

export interface InspectTensor {
  name: string;
  dtype: string;
  shape: number[];
  numel: number;
  bytes: number;
  file: string;
}

export interface InspectLoraModule {
  /** Base tensor the delta applies to. */
  tensor: string;
  module: string;
  shape: [number, number];
  rank: number;
  alpha: number | null;
  scale: number;
  dtype: string;
}

export interface InspectReport {
  format: 'mergelens.inspect';
  version: 1;
  path: string;
  name: string;
  kind: CheckpointKind;
  metadata: Record<string, string>;
  config?: Record<string, unknown>;
  files: { path: string; bytes: number; tensors: number }[];
  /** Dense tensors (for LoRA: the modules_to_save weights, under base names). */
  tensors: InspectTensor[];
  /** Every stored element (LoRA: factors included). */
  parameters: number;
  /** Bytes of tensor data (headers excluded). */
  bytes: number;
  dtypes: Record<string, { tensors: number; parameters: number }>;
  lora?: {
    r: unknown;
    loraAlpha: unknown;
    useRslora: boolean;
    fanInFanOut: boolean;
    targetModules: unknown;
    modulesToSave: unknown;
    rankPattern: unknown;
    alphaPattern: unknown;
    modules: InspectLoraModule[];
  };
  warnings: string[];
}

export function inspectCheckpoint(c: Checkpoint): InspectReport {
  const tensors: InspectTensor[] = c.tensorNames().map((name) => {
    const l = c.location(name)!;
    return { name, dtype: l.dtype, shape: l.shape, numel: numelOf(l.shape), bytes: l.end - l.begin, file: l.file };
  });
  const files = checkpointFiles(c);
  const dtypes: InspectReport['dtypes'] = {};
  let parameters = 0;
  let bytes = 0;
  // Totals from the file headers, so LoRA factors count too.
  const entries = files.length
    ? files.flatMap((f) => f.header.entries.map((e) => ({ dtype: e.dtype, numel: numelOf(e.shape), bytes: e.end - e.begin })))
    : tensors.map((t) => ({ dtype: t.dtype, numel: t.numel, bytes: t.bytes }));
  for (const e of entries) {
    parameters += e.numel;
    bytes += e.bytes;
    const d = (dtypes[e.dtype] ??= { tensors: 0, parameters: 0 });
    d.tensors++;
    d.parameters += e.numel;
  }
  const report: InspectReport = {
    format: 'mergelens.inspect',
    version: 1,
    path: c.path,
    name: c.name,
    kind: c.kind,
    metadata: { ...c.metadata },
    ...(c.config ? { config: c.config } : {}),
    files: files.map((f) => ({ path: f.path, bytes: f.size, tensors: f.header.entries.length })),
    tensors,
    parameters,
    bytes,
    dtypes,
    warnings: [...(c.warnings ?? [])],
  };
  if (isLora(c)) {
    const cfg = c.adapterConfig;
    report.lora = {
      r: cfg.r ?? null,
      loraAlpha: cfg.lora_alpha ?? null,
      useRslora: cfg.use_rslora === true,
      fanInFanOut: cfg.fan_in_fan_out === true,
      targetModules: cfg.target_modules ?? null,
      modulesToSave: cfg.modules_to_save ?? null,
      rankPattern: cfg.rank_pattern ?? null,
      alphaPattern: cfg.alpha_pattern ?? null,
      modules: c.lowRankNames().map((tensor) => {
        const s = c.lowRankSpec(tensor)!;
        const alpha = c instanceof LoraAdapterCheckpoint ? (c.lowRankAlpha(tensor) ?? null) : null;
        return { tensor, module: s.module, shape: s.shape, rank: s.rank, alpha, scale: s.scale, dtype: s.dtype };
      }),
    };
  }
  return report;
}

const bitsOf = (dtype: string) => DTYPE_BITS[dtype] ?? 0;

export function formatInspect(r: InspectReport): string {
  const lines: string[] = [];
  lines.push(`${esc(r.name)}  (${r.kind})  ${esc(r.path)}`);
  lines.push(`  ${r.parameters.toLocaleString('en-US')} parameters, ${formatBytes(r.bytes)} of tensor data in ${r.files.length} file(s)`);
  const dt = Object.entries(r.dtypes)
    .sort((a, b) => bitsOf(b[0]) - bitsOf(a[0]) || a[0].localeCompare(b[0]))
    .map(([d, v]) => `${esc(d)}: ${v.tensors} tensors / ${v.parameters.toLocaleString('en-US')} params`);
  if (dt.length) lines.push(`  dtypes: ${dt.join('; ')}`);
  const meta = Object.entries(r.metadata);
  if (meta.length) lines.push(`  metadata: ${meta.map(([k, v]) => `${esc(k)}=${esc(v.length > 60 ? v.slice(0, 57) + '...' : v)}`).join(', ')}`);
  if (r.config) {
    const keys = ['model_type', 'hidden_size', 'num_hidden_layers', 'vocab_size', 'tie_word_embeddings', 'torch_dtype'].filter((k) => r.config![k] !== undefined);
    if (keys.length) lines.push(`  config: ${keys.map((k) => `${k}=${esc(JSON.stringify(r.config![k]) ?? '')}`).join(', ')}`);
  }
  for (const w of r.warnings) lines.push(`  warning: ${esc(w)}`);
  if (r.files.length > 1) for (const f of r.files) lines.push(`  file ${esc(f.path)}: ${f.tensors} tensors, ${formatBytes(f.bytes)}`);
  if (r.lora) {
    const l = r.lora;
    lines.push(`  LoRA: r=${esc(String(JSON.stringify(l.r)))}, lora_alpha=${esc(String(JSON.stringify(l.loraAlpha)))}${l.useRslora ? ', rsLoRA (scale α/√r)' : ' (scale α/r)'}${l.fanInFanOut ? ', fan_in_fan_out' : ''}`);
    if (l.rankPattern && Object.keys(l.rankPattern as object).length) lines.push(`  rank_pattern: ${esc(JSON.stringify(l.rankPattern))}`);
    if (l.alphaPattern && Object.keys(l.alphaPattern as object).length) lines.push(`  alpha_pattern: ${esc(JSON.stringify(l.alphaPattern))}`);
    lines.push(`  ${l.modules.length} low-rank module(s):`);
    const names = l.modules.map((m) => esc(m.tensor));
    const w = widest(names, 6);
    for (const [k, m] of l.modules.entries()) {
      lines.push(`    ${names[k].padEnd(w)}  ΔW [${m.shape.join(', ')}]  rank ${m.rank}  alpha ${m.alpha ?? '?'}  scale ${+m.scale.toPrecision(6)}  ${m.dtype}`);
    }
    if (r.tensors.length) lines.push(`  ${r.tensors.length} full weight(s) (modules_to_save):`);
  } else {
    lines.push(`  ${r.tensors.length} tensor(s):`);
  }
  const names = r.tensors.map((t) => esc(t.name));
  const w = widest(names, 6);
  for (const [k, t] of r.tensors.entries()) lines.push(`    ${names[k].padEnd(w)}  ${t.dtype.padEnd(5)} [${t.shape.join(', ')}]  ${t.numel.toLocaleString('en-US')}`);
  return lines.join('\n') + '\n';
}
