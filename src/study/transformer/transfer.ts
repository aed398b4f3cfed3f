/**
 * Transfer between studies: a predictor fitted on one study (MNIST MLP experts, transformer full
 * fine-tunes, transformer LoRA adapters) applied unchanged to another study's rows, scored as the
 * target study's own leave-one-task-out (LOTO) validation scores its predictor — Pearson r of the
 * calibrated predictions and RMSE, against the mean baseline — plus what the source predictor's
 * out-of-domain guard (src/predict/domain-guard.ts) says about the target's pairs. Also the
 * LoRA-vs-full comparison of the transformer study. Pure (no I/O).
 */
import type { TransferRow } from '../../report/model.js';
import type { MethodPredictor, PredictorFile, StudyDataset, ValidationSummary } from '../../types.js';
import { predictMethod } from '../../predict/predict.js';
import { paperScore } from '../../predict/pearson-l1.js';
import { mean, pearson, rmse, std } from '../../predict/stats.js';

/** A predictor or a study, with the name it has in the tables. */
export interface Named<T> {
  name: string;
  value: T;
}

/** One method of a source predictor scored on a target study's rows of that method. */
export interface TransferCell {
  method: string;
  /** Target rows scored (rows lacking a feature the predictor needs are skipped). */
  rows: number;
  skipped: number;
  /** Pearson r of the calibrated prediction / of the paper score with the outcome (null: undefined). */
  r: number | null;
  paperR: number | null;
  /** RMSE of the calibrated prediction, and of the source's own training mean (its intercept) as a constant prediction. */
  rmse: number;
  baselineRmse: number;
  /** RMSE of the target's own mean outcome (an oracle constant: the floor of any constant guess). */
  targetStd: number;
  /** Fraction of target rows the source's domain guard calls in domain; median leverage ÷ threshold. */
  inDomain: number | null;
  medianDistance: number | null;
  /** Fraction with at least one metric outside the source's training range (beyond the margin). */
  outOfRange: number | null;
}

export interface TransferResult {
  from: string;
  to: string;
  cells: TransferCell[];
  /** Over every method's rows pooled: r of calibrated predictions, RMSE, source-mean RMSE, in-domain fraction. */
  pooled: { rows: number; r: number | null; rmse: number; baselineRmse: number; inDomain: number | null };
  /** Mean over methods of the per-method r (methods with a defined r). */
  meanMethodR: number | null;
  /** The target's own LOTO figures (its own predictor), pooled the same way, for comparison. */
  ownLoto: LotoFigures | null;
}

/** A study's own LOTO figures, averaged / pooled over methods. */
export interface LotoFigures {
  methods: number;
  /** Mean over methods of the paper model's mean per-fold r. */
  meanFoldR: number;
  /** Mean over methods of the paper model's pooled r, and of the calibrated model's pooled r. */
  pooledR: number;
  calibratedR: number;
  /** Root of the mean over methods of squared calibrated / baseline RMSE (= RMSE over all out-of-fold rows when methods have equal row counts). */
  rmse: number;
  baselineRmse: number;
  /** Methods whose calibrated model beats the mean with 95% confidence. */
  beatsMean: number;
}

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

const loto = (m: MethodPredictor): ValidationSummary | undefined => m.validation.find((v) => v.scheme === 'loto');

export function lotoFigures(p: PredictorFile): LotoFigures | null {
  const vs = Object.values(p.methods)
    .map((m) => ({ m, v: loto(m) }))
    .filter((x): x is { m: MethodPredictor; v: ValidationSummary } => !!x.v);
  if (vs.length === 0) return null;
  const rms = (xs: number[]) => Math.sqrt(mean(xs.map((x) => x * x)));
  return {
    methods: vs.length,
    meanFoldR: mean(vs.map((x) => x.v.meanFoldR)),
    pooledR: mean(vs.map((x) => x.v.pooledR)),
    calibratedR: mean(vs.map((x) => x.v.calibrated.pooledR)),
    rmse: rms(vs.map((x) => x.v.calibrated.rmse)),
    baselineRmse: rms(vs.map((x) => x.v.baseline.rmse)),
    beatsMean: vs.filter((x) => x.m.verdict?.beatsMean === true).length,
  };
}

