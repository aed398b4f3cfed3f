/**
 * Extrapolation guard (src/predict/domain-guard.ts): leverage against an independent float64
 * computation (ml-matrix), the leave-one-out threshold against explicit refits, intervals that
 * widen monotonically with leverage, outcome bounds, backward compatibility with predictor files
 * written before the guard, and the two acceptance checks on real data: the shipped predictor
 * flags every pair of fixtures/tiny, and held-out MNIST tasks (LOTO) are flagged rarely — and
 * where they are, the predictions really are worse.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Matrix, inverse } from 'ml-matrix';
import type { MethodPredictor, PredictorFile, StudyDataset } from '../../src/types.js';
import { assessPair, attachDomains, fitDomain, methodDomain, outcomeBounds, RIDGE, widening } from '../../src/predict/domain-guard.js';
import { predictMethod, predictPairs, Z95 } from '../../src/predict/predict.js';
import { buildVerdict } from '../../src/predict/verdict.js';
import { DEFAULT_PREDICTORS, loadPredictorWithDomain, SHIPPED_STUDY } from '../../src/predict/choose.js';
import { loadPredictor, loadStudy } from '../../src/predict/load.js';
import { fitPredictors } from '../../src/predict/fit.js';
import { quantile } from '../../src/predict/stats.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Seeded uniform numbers (xorshift), so designs are reproducible. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** A small design with two nearly collinear columns (as the metric families are). */
function design(n: number, seed = 7): number[][] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const a = r() * 2 - 1;
    const b = r() * 3;
    return [a, 2 * a + 0.01 * (r() - 0.5), b, a * b + r() * 0.2];
  });
}

/** Population mean/std per column, computed here independently of src/predict/design.ts. */
function scaler(X: number[][]): { mean: number[]; std: number[] } {
  const p = X[0].length;
  const mean = Array.from({ length: p }, (_, j) => X.reduce((s, x) => s + x[j], 0) / X.length);
  const std = Array.from({ length: p }, (_, j) => Math.sqrt(X.reduce((s, x) => s + (x[j] - mean[j]) ** 2, 0) / X.length));
  return { mean, std };
}

const zOf = (x: number[], sc: { mean: number[]; std: number[] }) => x.map((v, j) => (v - sc.mean[j]) / sc.std[j]);

function method(X: number[][], y: number[], extra: Partial<MethodPredictor> = {}, outcome = 'a score without known bounds'): MethodPredictor {
  const sc = scaler(X);
  const p = X[0].length;
  const m: MethodPredictor = {
    method: 'm',
    features: Array.from({ length: p }, (_, j) => `f${j}`),
    paper: { lambda: 1, min: Array(p).fill(0), max: Array(p).fill(1), coef: Array(p).fill(0) },
    calibrated: { intercept: 0.8, mean: sc.mean, std: sc.std, coef: [0.02, 0, -0.01, 0.005].slice(0, p), lambda: 0.01, l1Ratio: 0.5, residualStd: 0.03 },
    validation: [],
    trainRows: X.length,
    ...extra,
  };
  m.domain = fitDomain(X, y, m.calibrated, outcome);
  return m;
}

