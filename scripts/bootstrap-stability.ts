/**
 * How many bootstrap resamples give stable coefficient intervals? On the paper's v2 data, for the
 * paper and calibrated models of two methods, the spread (sd over 5 seeds) of each 95 % interval end
 * as a fraction of the interval width, at 100–800 resamples. docs/predictors.md reports the output.
 *   node --import tsx scripts/bootstrap-stability.ts
 */
import { loadStudy } from '../src/predict/load.js';
import { designFromRows, subsetRows, subsetVec, applyMinMax, fitMinMax } from '../src/predict/design.js';
import { fitPaperWithSetting, paperFitAtRho, paperLambdaMax } from '../src/predict/paper-lambda.js';
import { fitElasticNet } from '../src/predict/elastic-net.js';
import { bootstrapIntervals } from '../src/predict/fingerprint.js';
const d = await loadStudy(new URL('../../shared/validation/demystifying-vit-b16/', import.meta.url).pathname, { methods: ['weight_avg','arithmetic','tsv','ties=ties_v2'] });
const feats = d.metricIds.filter(m => m !== 'right_subspace_overlap');
for (const method of ['tsv', 'arithmetic']) {
  const rows = d.rows.filter(r => r.method === method && feats.every(f => Number.isFinite(r.metrics[f])));
  const X = designFromRows(rows.map(r => feats.map(f => r.metrics[f])), feats.length);
  const y = Float64Array.from(rows, r => r.outcome);
  const sel = fitPaperWithSetting(X, y, rows.map(r => ({a:r.a,b:r.b}))).selection;
  const cal = fitElasticNet(X, y, {});
  const fits = {
    paper: (idx: number[]) => { const Xb = subsetRows(X, idx), yb = subsetVec(y, idx); const Zb = applyMinMax(Xb, fitMinMax(Xb)); return paperFitAtRho(Zb, yb, paperLambdaMax(Zb, yb), sel.value); },
    calibrated: (idx: number[]) => fitElasticNet(subsetRows(X, idx), subsetVec(y, idx), { lambda: cal.lambda }).coef,
  };
  for (const [name, fit] of Object.entries(fits)) {
    for (const B of [100, 200, 400, 800]) {
      const seeds = [0, 1, 2, 3, 4].map(seed => bootstrapIntervals(rows.length, fit, { samples: B, seed, stream: 'x' }));
      const rel: number[] = [];
      for (let j = 0; j < feats.length; j++) {
        const width = seeds.reduce((s, b) => s + (b.hi[j] - b.lo[j]), 0) / seeds.length;
        if (!(width > 1e-9)) continue;
        for (const end of ['lo', 'hi'] as const) {
          const v = seeds.map(b => b[end][j]); const m = v.reduce((s, x) => s + x, 0) / v.length;
          rel.push(Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1)) / width);
        }
      }
      rel.sort((a, b) => a - b);
      console.log(method, name, 'B', B, 'endpoint sd / width: median', rel[Math.floor(rel.length / 2)].toFixed(3), 'p90', rel[Math.floor(rel.length * 0.9)].toFixed(3));
    }
  }
}