const median = (xs: number[]): number => {
  const s = xs.slice().sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

/** Score one source predictor on a target study (methods present in both). */
export function transfer(source: Named<PredictorFile>, target: Named<StudyDataset>, targetOwn?: PredictorFile): TransferResult {
  const cells: TransferCell[] = [];
  const all = { pred: [] as number[], base: [] as number[], y: [] as number[], inDomain: [] as boolean[] };
  for (const method of target.value.methods) {
    const m = source.value.methods[method];
    if (!m) continue;
    const rows = target.value.rows.filter((r) => r.method === method);
    const pred: number[] = [];
    const score: number[] = [];
    const y: number[] = [];
    const dist: number[] = [];
    let inDom = 0;
    let oor = 0;
    let assessed = 0;
    let skipped = 0;
    for (const r of rows) {
      if (m.features.some((f) => typeof r.metrics[f] !== 'number' || !Number.isFinite(r.metrics[f]))) {
        skipped++;
        continue;
      }
      const p = predictMethod(m, { a: r.a, b: r.b, values: r.metrics });
      pred.push(p.predicted);
      score.push(paperScore(m.paper, m.features.map((f) => r.metrics[f])));
      y.push(r.outcome);
      if (p.domain) {
        assessed++;
        if (p.domain.inDomain) inDom++;
        all.inDomain.push(p.domain.inDomain);
        if (p.domain.outOfRange.length) oor++;
        dist.push(p.domain.distance);
      }
    }
    if (y.length === 0) {
      cells.push({ method, rows: 0, skipped, r: null, paperR: null, rmse: NaN, baselineRmse: NaN, targetStd: NaN, inDomain: null, medianDistance: null, outOfRange: null });
      continue;
    }
    // The calibrated model standardises its features, so its intercept is the source's training mean outcome.
    const base = y.map(() => m.calibrated.intercept);
    cells.push({
      method,
      rows: y.length,
      skipped,
      r: finiteOrNull(pearson(pred, y)),
      paperR: finiteOrNull(pearson(score, y)),
      rmse: rmse(pred, y),
      baselineRmse: rmse(base, y),
      targetStd: std(y),
      inDomain: assessed ? inDom / assessed : null,
      medianDistance: dist.length ? median(dist) : null,
      outOfRange: assessed ? oor / assessed : null,
    });
    all.pred.push(...pred);
    all.base.push(...base);
    all.y.push(...y);
  }
  const rs = cells.map((c) => c.r).filter((r): r is number => r !== null);
  return {
    from: source.name,
    to: target.name,
    cells,
    pooled: {
      rows: all.y.length,
      r: all.y.length > 2 ? finiteOrNull(pearson(all.pred, all.y)) : null,
      rmse: all.y.length ? rmse(all.pred, all.y) : NaN,
      baselineRmse: all.y.length ? rmse(all.base, all.y) : NaN,
      inDomain: all.inDomain.length ? all.inDomain.filter(Boolean).length / all.inDomain.length : null,
    },
    meanMethodR: rs.length ? mean(rs) : null,
    ownLoto: targetOwn ? lotoFigures(targetOwn) : null,
  };
}

const f3 = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(3));
const pct = (x: number | null | undefined): string => (x === null || x === undefined ? '—' : `${Math.round(x * 100)}%`);

/** Markdown table: one line per transfer, the target's own LOTO next to it. */
/** One result as the report's transfer table shows it. */
export function transferRow(t: TransferResult): TransferRow {
  return {
    from: t.from,
    to: t.to,
    rows: t.pooled.rows,
    meanMethodR: t.meanMethodR,
    r: t.pooled.r,
    rmse: t.pooled.rmse,
    baselineRmse: t.pooled.baselineRmse,
    ownR: t.ownLoto?.calibratedR ?? null,
    ownRmse: t.ownLoto?.rmse ?? null,
    ownBaselineRmse: t.ownLoto?.baselineRmse ?? null,
    inDomain: t.pooled.inDomain,
  };
}

export function transferTable(results: readonly TransferResult[]): string {
  const lines = [
    '| fitted on → validated on | rows | mean r per method | pooled r | RMSE | source-mean RMSE | target own LOTO: calibrated r | own LOTO RMSE | own mean-baseline RMSE | in domain |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const t of results) {
    lines.push(
      `| ${t.from} → ${t.to} | ${t.pooled.rows} | ${f3(t.meanMethodR)} | ${f3(t.pooled.r)} | ${f3(t.pooled.rmse)} | ${f3(t.pooled.baselineRmse)} | ` +
        `${f3(t.ownLoto?.calibratedR)} | ${f3(t.ownLoto?.rmse)} | ${f3(t.ownLoto?.baselineRmse)} | ${pct(t.pooled.inDomain)} |`,
    );
  }
  return lines.join('\n') + '\n';
}

