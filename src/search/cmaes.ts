/**
 * CMA-ES, Hansen's standard (μ/μ_w, λ)-CMA-ES with cumulative step-size adaptation (CSA),
 * rank-one and rank-μ covariance updates — parameters and update order exactly as in
 * N. Hansen, "The CMA Evolution Strategy: A Tutorial" (arXiv:1604.00772), Table 1 and Fig. 6,
 * written for minimisation.
 *
 * Ask/tell, with every bit of state in a plain JSON object (`CmaState`): a search can be written
 * to disk after any `tell` and resumed from it. Sampling is deterministic given the seed: the
 * population of generation g is drawn from mulberry32(seed ⊕ g) (normals by Box–Muller), so
 * `ask` needs no hidden generator state and asking twice returns the same population.
 *
 * Bounds (a box [lo, hi] per coordinate) are handled by *repair + penalty* (the tutorial's
 * Appendix B.3 approach, simplified): `ask` returns the unconstrained sample x and its repair
 * clip(x) into the box; the caller evaluates the repaired point, and `tell` is given
 * f(clip(x)) + penalty·‖x − clip(x)‖²/(hi−lo)² so the distribution is pushed back inside
 * without the bias a Lamarckian write-back of clip(x) would add. No npm package for CMA-ES
 * was found in the registry lists (searched "cma", "cmaes", "evolution strategy").
 */
import { mulberry32 } from '../util/mulberry32.js';
import { symmetricEigen } from '../numerics/linalg/symmetric-eigen.js';

export interface CmaOptions {
  /** Initial mean (its length is the dimension). */
  x0: number[];
  /** Initial step size σ (in the units of x). */
  sigma0: number;
  /** Population size λ; default 4 + ⌊3 ln n⌋. */
  popsize?: number;
  seed?: number;
  /** Box bounds, per coordinate or one pair for all. */
  lower?: number[] | number;
  upper?: number[] | number;
  /** Penalty factor for the distance of a sample outside the box (default 1e-1·|f| scale is the caller's job; default 1). */
  penalty?: number;
}

/** The whole optimiser state: plain data, JSON round-trips exactly (no NaN/Infinity inside). */
export interface CmaState {
  format: 'mergelens.cmaes';
  version: 1;
  n: number;
  lambda: number;
  mu: number;
  weights: number[];
  mueff: number;
  cc: number;
  cs: number;
  c1: number;
  cmu: number;
  damps: number;
  chiN: number;
  seed: number;
  lower: number[] | null;
  upper: number[] | null;
  penalty: number;
  /** Generation counter g (0 before the first tell). */
  gen: number;
  /** Objective evaluations told so far. */
  evals: number;
  mean: number[];
  sigma: number;
  pc: number[];
  ps: number[];
  /** Covariance C, row-major n×n. */
  C: number[];
  /** Best point (repaired, i.e. evaluated) and its raw objective so far. */
  best: { x: number[]; f: number } | null;
}

export interface Sample {
  /** The sample as drawn (what `tell` learns from). */
  x: number[];
  /** The sample repaired into the bounds (what should be evaluated). */
  repaired: number[];
}

const expand = (v: number[] | number | undefined, n: number, name: string): number[] | null => {
  if (v === undefined) return null;
  const a = typeof v === 'number' ? new Array<number>(n).fill(v) : v;
  if (a.length !== n) throw new Error(`cmaes: ${name} has ${a.length} values for ${n} dimensions`);
  return a.slice();
};

