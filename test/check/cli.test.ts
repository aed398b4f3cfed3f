import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/safetensors/writer.js';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import type { PreflightReport } from '../../src/check/preflight.js';
import type { InspectReport } from '../../src/check/inspect.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { tempDir } from '../io/raw.js';

const FIX = path.join(ROOT, 'fixtures/tiny');
const f = (p: string) => path.join(FIX, p);
const tmp = tempDir('mergelens-cli-');
afterAll(() => tmp.cleanup());

describe('mergelens check', () => {
  it('exit 0 and a readable summary when every expert is fine (F32, F16, sharded, LoRA)', () => {
    const r = runCli(['check', f('base'), f('expert-a.safetensors'), f('f16/expert-b.safetensors'), f('expert-a-sharded'), f('lora-expert')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^base: base \(hf-folder, 21 tensors, 24,736 parameters\)/);
    expect(r.stdout).toMatch(/expert-a \(safetensors, 21 tensors\): OK; median ‖θ−θ₀‖\/‖θ₀‖ = 0\.0300/);
    expect(r.stdout).toMatch(/LoRA: 7\/7 modules fit the base/);
    expect(r.stdout).toMatch(/summary: 0 errors, 0 warnings, 1 info — ready to merge/);
  });

  it('exit 1 and names the expert that does not descend from the base; --json is machine-readable', () => {
    const text = runCli(['check', f('base'), f('expert-c.safetensors'), f('unrelated.safetensors')]);
    expect(text.status).toBe(1);
    expect(text.stdout).toMatch(/unrelated \(safetensors, 21 tensors\): 1 error; .*NOT a fine-tune of this base/);
    expect(text.stdout).toMatch(/error +\[DIFFERENT_BASE\] does not descend from this base/);

    const json = runCli(['check', f('base'), f('expert-c.safetensors'), f('unrelated.safetensors'), '--json']);
    expect(json.status).toBe(1);
    const report = JSON.parse(json.stdout) as PreflightReport;
    expect(report.format).toBe('mergelens.check');
    expect(report.ok).toBe(false);
    expect(report.experts.map((e) => [e.name, e.descendsFromBase])).toEqual([
      ['expert-c', true],
      ['unrelated', false],
    ]);
    expect(report.issues).toEqual([expect.objectContaining({ severity: 'error', code: 'DIFFERENT_BASE', expert: 'unrelated' })]);
  });

  it('names each mismatched tensor (JSON) and fails on a missing expert', async () => {
    const a = await openCheckpoint(f('expert-b.safetensors'));
    const ts = [];
    for (const name of a.tensorNames()) {
      if (name === 'model.layers.0.self_attn.k_proj.weight') continue;
      const shape = name === 'model.layers.1.mlp.down_proj.weight' ? [64, 32] : a.location(name)!.shape;
      ts.push({ name, shape, dtype: 'F32' as const, data: await a.read(name) });
    }
    await a.close();
    const broken = tmp.file('broken.safetensors');
    await writeSafetensors(broken, ts);
    const r = runCli(['check', f('base'), broken, tmp.file('nope.safetensors'), '--json']);
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout) as PreflightReport;
    const codes = report.issues.map((i) => `${i.code}:${i.tensor ?? i.expert}`);
    expect(codes).toContain('MISSING_TENSOR:model.layers.0.self_attn.k_proj.weight');
    expect(codes).toContain('SHAPE_MISMATCH:model.layers.1.mlp.down_proj.weight');
    expect(codes).toContain(`OPEN_FAILED:${tmp.file('nope.safetensors')}`);
  });

  it('a base that cannot be read → exit 1 with the error on stderr', () => {
    const r = runCli(['check', f('nope'), f('expert-a.safetensors')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error \[NOT_FOUND\].*nope/);
  });
});

describe('mergelens inspect', () => {
  it('lists tensors, dtypes, shapes, parameter count and bytes (JSON)', () => {
    const r = runCli(['inspect', f('f16/expert-a.safetensors'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as InspectReport;
    expect(rep.kind).toBe('safetensors');
    expect(rep.parameters).toBe(24_736); // 2·64·32 + 2·(4·32² + 3·64·32 + 2·32) + 32
    expect(rep.bytes).toBe(24_736 * 2);
    expect(rep.dtypes).toEqual({ F16: { tensors: 21, parameters: 24_736 } });
    expect(rep.tensors.find((t) => t.name === 'model.layers.0.mlp.down_proj.weight')).toMatchObject({ dtype: 'F16', shape: [32, 64], numel: 2048, bytes: 4096 });
  });

  it('shows LoRA modules with ranks and scales', () => {
    const r = runCli(['inspect', f('lora-expert')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/LoRA: r=4, lora_alpha=8 \(scale α\/r\)/);
    expect(r.stdout).toMatch(/model\.layers\.0\.mlp\.down_proj\.weight +ΔW \[32, 64\] +rank 2 +alpha 8 +scale 4/);
    expect(r.stdout).toMatch(/model\.layers\.1\.self_attn\.v_proj\.weight +ΔW \[32, 32\] +rank 4 +alpha 16 +scale 4/);
    expect(r.stdout).toMatch(/lm_head\.weight +F32 +\[64, 32\]/);
  });

  it('a .bin-only folder → exit 1 with a conversion hint; a non-safetensors file → named error', () => {
    const dir = tmp.file('bin-only');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'pytorch_model.bin'), 'x');
    const r = runCli(['inspect', dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/mergelens: error \[UNSUPPORTED_FORMAT\].*pytorch_model\.bin.*unsupported.*hint: convert it to safetensors/);
    const j = runCli(['inspect', path.join(ROOT, 'package.json')]);
    expect(j.status).toBe(1);
    expect(j.stderr).toMatch(/error \[HEADER_TOO_LARGE\].*package\.json.*not safetensors/);
  });
});
