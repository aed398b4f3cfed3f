import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseMergeConfig } from '../../src/merge/config.js';
import { inMergekit } from '../../src/merge/mergekit/emit.js';
import { mergeCost } from '../../src/merge/mergekit/cost.js';
import { ROOT, runCli } from '../helpers/cli.js';

const TINY = path.join(ROOT, 'fixtures/tiny');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-emit-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const MERGEKIT = new Set(['weight_avg', 'task_arithmetic', 'ties', 'dare', 'dare_ties', 'slerp']);

describe('screen --emit: from a verdict to a merge', () => {
  const dir = path.join(tmp, 'emit');
  const json = path.join(tmp, 'screen.json');
  let screened: ReturnType<typeof runCli>;
  const screen = () =>
    (screened ??= runCli(['screen', path.join(TINY, 'base'), ...['a', 'b', 'c'].map((x) => path.join(TINY, `expert-${x}.safetensors`)), '--methods', 'mergekit', '--top', '2', '--emit', dir, '-o', json, '--no-progress']));

  it('--methods mergekit keeps the methods mergekit runs; costs say which and how much', () => {
    const r = screen();
    expect(r.stderr).not.toMatch(/error/);
    expect(r.status).toBe(0);
    const out = JSON.parse(readFileSync(json, 'utf8'));
    const methods = new Set(out.predictions.map((p: { method: string }) => p.method));
    expect([...methods].sort()).toEqual([...MERGEKIT].sort());
    for (const c of out.costs) expect(c.mergekit).toBe(true);
    expect(r.stdout).toMatch(/Merge cost per pair at this size/);
    // Costs are a fixed start plus the bytes read over a rate: equal steps in size, equal steps in time;
    // per byte of checkpoint, task_arithmetic reads base + 2 experts where weight_avg reads 2.
    const step = (m: string) => mergeCost(m, 3e9).seconds - mergeCost(m, 2e9).seconds;
    for (const m of ['weight_avg', 'task_arithmetic', 'ties', 'tsv']) expect(mergeCost(m, 2e9).seconds - mergeCost(m, 1e9).seconds).toBeCloseTo(step(m), 9);
    expect(mergeCost('weight_avg', 1e9).relative).toBe(1);
    expect(step('ties')).toBeGreaterThan(step('task_arithmetic')); // same inputs, slower per byte (bench: 1.39 vs 3.54 GB/s)
    expect(mergeCost('tsv', 1e9).mergekit).toBe(false);
    expect(inMergekit('dare_linear')).toBe(true);
  });

  it('writes one mergekit YAML per recommended pair and merge.sh; the YAML and the command give bit-identical checkpoints', () => {
    screen();
    const ymls = readdirSync(dir).filter((f) => f.endsWith('.yml')).sort();
    expect(ymls.length).toBeGreaterThanOrEqual(1);
    expect(ymls.length).toBeLessThanOrEqual(2);
    const script = readFileSync(path.join(dir, 'merge.sh'), 'utf8').split('\n').filter((l) => l.startsWith('mergelens merge'));
    expect(script.length).toBe(ymls.length);
    ymls.forEach((yml, k) => {
      const file = path.join(dir, yml);
      const cfg = parseMergeConfig(readFileSync(file, 'utf8'), file);
      expect(MERGEKIT.has(cfg.method === 'linear' ? 'weight_avg' : cfg.method === 'dare_linear' ? 'dare' : cfg.method)).toBe(true);
      expect((cfg.document.mergelens as { prediction: { predicted: number } }).prediction.predicted).toEqual(expect.any(Number));
      const viaConfig = path.join(tmp, `cfg-${k}`);
      const viaFlags = path.join(tmp, `cli-${k}`);
      const a = runCli(['merge', '--config', file, '-o', viaConfig, '--no-progress']);
      expect(a.status, a.stderr).toBe(0);
      const words = script[k].split(' ').slice(1); // paths here have no spaces, so no quoting
      words[words.indexOf('-o') + 1] = viaFlags;
      const b = runCli([...words, '--no-progress']);
      expect(b.status, b.stderr).toBe(0);
      const bytes = (d: string) => readFileSync(path.join(d, 'model.safetensors'));
      expect(bytes(viaConfig).equals(bytes(viaFlags))).toBe(true);
      // Every merged folder records mergekit_config.yml and a model card with the prediction that led to it.
      const card = readFileSync(path.join(viaConfig, 'README.md'), 'utf8');
      expect(card).toContain('## Prediction that led to this merge');
      expect(card).toMatch(/Predicted normalized accuracy: \*\*[-0-9.]+\*\*/);
      const recorded = parseMergeConfig(readFileSync(path.join(viaConfig, 'mergekit_config.yml'), 'utf8'), path.join(viaConfig, 'mergekit_config.yml'));
      expect(recorded.method).toBe(cfg.method);
      expect(recorded.experts).toEqual(cfg.experts);
      const plain = readFileSync(path.join(viaFlags, 'README.md'), 'utf8');
      expect(plain).toContain('None recorded');
      // The config recorded by a command-line merge reproduces it, read from inside the output folder.
      if (k === 0) {
        const again = path.join(tmp, `again-${k}`);
        const c = runCli(['merge', '--config', path.join(viaFlags, 'mergekit_config.yml'), '-o', again, '--no-progress']);
        expect(c.status, c.stderr).toBe(0);
        expect(bytes(again).equals(bytes(viaFlags))).toBe(true);
      }
    });
  }, 300_000); // up to 5 CLI merges per pair
});
