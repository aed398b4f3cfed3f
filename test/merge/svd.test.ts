import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { NULL_TOL, exactSvd, matmul, procrustes, thinSvd } from '../../src/merge/svd.js';
import { getMethod, resolveParams } from '../../src/merge/registry.js';
import { tensorRandom } from '../../src/merge/random.js';
import { f64, maxAbsDiff, randn, refIsoDelta, refTsvDelta, singularValues, taskVectors, testRng } from './reference.js';

const randMatrix = (seed: number, m: number, n: number) => Matrix.from1DArray(m, n, Array.from(randn(testRng(seed), m * n)));
const eye = (k: number) => Matrix.eye(k, k);

function expectOrthonormalColumns(q: Matrix) {
  expect(maxAbsDiff(q.transpose().mmul(q).to1DArray(), eye(q.columns).to1DArray())).toBeLessThan(1e-9);
}

describe('thinSvd / procrustes', () => {
  it('Gram fast path: orthonormal factors that reconstruct A, singular values equal to the exact SVD', () => {
    for (const [m, n] of [[9, 6], [6, 9], [7, 7]]) {
      const a = randMatrix(m * 10 + n, m, n);
      const { U, s, V } = thinSvd(a);
      expectOrthonormalColumns(U);
      expectOrthonormalColumns(V);
      const back = U.mmul(Matrix.diag(s)).mmul(V.transpose());
      expect(maxAbsDiff(back.to1DArray(), a.to1DArray())).toBeLessThan(1e-10);
      expect(maxAbsDiff(s, exactSvd(a).s)).toBeLessThan(1e-10);
    }
  });

  it('rank-deficient input: only the non-null components, orthonormal, reconstructing A', () => {
    const u = randMatrix(1, 8, 1);
    const v = randMatrix(2, 1, 5);
    const a = u.mmul(v); // rank 1
    const all = new SingularValueDecomposition(a, { autoTranspose: true }).diagonal;
    expect(all[1] / all[0]).toBeLessThan(NULL_TOL);
    const { U, s, V } = thinSvd(a);
    expect(s).toHaveLength(1);
    expect(s[0]).toBeCloseTo(all[0], 10);
    expectOrthonormalColumns(U);
    expectOrthonormalColumns(V);
    expect(maxAbsDiff(U.mmul(Matrix.diag(s)).mmul(V.transpose()).to1DArray(), a.to1DArray())).toBeLessThan(1e-10);
  });

  it('a singular value between NULL_TOL·σ₁ and COND·σ₁ is kept, via the exact SVD', () => {
    const q1 = exactSvd(randMatrix(11, 7, 3)).U; // 7×3 orthonormal
    const q2 = exactSvd(randMatrix(12, 5, 3)).U; // 5×3 orthonormal
    const a = q1.mmul(Matrix.diag([1, 0.5, 3e-6])).mmul(q2.transpose());
    const { s } = thinSvd(a);
    expect(s).toHaveLength(3);
    expect(s[2]).toBeCloseTo(3e-6, 12);
    expect(thinSvd(q1.mmul(Matrix.diag([1, 0.5, 3e-7])).mmul(q2.transpose())).s).toHaveLength(2); // below NULL_TOL: dropped
  });

  it('procrustes is the polar factor: orthonormal, and equal to P·Qᵀ of the exact SVD', () => {
    for (const [m, n] of [[10, 4], [4, 10]]) {
      const a = randMatrix(m + n, m, n);
      const w = procrustes(a);
      const { U, V } = exactSvd(a);
      expect(maxAbsDiff(w.to1DArray(), U.mmul(V.transpose()).to1DArray())).toBeLessThan(1e-9);
    }
  });

  it('matmul equals ml-matrix mmul', () => {
    const a = randMatrix(3, 5, 7);
    const b = randMatrix(4, 7, 3);
    expect(maxAbsDiff(matmul(a, b).to1DArray(), a.mmul(b).to1DArray())).toBeLessThan(1e-12);
  });
});

