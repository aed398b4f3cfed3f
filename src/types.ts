/**
 * Domain types shared by every part of mergelens. The library, CLI, HTML report and
 * terminal dashboard all speak these types; the JSON files the CLI writes are these
 * types serialised as-is (so a user's script can read them with the same names).
 */

// ───────────────────────────── tensors & checkpoints ─────────────────────────────

/** Float dtypes mergelens decodes. Everything else is rejected with a named error. */
export type FloatDType = 'F64' | 'F32' | 'F16' | 'BF16';

export interface TensorSpec {
  name: string;
  /** dtype string exactly as in the safetensors header. */
  dtype: string;
  shape: number[];
}

/** A tensor's bytes inside one safetensors file (absolute file offsets, end exclusive). */
export interface TensorLocation extends TensorSpec {
  file: string;
  begin: number;
  end: number;
}

export type CheckpointKind = 'safetensors' | 'hf-folder' | 'hf-sharded' | 'lora';

/**
 * A set of named dense tensors on disk, read lazily (never the whole model in memory).
 * Single file, HF folder (single or sharded) and PEFT LoRA adapters all present this.
 */
export interface Checkpoint {
  /** Path as the user gave it. */
  readonly path: string;
  /** Short display name (file/folder basename without extension). */
  readonly name: string;
  readonly kind: CheckpointKind;
  /** `__metadata__` of the (first) safetensors file. */
  readonly metadata: Record<string, string>;
  /** Parsed config.json next to the weights, when present. */
  readonly config?: Record<string, unknown>;
  /** Non-fatal problems found while opening (e.g. an index `total_size` that disagrees). */
  readonly warnings?: string[];
  /** Names of the dense tensors, sorted. For LoRA: `modules_to_save` weights, under base names. */
  tensorNames(): string[];
  /** Spec + location of a dense tensor, or undefined. */
  location(name: string): TensorLocation | undefined;
  /**
   * Decode elements [start, start+count) of a dense tensor (row-major flat index) to float32.
   * Defaults: the whole tensor. Positioned read, bounded memory.
   */
  read(name: string, start?: number, count?: number): Promise<Float32Array>;
  /**
   * The stored little-endian bytes of elements [start, start+count) of a dense float tensor
   * (dtype as `location(name).dtype` says) into `dest`, which must hold exactly those bytes.
   * For kernels that decode themselves (the metrics pass reads straight into WebAssembly memory).
   */
  readInto(name: string, start: number, count: number, dest: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** ΔW = scale · B · A, with A [rank, cols] and B [rows, rank], both row-major. */
export interface LowRankDelta {
  /** Shape of ΔW, i.e. of the base weight it applies to. */
  shape: [number, number];
  rank: number;
  scale: number;
  A: Float32Array;
  B: Float32Array;
}

/** What is known about a low-rank delta without reading it. */
export interface LowRankSpec {
  shape: [number, number];
  rank: number;
  scale: number;
  /** dtype of the stored factors. */
  dtype: string;
  /** PEFT module path, e.g. `model.layers.0.self_attn.q_proj`. */
  module: string;
  /** Factors stored transposed relative to the base weight (embeddings, fan_in_fan_out). */
  transposed: boolean;
}

/** A PEFT LoRA adapter: dense `modules_to_save` plus low-rank deltas keyed by base tensor name. */
export interface LoraCheckpoint extends Checkpoint {
  readonly kind: 'lora';
  readonly adapterConfig: Record<string, unknown>;
  /** Base tensor names that carry a low-rank delta (e.g. `model.layers.0.self_attn.q_proj.weight`). */
  lowRankNames(): string[];
  /** Factors of the delta for a base tensor name (already transposed for fan_in_fan_out / embeddings). */
  lowRank(name: string): Promise<LowRankDelta>;
  /** Shape, rank, scale and factor dtype of a delta from the header alone (no data read). */
  lowRankSpec(name: string): LowRankSpec | undefined;
}

// ───────────────────────────────────── metrics ─────────────────────────────────────

export type MetricFamily = 'task_vector' | 'sign' | 'rank' | 'subspace' | 'gradient' | 'activation';

/** Human documentation of a metric, shipped inside every metrics file so reports need no lookup. */
export interface MetricDefinition {
  id: string;
  label: string;
  family: MetricFamily;
  /** One or two sentences, exact formula included. */
  description: string;
  /** e.g. "cosine ∈ [−1,1]", "degrees", "L2 norm (weight units)". */
  unit: string;
  /** How the whole-model value is formed: one global vector, mean over tensors, etc. */
  aggregation: string;
}

/** N×N symmetric matrix over experts; null where undefined (diagonal, or missing inputs). */
export type MetricMatrix = (number | null)[][];

/** A pair of experts by index into `MetricsReport.experts`, i < j. */
export type PairIndex = [number, number];

/** Fingerprint of an input so a report says exactly what it was computed from. */
export interface InputFingerprint {
  name: string;
  path: string;
  kind: CheckpointKind | 'gradients' | 'activations';
  files: { path: string; bytes: number; headerSha256: string }[];
}

export interface MetricSettings {
  /** Top-k fraction kept for trimmed sign agreement (TIES density). */
  trimFraction: number;
  /** k for subspace overlaps. */
  subspaceK: number;
  /** Number of top singular values compared by sv_overlap. */
  spectrumK: number;
  include: string[];
  exclude: string[];
  /** Shard of tensor ranges this file covers, e.g. "1/4"; "1/1" for a full pass. */
  shard: string;
  [extra: string]: unknown;
}

/** Per-layer or per-tensor breakdown. values[metric][pairIndex][groupIndex]. */
export interface MetricBreakdown {
  groups: string[];
  numel: number[];
  values: Record<string, (number | null)[][]>;
}

export interface MetricsReport {
  format: 'mergelens.metrics';
  version: 1;
  createdAt: string;
  base: InputFingerprint;
  experts: string[];
  inputs: InputFingerprint[];
  settings: MetricSettings;
  definitions: Record<string, MetricDefinition>;
  /** Whole-model values: metric id → N×N matrix. */
  metrics: Record<string, MetricMatrix>;
  pairs: PairIndex[];
  perLayer: MetricBreakdown;
  perTensor: MetricBreakdown;
  warnings: string[];
  stats: { tensors: number; parameters: number; bytesRead: number; seconds: number };
}

/** Metric values of one pair, flattened: what predictors consume. */
export interface PairMetrics {
  a: string;
  b: string;
  values: Record<string, number>;
}

// ───────────────────────────────────── merging ─────────────────────────────────────

export type ParamValue = number | boolean | string;

export interface ParamSpec {
  name: string;
  type: 'number' | 'boolean' | 'string';
  default: ParamValue;
  min?: number;
  max?: number;
  choices?: string[];
  /** When true, `min` itself is not allowed (e.g. density must be > 0). */
  minExclusive?: boolean;
  /** For string params: the value a boolean input maps to (mergekit configs write `rescale: true`). */
  fromBoolean?: { true: string; false: string };
  doc: string;
}

/** Inputs to merging one tensor (all arrays have the same length = numel). */
export interface TensorMergeInput {
  name: string;
  shape: number[];
  base: Float32Array | null;
  experts: Float32Array[];
  /** Per-expert weights (default all 1). */
  weights: number[];
  params: Record<string, ParamValue>;
  /** Deterministic per-tensor RNG in [0,1), seeded from (seed, tensor name). */
  random: () => number;
  /**
   * The same per-tensor stream positioned at expert `e`'s draw for the first element of this
   * input, i.e. after e·numel(whole tensor) + offset draws — per-entry draws stay identical
   * when a tensor is merged in row chunks (see `rowChunks`). Absent: draw from `random` in order.
   */
  expertRandom?: (expert: number) => () => number;
  /** What the method's `prepareChunks` scan gathered over the whole tensor (row-chunked merges only). */
  prepared?: unknown;
  /** Per-expert values of the method's `perExpertParams` when they differ between experts (else only `params`). */
  expertParams?: Record<string, number[]>;
}

/**
 * A scan over a whole tensor before a row-chunked merge of it: the stream feeds every row
 * chunk of the inputs (base slice, expert slices), in row order, `passes` times, calling
 * `endPass` after each pass; `result()` then goes to every chunk's mergeTensor as `prepared`.
 */
export interface ChunkPrepass {
  passes: number;
  visit(pass: number, base: Float32Array | null, experts: Float32Array[]): void;
  endPass(pass: number): void;
  result(): unknown;
}

export interface MergeMethod {
  id: string;
  aliases: string[];
  /** Formula and defaults, shown in `mergelens methods` and the README. */
  description: string;
  params: ParamSpec[];
  needsBase: boolean;
  minExperts: number;
  maxExperts: number;
  /** False for methods that ignore per-expert weights (slerp): giving weights is then an error. Default true. */
  usesWeights?: boolean;
  /** Extra arity rule beyond min/maxExperts; returns the problem or undefined. */
  checkInputs?: (ctx: { experts: number; hasBase: boolean }) => string | undefined;
  mergeTensor(input: TensorMergeInput): Float32Array;
  /**
   * True when, with these params, mergeTensor on row slices of every input returns the matching
   * slices of the whole-tensor result (elementwise rules; draws via `expertRandom`), so
   * mergeToDisk may merge big tensors in row chunks with bounded memory. Absent: whole tensors.
   */
  rowChunks?: (params: Record<string, ParamValue>, expertParams?: Record<string, number[]>) => boolean;
  /** Parameters that may take one value per expert (TensorMergeInput.expertParams), as mergekit's per-model density. */
  perExpertParams?: readonly string[];
  /** Whole-tensor statistics a row-chunked merge needs first (TIES: each τᵢ's top-k cut); null: none needed. */
  prepareChunks?: (ctx: { numel: number; experts: number; params: Record<string, ParamValue>; expertParams?: Record<string, number[]> }) => ChunkPrepass | null;
}

// ──────────────────────────────── study & predictors ───────────────────────────────

/** One observed merge: a pair, a method, its metrics and the measured outcome. */
export interface StudyRow {
  a: string;
  b: string;
  method: string;
  /** Post-merge performance, e.g. normalized accuracy averaged over the two tasks. */
  outcome: number;
  metrics: Record<string, number>;
  /** Optional extra measurements (raw accuracies etc.). */
  extra?: Record<string, number>;
}

export interface StudyDataset {
  format: 'mergelens.study';
  version: 1;
  createdAt: string;
  description: string;
  outcome: string;
  experts: string[];
  methods: string[];
  metricIds: string[];
  rows: StudyRow[];
  /**
   * Merges of k ≥ 3 experts (the group study, `sweep --group-size`). Pair metrics for every pair
   * of a group's experts are in `rows` (any method's row of that pair) or the metrics report.
   */
  groups?: GroupRow[];
  /** What a group's `outcome` and `heldOut` mean, in words (present when `groups` is). */
  groupOutcome?: string;
  heldOutDescription?: string;
  /** Where an imported study came from and what the import did (absent for studies mergelens wrote). */
  source?: StudySource;
}

/** One merge of a group of k ≥ 3 experts with one method. */
export interface GroupRow {
  /** Expert ids of the group, in StudyDataset.experts order. */
  experts: string[];
  method: string;
  /** Held-in outcome: mean over the group's tasks of normalized accuracy, as for pairs. */
  outcome: number;
  /** Held-out outcome on tasks outside the group (see StudyDataset.heldOutDescription); absent when none was measured. */
  heldOut?: number;
  /** Optional extra measurements (per-task accuracies, probe references, …). */
  extra?: Record<string, number>;
}

/** Provenance of an imported study (src/predict/import). */
export interface StudySource {
  /** paper: the paper's JSON (metrics matrices + merge summaries); long-csv: a,b,method,metric,value rows; csv: one row per (pair, method). */
  kind: 'paper' | 'long-csv' | 'csv' | 'json';
  files: string[];
  /** The fit's `--missing` default for this study: the paper drops pairs (rows), not metrics. */
  missingDefault?: 'drop-rows' | 'drop-features';
  /** What the import kept and dropped, in words (printed by `fit`). */
  notes: string[];
  /** Pairs seen / kept by the import's pair filter. */
  pairs?: { seen: number; kept: number };
}

export interface ValidationSummary {
  scheme: 'loto' | 'kfold';
  folds: number;
  /** Paper model: mean per-fold Pearson r on validation pairs. */
  meanFoldR: number;
  /** Paper model: Pearson r of all out-of-fold predictions pooled. */
  pooledR: number;
  spearman: number;
  /** Calibrated model, out-of-fold. */
  calibrated: { pooledR: number; spearman: number; mae: number; rmse: number };
  /** Training-mean baseline, out-of-fold. */
  baseline: { mae: number; rmse: number };
  /** Number of out-of-fold predictions pooled (LOTO validates every pair twice). */
  validated?: number;
  /** Per fold: the held-out task (LOTO) or `fold i`, its validation rows, paper-model r (null: undefined) and both RMSEs. */
  perFold?: FoldResult[];
  /** Calibrated model against the training-fold mean, out of fold, for this scheme. */
  baselineComparison?: BaselineComparison;
}

export interface FoldResult {
  /** Held-out task (LOTO) or `fold i` (k-fold). */
  heldOut: string;
  trainRows: number;
  valRows: number;
  /** Paper-model Pearson r on the fold's validation rows; null where undefined (< 3 rows, constant outcome). */
  r: number | null;
  calibratedRmse: number;
  baselineRmse: number;
  /** The fold's paper-model λ as λ/λ_max (auto: chosen by inner LOTO on the fold's training rows; relative: fixed). */
  rho?: number;
  /** The same λ on the paper's scale. */
  paperLambda?: number;
}

/**
 * Does the calibrated model predict better than the training-fold mean, out of fold?
 * gain = RMSE(mean) − RMSE(calibrated) in outcome units (> 0: better than the mean);
 * [lo, hi] a 95% percentile interval from resampling whole folds (held-out tasks) with replacement.
 * beatsMean = lo > 0: better than the mean with 95% confidence.
 */
export interface BaselineComparison {
  beatsMean: boolean;
  calibratedRmse: number;
  baselineRmse: number;
  gain: number;
  /** gain / RMSE(mean): the fraction of the mean baseline's error removed. */
  relativeGain: number;
  lo: number;
  hi: number;
  level: number;
  /** Fold resamples behind [lo, hi]. */
  resamples: number;
}

/** Elastic net on standardised features with intercept; predictions in outcome units. */
export interface ElasticNetModel {
  intercept: number;
  mean: number[];
  std: number[];
  coef: number[];
  lambda: number;
  l1Ratio: number;
  residualStd: number;
}

export interface MethodPredictor {
  method: string;
  features: string[];
  /** Paper procedure: min-max to [−1,1], no intercept, max Pearson − λ‖β‖₁. */
  paper: { lambda: number; min: number[]; max: number[]; coef: number[] };
  /** Calibrated elastic net on standardised features, with intercept, outcome units. */
  calibrated: ElasticNetModel;
  /** Percentile 95% bootstrap intervals of `calibrated.coef` (resampling pairs, λ fixed). */
  bootstrap?: { lo: number[]; hi: number[]; samples: number };
  /** Same for `paper.coef` (each resample refits min/max and β). */
  bootstrapPaper?: { lo: number[]; hi: number[]; samples: number };
  validation: ValidationSummary[];
  trainRows: number;
  /**
   * The verdict consumers use to mark or withhold calibrated predictions: the calibrated model
   * against the mean baseline out of fold, from LOTO when it was run (else k-fold). Absent in
   * predictor files written before it existed (treat as unknown).
   */
  verdict?: BaselineComparison & { scheme: 'loto' | 'kfold' };
  /** How the paper model's λ was set: automatic (inner CV over λ/λ_max), fixed relative, or the paper's scale. */
  lambdaSelection?: LambdaSelection;
  /** Rows dropped for missing metric values (`--missing drop-rows`) and features dropped (`drop-features`). */
  missing?: { policy: 'drop-rows' | 'drop-features'; rowsDropped: number; featuresDropped: string[] };
  /** Where the training rows lie (extrapolation guard, src/predict/domain-guard.ts); absent in files older than it. */
  domain?: MethodDomain;
}

/**
 * The training rows of one method, described so a new pair can be told apart from them. All in
 * the calibrated model's standardised units (z = (x − mean)/std).
 */
export interface MethodDomain {
  /** Training rows. */
  n: number;
  /** Per feature: training min and max of z. */
  zMin: number[];
  zMax: number[];
  /** Per feature: how far beyond [zMin, zMax] a value may lie before it counts as out of range (z units). */
  margin: number[];
  /** δ added to the diagonal of ZᵀZ (collinear metrics make it singular). */
  ridge: number;
  /** (ZᵀZ + δI)⁻¹, p × p, as rows: leverage h(z) = 1/n + zᵀ·inverseGram·z. */
  inverseGram: number[][];
  /** Leverage above which a pair is out of domain: the 99th percentile of the training rows' leave-one-out leverage. */
  threshold: number;
  /** Mean leave-one-out leverage of the training rows: the typical distance the out-of-fold error was measured at. */
  meanLeverage: number;
  /** Outcomes seen in training, and the outcome's possible range where known (null: unbounded on that side). */
  outcome: { min: number; max: number; bounds: [number | null, number | null]; boundsWhy: string };
}

/** How a prediction's pair relates to the training rows of its method. */
export interface PredictionDomain {
  /** Leverage h = 1/n + zᵀ(ZᵀZ + δI)⁻¹z. */
  leverage: number;
  /** leverage ÷ threshold: ≤ 1 inside the multivariate domain. */
  distance: number;
  /** Features outside their training range (beyond the margin), in the metric's own units. */
  outOfRange: { metric: string; value: number; min: number; max: number }[];
  inDomain: boolean;
  /** The predicted value lies beyond the outcomes seen in training / beyond what the outcome can be. */
  beyondTrainingOutcomes: boolean;
  beyondPossible: boolean;
  /** The interval was cut at the outcome's possible range (e.g. a normalised accuracy below 0). */
  intervalClipped?: boolean;
}

/** λ settings for the paper model (docs/predictors.md). */
export interface LambdaSelection {
  /** auto: λ/λ_max picked by inner LOTO CV inside each training fold; relative: fixed λ/λ_max; paper: λ in the paper's units. */
  mode: 'auto' | 'relative' | 'paper';
  /** The λ/λ_max (auto, relative) or paper-scale λ (paper) used for the full-data model. */
  value: number;
  /** The same λ on the paper's scale (|cov(x, y)|/var(y) above which a min-max feature enters). */
  paperLambda: number;
  /** λ_max on the paper's scale for the full data: the smallest λ that zeroes every coefficient. */
  lambdaMax: number;
  /** auto: the grid of λ/λ_max searched. */
  grid?: number[];
}

export interface PredictorFile {
  format: 'mergelens.predictor';
  version: 1;
  createdAt: string;
  fittedOn: string;
  outcome: string;
  methods: Record<string, MethodPredictor>;
  /** Cross-method fingerprint comparison. */
  fingerprints: {
    top5Overlap: Record<string, Record<string, number>>;
    signAgreement: Record<string, Record<string, number | null>>;
    meanTop5Overlap: number;
    meanSignAgreement: number;
    /** Unordered method pairs behind meanTop5Overlap. */
    overlapPairs?: number;
    /** Method pairs behind meanSignAgreement (pairs sharing no non-zero metric have no sign agreement). */
    signPairs?: number;
    /** All unordered method pairs. */
    methodPairs?: number;
  };
  /** Metric ids the predictor may use (union over methods); `predict` needs exactly those a method lists. */
  features?: string[];
  /** Metrics/families left out on request (`--exclude`), e.g. ["gradient", "activation"]. */
  excluded?: string[];
  /** What the fit dropped and why (constant or missing features, skipped methods). */
  warnings?: string[];
  /** Models for merges of k ≥ 3 experts (src/predict/group-fit.ts); absent when the study had no groups. */
  groups?: GroupPredictorSection;
}

/**
 * Group models: per method, an elastic net on a group's features — mean, min, max and spread
 * (max − min) of each pair metric over the group's pairs, and k — validated leave one expert out.
 */
export interface GroupPredictorSection {
  /** Pair metric ids the features aggregate. */
  metrics: string[];
  /** Validation scheme, in words. */
  scheme: string;
  fittedOn: string;
  /** What the held-in outcome means (StudyDataset.groupOutcome). */
  outcome: string;
  /** What the held-out outcome means, when held-out models were fitted. */
  heldOutDescription?: string;
  /** Held-in outcome models, per method. */
  methods: Record<string, GroupMethodPredictor>;
  /** Held-out outcome models, per method (when the groups carried `heldOut`). */
  heldOut?: Record<string, GroupMethodPredictor>;
  warnings: string[];
}

export interface GroupMethodPredictor {
  method: string;
  target: 'held-in' | 'held-out';
  /** `k`, then `<agg>:<metric id>` with agg ∈ mean, min, max, spread. */
  features: string[];
  calibrated: ElasticNetModel;
  trainRows: number;
  /** Group sizes in the training rows. */
  ks: number[];
  validation: GroupValidation;
  domain?: MethodDomain;
}

/** Out-of-fold errors of the group model and its baselines over the same folds. */
export interface GroupValidation {
  scheme: 'leave-one-expert-out';
  folds: number;
  /** Out-of-fold predictions pooled (each group is validated once per expert in it). */
  validated: number;
  model: { r: number; rmse: number; mae: number };
  /** Mean of the pair predictions over the group's pairs (pair model fitted on the fold's training pairs); null without pair rows of this method. */
  meanOfPairs: { r: number; rmse: number; mae: number; validated: number } | null;
  /** The training-fold mean outcome. */
  mean: { rmse: number; mae: number };
}

export interface Prediction {
  a: string;
  b: string;
  method: string;
  predicted: number;
  lo: number;
  hi: number;
  /** Paper-model score (ranking only, no units). */
  score: number;
  /** Metric contributions to the calibrated prediction, largest |value| first. */
  drivers: { metric: string; contribution: number }[];
  /** Distance from the predictor's training rows; absent when the predictor has no domain. */
  domain?: PredictionDomain;
}

// ───────────────────────────────────── progress ─────────────────────────────────────

export interface ProgressEvent {
  phase: string;
  done: number;
  total: number;
  unit: 'bytes' | 'tensors' | 'items';
  /** Free text, e.g. the current tensor name. */
  detail?: string;
}

export type ProgressSink = (e: ProgressEvent) => void;
