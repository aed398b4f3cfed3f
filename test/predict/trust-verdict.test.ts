/**
 * The one verdict (src/predict/verdict.ts): tie grouping, best method only beyond the error,
 * pairs to avoid only where intervals separate, methods that do not beat the mean withheld — on
 * hand-built cases — and the same verdict object in screen, the report and the dashboard.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { MethodPredictor, MetricsReport, Prediction, PredictorFile, ValidationSummary } from '../../src/types.js';
import { buildVerdict, methodQuality, separated } from '../../src/predict/verdict.js';
import { formatVerdict } from '../../src/predict/format.js';
import { recommendFromPredictions } from '../../src/report/recommend.js';
import { renderReport } from '../../src/report/render.js';
import { escapeHtml } from '../../src/report/escape.js';
import { buildVerdictView, prepareData } from '../../src/dashboard/view-model.js';
import { runDashboard } from '../../src/dashboard/run.js';
import { DEFAULT_PREDICTORS, loadPredictorWithDomain, SHIPPED_STUDY } from '../../src/predict/choose.js';
import { runCli } from '../helpers/cli.js';
import { sampleInput } from '../report/sample.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const P = (a: string, b: string, method: string, predicted: number, half: number): Prediction => ({ a, b, method, predicted, lo: predicted - half, hi: predicted + half, score: 0, drivers: [] });

/** Hand-built predictions; intervals chosen so every overlap/separation below is unambiguous. */
const hand: Prediction[] = [
  P('A', 'B', 'tsv', 0.9, 0.05), // [0.85, 0.95]  top pair
  P('A', 'B', 'ties', 0.88, 0.05), // [0.83, 0.93]  overlaps tsv → no clear best for A+B
  P('A', 'C', 'tsv', 0.87, 0.02), // [0.85, 0.89]  overlaps the top → lead
  P('A', 'C', 'ties', 0.7, 0.02), // [0.68, 0.72]  below tsv → tsv is A+C's clear best
  P('A', 'D', 'tsv', 0.84, 0.03), // [0.81, 0.87]  overlaps the top → lead
  P('A', 'D', 'ties', 0.5, 0.03),
  P('B', 'C', 'tsv', 0.8, 0.02), // [0.78, 0.82]  below 0.85 → avoid
  P('B', 'C', 'ties', 0.79, 0.02),
  P('C', 'D', 'tsv', 0.6, 0.01), // [0.59, 0.61]  avoid, worst
  P('C', 'D', 'ties', 0.55, 0.01),
];

const loto = (calRmse: number, baseRmse: number, r: number): ValidationSummary => ({
  scheme: 'loto',
  folds: 4,
  meanFoldR: r,
  pooledR: r,
  spearman: r,
  calibrated: { pooledR: r, spearman: r, mae: calRmse, rmse: calRmse },
  baseline: { mae: baseRmse, rmse: baseRmse },
});

function predictor(methods: Record<string, Partial<MethodPredictor>>): PredictorFile {
  const full: Record<string, MethodPredictor> = {};
  for (const [name, m] of Object.entries(methods)) {
    full[name] = {
      method: name,
      features: ['tv_cosine'],
      paper: { lambda: 1, min: [0], max: [1], coef: [0] },
      calibrated: { intercept: 0.8, mean: [0.5], std: [0.2], coef: [0], lambda: 0.01, l1Ratio: 0.5, residualStd: 0.02 },
      validation: [],
      trainRows: 10,
      ...m,
    };
  }
  return { format: 'mergelens.predictor', version: 1, createdAt: '', fittedOn: 'hand', outcome: 'normalized accuracy', methods: full, fingerprints: { top5Overlap: {}, signAgreement: {}, meanTop5Overlap: 0, meanSignAgreement: 0 } };
}

const key = (p: { a: string; b: string }) => `${p.a}+${p.b}`;

