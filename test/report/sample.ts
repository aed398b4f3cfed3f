/**
 * Synthetic, type-conforming inputs for the HTML report: a MetricsReport (default 5 experts,
 * all 31 metric ids, 12 layers × 6 tensors + embeddings/head), a StudyDataset, a PredictorFile
 * and Prediction[]. Deterministic (seeded).
 *
 * The task-vector and sign metrics are *computed* from seeded random task vectors (a shared
 * component plus a per-expert one), whole-model, per layer and per tensor, so the numbers
 * relate the way real ones do; the other families are smooth functions of them plus noise.
 * Study outcomes are a known linear function of the metrics plus noise, and the predictor
 * carries exactly those coefficients, so predicted-vs-actual correlates as it should.
 */
import type {
  MetricBreakdown,
  MetricDefinition,
  MetricFamily,
  MetricMatrix,
  MetricsReport,
  MethodPredictor,
  PairIndex,
  Prediction,
  PredictorFile,
  StudyDataset,
  StudyRow,
} from '../../src/types.js';
import { createRng, type Rng } from '../../src/study/rng.js';

type Def = [id: string, label: string, family: MetricFamily, unit: string, description: string];

const DEFS: Def[] = [
  ['tv_cosine', 'Task-vector cosine', 'task_vector', 'cosine ∈ [−1,1]', 'cos(Δa, Δb) = Δa·Δb / (‖Δa‖‖Δb‖), all included tensors flattened into one vector.'],
  ['tv_l2', 'Task-vector L2 distance', 'task_vector', 'L2 norm (weight units)', '‖Δa − Δb‖₂ over all included tensors.'],
  ['tv_dot', 'Task-vector dot product', 'task_vector', 'weight units²', 'Δa·Δb summed over all included tensors.'],
  ['tv_angle', 'Task-vector angle', 'task_vector', 'degrees', 'arccos(tv_cosine) in degrees.'],
  ['tv_magnitude_ratio', 'Magnitude ratio', 'task_vector', 'ratio ∈ [0,1]', 'min(‖Δa‖,‖Δb‖) / max(‖Δa‖,‖Δb‖).'],
  ['tv_cosine_layer_mean', 'Task-vector cosine (layer mean)', 'task_vector', 'cosine ∈ [−1,1]', 'Mean over layers of the per-layer task-vector cosine.'],
  ['sign_agreement', 'Sign agreement', 'sign', 'fraction ∈ [0,1]', 'Fraction of coordinates where both Δ are non-zero and have the same sign.'],
  ['sign_agreement_trimmed', 'Sign agreement (trimmed)', 'sign', 'fraction ∈ [0,1]', 'Sign agreement after keeping the top-k fraction of |Δ| of each expert (TIES density).'],
  ['sign_agreement_weighted', 'Sign agreement (weighted)', 'sign', 'fraction ∈ [0,1]', 'Σ min(|Δa|,|Δb|)·[same sign] / Σ min(|Δa|,|Δb|).'],
  ['sign_conflict', 'Sign conflict', 'sign', 'fraction ∈ [0,1]', 'Fraction of coordinates where both Δ are non-zero and have opposite signs.'],
  ['effective_rank', 'Effective rank', 'rank', '∈ [1,2]', 'exp(H(σ/Σσ)) of the singular values of the 2×D stack [Δa; Δb].'],
  ['stable_rank', 'Stable rank', 'rank', '∈ [1,2]', '(Σσ)²/Σσ² of the singular values of [Δa; Δb].'],
  ['spectral_gap', 'Spectral gap', 'rank', '∈ [0,1]', '(σ₁ − σ₂)/σ₁ of [Δa; Δb].'],
  ['singular_ratio', 'Singular-value ratio', 'rank', '∈ [0,1]', 'σ₂/σ₁ of [Δa; Δb].'],
  ['layerwise_effective_rank', 'Layer-wise effective rank', 'rank', '∈ [1,2]', 'Effective rank per layer, weighted by ‖Δa‖+‖Δb‖.'],
  ['sv_overlap', 'Singular-value overlap', 'subspace', 'cosine ∈ [0,1]', 'Cosine of the normalised top-k singular-value spectra, mean over 2-D tensors.'],
  ['left_subspace_overlap', 'Left subspace overlap', 'subspace', '∈ [0,1]', '‖U₁ₖᵀU₂ₖ‖_F / k, mean over 2-D tensors.'],
  ['right_subspace_overlap_top', 'Right subspace overlap (top k)', 'subspace', '∈ [0,1]', '‖V₁ₖV₂ₖᵀ‖_F / √k for the top-k right singular vectors.'],
  ['right_subspace_overlap_bottom', 'Right subspace overlap (bottom k)', 'subspace', '∈ [0,1]', '‖V₁ₖV₂ₖᵀ‖_F / √k for the bottom-k right singular vectors.'],
  ['interaction_overlap_top', 'Interaction overlap (top k)', 'subspace', '∈ [0,1]', 'Mean σ² of V₁ₖV₂ₖᵀ, top k.'],
  ['interaction_overlap_bottom', 'Interaction overlap (bottom k)', 'subspace', '∈ [0,1]', 'Mean σ² of V₁ₖV₂ₖᵀ, bottom k.'],
  ['enc_grad_l2', 'Encoder-gradient L2', 'gradient', 'L2 norm', '‖g_a − g_b‖₂ of the mean own-task loss gradients w.r.t. encoder parameters.'],
  ['enc_grad_cosine', 'Encoder-gradient cosine', 'gradient', 'cosine ∈ [−1,1]', 'cos(g_a, g_b) of encoder gradients.'],
  ['enc_grad_dot', 'Encoder-gradient dot', 'gradient', 'gradient units²', 'g_a·g_b of encoder gradients.'],
  ['input_grad_l2', 'Input-gradient L2', 'gradient', 'L2 norm', '‖g_a − g_b‖₂ of the mean input gradients.'],
  ['input_grad_cosine', 'Input-gradient cosine', 'gradient', 'cosine ∈ [−1,1]', 'cos of the mean input gradients.'],
  ['input_grad_dot', 'Input-gradient dot', 'gradient', 'gradient units²', 'Dot product of the mean input gradients.'],
  ['act_l2', 'Activation L2', 'activation', 'L2 norm', '‖μ_a − μ_b‖₂ of mean activations on calibration inputs.'],
  ['act_cosine', 'Activation cosine', 'activation', 'cosine ∈ [−1,1]', 'Cosine of the mean activations, mean over layers.'],
  ['act_dot', 'Activation dot', 'activation', 'activation units²', 'μ_a·μ_b of mean activations.'],
  ['act_magnitude_ratio', 'Activation magnitude ratio', 'activation', 'ratio ∈ [0,1]', 'min(‖μ_a‖,‖μ_b‖)/max(‖μ_a‖,‖μ_b‖).'],
];