export function createCma(o: CmaOptions): CmaState {
  const n = o.x0.length;
  if (n < 1) throw new Error('cmaes: need at least one dimension');
  if (!(o.sigma0 > 0)) throw new Error(`cmaes: sigma0 must be > 0, got ${o.sigma0}`);
  const lambda = o.popsize ?? 4 + Math.floor(3 * Math.log(n));
  if (!Number.isInteger(lambda) || lambda < 2) throw new Error(`cmaes: popsize must be an integer ≥ 2, got ${lambda}`);
  const mu = Math.floor(lambda / 2);
  const raw = Array.from({ length: mu }, (_, i) => Math.log((lambda + 1) / 2) - Math.log(i + 1));
  const sum = raw.reduce((s, w) => s + w, 0);
  const weights = raw.map((w) => w / sum);
  const mueff = 1 / weights.reduce((s, w) => s + w * w, 0);
  const cc = (4 + mueff / n) / (n + 4 + (2 * mueff) / n);
  const cs = (mueff + 2) / (n + mueff + 5);
  const c1 = 2 / ((n + 1.3) ** 2 + mueff);
  const cmu = Math.min(1 - c1, (2 * (mueff - 2 + 1 / mueff)) / ((n + 2) ** 2 + mueff));
  const damps = 1 + 2 * Math.max(0, Math.sqrt((mueff - 1) / (n + 1)) - 1) + cs;
  const chiN = Math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n));
  const lower = expand(o.lower, n, 'lower');
  const upper = expand(o.upper, n, 'upper');
  if (lower && upper && lower.some((l, i) => !(l < upper[i]))) throw new Error('cmaes: every lower bound must be below its upper bound');
  const C = new Array<number>(n * n).fill(0);
  for (let i = 0; i < n; i++) C[i * n + i] = 1;
  return {
    format: 'mergelens.cmaes',
    version: 1,
    n, lambda, mu, weights, mueff, cc, cs, c1, cmu, damps, chiN,
    seed: (o.seed ?? 0) >>> 0,
    lower, upper,
    penalty: o.penalty ?? 1,
    gen: 0,
    evals: 0,
    mean: o.x0.slice(),
    sigma: o.sigma0,
    pc: new Array<number>(n).fill(0),
    ps: new Array<number>(n).fill(0),
    C,
    best: null,
  };
}

/** C = B·diag(D²)·Bᵀ: eigenvectors B (column j at B[·][j]) and D = √eigenvalues. */
function decompose(s: CmaState): { B: Float64Array; D: Float64Array } {
  const { n } = s;
  const eig = symmetricEigen(Float64Array.from(s.C), n);
  const B = new Float64Array(n * n); // row-major, B[i*n + j] = component i of eigenvector j
  for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) B[i * n + j] = eig.vectors[j * n + i];
  const D = eig.values.map((v) => Math.sqrt(Math.max(v, 1e-300)));
  return { B, D };
}

/** Standard normals from a uniform generator (Box–Muller, both outputs used). */
function normals(rand: () => number, count: number): number[] {
  const out: number[] = [];
  while (out.length < count) {
    const u1 = 1 - rand(); // (0, 1]: log is finite
    const u2 = rand();
    const r = Math.sqrt(-2 * Math.log(u1));
    out.push(r * Math.cos(2 * Math.PI * u2), r * Math.sin(2 * Math.PI * u2));
  }
  return out.slice(0, count);
}

/** The generator of generation `gen`: a fixed function of (seed, gen). */
const genRng = (seed: number, gen: number) => mulberry32((seed ^ Math.imul(gen + 1, 0x9e3779b1)) >>> 0);

export function repair(s: CmaState, x: number[]): number[] {
  return x.map((v, i) => Math.min(s.upper ? s.upper[i] : Infinity, Math.max(s.lower ? s.lower[i] : -Infinity, v)));
}

/** λ samples of the current generation (deterministic: same state → same samples). */
export function ask(s: CmaState): Sample[] {
  const { n } = s;
  const { B, D } = decompose(s);
  const z = normals(genRng(s.seed, s.gen), n * s.lambda);
  const out: Sample[] = [];
  for (let k = 0; k < s.lambda; k++) {
    const x = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      let y = 0;
      for (let j = 0; j < n; j++) y += B[i * n + j] * D[j] * z[k * n + j];
      x[i] = s.mean[i] + s.sigma * y;
    }
    out.push({ x, repaired: repair(s, x) });
  }
  return out;
}

/** The value `tell` should learn from: f at the repaired point plus the out-of-box penalty. */
export function penalised(s: CmaState, sample: Sample, f: number): number {
  let d = 0;
  for (let i = 0; i < s.n; i++) {
    const span = s.lower && s.upper ? s.upper[i] - s.lower[i] : 1;
    d += ((sample.x[i] - sample.repaired[i]) / span) ** 2;
  }
  return f + s.penalty * d;
}