describe('tsv / iso_c on low-rank task vectors (exact-SVD fallback)', () => {
  function lowRankExperts(seed: number, m: number, n: number, rank: number, N: number) {
    const rng = testRng(seed);
    const base = randn(rng, m * n);
    const experts = Array.from({ length: N }, () => {
      const u = Matrix.from1DArray(m, rank, Array.from(randn(rng, m * rank)));
      const v = Matrix.from1DArray(rank, n, Array.from(randn(rng, rank * n)));
      const tau = u.mmul(v).to1DArray();
      return base.map((b, i) => b + 0.1 * tau[i]);
    });
    return { base, experts, baseV: f64(base), expertV: experts.map(f64) };
  }
  function fixtureFullRank(seed: number, m: number, n: number) {
    const rng = testRng(seed);
    const base = randn(rng, m * n);
    const d = randn(rng, m * n, 0.1);
    const experts = [base.map((b, i) => b + d[i])];
    return { base, experts, baseV: f64(base), expertV: experts.map(f64) };
  }
  const run = (id: string, base: Float32Array, experts: Float32Array[], shape: number[]) => {
    const m = getMethod(id);
    return m.mergeTensor({ name: 'w', shape, base, experts, weights: experts.map(() => 1), params: resolveParams(m, {}), random: tensorRandom(0, 'w') });
  };

  it('tsv with one rank-2 expert reproduces it', () => {
    const { base, experts } = lowRankExperts(1, 8, 6, 2, 1);
    expect(maxAbsDiff(run('tsv', base, experts, [8, 6]), experts[0])).toBeLessThan(1e-5);
  });

  it('tsv of two identical experts = the task vector truncated to its top ⌊r/2⌋ components', () => {
    const { base, experts, baseV, expertV } = fixtureFullRank(3, 9, 6);
    const tau = taskVectors(baseV, [expertV[0]])[0];
    const svd = exactSvd(Matrix.from1DArray(9, 6, tau));
    const k = 3;
    const trunc = svd.U.subMatrix(0, 8, 0, k - 1).mmul(Matrix.diag(svd.s.slice(0, k))).mmul(svd.V.subMatrix(0, 5, 0, k - 1).transpose()).to1DArray();
    expect(maxAbsDiff(run('tsv', base, [experts[0], experts[0]], [9, 6]), baseV.map((b, j) => b + trunc[j]))).toBeLessThan(1e-5);
  });

  it('iso_c of a rank-deficient sum keeps its rank, with every non-zero singular value = Σσ/min(m,n)', () => {
    const { base, experts, baseV } = lowRankExperts(4, 8, 6, 2, 1);
    const out = run('iso_c', base, experts, [8, 6]);
    const tauSv = singularValues(f64(experts[0]).map((x, j) => x - baseV[j]), 8, 6);
    const sv = singularValues(f64(out).map((x, j) => x - baseV[j]), 8, 6);
    const mean = tauSv.reduce((a, b) => a + b, 0) / 6;
    expect(sv[0]).toBeCloseTo(mean, 5);
    expect(sv[1]).toBeCloseTo(mean, 5);
    expect(sv[2]).toBeLessThan(1e-5);
  });

  it('zero task vectors leave the base unchanged (no NaN from 0/0)', () => {
    const base = randn(testRng(5), 24);
    for (const id of ['tsv', 'iso_c']) expect(f64(run(id, base, [base, base], [4, 6]))).toEqual(f64(base));
  });

  it('tsv and iso_c with rank-2 task vectors match the ml-matrix reference', () => {
    const { base, experts, baseV, expertV } = lowRankExperts(2, 8, 6, 2, 2);
    const taus = taskVectors(baseV, expertV);
    const tsvDelta = refTsvDelta(taus, 8, 6);
    expect(maxAbsDiff(run('tsv', base, experts, [8, 6]), baseV.map((b, j) => b + tsvDelta[j]))).toBeLessThan(1e-5);
    // Σ τ has rank 4 < 6: only its non-null components count
    const isoDelta = refIsoDelta(taus, [1, 1], 8, 6);
    expect(maxAbsDiff(run('iso_c', base, experts, [8, 6]), baseV.map((b, j) => b + isoDelta[j]))).toBeLessThan(1e-5);
  });
});