export const SAMPLE_METRIC_IDS = DEFS.map((d) => d[0]);
export const SAMPLE_METHODS = ['weight_avg', 'task_arithmetic', 'ties', 'dare', 'tsv'];
/** Predictor features (a subset of the metrics, like a fitted predictor's). */
export const SAMPLE_FEATURES = ['tv_cosine', 'tv_l2', 'sign_agreement_trimmed', 'right_subspace_overlap_top', 'enc_grad_l2', 'input_grad_l2', 'act_cosine', 'sv_overlap'];
export const EVIL = '<script>alert(1)</script>';
export const EVIL_TENSOR = '</script><script>alert(2)</script>.weight';
/** Markup plotly itself would interpret (a link, bold) plus a literal entity: must show verbatim. */
export const EVIL_MARKUP = '<a href="https://example.com/x">link</a> <b>b</b> &amp;';

export interface SampleOptions {
  experts?: number;
  layers?: number;
  /** Tensors per layer (6 by default: q,k,v,o,up,down). */
  tensorsPerLayer?: number;
  /** Elements per synthetic task-vector tensor. */
  dim?: number;
  seed?: number;
  /** Put HTML/script-injection strings into an expert name, a tensor name, paths and a warning. */
  evil?: boolean;
}

export function allPairs(n: number): PairIndex[] {
  const out: PairIndex[] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) out.push([i, j]);
  return out;
}

const EXPERT_NAMES = ['mnist-digits', 'fashion-mnist', 'kmnist', 'emnist-letters', 'svhn-gray', 'cifar-gray', 'notmnist', 'qmnist', 'usps', 'omniglot'];
const TENSOR_KINDS = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.up_proj', 'mlp.down_proj', 'mlp.gate_proj', 'input_layernorm'];