/**
 * Update the state from the generation's samples (as `ask` returned them, any order is fine as
 * long as `fitness[k]` belongs to `samples[k]`) and their objective values at the repaired
 * points. Returns a new state (the input is not modified).
 */
export function tell(prev: CmaState, samples: Sample[], fitness: number[]): CmaState {
  const s: CmaState = JSON.parse(JSON.stringify(prev));
  const { n, mu, weights, cs, cc, c1, cmu, mueff } = s;
  if (samples.length !== s.lambda || fitness.length !== s.lambda) throw new Error(`cmaes: tell needs ${s.lambda} samples and values`);
  if (fitness.some((f) => Number.isNaN(f))) throw new Error('cmaes: objective value is NaN');
  const learned = samples.map((smp, k) => penalised(s, smp, fitness[k]));
  // Stable sort by value, then index: ties are broken identically in every run.
  const order = learned.map((f, k) => k).sort((a, b) => learned[a] - learned[b] || a - b);
  for (let k = 0; k < s.lambda; k++) {
    if (!s.best || fitness[k] < s.best.f) s.best = { x: samples[k].repaired.slice(), f: fitness[k] };
  }
  const { B, D } = decompose(prev);
  const old = s.mean.slice();
  const ys = order.slice(0, mu).map((k) => samples[k].x.map((v, i) => (v - old[i]) / s.sigma));
  const yw = new Array<number>(n).fill(0);
  for (let r = 0; r < mu; r++) for (let i = 0; i < n; i++) yw[i] += weights[r] * ys[r][i];
  for (let i = 0; i < n; i++) s.mean[i] = old[i] + s.sigma * yw[i];
  // C^{-1/2}·yw = B·D^{-1}·Bᵀ·yw
  const t = new Array<number>(n).fill(0);
  for (let j = 0; j < n; j++) {
    let v = 0;
    for (let i = 0; i < n; i++) v += B[i * n + j] * yw[i];
    t[j] = v / D[j];
  }
  const invSqrtYw = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) invSqrtYw[i] += B[i * n + j] * t[j];
  const csn = Math.sqrt(cs * (2 - cs) * mueff);
  for (let i = 0; i < n; i++) s.ps[i] = (1 - cs) * s.ps[i] + csn * invSqrtYw[i];
  const psNorm = Math.sqrt(s.ps.reduce((a, v) => a + v * v, 0));
  s.gen += 1;
  s.evals += s.lambda;
  const hsig = psNorm / Math.sqrt(1 - (1 - cs) ** (2 * s.gen)) / s.chiN < 1.4 + 2 / (n + 1) ? 1 : 0;
  const ccn = Math.sqrt(cc * (2 - cc) * mueff);
  for (let i = 0; i < n; i++) s.pc[i] = (1 - cc) * s.pc[i] + hsig * ccn * yw[i];
  const dh = (1 - hsig) * cc * (2 - cc);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let rmu = 0;
      for (let r = 0; r < mu; r++) rmu += weights[r] * ys[r][i] * ys[r][j];
      s.C[i * n + j] = (1 - c1 - cmu) * s.C[i * n + j] + c1 * (s.pc[i] * s.pc[j] + dh * s.C[i * n + j]) + cmu * rmu;
    }
  }
  // Enforce exact symmetry (rounding) so the eigensolver sees a symmetric matrix.
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) s.C[i * n + j] = s.C[j * n + i] = (s.C[i * n + j] + s.C[j * n + i]) / 2;
  s.sigma *= Math.exp((cs / s.damps) * (psNorm / s.chiN - 1));
  return s;
}

/** Convenience loop: minimise f until `maxEvals` or the best value reaches `target`. */
export function minimise(f: (x: number[]) => number, o: CmaOptions & { maxEvals: number; target?: number }): { state: CmaState; evals: number; best: { x: number[]; f: number } } {
  let s = createCma(o);
  while (s.evals + s.lambda <= o.maxEvals && !(s.best && o.target !== undefined && s.best.f <= o.target)) {
    const pop = ask(s);
    s = tell(s, pop, pop.map((p) => f(p.repaired)));
  }
  return { state: s, evals: s.evals, best: s.best! };
}