describe('verdict rules (hand-built)', () => {
  const v = buildVerdict(hand);

  it('separation is non-overlap of the 95% intervals', () => {
    expect(separated({ lo: 0.85 }, { hi: 0.84 })).toBe(true);
    expect(separated({ lo: 0.85 }, { hi: 0.85 })).toBe(false);
  });

  it('pairs ranked by their best method; ties with the top pair grouped; avoid only where intervals separate', () => {
    expect(v.pairs.map(key)).toEqual(['A+B', 'A+C', 'A+D', 'B+C', 'C+D']);
    expect(v.pairs.map((p) => p.rank)).toEqual([1, 2, 3, 4, 5]);
    expect(v.lead.map(key)).toEqual(['A+B', 'A+C', 'A+D']);
    expect(v.avoid.map(key)).toEqual(['C+D', 'B+C']); // worst first
    expect(formatVerdict(v)).toContain('No clear winner among these 3 pairs');
    // lead ∪ avoid is every pair, disjoint
    expect(new Set([...v.lead, ...v.avoid].map(key)).size).toBe(v.pairs.length);
  });

  it('best method named only beyond the error; else the tied methods', () => {
    const by = Object.fromEntries(v.pairs.map((p) => [key(p), p]));
    expect(by['A+B'].bestMethod).toBeNull();
    expect(by['A+B'].tiedMethods).toEqual(['tsv', 'ties']);
    expect(by['A+C'].bestMethod).toBe('tsv');
    expect(by['A+C'].tiedMethods).toEqual(['tsv']);
    expect(by['B+C'].bestMethod).toBeNull(); // 0.80 vs 0.79 with ±0.02
  });

  it('a single pair with separated methods is a clear winner, and nothing is to avoid', () => {
    const one = buildVerdict(hand.filter((p) => key(p) === 'A+C'));
    expect(one.lead.map(key)).toEqual(['A+C']);
    expect(one.avoid).toEqual([]);
    expect(one.notes.some((n) => n.startsWith('No clear winner'))).toBe(false);
    expect(formatVerdict(one)).toContain('Best pair (its interval lies above every other pair\'s)');
  });

  it('methods that do not beat the mean out of fold are withheld from the choice, and say so', () => {
    // iso_c predicts the highest everywhere, but its calibrated model loses to the mean (LOTO).
    const preds = [...hand, ...['A+B', 'A+C', 'A+D', 'B+C', 'C+D'].map((k) => P(k[0], k[2], 'iso_c', 0.99, 0.01))];
    const pf = predictor({
      tsv: { validation: [loto(0.04, 0.05, 0.4)] },
      ties: { validation: [loto(0.06, 0.07, 0.3)] },
      iso_c: { validation: [loto(0.1, 0.09, 0.3)] },
    });
    const w = buildVerdict(preds, pf);
    expect(w.withheld).toEqual(['iso_c']);
    expect(w.quality.iso_c).toMatchObject({ scheme: 'loto', rmse: 0.1, baselineRmse: 0.09, beatsMean: false });
    expect(w.quality.tsv.beatsMean).toBe(true);
    // same ranking as without iso_c; iso_c is listed last for each pair
    expect(w.pairs.map(key)).toEqual(v.pairs.map(key));
    for (const p of w.pairs) {
      expect(p.best.method).not.toBe('iso_c');
      expect(p.methods[p.methods.length - 1].method).toBe('iso_c');
    }
    expect(w.notes.join(' ')).toContain('Withheld from the best-method choice (no better than predicting the mean out of fold): iso_c.');
    const text = formatVerdict(w);
    expect(text).toMatch(/iso_c\s+0\.300\s+0\.100\s+0\.090\s+NO: withheld/);
  });

  it("the fit's recorded 95% test wins over the point comparison of RMSEs", () => {
    const gain = { beatsMean: false, calibratedRmse: 0.04, baselineRmse: 0.05, gain: 0.01, relativeGain: 0.2, lo: -0.002, hi: 0.02, level: 0.95, resamples: 1000, scheme: 'loto' as const };
    const q = methodQuality(predictor({ tsv: { validation: [loto(0.04, 0.05, 0.4)], verdict: gain } }).methods.tsv);
    expect(q.beatsMean).toBe(false);
    expect(q.gain).toEqual({ value: 0.01, lo: -0.002, hi: 0.02 });
    expect(methodQuality(predictor({ tsv: {} }).methods.tsv).beatsMean).toBeNull();
  });

  it('a gain the fit could not estimate (too few folds: null) prints as n/a instead of crashing', () => {
    const gain = { beatsMean: false, calibratedRmse: 0.04, baselineRmse: 0.05, gain: null, relativeGain: null, lo: null, hi: null, level: 0.95, resamples: 0, scheme: 'loto' as const };
    const pf = predictor({ tsv: { validation: [loto(0.04, 0.05, 0.4)], verdict: gain as unknown as MethodPredictor['verdict'] } });
    const text = formatVerdict(buildVerdict(hand.filter((p) => p.method === 'tsv'), pf));
    expect(text).toMatch(/tsv\s+0\.400\s+0\.040\s+0\.050\s+NO: withheld\s+n\/a \[n\/a, n\/a\]/);
  });

  it('when no method beats the mean, all are ranked and the verdict says the ranking is not informative', () => {
    const pf = predictor({ tsv: { validation: [loto(0.1, 0.09, 0.1)] }, ties: { validation: [loto(0.1, 0.09, 0.1)] } });
    const w = buildVerdict(hand, pf);
    expect(w.pairs.map(key)).toEqual(v.pairs.map(key));
    expect(w.notes).toContain('No method beats predicting the mean out of fold: the ranking below is not informative.');
  });
});

