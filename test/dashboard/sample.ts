/**
 * Synthetic dashboard inputs: a MetricsReport (5 experts, 12 metrics with definitions, per-layer
 * breakdowns) and Prediction[] for 3 methods. Deterministic (seeded), so the committed fixture
 * test/fixtures/dashboard-metrics.json can be regenerated exactly:
 *   node --import tsx test/dashboard/sample.ts   (writes the fixtures)
 * The numbers are made up but shaped like real ones (cosines in [−1,1], norms > 0, ...); the
 * dashboard only has to show them faithfully, which the tests check against these objects.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../../src/util/mulberry32.js';
import type { MetricDefinition, MetricFamily, MetricMatrix, MetricsReport, PairIndex, Prediction } from '../../src/types.js';

const rng = mulberry32;

interface MetricSpec {
  id: string;
  label: string;
  family: MetricFamily;
  unit: string;
  description: string;
  /** Draw a whole-model value for a pair. */
  draw: (r: () => number) => number;
}

const METRIC_SPECS: MetricSpec[] = [
  { id: 'tv_cosine', label: 'Task-vector cosine', family: 'task_vector', unit: 'cosine ∈ [−1,1]', description: 'cos(Δa, Δb) = Δa·Δb / (‖Δa‖‖Δb‖) over all included tensors flattened into one vector.', draw: (r) => r() * 1.2 - 0.3 },
  { id: 'tv_l2', label: 'Task-vector L2 distance', family: 'task_vector', unit: 'L2 norm (weight units)', description: '‖Δa − Δb‖₂ over all included tensors.', draw: (r) => 2 + r() * 30 },
  { id: 'tv_dot', label: 'Task-vector dot product', family: 'task_vector', unit: 'weight units²', description: 'Δa·Δb summed over all included tensors.', draw: (r) => r() * 400 - 100 },
  { id: 'tv_angle', label: 'Task-vector angle', family: 'task_vector', unit: 'degrees', description: 'arccos of the task-vector cosine, in degrees.', draw: (r) => 40 + r() * 80 },
  { id: 'tv_magnitude_ratio', label: 'Magnitude ratio', family: 'task_vector', unit: 'ratio ∈ [0,1]', description: 'min(‖Δa‖,‖Δb‖) / max(‖Δa‖,‖Δb‖).', draw: (r) => 0.2 + r() * 0.8 },
  { id: 'sign_agreement', label: 'Sign agreement', family: 'sign', unit: 'fraction ∈ [0,1]', description: 'Fraction of coordinates where both Δ are non-zero and have the same sign.', draw: (r) => 0.4 + r() * 0.3 },
  { id: 'sign_conflict', label: 'Sign conflict', family: 'sign', unit: 'fraction ∈ [0,1]', description: 'Fraction of coordinates where both Δ are non-zero and have opposite signs.', draw: (r) => 0.2 + r() * 0.3 },
  { id: 'effective_rank', label: 'Effective rank', family: 'rank', unit: '∈ [1,2]', description: 'exp(H(σ/Σσ)) of the singular values of the 2×D stack [Δa; Δb].', draw: (r) => 1 + r() },
  { id: 'sv_overlap', label: 'Singular-value overlap', family: 'subspace', unit: 'cosine ∈ [0,1]', description: 'Cosine of the normalised top-k singular-value spectra, mean over 2-D tensors.', draw: (r) => 0.6 + r() * 0.4 },
  { id: 'right_subspace_overlap_top', label: 'Right subspace overlap (top k)', family: 'subspace', unit: '∈ [0,1]', description: '‖V₁ₖV₂ₖᵀ‖_F / √k for the top-k right singular vectors, mean over 2-D tensors.', draw: (r) => r() * 0.5 },
  { id: 'enc_grad_l2', label: 'Encoder-gradient L2', family: 'gradient', unit: 'L2 norm', description: '‖g_a − g_b‖₂ of the mean own-task loss gradients w.r.t. encoder parameters.', draw: (r) => 0.0004 + r() * 0.004 },
  { id: 'act_cosine', label: 'Activation cosine', family: 'activation', unit: 'cosine ∈ [−1,1]', description: 'Cosine of the mean activations on calibration inputs, mean over layers.', draw: (r) => 0.5 + r() * 0.5 },
];

export const SAMPLE_EXPERTS = ['mnist-digits', 'fashion-mnist', 'kmnist', 'emnist-letters', 'svhn-gray'];
export const SAMPLE_METHODS = ['weight_avg', 'task_arithmetic', 'ties'];
export const SAMPLE_LAYERS = ['layer.0', 'layer.1', 'layer.2', 'layer.3', 'layer.4', 'layer.5'];

