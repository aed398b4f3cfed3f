/**
 * The paper's published LOTO results (`all_methods_loto_results.json` of
 * scripts/linear_optimization_loto_l1.py), read for side-by-side comparison with a mergelens fit:
 * v2 files hold {lambda_l1, methods: {m: …}}, v1 files {m: …}; per method
 * per_fold_stats.val_r_mean (the headline), aggregate_metrics.val_r (pooled), n_nonzero_mean and
 * average_coefficients (its fingerprint).
 */
import type { PredictorFile } from '../../types.js';
import { MergelensError } from '../../errors.js';
import { readJsonFile } from '../../checkpoint/json.js';
import { rankCoefficients } from '../fingerprint.js';

export interface PaperMethodResult {
  method: string;
  meanFoldR: number;
  pooledR: number;
  nonzeroMean: number;
  folds: number;
  pairs: number;
  top5: string[];
}

export async function readPaperResults(file: string): Promise<{ lambda?: number; methods: Record<string, PaperMethodResult> }> {
  const raw = (await readJsonFile(file, 'BAD_INPUT', 'paper results')) as Record<string, unknown>;
  const methodsObj = (raw && typeof raw === 'object' && 'methods' in raw ? raw.methods : raw) as Record<string, Record<string, unknown>>;
  const out: Record<string, PaperMethodResult> = {};
  for (const [method, r] of Object.entries(methodsObj ?? {})) {
    const pfs = r?.per_fold_stats as Record<string, number> | undefined;
    if (!pfs || typeof pfs.val_r_mean !== 'number') continue;
    const agg = (r.aggregate_metrics ?? {}) as Record<string, number>;
    const coefs = (r.average_coefficients ?? {}) as Record<string, number>;
    const folds = Array.isArray(r.fold_results) ? (r.fold_results as { n_train_pairs?: number; n_val_pairs?: number }[]) : [];
    const names = Object.keys(coefs);
    out[method] = {
      method,
      meanFoldR: pfs.val_r_mean,
      pooledR: agg.val_r ?? NaN,
      nonzeroMean: pfs.n_nonzero_mean ?? NaN,
      folds: folds.length,
      // each pair is validated in exactly two folds, and is in training or validation of every fold
      pairs: folds.length ? (folds[0].n_train_pairs ?? 0) + (folds[0].n_val_pairs ?? 0) : NaN,
      top5: rankCoefficients(names, names.map((n) => coefs[n])).slice(0, 5).map((c) => c.metric),
    };
  }
  if (Object.keys(out).length === 0) throw new MergelensError('BAD_INPUT', 'no method with per_fold_stats.val_r_mean (expected all_methods_loto_results.json of the paper)', { file });
  return { lambda: typeof raw.lambda_l1 === 'number' ? raw.lambda_l1 : undefined, methods: out };
}

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');

/** Markdown table: paper vs mergelens per method present in both (LOTO). */
export function formatPaperComparison(pf: PredictorFile, paper: { methods: Record<string, PaperMethodResult> }, names: Record<string, string> = {}): string {
  const rows: string[] = [
    '| method | pairs (paper / mergelens) | mean fold r: paper | mergelens | pooled r: paper | mergelens | coefficients kept: paper (mean over folds) | mergelens (full data) | top-5 metrics: paper (mean coefficient) | mergelens |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const [m, mp] of Object.entries(pf.methods).sort(([a], [b]) => a.localeCompare(b))) {
    const p = paper.methods[names[m] ?? m];
    if (!p) continue;
    const v = mp.validation.find((x) => x.scheme === 'loto');
    if (!v) continue;
    const nz = mp.paper.coef.filter((c) => c !== 0).length;
    const top = rankCoefficients(mp.features, mp.paper.coef).slice(0, 5).map((c) => c.metric);
    rows.push(
      `| ${m} | ${p.pairs} / ${mp.trainRows} | ${f3(p.meanFoldR)} | **${f3(v.meanFoldR)}** | ${f3(p.pooledR)} | ${f3(v.pooledR)} | ${p.nonzeroMean.toFixed(1)} | ${nz}/${mp.features.length} | ${p.top5.join(', ')} | ${top.join(', ')} |`,
    );
  }
  return rows.join('\n');
}