describe('leverage and threshold (float64, against ml-matrix)', () => {
  const X = design(30);
  const y = X.map((x) => 0.8 + 0.01 * x[0]);
  const m = method(X, y);
  const sc = scaler(X);
  const Z = new Matrix(X.map((x) => zOf(x, sc)));
  const n = X.length;
  const A = Z.transpose().mmul(Z).add(Matrix.eye(4, 4).mul(RIDGE * n));
  const Ainv = inverse(A);

  it('stores (ZᵀZ + δI)⁻¹ of the standardised design', () => {
    expect(m.domain!.ridge).toBe(RIDGE * n);
    for (let i = 0; i < 4; i++) for (let k = 0; k < 4; k++) expect(m.domain!.inverseGram[i][k]).toBeCloseTo(Ainv.get(i, k), 8);
  });

  it('leverage of a new point is 1/n + zᵀ(ZᵀZ + δI)⁻¹z', () => {
    for (const x of [[0.1, 0.2, 1, 0.1], [3, 6, 5, 15], [-0.5, -1.02, 0.2, -0.1]]) {
      const z = new Matrix([zOf(x, sc)]);
      const h = 1 / n + z.mmul(Ainv).mmul(z.transpose()).get(0, 0);
      const d = assessPair(m, x, 0.8)!;
      expect(d.leverage).toBeCloseTo(h, 9);
      expect(d.distance).toBeCloseTo(h / m.domain!.threshold, 9);
    }
  });

  it('threshold = 99th percentile of leave-one-out leverage, each from an explicit refit without the row', () => {
    const loo = X.map((_, i) => {
      const rest = Z.clone().removeRow(i);
      const Ai = inverse(rest.transpose().mmul(rest).add(Matrix.eye(4, 4).mul(RIDGE * n)));
      const z = Z.getRowVector(i);
      return 1 / (n - 1) + z.mmul(Ai).mmul(z.transpose()).get(0, 0);
    });
    expect(m.domain!.threshold).toBeCloseTo(quantile(loo, 0.99), 8);
    expect(m.domain!.meanLeverage).toBeCloseTo(loo.reduce((s, v) => s + v, 0) / n, 8);
    // every training row is in the multivariate domain up to the 1% the quantile leaves out
    const flagged = X.filter((x) => assessPair(m, x, 0.8)!.distance > 1).length;
    expect(flagged).toBeLessThanOrEqual(1);
  });

  it('per-feature range: beyond the training range by more than half of it is out of range, and named', () => {
    const inside = X[0].slice();
    expect(assessPair(m, inside, 0.8)!.outOfRange).toEqual([]);
    const lo = Math.min(...X.map((x) => x[2]));
    const hi = Math.max(...X.map((x) => x[2]));
    const justIn = inside.slice();
    justIn[2] = hi + 0.49 * (hi - lo);
    expect(assessPair(m, justIn, 0.8)!.outOfRange).toEqual([]);
    const out = inside.slice();
    out[2] = hi + 0.51 * (hi - lo);
    const d = assessPair(m, out, 0.8)!;
    expect(d.outOfRange).toHaveLength(1);
    expect(d.outOfRange[0].metric).toBe('f2');
    expect(d.outOfRange[0].min).toBeCloseTo(lo, 12);
    expect(d.outOfRange[0].max).toBeCloseTo(hi, 12);
    expect(d.inDomain).toBe(false);
  });
});

describe('intervals widen with the distance from the training rows', () => {
  const X = design(40, 3);
  const m = method(X, X.map(() => 0.9));
  const sc = scaler(X);

  it('half-width = 1.96·σ·sqrt((1 + h)/(1 + h̄)), monotone in leverage', () => {
    const dir = [0.3, 0.1, -0.4, 0.6];
    let prevH = -Infinity;
    let prevW = -Infinity;
    for (let t = 0; t <= 8; t += 0.5) {
      const values = Object.fromEntries(dir.map((d, j) => [`f${j}`, sc.mean[j] + t * d * sc.std[j]]));
      const p = predictMethod(m, { a: 'a', b: 'b', values });
      const h = p.domain!.leverage;
      const w = p.hi - p.lo;
      expect(w / 2).toBeCloseTo(Z95 * 0.03 * Math.sqrt((1 + h) / (1 + m.domain!.meanLeverage)), 12);
      expect(h).toBeGreaterThan(prevH);
      expect(w).toBeGreaterThan(prevW);
      prevH = h;
      prevW = w;
    }
    expect(widening(m.domain!, m.domain!.meanLeverage)).toBe(1);
  });

  it('σ is the larger of the cross-validated RMSE and the leave-one-task-out RMSE', () => {
    const loto = { scheme: 'loto' as const, folds: 5, meanFoldR: 0.5, pooledR: 0.5, spearman: 0.5, calibrated: { pooledR: 0.4, spearman: 0.4, mae: 0.05, rmse: 0.06 }, baseline: { mae: 0.06, rmse: 0.07 } };
    const m2 = { ...m, validation: [loto] };
    const values = Object.fromEntries(sc.mean.map((v, j) => [`f${j}`, v]));
    const p = predictMethod(m2, { a: 'a', b: 'b', values });
    expect((p.hi - p.lo) / 2).toBeCloseTo(Z95 * 0.06 * widening(m.domain!, p.domain!.leverage), 12);
  });
});