function allPairs(n: number): PairIndex[] {
  const out: PairIndex[] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) out.push([i, j]);
  return out;
}

export function sampleMetrics(opts: { experts?: string[]; seed?: number } = {}): MetricsReport {
  const experts = opts.experts ?? SAMPLE_EXPERTS;
  const r = rng(opts.seed ?? 8);
  const n = experts.length;
  const pairs = allPairs(n);
  const metrics: Record<string, MetricMatrix> = {};
  const definitions: Record<string, MetricDefinition> = {};
  const perLayerValues: Record<string, (number | null)[][]> = {};
  for (const spec of METRIC_SPECS) {
    definitions[spec.id] = {
      id: spec.id,
      label: spec.label,
      family: spec.family,
      description: spec.description,
      unit: spec.unit,
      aggregation: spec.family === 'subspace' ? 'mean over 2-D tensors' : 'one global vector',
    };
    const m: MetricMatrix = Array.from({ length: n }, () => new Array<number | null>(n).fill(null));
    perLayerValues[spec.id] = [];
    for (const [i, j] of pairs) {
      const v = spec.draw(r);
      m[i][j] = v;
      m[j][i] = v;
      // Layers wander around the whole-model value; one layer missing for one metric shows a gap.
      perLayerValues[spec.id].push(
        SAMPLE_LAYERS.map((_, g) => (spec.id === 'enc_grad_l2' && g === 0 ? null : v * (0.6 + 0.8 * r()))),
      );
    }
    metrics[spec.id] = m;
  }
  const fingerprint = (name: string) => ({ name, path: `/synthetic/${name}`, kind: 'safetensors' as const, files: [] });
  return {
    format: 'mergelens.metrics',
    version: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    base: fingerprint('base'),
    experts,
    inputs: experts.map(fingerprint),
    settings: { trimFraction: 0.2, subspaceK: 10, spectrumK: 100, include: [], exclude: [], shard: '1/1' },
    definitions,
    metrics,
    pairs,
    perLayer: { groups: SAMPLE_LAYERS, numel: SAMPLE_LAYERS.map(() => 1024), values: perLayerValues },
    perTensor: { groups: [], numel: [], values: {} },
    warnings: [],
    stats: { tensors: 12, parameters: 6144, bytesRead: 24576, seconds: 0.1 },
  };
}

/**
 * Predictions for every pair and method: a linear model on a few metrics with an interval of
 * ±1.96·σ, drivers sorted by |contribution| as the Prediction contract requires.
 */
export function samplePredictions(metrics: MetricsReport, methods: string[] = SAMPLE_METHODS): Prediction[] {
  const features = ['tv_cosine', 'sign_agreement', 'enc_grad_l2', 'act_cosine'];
  const out: Prediction[] = [];
  methods.forEach((method, mi) => {
    const coef = [0.08 + 0.02 * mi, 0.1 - 0.03 * mi, -20 - 5 * mi, 0.05];
    const intercept = 0.55 + 0.05 * mi;
    const sigma = 0.03 + 0.01 * mi;
    for (const [i, j] of metrics.pairs) {
      const drivers = features.map((f, k) => ({ metric: f, contribution: coef[k] * (metrics.metrics[f][i][j] as number) }));
      const predicted = intercept + drivers.reduce((s, d) => s + d.contribution, 0);
      drivers.sort((x, y) => Math.abs(y.contribution) - Math.abs(x.contribution));
      out.push({
        a: metrics.experts[i],
        b: metrics.experts[j],
        method,
        predicted,
        lo: predicted - 1.96 * sigma,
        hi: predicted + 1.96 * sigma,
        score: predicted - intercept,
        drivers,
      });
    }
  });
  return out;
}

export const FIXTURE_METRICS = 'test/fixtures/dashboard-metrics.json';
export const FIXTURE_PREDICTIONS = 'test/fixtures/dashboard-predictions.json';

// Regenerate the committed fixtures when run directly.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { writeFileAtomic } = await import('../../src/util/atomic.js');
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const m = sampleMetrics();
  await writeFileAtomic(path.join(root, FIXTURE_METRICS), JSON.stringify(m, null, 2) + '\n');
  await writeFileAtomic(path.join(root, FIXTURE_PREDICTIONS), JSON.stringify(samplePredictions(m), null, 2) + '\n');
  process.stdout.write(`wrote ${FIXTURE_METRICS} and ${FIXTURE_PREDICTIONS}\n`);
}