/** Markdown: a study's own LOTO table per method (mean per-fold r, pooled r, calibrated vs mean-baseline RMSE). */
export function lotoTable(p: PredictorFile): string {
  const lines = ['| method | mean fold r (paper) | pooled r (paper) | calibrated pooled r | calibrated RMSE | mean-baseline RMSE | beats mean (95%) |', '| --- | ---: | ---: | ---: | ---: | ---: | --- |'];
  for (const m of Object.values(p.methods)) {
    const v = loto(m);
    if (!v) continue;
    lines.push(`| ${m.method} | ${f3(v.meanFoldR)} | ${f3(v.pooledR)} | ${f3(v.calibrated.pooledR)} | ${f3(v.calibrated.rmse)} | ${f3(v.baseline.rmse)} | ${m.verdict ? (m.verdict.beatsMean ? 'yes' : 'no') : '—'} |`);
  }
  return lines.join('\n') + '\n';
}

// ───────────────────────────── LoRA vs full ─────────────────────────────

export interface KindComparison {
  method: string;
  pairs: number;
  full: { mean: number; sd: number };
  lora: { mean: number; sd: number };
  /** Mean of (LoRA − full) over the same pairs, and its standard error. */
  diff: { mean: number; se: number };
  /** Fraction of pairs where the LoRA merge keeps more than the full merge. */
  loraBetter: number;
  /** Pearson r between the two kinds' outcomes over the same pairs (do the same pairs merge well?). */
  pairR: number | null;
  /** Each kind's top metrics: calibrated coefficients (standardised units) by |coef|. */
  topFull: { metric: string; coef: number }[];
  topLora: { metric: string; coef: number }[];
  lotoFull: number | null;
  lotoLora: number | null;
}

const topMetrics = (m: MethodPredictor | undefined, k: number) =>
  m
    ? m.features
        .map((metric, j) => ({ metric, coef: m.calibrated.coef[j] }))
        .filter((x) => x.coef !== 0)
        .sort((a, b) => Math.abs(b.coef) - Math.abs(a.coef))
        .slice(0, k)
    : [];

/** Per method, full vs LoRA merges of the same pairs of tasks. */
export function compareKinds(full: StudyDataset, lora: StudyDataset, pFull?: PredictorFile, pLora?: PredictorFile, top = 3): KindComparison[] {
  const out: KindComparison[] = [];
  const key = (a: string, b: string, m: string) => `${a}\u0000${b}\u0000${m}`;
  const loraRows = new Map(lora.rows.map((r) => [key(r.a, r.b, r.method), r]));
  for (const method of full.methods.filter((m) => lora.methods.includes(m))) {
    const f: number[] = [];
    const l: number[] = [];
    for (const r of full.rows) {
      if (r.method !== method) continue;
      const o = loraRows.get(key(r.a, r.b, method));
      if (!o) continue;
      f.push(r.outcome);
      l.push(o.outcome);
    }
    if (f.length === 0) continue;
    const d = l.map((x, i) => x - f[i]);
    const lotoR = (p?: PredictorFile) => {
      const v = p?.methods[method] ? loto(p.methods[method]) : undefined;
      return v ? v.calibrated.pooledR : null;
    };
    out.push({
      method,
      pairs: f.length,
      full: { mean: mean(f), sd: std(f, 1) },
      lora: { mean: mean(l), sd: std(l, 1) },
      diff: { mean: mean(d), se: d.length > 1 ? std(d, 1) / Math.sqrt(d.length) : NaN },
      loraBetter: d.filter((x) => x > 0).length / d.length,
      pairR: f.length > 2 ? finiteOrNull(pearson(f, l)) : null,
      topFull: topMetrics(pFull?.methods[method], top),
      topLora: topMetrics(pLora?.methods[method], top),
      lotoFull: lotoR(pFull),
      lotoLora: lotoR(pLora),
    });
  }
  return out;
}

export function kindTable(rows: readonly KindComparison[]): string {
  const tops = (t: { metric: string; coef: number }[]) => (t.length ? t.map((x) => `${x.metric} ${x.coef >= 0 ? '+' : '−'}${Math.abs(x.coef).toFixed(3)}`).join(', ') : '(none: mean only)');
  const lines = [
    '| method | pairs | full: mean ± sd | LoRA: mean ± sd | LoRA − full (± se) | LoRA better | r(full, LoRA) over pairs | LOTO calibrated r full / LoRA | top metrics, full | top metrics, LoRA |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  ];
  for (const c of rows) {
    lines.push(
      `| ${c.method} | ${c.pairs} | ${f3(c.full.mean)} ± ${f3(c.full.sd)} | ${f3(c.lora.mean)} ± ${f3(c.lora.sd)} | ${c.diff.mean >= 0 ? '+' : ''}${f3(c.diff.mean)} ± ${f3(c.diff.se)} | ${pct(c.loraBetter)} | ${f3(c.pairR)} | ` +
        `${f3(c.lotoFull)} / ${f3(c.lotoLora)} | ${tops(c.topFull)} | ${tops(c.topLora)} |`,
    );
  }
  return lines.join('\n') + '\n';
}
