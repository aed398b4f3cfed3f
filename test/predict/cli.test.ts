import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, runCli } from '../helpers/cli.js';
import { syntheticStudy } from './synthetic.js';
import type { PredictorFile } from '../../src/types.js';
import { choosePredictor } from '../../src/predict/choose.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ml-predict-cli-'));
const study = syntheticStudy(2);
const ids = study.metricIds;
const csvPath = path.join(dir, 'study.csv');
writeFileSync(
  csvPath,
  [`a,b,method,outcome,${ids.join(',')},extra_note`, ...study.rows.map((r) => [r.a, r.b, r.method, r.outcome, ...ids.map((id) => (Number.isFinite(r.metrics[id]) ? r.metrics[id] : '')), 1].join(','))].join('\n') + '\n',
);

const out = path.join(dir, 'predictor.json');
const weights = path.join(dir, 'weights-only.json');

describe('mergelens fit / predict / screen', () => {

  it('fit writes a predictor and prints the validation table', () => {
    const r = runCli(['fit', csvPath, '-o', out, '--bootstrap', '20', '--seed', '1']);
    expect(r.stderr).toContain('warning: ties: dropped 1 constant feature(s): constant_metric');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Validation (leave-one-task-out, out of fold):');
    expect(r.stdout).toContain('Validation (k-fold over pairs, out of fold):');
    expect(r.stdout).toMatch(/ties: tv_cosine \(\+[\d.]+\), enc_grad_l2 \(-[\d.]+\)/);
    const pf = JSON.parse(readFileSync(out, 'utf8')) as PredictorFile;
    expect(pf.format).toBe('mergelens.predictor');
    expect(pf.methods.ties.bootstrap!.samples).toBe(20);
    // refuses to overwrite without --force
    const again = runCli(['fit', csvPath, '-o', out]);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toContain('OUTPUT_EXISTS');
    expect(runCli(['fit', csvPath, '-o', weights, '--exclude', 'gradient,activation', '--bootstrap', '0', '--folds', 'loto']).status).toBe(0);
  });

  it('fit reports bad CSV input with file, line and column and exits non-zero', () => {
    const bad = path.join(dir, 'bad.csv');
    writeFileSync(bad, 'a,b,method,outcome,tv_cosine\nx,y,ties,0.5,0.1\nx,z,ties,0.5,oops\n');
    const r = runCli(['fit', bad, '-o', path.join(dir, 'never.json')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('[BAD_INPUT]');
    expect(r.stderr).toContain('bad.csv: line 3, column 5 ("tv_cosine"): not a number: "oops"');
    expect(existsSync(path.join(dir, 'never.json'))).toBe(false);
  });

  it('predict prints a ranked table, JSON and CSV; names missing metrics', () => {
    const metrics = path.join(dir, 'pairs.json');
    writeFileSync(
      metrics,
      JSON.stringify([
        { a: 'p', b: 'q', values: { tv_cosine: 1.5, enc_grad_l2: -1, act_l2: -1, sign_agreement: 0 } },
        { a: 'p', b: 'r', values: { tv_cosine: -1.5, enc_grad_l2: 1.5, act_l2: 1.5, sign_agreement: 0 } },
        { a: 'q', b: 'r', values: { tv_cosine: 0, enc_grad_l2: 0, act_l2: 0, sign_agreement: 0 } },
      ]),
    );
    const table = runCli(['predict', out, metrics]);
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(/No clear winner among these \d+ pairs|Best pair \(/);
    expect(table.stdout).toContain('Out-of-fold quality of this predictor');
    // p+q has high cosine and low gradient distance: predicted best (rank 1)
    expect(table.stdout).toMatch(/\n\s*1\s+p \+ q/);
    const json = JSON.parse(runCli(['predict', out, metrics, '--json']).stdout);
    expect(json.predictions).toHaveLength(6);
    expect(json.ranking.pairs[0].a + json.ranking.pairs[0].b).toBe('pq');
    const csv = runCli(['predict', out, metrics, '--csv']).stdout.trim().split('\n');
    expect(csv[0]).toBe('a,b,method,predicted,lo,hi,score,in_domain,leverage,distance,beyond_possible,drivers');
    expect(csv).toHaveLength(7);
    const [, , , pred, lo, hi] = csv[1].split(',');
    expect(Number(hi) - Number(pred)).toBeCloseTo(Number(pred) - Number(lo), 10);

    const noGrad = path.join(dir, 'nograd.json');
    writeFileSync(noGrad, JSON.stringify([{ a: 'p', b: 'q', values: { tv_cosine: 1, sign_agreement: 0 } }]));
    const miss = runCli(['predict', out, noGrad]);
    expect(miss.status).toBe(1);
    expect(miss.stderr).toContain('[MISSING_METRICS]');
    expect(miss.stderr).toContain('act_l2, enc_grad_l2');
    expect(miss.stderr).toContain('--exclude gradient,activation');
    // the weights-only predictor works on the same input
    expect(runCli(['predict', weights, noGrad]).status).toBe(0);
  });

  it('screen refuses a predictor that needs gradients before reading any checkpoint', () => {
    const r = runCli(['screen', '/nonexistent/base', '/nonexistent/e1', '/nonexistent/e2', '--predictor', out]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('[MISSING_METRICS]');
    expect(r.stderr).toContain('enc_grad_l2');
    expect(r.stderr).toContain('--grads');
  });

  it('choosePredictor picks the first shipped predictor whose metrics the inputs provide', async () => {
    const noWeights = await choosePredictor({ grads: false, acts: false, candidates: [out, weights] });
    expect(noWeights.path).toBe(weights);
    expect(noWeights.reason).toContain('predictor.json skipped: needs gradient and activation metrics (2: act_l2, enc_grad_l2); give --grads and --acts to use it');
    const full = await choosePredictor({ grads: true, acts: true, candidates: [out, weights] });
    expect(full.path).toBe(out);
    await expect(choosePredictor({ grads: false, acts: false, candidates: [out] })).rejects.toMatchObject({ code: 'MISSING_METRICS' });
    await expect(choosePredictor({ grads: false, acts: false, candidates: [path.join(dir, 'none.json')] })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

// End-to-end screen needs the metrics engine and a checkpoint fixture; run when both exist.
const engine = path.join(ROOT, 'src/metrics/engine.ts');
describe.skipIf(!existsSync(engine))('mergelens screen (end to end)', () => {
  it('computes metrics for in-memory-written experts and ranks pairs', async () => {
    const { writeSafetensors } = await import('../../src/safetensors/writer.js');
    const base = path.join(dir, 'base.safetensors');
    const names = ['e1', 'e2', 'e3'];
    const W = (seed: number) => Float32Array.from({ length: 64 }, (_, i) => Math.sin(i * 0.37 + seed) * 0.1);
    await writeSafetensors(base, [{ name: 'layer.0.weight', dtype: 'F32', shape: [8, 8], data: W(0) }]);
    const expertPaths = names.map((n) => path.join(dir, `${n}.safetensors`));
    for (let k = 0; k < names.length; k++) {
      const d = W(0).map((v, i) => v + 0.01 * Math.cos(i * (k + 1)));
      await writeSafetensors(expertPaths[k], [{ name: 'layer.0.weight', dtype: 'F32', shape: [8, 8], data: d }]);
    }
    // a weights-only predictor fitted on the synthetic study's weight metrics
    const r = runCli(['screen', base, ...expertPaths, '--predictor', weights, '--json']);
    expect(r.stderr).not.toContain('unexpected error');
    expect(r.status).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.ranking.pairs).toHaveLength(3);
    expect(res.predictor.path).toBe(weights);
  });
});
