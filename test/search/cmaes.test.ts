import { describe, expect, it } from 'vitest';
import { ask, createCma, minimise, tell, type CmaState } from '../../src/search/cmaes.js';

const sphere = (x: number[]) => x.reduce((s, v) => s + v * v, 0);
const rosenbrock = (x: number[]) => {
  let s = 0;
  for (let i = 0; i < x.length - 1; i++) s += 100 * (x[i] ** 2 - x[i + 1]) ** 2 + (1 - x[i]) ** 2;
  return s;
};

describe('CMA-ES (Hansen tutorial parameters)', () => {
  it('has the tutorial default constants (n = 10: λ = 10, μ = 5, μ_eff ≈ 3.17)', () => {
    const s = createCma({ x0: new Array(10).fill(0), sigma0: 1 });
    expect(s.lambda).toBe(10);
    expect(s.mu).toBe(5);
    // μ_eff = (Σw)²/Σw² with w_i = ln(5.5) − ln i, computed independently here.
    const w = [1, 2, 3, 4, 5].map((i) => Math.log(5.5) - Math.log(i));
    const mueff = w.reduce((a, b) => a + b) ** 2 / w.reduce((a, b) => a + b * b, 0);
    expect(s.mueff).toBeCloseTo(mueff, 12);
    expect(s.weights.reduce((a, b) => a + b)).toBeCloseTo(1, 14);
  });

  for (const n of [2, 5, 10]) {
    it(`sphere ${n}-D reaches f < 1e-10 within the tutorial's order of evaluations`, () => {
      const r = minimise(sphere, { x0: new Array(n).fill(1), sigma0: 0.5, seed: 3, maxEvals: 20000, target: 1e-10 });
      expect(r.best.f).toBeLessThan(1e-10);
      // Sphere needs ≈ O(10·n)–O(100·n) evaluations per decade of progress; n = 10 ≈ 1.5e3 in Hansen's runs.
      expect(r.evals).toBeLessThan(300 * n + 600);
    });
  }

  it('Rosenbrock 10-D converges to the global minimum (1, …, 1)', () => {
    const r = minimise(rosenbrock, { x0: new Array(10).fill(0), sigma0: 0.5, seed: 1, maxEvals: 20000, target: 1e-10 });
    expect(r.best.f).toBeLessThan(1e-10);
    for (const v of r.best.x) expect(v).toBeCloseTo(1, 4);
    // Hansen's purecmaes reports ≈ 5–7·10³ evaluations for 10-D Rosenbrock to 1e-10.
    expect(r.evals).toBeLessThan(12000);
  });

  it('Rosenbrock 2-D converges to (1, 1)', () => {
    const r = minimise(rosenbrock, { x0: [-1, 2], sigma0: 0.5, seed: 7, maxEvals: 5000, target: 1e-12 });
    expect(r.best.x[0]).toBeCloseTo(1, 5);
    expect(r.best.x[1]).toBeCloseTo(1, 5);
  });

  it('is deterministic given the seed and differs across seeds', () => {
    const a = minimise(sphere, { x0: [1, 1, 1], sigma0: 0.3, seed: 5, maxEvals: 200 });
    const b = minimise(sphere, { x0: [1, 1, 1], sigma0: 0.3, seed: 5, maxEvals: 200 });
    const c = minimise(sphere, { x0: [1, 1, 1], sigma0: 0.3, seed: 6, maxEvals: 200 });
    expect(b.state).toEqual(a.state);
    expect(c.state.mean).not.toEqual(a.state.mean);
  });

  it('state survives a JSON round-trip mid-run: resumed run equals the uninterrupted one', () => {
    const f = (x: number[]) => rosenbrock(x);
    let s = createCma({ x0: [0, 0, 0, 0], sigma0: 0.5, seed: 11 });
    let resumed: CmaState | null = null;
    for (let g = 0; g < 30; g++) {
      const pop = ask(s);
      s = tell(s, pop, pop.map((p) => f(p.repaired)));
      if (g === 12) resumed = JSON.parse(JSON.stringify(s)) as CmaState;
    }
    let r = resumed!;
    for (let g = 13; g < 30; g++) {
      const pop = ask(r);
      r = tell(r, pop, pop.map((p) => f(p.repaired)));
    }
    expect(r).toEqual(s);
  });

  it('keeps evaluated points in the box and finds a minimum on the boundary', () => {
    // min of (x − 2)² over [0, 1] is at x = 1.
    const seen: number[] = [];
    const r = minimise((x) => {
      seen.push(...x);
      return x.reduce((a, v) => a + (v - 2) ** 2, 0);
    }, { x0: [0.5, 0.5], sigma0: 0.3, seed: 2, lower: 0, upper: 1, maxEvals: 600 });
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...seen)).toBeLessThanOrEqual(1);
    expect(r.best.x[0]).toBeCloseTo(1, 6);
    expect(r.best.x[1]).toBeCloseTo(1, 6);
  });
});
