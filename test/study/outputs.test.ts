/**
 * Where the study writes (issue 19, clean tree): by default into mergelens-out/study under the
 * working directory — never into the package — with checkpoint paths recorded relative to the
 * working directory when they lie below it; the shipped predictors change only with
 * --update-shipped, and only from a full study.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MetricsReport } from '../../src/types.js';
import { ROOT, runCli } from '../helpers/cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-study-out-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const shipped = path.join(ROOT, 'fixtures', 'predictor', 'default.json');

describe('study outputs', () => {
  it('default: <cwd>/mergelens-out/study, relative checkpoint paths, shipped predictors untouched', () => {
    symlinkSync(path.join(ROOT, 'fixtures', 'study'), path.join(tmp, 'zoo'));
    const before = statSync(shipped).mtimeMs;
    const r = runCli(['study', '--zoo', 'zoo', '--tasks', 'digits,rot90', '--methods', 'weight_avg', '--workers', '1', '--no-fit', '--no-report'], { cwd: tmp });
    expect(r.status, r.stderr).toBe(0);
    const out = path.join(tmp, 'mergelens-out', 'study');
    for (const f of ['study.json', 'study.csv', 'metrics.json']) expect(existsSync(path.join(out, f)), f).toBe(true);
    const m = JSON.parse(readFileSync(path.join(out, 'metrics.json'), 'utf8')) as MetricsReport & { base: { path: string }; inputs: { path: string }[] };
    expect(m.base.path).toBe(path.join('zoo', 'base.safetensors'));
    // the experts, then the calibration files the study wrote (relative to the cwd as well)
    expect(m.inputs.map((i) => i.path).slice(0, 2)).toEqual([path.join('zoo', 'experts', 'digits.safetensors'), path.join('zoo', 'experts', 'rot90.safetensors')]);
    for (const i of m.inputs) expect(path.isAbsolute(i.path), i.path).toBe(false);
    expect(readFileSync(path.join(out, 'metrics.json'), 'utf8')).not.toContain(tmp);
    expect(statSync(shipped).mtimeMs).toBe(before);
  });

  it('--update-shipped refuses a partial study before any work, naming the reason', () => {
    const before = statSync(shipped).mtimeMs;
    const r = runCli(['study', '--quick', '--update-shipped', '--out', path.join(tmp, 'x')], { cwd: tmp });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('the shipped predictors are refreshed only by a full study');
    expect(existsSync(path.join(tmp, 'x', 'study.json'))).toBe(false);
    expect(statSync(shipped).mtimeMs).toBe(before);
  });

  it('the committed example outputs and shipped predictors hold no absolute paths', () => {
    const files = ['reports/index.html', 'reports/metrics.json', 'reports/study.json', 'reports/predictor.json', 'fixtures/predictor/default.json', 'fixtures/predictor/weights-only.json'];
    for (const f of files) {
      const text = readFileSync(path.join(ROOT, f), 'utf8');
      expect(text.match(/["'](\/[^"'\s]+\.(safetensors|json))["']/)?.[1] ?? null, f).toBeNull();
      expect(text.includes(ROOT), f).toBe(false);
    }
  });
});