/** Pair statistics of two vectors: everything the task-vector and sign metrics need. */
function pairStats(a: Float64Array, b: Float64Array) {
  let dot = 0, na = 0, nb = 0, d2 = 0, agree = 0, conflict = 0, wAgree = 0, wAll = 0;
  for (let k = 0; k < a.length; k++) {
    dot += a[k] * b[k];
    na += a[k] * a[k];
    nb += b[k] * b[k];
    d2 += (a[k] - b[k]) ** 2;
    const m = Math.min(Math.abs(a[k]), Math.abs(b[k]));
    wAll += m;
    if (a[k] * b[k] > 0) {
      agree++;
      wAgree += m;
    } else if (a[k] * b[k] < 0) conflict++;
  }
  return { dot, na: Math.sqrt(na), nb: Math.sqrt(nb), l2: Math.sqrt(d2), agree: agree / a.length, conflict: conflict / a.length, wAgree: wAll ? wAgree / wAll : 0 };
}

/** All 31 metric values of one pair from its vectors (a deterministic function + seeded noise). */
function metricValues(a: Float64Array, b: Float64Array, r: Rng): Record<string, number> {
  const s = pairStats(a, b);
  const cos = s.dot / (s.na * s.nb);
  const angle = (Math.acos(Math.max(-1, Math.min(1, cos))) * 180) / Math.PI;
  // 2×2 Gram matrix [[na², dot],[dot, nb²]] → singular values of the stacked pair.
  const tr = s.na ** 2 + s.nb ** 2;
  const det = s.na ** 2 * s.nb ** 2 - s.dot ** 2;
  const disc = Math.sqrt(Math.max(0, tr * tr / 4 - det));
  const s1 = Math.sqrt(tr / 2 + disc);
  const s2 = Math.sqrt(Math.max(0, tr / 2 - disc));
  const p1 = s1 / (s1 + s2);
  const p2 = s2 / (s1 + s2);
  const H = -(p1 > 0 ? p1 * Math.log(p1) : 0) - (p2 > 0 ? p2 * Math.log(p2) : 0);
  const n = () => r.normal() * 0.03;
  const clamp01 = (v: number) => Math.max(0, Math.min(1, v));
  return {
    tv_cosine: cos,
    tv_l2: s.l2,
    tv_dot: s.dot,
    tv_angle: angle,
    tv_magnitude_ratio: Math.min(s.na, s.nb) / Math.max(s.na, s.nb),
    tv_cosine_layer_mean: cos + n(),
    sign_agreement: s.agree,
    sign_agreement_trimmed: clamp01(s.agree + 0.08 + n()),
    sign_agreement_weighted: s.wAgree,
    sign_conflict: s.conflict,
    effective_rank: Math.exp(H),
    stable_rank: (s1 + s2) ** 2 / (s1 * s1 + s2 * s2),
    spectral_gap: (s1 - s2) / s1,
    singular_ratio: s2 / s1,
    layerwise_effective_rank: Math.exp(H) + n(),
    sv_overlap: clamp01(0.85 + 0.1 * cos + n()),
    left_subspace_overlap: clamp01(0.2 + 0.4 * Math.abs(cos) + n()),
    right_subspace_overlap_top: clamp01(0.25 + 0.5 * Math.abs(cos) + n()),
    right_subspace_overlap_bottom: clamp01(0.1 + 0.1 * Math.abs(cos) + n()),
    interaction_overlap_top: clamp01((0.25 + 0.5 * Math.abs(cos)) ** 2 + n()),
    interaction_overlap_bottom: clamp01(0.02 + 0.05 * Math.abs(cos) + n() / 3),
    enc_grad_l2: 0.002 * (1.5 - cos) * (1 + n()),
    enc_grad_cosine: Math.max(-1, Math.min(1, 0.6 * cos + n() * 3)),
    enc_grad_dot: 1e-6 * (cos + n()),
    input_grad_l2: 0.01 * (1.4 - cos) * (1 + n()),
    input_grad_cosine: Math.max(-1, Math.min(1, 0.4 * cos + n() * 3)),
    input_grad_dot: 1e-4 * (cos + n()),
    act_l2: 3 * (1.2 - cos) * (1 + n()),
    act_cosine: clamp01(0.7 + 0.3 * cos + n()),
    act_dot: 40 * (0.7 + 0.3 * cos + n()),
    act_magnitude_ratio: clamp01(0.8 + 0.2 * Math.min(s.na, s.nb) / Math.max(s.na, s.nb) + n()),
  };
}