describe('one verdict across screen, the report and the dashboard', () => {
  const experts = ['A', 'B', 'C', 'D'];
  const pairs: [number, number][] = [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]];
  const metrics = {
    format: 'mergelens.metrics',
    version: 1,
    createdAt: '',
    experts,
    pairs,
    metrics: { tv_cosine: experts.map((_, i) => experts.map((__, j) => (i === j ? null : 0.5))) },
    definitions: {},
    perLayer: { groups: [], numel: [], values: {} },
    perTensor: { groups: [], numel: [], values: {} },
    warnings: [],
  } as unknown as MetricsReport;
  const pf = predictor({ tsv: { validation: [loto(0.04, 0.05, 0.4)] }, ties: { validation: [loto(0.1, 0.09, 0.2)] } });

  it('report (recommend.ts) and dashboard (view-model.ts) hold the verdict buildVerdict builds', () => {
    const expected = buildVerdict(hand, pf);
    expect(recommendFromPredictions(hand, pf)!.verdict).toEqual(expected);
    const data = prepareData({ metrics, predictions: hand, predictor: pf });
    expect(data.verdict).toEqual(expected);
    const vm = buildVerdictView(data, { view: 'verdict', lens: 'method', metricIndex: 0, methodIndex: 0, row: 0, col: 1, listCursor: 0, filter: '', filterDraft: null, help: false, status: '' })!;
    expect(vm.lead.map((r) => r.pair)).toEqual(expected.lead.map((p) => `${p.a} × ${p.b}`));
    expect(vm.avoid.map((r) => r.pair)).toEqual(expected.avoid.map((p) => `${p.a} × ${p.b}`));
    expect(vm.notes).toEqual(expected.notes);
    // the report's lists come from the same object
    const recs = recommendFromPredictions(hand, pf)!;
    expect(recs.avoid.map(key)).toEqual(expected.avoid.map(key));
    expect(recs.best.map(key)).toEqual(expected.lead.map(key));
    // ties loses to the mean here (0.10 vs 0.09), so it is withheld: tsv is every pair's only usable method
    expect(recs.ranked.map((r) => r.bestText)).toEqual(['tsv', 'tsv', 'tsv', 'tsv', 'tsv']);
    expect(expected.withheld).toEqual(['ties']);
  });

  it('the HTML report prints the verdict notes and the out-of-fold quality in its summary', () => {
    const { metrics: m, predictor: sp, predictions } = sampleInput();
    const html = renderReport({ metrics: m, predictions, predictor: sp });
    const v = buildVerdict(predictions, sp);
    expect(v.notes.length).toBeGreaterThan(0);
    for (const n of v.notes) expect(html).toContain(escapeHtml(n));
    expect(html).toContain('id="oof-quality-table"');
    expect(html).toContain(v.lead.length > 1 ? `No clear winner among these ${v.lead.length} pairs` : 'Best pairs');
    for (const q of Object.values(v.quality)) expect(html).toContain(escapeHtml(q.method));
  });

  it('the dashboard without a terminal, opened on the verdict (screen --tui), prints what screen prints', async () => {
    let out = '';
    const stdout = { isTTY: false, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
    await runDashboard({ metrics, predictions: hand, predictor: pf, view: 'verdict', stdout });
    expect(out.startsWith(formatVerdict(buildVerdict(hand, pf), { outcome: 'normalized accuracy' }))).toBe(true);
  });
});