describe('outcome bounds', () => {
  it('reads the possible range from the outcome description', () => {
    expect(outcomeBounds('normalized accuracy: merged ÷ expert').bounds).toEqual([0, null]);
    expect(outcomeBounds('test accuracy (acc,none)').bounds).toEqual([0, 1]);
    expect(outcomeBounds('BLEU').bounds).toEqual([null, null]);
  });
  it('flags predictions beyond the training outcomes and beyond what is possible', () => {
    const X = design(20, 5);
    const m = method(X, X.map((_, i) => 0.5 + i / 100), { calibrated: { ...method(X, X.map(() => 0)).calibrated, intercept: -0.2, coef: [0, 0, 0, 0] } }, 'normalized accuracy');
    const values = Object.fromEntries(X[0].map((v, j) => [`f${j}`, v]));
    const p = predictMethod(m, { a: 'a', b: 'b', values });
    expect(p.predicted).toBe(-0.2);
    expect(p.domain!.beyondTrainingOutcomes).toBe(true);
    expect(p.domain!.beyondPossible).toBe(true);
    // the interval is cut at the possible range (never above the point, which it still contains)
    expect(p.domain!.intervalClipped).toBe(true);
    expect(p.lo).toBe(-0.2);
    expect(p.hi).toBeGreaterThan(-0.2);
    const ok = predictMethod({ ...m, calibrated: { ...m.calibrated, intercept: 0.05 } }, { a: 'a', b: 'b', values });
    expect(ok.lo).toBe(0);
    expect(ok.hi).toBeCloseTo(0.05 + Z95 * 0.03 * widening(m.domain!, ok.domain!.leverage), 12);
    expect(ok.domain!.beyondPossible).toBe(false);
    const v = buildVerdict([p]);
    expect(v.beyondPossible).toBe(1);
    expect(v.notes.join(' ')).toMatch(/beyond the outcome's possible range/);
  });
});

const studyPresent = existsSync(SHIPPED_STUDY) && DEFAULT_PREDICTORS.every((p) => existsSync(p));

describe.skipIf(!studyPresent)('shipped predictors (fixtures/predictor) and the built-in study (reports/study.json)', () => {
  it('get their domain from the file or, when older than the guard, from the study — the same either way', async () => {
    const study = await loadStudy(SHIPPED_STUDY);
    for (const file of DEFAULT_PREDICTORS) {
      const pf = await loadPredictorWithDomain(file);
      for (const m of Object.values(pf.methods)) {
        expect(m.domain, `${path.basename(file)} ${m.method}`).toBeDefined();
        const fresh = methodDomain(m, study.rows, pf.outcome);
        expect(m.domain!.n).toBe(m.trainRows);
        expect(m.domain!.threshold).toBeCloseTo(fresh.threshold, 9);
        expect(m.domain!.zMin).toEqual(fresh.zMin.map((v) => expect.closeTo(v, 9)));
      }
      // an old file (no domain) gets the same blocks from the study
      const old = await loadPredictor(file);
      for (const m of Object.values(old.methods)) delete m.domain;
      expect(attachDomains(old, study).sort()).toEqual(Object.keys(old.methods).sort());
      for (const m of Object.values(old.methods)) expect(m.domain!.threshold).toBeCloseTo(pf.methods[m.method].domain!.threshold, 9);
    }
  });

  it('refuses to attach a domain from data the predictor was not fitted on; predictions then say "domain unknown"', async () => {
    const study = await loadStudy(SHIPPED_STUDY);
    const old = await loadPredictor(DEFAULT_PREDICTORS[1]);
    for (const m of Object.values(old.methods)) delete m.domain;
    const shifted: StudyDataset = { ...study, rows: study.rows.map((r) => ({ ...r, metrics: { ...r.metrics, tv_cosine: r.metrics.tv_cosine + 0.01 } })) };
    expect(attachDomains(old, shifted)).toEqual([]);
    const pairs = [...new Map(study.rows.map((r) => [`${r.a}|${r.b}`, { a: r.a, b: r.b, values: r.metrics }])).values()].slice(0, 3);
    const preds = predictPairs(old, pairs);
    expect(preds.every((p) => p.domain === undefined)).toBe(true);
    expect(buildVerdict(preds, old).outOfDomain).toBeNull();
    expect(buildVerdict(preds, old).notes[0]).toMatch(/^Domain unknown/);
  });

  it('fixtures/tiny (a transformer, not the MNIST MLP): every pair × method is out of domain', async () => {
    const { openCheckpoints } = await import('../../src/checkpoint/open.js');
    const { computeMetrics } = await import('../../src/metrics/engine.js');
    const tiny = path.join(ROOT, 'fixtures/tiny');
    const ckpts = await openCheckpoints(['base', 'expert-a.safetensors', 'expert-b.safetensors', 'expert-c.safetensors', 'lora-expert'].map((f) => path.join(tiny, f)));
    let report;
    try {
      report = await computeMetrics(ckpts[0], ckpts.slice(1));
    } finally {
      await Promise.all(ckpts.map((c) => c.close()));
    }
    const pf = await loadPredictorWithDomain(DEFAULT_PREDICTORS[1]); // weights-only: what screen picks without --grads
    const preds = predictPairs(pf, report);
    expect(preds).toHaveLength(6 * Object.keys(pf.methods).length);
    for (const p of preds) {
      expect(p.domain!.inDomain, `${p.a}+${p.b} ${p.method}`).toBe(false);
      // far out, not marginal: many times the threshold, and several metrics beyond their range
      expect(p.domain!.distance).toBeGreaterThan(5);
      expect(p.domain!.outOfRange.length).toBeGreaterThan(0);
    }
    const v = buildVerdict(preds, pf);
    expect(v.outOfDomain).toEqual({ pairs: 6, total: 6 });
    expect(v.notes.join('\n')).toMatch(/OUT OF DOMAIN: all 6 pair\(s\)/);
  }, 120_000);

  /**
   * Leave one task out: refit on the other 9 experts' 36 pairs, apply to the held-out task's 9
   * pairs. The pass mark is 25% of pairs: the MNIST zoo holds one expert ("invert", inverted
   * images) unlike the other nine, so its 9 pairs (10% of 90) are out of domain whenever it is
   * held out — correctly, as the errors show; the rest of the rate must stay small. Measured
   * (this file, 2026-12-01): weights-only 17/90, default 13/90 pairs flagged.
   */
  it.each([
    ['weights-only', ['gradient', 'activation']],
    ['default', []],
  ])('held-out MNIST tasks (%s predictor): few pairs flagged, and flagged ones predicted worse', async (name, exclude) => {
    const study = await loadStudy(SHIPPED_STUDY);
    let flaggedPairs = 0;
    let pairsTotal = 0;
    const errIn: number[] = [];
    const errOut: number[] = [];
    const perTask: Record<string, number> = {};
    // 95% interval coverage of the held-out outcomes: [covered, total] in / out of domain, widened
    // (as predicted) and with the fixed ±1.96·σ every pair used to get.
    const cover = { in: [0, 0], out: [0, 0], outFixed: [0, 0] };
    for (const task of study.experts) {
      const train: StudyDataset = { ...study, rows: study.rows.filter((r) => r.a !== task && r.b !== task) };
      const held = study.rows.filter((r) => r.a === task || r.b === task);
      const pf: PredictorFile = fitPredictors(train, { exclude, bootstrap: 0, folds: [], seed: 1 });
      const pairs = [...new Map(held.map((r) => [`${r.a}|${r.b}`, { a: r.a, b: r.b, values: r.metrics }])).values()];
      const preds = predictPairs(pf, pairs);
      const v = buildVerdict(preds, pf);
      flaggedPairs += v.outOfDomain!.pairs;
      pairsTotal += v.outOfDomain!.total;
      perTask[task] = v.outOfDomain!.pairs;
      for (const p of preds) {
        const y = held.find((r) => r.a === p.a && r.b === p.b && r.method === p.method)!.outcome;
        (p.domain!.inDomain ? errIn : errOut).push(Math.abs(p.predicted - y));
        const c = p.domain!.inDomain ? cover.in : cover.out;
        c[1]++;
        if (y >= p.lo && y <= p.hi) c[0]++;
        if (!p.domain!.inDomain) {
          cover.outFixed[1]++;
          if (Math.abs(y - p.predicted) <= Z95 * pf.methods[p.method].calibrated.residualStd) cover.outFixed[0]++;
        }
      }
    }
    const rate = flaggedPairs / pairsTotal;
    const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
    console.log(`LOTO ${name}: ${flaggedPairs}/${pairsTotal} held-out pairs out of domain (${(100 * rate).toFixed(1)}%); per task ${JSON.stringify(perTask)}; mean |error| in domain ${mean(errIn).toFixed(4)} (n=${errIn.length}), out ${mean(errOut).toFixed(4)} (n=${errOut.length})`);
    expect(pairsTotal).toBe(90);
    expect(rate).toBeLessThanOrEqual(0.25);
    expect(perTask.invert).toBe(9);
    // the guard flags where the predictor fails: out-of-domain errors are far larger
    expect(mean(errOut)).toBeGreaterThan(1.5 * mean(errIn));
    // and the widened intervals keep their promise there, where the fixed ones would not
    const rateOf = (c: number[]) => c[0] / c[1];
    console.log(`  coverage: in ${cover.in.join('/')}, out widened ${cover.out.join('/')}, out fixed ±1.96σ ${cover.outFixed.join('/')}`);
    expect(rateOf(cover.in)).toBeGreaterThan(0.85);
    expect(rateOf(cover.out)).toBeGreaterThan(0.8);
    expect(rateOf(cover.outFixed)).toBeLessThan(0.6);
  }, 300_000);
});

describe('a malformed domain block is bad input, named', () => {
  it('loadPredictorWithDomain refuses a domain whose shape does not match the features', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const os = await import('node:os');
    const X = design(12, 9);
    const m = method(X, X.map(() => 0.5));
    m.domain!.inverseGram = m.domain!.inverseGram.slice(1);
    const pf: PredictorFile = { format: 'mergelens.predictor', version: 1, createdAt: '', fittedOn: 't', outcome: 'o', methods: { m }, fingerprints: { top5Overlap: {}, signAgreement: {}, meanTop5Overlap: 0, meanSignAgreement: 0 } };
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'ml-dom-')), 'p.json');
    writeFileSync(file, JSON.stringify(pf));
    await expect(loadPredictorWithDomain(file)).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('methods.m: domain.inverseGram must be 4 × 4') });
  });
});

// Keep the committed file list honest: the study the shipped predictors cite exists in a checkout.
it('the shipped study file is where choose.ts looks for it', () => {
  expect(SHIPPED_STUDY).toBe(path.join(ROOT, 'reports/study.json'));
  if (existsSync(SHIPPED_STUDY)) expect(JSON.parse(readFileSync(SHIPPED_STUDY, 'utf8')).format).toBe('mergelens.study');
});