function concat(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function breakdown(groups: string[], numel: number[], vecs: Float64Array[][], pairs: PairIndex[], r: Rng): MetricBreakdown {
  const values: Record<string, (number | null)[][]> = {};
  for (const id of SAMPLE_METRIC_IDS) values[id] = pairs.map(() => []);
  pairs.forEach(([i, j], p) => {
    groups.forEach((_, g) => {
      const v = metricValues(vecs[i][g], vecs[j][g], r);
      for (const id of SAMPLE_METRIC_IDS) values[id][p].push(v[id]);
    });
  });
  // Gradient/activation metrics are whole-model only in a real run: leave them null per group.
  for (const id of SAMPLE_METRIC_IDS) {
    if (/^(enc_grad|input_grad|act_)/.test(id)) values[id] = pairs.map(() => groups.map(() => null));
  }
  return { groups, numel, values };
}

export function sampleMetrics(opts: SampleOptions = {}): MetricsReport {
  const nExperts = opts.experts ?? 5;
  const nLayers = opts.layers ?? 12;
  const perLayer = opts.tensorsPerLayer ?? 6;
  const dim = opts.dim ?? 48;
  const r = createRng(opts.seed ?? 7);
  const experts = Array.from({ length: nExperts }, (_, i) => EXPERT_NAMES[i % EXPERT_NAMES.length] + (i >= EXPERT_NAMES.length ? `-${i}` : ''));
  if (opts.evil) {
    experts[Math.min(2, nExperts - 1)] = EVIL;
    experts[Math.min(3, nExperts - 1)] = EVIL_MARKUP;
  }

  // Tensors: embeddings, per-layer blocks, head.
  const tensorNames: string[] = ['model.embed_tokens.weight'];
  const tensorLayer: number[] = [-1];
  for (let l = 0; l < nLayers; l++) {
    for (let t = 0; t < perLayer; t++) {
      const kind = TENSOR_KINDS[t % TENSOR_KINDS.length] + (t >= TENSOR_KINDS.length ? `_${t}` : '');
      tensorNames.push(`model.layers.${l}.${kind}.weight`);
      tensorLayer.push(l);
    }
  }
  tensorNames.push('lm_head.weight');
  tensorLayer.push(nLayers);
  if (opts.evil) tensorNames[1] = EVIL_TENSOR;

  // Task vectors: shared direction + expert-specific part; experts come in loose families so
  // clustering has structure; deeper layers diverge more (as fine-tuning typically does).
  const shared = tensorNames.map(() => Float64Array.from({ length: dim }, () => r.normal()));
  const family = Array.from({ length: nExperts }, (_, e) => e % 2);
  const famDir = [0, 1].map(() => tensorNames.map(() => Float64Array.from({ length: dim }, () => r.normal())));
  const vecs: Float64Array[][] = experts.map((_, e) =>
    tensorNames.map((_, t) => {
      const depth = (tensorLayer[t] + 1) / (nLayers + 1);
      const scale = 0.5 + r.next();
      return Float64Array.from({ length: dim }, (_, k) => scale * ((1 - depth) * shared[t][k] + 0.8 * famDir[family[e]][t][k] + (0.4 + depth) * r.normal()));
    }),
  );

  const pairs = allPairs(nExperts);
  const metrics: Record<string, MetricMatrix> = {};
  for (const id of SAMPLE_METRIC_IDS) metrics[id] = experts.map(() => experts.map(() => null));
  const whole = experts.map((_, e) => concat(vecs[e]));
  for (const [i, j] of pairs) {
    const v = metricValues(whole[i], whole[j], r);
    for (const id of SAMPLE_METRIC_IDS) {
      metrics[id][i][j] = v[id];
      metrics[id][j][i] = v[id];
    }
  }

  const layerGroups = ['model.embed_tokens', ...Array.from({ length: nLayers }, (_, l) => `model.layers.${l}`), 'lm_head'];
  const layerVecs = experts.map((_, e) =>
    layerGroups.map((_, g) => concat(vecs[e].filter((__, t) => tensorLayer[t] === g - 1))),
  );
  const numelOf = (count: number) => count * 4096 * 4096 / 4;
  const tensorNumel = tensorNames.map((_, t) => (tensorLayer[t] === -1 || tensorLayer[t] === nLayers ? 32000 * 4096 : numelOf(1)));
  const layerNumel = layerGroups.map((_, g) => tensorNumel.filter((__, t) => tensorLayer[t] === g - 1).reduce((s, v) => s + v, 0));

  const definitions: Record<string, MetricDefinition> = {};
  for (const [id, label, family, unit, description] of DEFS) {
    definitions[id] = { id, label, family, unit, description, aggregation: family === 'subspace' ? 'mean over 2-D tensors' : 'one global vector over all included tensors' };
  }

  const basePath = opts.evil ? `/models/base"'><img src=x onerror=alert(3)>` : '/models/llama-mini-base';
  const parameters = tensorNumel.reduce((s, v) => s + v, 0);
  return {
    format: 'mergelens.metrics',
    version: 1,
    createdAt: '2026-11-23T10:00:00.000Z',
    base: { name: opts.evil ? `base <b>bold</b>` : 'llama-mini-base', path: basePath, kind: 'hf-sharded', files: [{ path: `${basePath}/model-00001-of-00002.safetensors`, bytes: 4_900_000_000, headerSha256: 'ab'.repeat(32) }] },
    experts,
    inputs: experts.map((name) => ({ name, path: `/models/${name}`, kind: 'hf-folder', files: [{ path: `/models/${name}/model.safetensors`, bytes: 13_400_000_000, headerSha256: 'cd'.repeat(32) }] })),
    settings: { trimFraction: 0.2, subspaceK: 10, spectrumK: 100, include: [], exclude: ['*embed_tokens*'], shard: '1/1' },
    definitions,
    metrics,
    pairs,
    perLayer: breakdown(layerGroups, layerNumel, layerVecs, pairs, r),
    perTensor: breakdown(tensorNames, tensorNumel, vecs, pairs, r),
    warnings: opts.evil
      ? [`tensor "${EVIL_TENSOR}" has NaN in expert ${EVIL}`, 'vocab sizes differ: 32000 vs 32002 (embeddings use the common rows)']
      : ['vocab sizes differ: 32000 vs 32002 (embeddings use the common rows)'],
    stats: { tensors: tensorNames.length, parameters, bytesRead: parameters * 2 * (nExperts + 1), seconds: 412.5 },
  };
}

/** Independent calibrated prediction (standardise, dot, intercept) used to make the sample data. */
export function calibrated(mp: MethodPredictor, values: Record<string, number>): number {
  let y = mp.calibrated.intercept;
  mp.features.forEach((f, k) => {
    if (mp.calibrated.std[k] > 0) y += (mp.calibrated.coef[k] * (values[f] - mp.calibrated.mean[k])) / mp.calibrated.std[k];
  });
  return y;
}

/** Study rows for `experts` random-ish experts: metrics drawn per pair, outcome = linear model + noise. */
export function sampleStudyAndPredictor(opts: { experts?: number; seed?: number } = {}): { study: StudyDataset; predictor: PredictorFile } {
  const nExperts = opts.experts ?? 8;
  const r = createRng(opts.seed ?? 11);
  const report = sampleMetrics({ experts: nExperts, seed: (opts.seed ?? 11) + 1 });
  const experts = report.experts.map((e) => `study-${e}`);
  const pairs = allPairs(nExperts);
  const pairValues = pairs.map(([i, j]) => Object.fromEntries(SAMPLE_METRIC_IDS.map((id) => [id, report.metrics[id][i][j] as number])));

  const methods: Record<string, MethodPredictor> = {};
  const rows: StudyRow[] = [];
  SAMPLE_METHODS.forEach((method, mIdx) => {
    const mean = SAMPLE_FEATURES.map((f) => pairValues.reduce((s, v) => s + v[f], 0) / pairValues.length);
    const std = SAMPLE_FEATURES.map((f, k) => Math.sqrt(pairValues.reduce((s, v) => s + (v[f] - mean[k]) ** 2, 0) / pairValues.length));
    const coef = SAMPLE_FEATURES.map((_, k) => (k % 3 === mIdx % 3 ? 0 : (r.next() - 0.4) * 0.04));
    const paperCoef = coef.map((c) => (c === 0 ? 0 : c * 10 + r.normal() * 0.05));
    const mp: MethodPredictor = {
      method,
      features: SAMPLE_FEATURES,
      paper: { lambda: 1, min: SAMPLE_FEATURES.map((f) => Math.min(...pairValues.map((v) => v[f]))), max: SAMPLE_FEATURES.map((f) => Math.max(...pairValues.map((v) => v[f]))), coef: paperCoef },
      calibrated: { intercept: 0.78 - 0.04 * mIdx, mean, std, coef, lambda: 0.01, l1Ratio: 0.5, residualStd: 0.02 + 0.005 * mIdx },
      bootstrap: { lo: coef.map((c) => c - 0.01), hi: coef.map((c) => c + 0.01), samples: 200 },
      validation: [{ scheme: 'loto', folds: nExperts, meanFoldR: 0.6, pooledR: 0.5, spearman: 0.55, calibrated: { pooledR: 0.7, spearman: 0.68, mae: 0.02, rmse: 0.025 }, baseline: { mae: 0.04, rmse: 0.05 } }],
      trainRows: pairs.length,
    };
    methods[method] = mp;
    pairs.forEach(([i, j], p) => {
      rows.push({ a: experts[i], b: experts[j], method, outcome: calibrated(mp, pairValues[p]) + r.normal() * mp.calibrated.residualStd, metrics: pairValues[p] });
    });
  });

  const top5Overlap: Record<string, Record<string, number>> = {};
  const signAgreement: Record<string, Record<string, number | null>> = {};
  for (const a of SAMPLE_METHODS) {
    top5Overlap[a] = {};
    signAgreement[a] = {};
    for (const b of SAMPLE_METHODS) {
      const ca = methods[a].paper.coef;
      const cb = methods[b].paper.coef;
      const top = (c: number[]) => new Set(c.map((v, k) => [Math.abs(v), k]).sort((x, y) => y[0] - x[0]).slice(0, 5).map((x) => x[1]));
      const ta = top(ca);
      const tb = top(cb);
      top5Overlap[a][b] = [...ta].filter((k) => tb.has(k)).length / 5;
      const both = ca.map((v, k) => [v, cb[k]]).filter(([x, y]) => x !== 0 && y !== 0);
      signAgreement[a][b] = both.length ? both.filter(([x, y]) => Math.sign(x) === Math.sign(y)).length / both.length : null;
    }
  }
  const offDiag = (m: Record<string, Record<string, number | null>>) => {
    const vals = SAMPLE_METHODS.flatMap((a) => SAMPLE_METHODS.filter((b) => b !== a).map((b) => m[a][b])).filter((v): v is number => v !== null);
    return vals.reduce((s, v) => s + v, 0) / vals.length;
  };
  const study: StudyDataset = {
    format: 'mergelens.study',
    version: 1,
    createdAt: '2026-11-22T09:00:00.000Z',
    description: 'synthetic study for report tests',
    outcome: 'normalized_accuracy',
    experts,
    methods: SAMPLE_METHODS,
    metricIds: SAMPLE_METRIC_IDS,
    rows,
  };
  const predictor: PredictorFile = {
    format: 'mergelens.predictor',
    version: 1,
    createdAt: '2026-11-22T10:00:00.000Z',
    fittedOn: 'synthetic study for report tests',
    outcome: 'normalized_accuracy',
    methods,
    fingerprints: { top5Overlap, signAgreement, meanTop5Overlap: offDiag(top5Overlap), meanSignAgreement: offDiag(signAgreement) },
  };
  return { study, predictor };
}

/** Predictions for every pair of `metrics` × every predictor method (independent of src/predict). */
export function samplePredictions(metrics: MetricsReport, predictor: PredictorFile): Prediction[] {
  const out: Prediction[] = [];
  for (const [i, j] of metrics.pairs) {
    const values = Object.fromEntries(Object.keys(metrics.metrics).map((id) => [id, metrics.metrics[id][i][j] as number]));
    for (const mp of Object.values(predictor.methods)) {
      const predicted = calibrated(mp, values);
      const half = 1.96 * mp.calibrated.residualStd;
      const drivers = mp.features
        .map((f, k) => ({ metric: f, contribution: mp.calibrated.std[k] > 0 ? (mp.calibrated.coef[k] * (values[f] - mp.calibrated.mean[k])) / mp.calibrated.std[k] : 0 }))
        .sort((x, y) => Math.abs(y.contribution) - Math.abs(x.contribution));
      const score = mp.features.reduce((s, f, k) => s + mp.paper.coef[k] * (((values[f] - mp.paper.min[k]) / (mp.paper.max[k] - mp.paper.min[k] || 1)) * 2 - 1), 0);
      out.push({ a: metrics.experts[i], b: metrics.experts[j], method: mp.method, predicted, lo: predicted - half, hi: predicted + half, score, drivers });
    }
  }
  return out;
}

/** Everything at once: the default 5-expert report with predictor, study and predictions. */
export function sampleInput(opts: SampleOptions = {}) {
  const metrics = sampleMetrics(opts);
  const { study, predictor } = sampleStudyAndPredictor();
  const predictions = samplePredictions(metrics, predictor);
  return { metrics, study, predictor, predictions };
}