const tinyReady = existsSync(SHIPPED_STUDY) && DEFAULT_PREDICTORS.every((p) => existsSync(p));

describe.skipIf(!tinyReady)('screen on fixtures/tiny with the shipped predictor', () => {
  it('flags every pair out of domain in text and JSON; its verdict is buildVerdict of its predictions', async () => {
    const tiny = path.join(ROOT, 'fixtures/tiny');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ml-trust-'));
    const json = path.join(dir, 'screen.json');
    const metricsFile = path.join(dir, 'metrics.json');
    const r = runCli(['screen', path.join(tiny, 'base'), ...['expert-a.safetensors', 'expert-b.safetensors', 'expert-c.safetensors'].map((f) => path.join(tiny, f)), '-o', json, '--save-metrics', metricsFile]);
    expect(r.stderr).not.toContain('unexpected error');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('OUT OF DOMAIN: all 3 pair(s) lie outside the predictor\'s training data');
    expect(r.stdout).toContain('Out-of-fold quality of this predictor (calibrated model, leave-one-task-out: new experts)');
    expect(r.stdout).toMatch(/OOD ×\d+/);
    const res = JSON.parse(readFileSync(json, 'utf8'));
    const pf = await loadPredictorWithDomain(res.predictor.path);
    expect(res.verdict).toEqual(JSON.parse(JSON.stringify(buildVerdict(res.predictions, pf))));
    expect(res.verdict.outOfDomain).toEqual({ pairs: 3, total: 3 });
    for (const p of res.predictions as Prediction[]) expect(p.domain!.inDomain).toBe(false);

    // report and dashboard pick the same shipped predictor from the metrics alone, and show the same verdict
    const html = path.join(dir, 'report.html');
    const rep = runCli(['report', metricsFile, '-o', html]);
    expect(rep.status).toBe(0);
    expect(rep.stderr).toContain(`predictor: ${res.predictor.path} (shipped predictor`);
    const page = readFileSync(html, 'utf8');
    for (const n of res.verdict.notes as string[]) expect(page).toContain(escapeHtml(n));
    const dash = runCli(['dashboard', metricsFile]);
    expect(dash.status).toBe(0);
    expect(dash.stderr).toContain(`predictor: ${res.predictor.path} (shipped predictor`);
    // plain table: every prediction cell of these out-of-domain pairs is marked OOD
    const cells = dash.stdout.split('\n').filter((l) => /^expert-/.test(l));
    expect(cells).toHaveLength(3);
    for (const l of cells) expect(l.match(/ OOD/g)?.length).toBe(Object.keys(pf.methods).length);
    expect(runCli(['dashboard', metricsFile, '--no-predictor']).stdout).not.toContain('OOD');
  }, 400_000);
});
