import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatInterval, formatValue } from '../../src/dashboard/format.js';
import type { MetricsReport, Prediction, PredictorFile } from '../../src/types.js';
import { runCli, ROOT } from '../helpers/cli.js';
import { runDashboard } from '../../src/dashboard/run.js';
import { plainTable, prepareData } from '../../src/dashboard/view-model.js';
import { FIXTURE_METRICS, FIXTURE_PREDICTIONS } from './sample.js';

const metricsPath = path.join(ROOT, FIXTURE_METRICS);
const metrics = JSON.parse(readFileSync(metricsPath, 'utf8')) as MetricsReport;
const predictions = JSON.parse(readFileSync(path.join(ROOT, FIXTURE_PREDICTIONS), 'utf8')) as Prediction[];

/** Split the plain table's data rows into columns (columns are separated by ≥ 2 spaces). */
function tableRows(stdout: string): string[][] {
  const lines = stdout.trimEnd().split('\n');
  const dash = lines.findIndex((l) => /^-+\s/.test(l));
  return lines.slice(dash + 1).map((l) => l.split(/\s{2,}/));
}

describe('mergelens dashboard without a terminal', () => {
  it('prints pairs × selected metric and exits 0 when stdout is piped', () => {
    const r = runCli(['dashboard', metricsPath, '--metric', 'tv_l2']);
    // No predictor given: the shipped ones are tried as screen does; none has all its metrics in
    // this file, which stderr says (and nothing else).
    expect(r.stderr).toBe("no predictions: no shipped predictor's metrics are all in this metrics file (pass --predictor to use your own)\n");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('5 experts, 10 pairs; tv_l2 = Task-vector L2 distance');
    const rows = tableRows(r.stdout);
    expect(rows).toHaveLength(metrics.pairs.length);
    metrics.pairs.forEach(([i, j], k) => expect(rows[k]).toEqual([metrics.experts[i], metrics.experts[j], formatValue(metrics.metrics.tv_l2[i][j])]));
  });

  it('adds each method’s prediction and interval from --predictions', () => {
    const r = runCli(['dashboard', metricsPath, '--predictions', path.join(ROOT, FIXTURE_PREDICTIONS)]);
    expect(r.status).toBe(0);
    const rows = tableRows(r.stdout);
    metrics.pairs.forEach(([i, j], k) => {
      const a = metrics.experts[i];
      const b = metrics.experts[j];
      const expected = ['weight_avg', 'task_arithmetic', 'ties'].map((m) => {
        const p = predictions.find((q) => q.method === m && q.a === a && q.b === b)!;
        return formatInterval(p.predicted, p.lo, p.hi);
      });
      expect(rows[k]).toEqual([a, b, formatValue(metrics.metrics.tv_cosine[i][j]), ...expected]);
    });
  });

  it('applies a --predictor to the metrics (calibrated model, ±1.96σ)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ml-dash-cli-'));
    const method = (name: string, intercept: number, coef: number[], sigma: number) => ({
      method: name,
      features: ['tv_cosine', 'sign_agreement'],
      paper: { lambda: 1, min: [-1, 0], max: [1, 1], coef: [0.5, 0.5] },
      calibrated: { intercept, mean: [0.2, 0.5], std: [0.3, 0.1], coef, lambda: 0.01, l1Ratio: 0.5, residualStd: sigma },
      validation: [],
      trainRows: 40,
    });
    const predictor: PredictorFile = {
      format: 'mergelens.predictor',
      version: 1,
      createdAt: '2026-01-01T00:00:00Z',
      fittedOn: 'test',
      outcome: 'avg accuracy',
      methods: { ties: method('ties', 0.7, [0.05, -0.02], 0.04), weight_avg: method('weight_avg', 0.6, [0.1, 0.03], 0.02) },
      fingerprints: { top5Overlap: {}, signAgreement: {}, meanTop5Overlap: 0, meanSignAgreement: 0 },
    };
    const file = path.join(dir, 'predictor.json');
    writeFileSync(file, JSON.stringify(predictor));
    const r = runCli(['dashboard', metricsPath, '--predictor', file]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('per method: avg accuracy [lo, hi]');
    const rows = tableRows(r.stdout);
    metrics.pairs.forEach(([i, j], k) => {
      const x = [metrics.metrics.tv_cosine[i][j] as number, metrics.metrics.sign_agreement[i][j] as number];
      // Hand-computed: intercept + Σ coef·(x − mean)/std, interval ± 1.96·σ; methods in the predictor's order.
      const expected = Object.values(predictor.methods).map((m) => {
        const c = m.calibrated;
        const y = c.intercept + c.coef[0] * ((x[0] - c.mean[0]) / c.std[0]) + c.coef[1] * ((x[1] - c.mean[1]) / c.std[1]);
        return formatInterval(y, y - 1.96 * c.residualStd, y + 1.96 * c.residualStd);
      });
      expect(rows[k].slice(3)).toEqual(expected);
    });
  });

  it('bad input: missing file, unknown metric, unknown method, wrong file kind', () => {
    const missing = runCli(['dashboard', '/nonexistent/metrics.json']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('/nonexistent/metrics.json');
    const badMetric = runCli(['dashboard', metricsPath, '--metric', 'nope']);
    expect(badMetric.status).toBe(1);
    expect(badMetric.stderr).toMatch(/metric "nope" is not in the metrics file.*available: tv_cosine/);
    const badMethod = runCli(['dashboard', metricsPath, '--method', 'ties']);
    expect(badMethod.status).toBe(1);
    expect(badMethod.stderr).toMatch(/no predictions for method "ties"/);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ml-dash-cli-'));
    const pairsFile = path.join(dir, 'pairs.json');
    writeFileSync(pairsFile, JSON.stringify([{ a: 'x', b: 'y', values: { tv_cosine: 1 } }]));
    const pairs = runCli(['dashboard', pairsFile]);
    expect(pairs.status).toBe(1);
    expect(pairs.stderr).toContain(`${pairsFile}: not a mergelens metrics report`);
  });
});

describe('runDashboard (library hook)', () => {
  it('writes the plain table to a stream that is not a terminal', async () => {
    let out = '';
    const stdout = { isTTY: false, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
    await runDashboard({ metrics, predictions, metric: 'sv_overlap', stdout });
    expect(out).toBe(plainTable(prepareData({ metrics, predictions }), 'sv_overlap'));
    expect(out).toContain(formatValue(metrics.metrics.sv_overlap[0][4]));
  });
});
