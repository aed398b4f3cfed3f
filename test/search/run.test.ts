import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { runSearch } from '../../src/search/run.js';
import { EvalFailure, type Evaluator } from '../../src/eval/runner.js';

const Z = path.resolve(__dirname, '../../fixtures/study');
const experts = ['digits', 'rot90', 'invert'].map((t) => path.join(Z, 'experts', `${t}.safetensors`));
const TENSOR = 'encoder.0.weight';

async function read(file: string): Promise<Float32Array> {
  const ck = await openCheckpoint(file);
  try {
    return await ck.read(TENSOR);
  } finally {
    await ck.close();
  }
}

describe('runSearch (in-process evaluator with a known optimum)', () => {
  it('finds the weights of a target merge, journals every candidate, writes log, Pareto front and recipe', async () => {
    // Target: θ* = θ₀ + Σ w*_i τ_i on one tensor. Score = 1 − ‖θ − θ*‖²/‖θ* − θ₀‖² (1 at the
    // optimum, a concave quadratic in w), so the best weights must approach w*.
    const base = await read(path.join(Z, 'base.safetensors'));
    const taus = await Promise.all(experts.map(async (e) => (await read(e)).map((v, k) => v - base[k])));
    const wStar = [0.6, 0.2, 0.45];
    const target = base.map((v, k) => v + wStar.reduce((s, w, i) => s + w * taus[i][k], 0));
    const scale = target.reduce((s, v, k) => s + (v - base[k]) ** 2, 0);
    const evaluator: Evaluator = async (ctx) => {
      const m = await read(path.join(ctx.model, 'model.safetensors'));
      const d = m.reduce((s, v, k) => s + (v - target[k]) ** 2, 0);
      return { scores: { fit: 1 - d / scale, other: 0.5 } };
    };
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mergelens-search-'));
    const r = await runSearch({ base: path.join(Z, 'base.safetensors'), experts, method: 'task_arithmetic', params: { lambda: 1 }, evaluator, outDir: dir, budget: 120, popsize: 6, seed: 4, tasks: ['fit', 'other'], objective: 'weighted:fit=1', writeBest: false });
    expect(r.interrupted).toBe(false);
    const s = r.summary;
    expect(s.evaluations).toBe(121);
    expect(s.start.weights).toEqual([1 / 3, 1 / 3, 1 / 3]);
    for (let i = 0; i < 3; i++) expect(Math.abs(s.best!.weights[i] - wStar[i])).toBeLessThan(0.03);
    expect(s.best!.objective!).toBeGreaterThan(0.999);
    // Best-so-far is non-decreasing and ends at the best.
    for (let k = 1; k < s.bestSoFar.length; k++) expect(s.bestSoFar[k]).toBeGreaterThanOrEqual(s.bestSoFar[k - 1]);
    expect(s.bestSoFar.at(-1)).toBe(s.best!.objective);
    // "other" is constant: every candidate ties on it, so the front is the best-"fit" set.
    expect(s.pareto).toEqual(s.candidates.filter((c) => c.scores!.fit === s.best!.scores!.fit).map((c) => c.id));
    // One journal line per candidate, every per-task score recorded.
    const lines = readFileSync(path.join(dir, 'journal.jsonl'), 'utf8').trim().split('\n').slice(1).map((l) => JSON.parse(l));
    expect(lines.length).toBe(121);
    expect(lines.every((l) => l.status === 'ok' && typeof l.scores.fit === 'number' && l.scores.other === 0.5)).toBe(true);
    const csv = readFileSync(path.join(dir, 'search.csv'), 'utf8').trim().split('\n');
    expect(csv.length).toBe(122);
    expect(csv[0].split(',').slice(0, 9)).toEqual(['evaluation', 'id', 'generation', 'status', 'objective', 'pareto', 'w_digits', 'w_rot90', 'w_invert']);
    const yml = readFileSync(path.join(dir, 'recipe.yml'), 'utf8');
    expect(yml).toContain('merge_method: task_arithmetic');
    expect(yml).toContain(`weight: ${s.best!.weights[0]}`);
  }, 300_000);

  it('records failed evaluations with their reason and keeps searching around them', async () => {
    // Fails whenever the first weight exceeds 0.4; otherwise the score rises with it, so the
    // best recipe must sit at or below 0.4 and failures must rank below every scored candidate.
    const evaluator: Evaluator = async (ctx) => {
      const w = (ctx.candidate.meta as { weights: number[] }).weights;
      if (w[0] > 0.4) throw new EvalFailure(`weight ${w[0]} too large`);
      return { scores: { t: w[0] } };
    };
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mergelens-search-'));
    const r = await runSearch({ base: path.join(Z, 'base.safetensors'), experts: experts.slice(0, 2), method: 'task_arithmetic', evaluator, outDir: dir, budget: 24, popsize: 4, seed: 2, tasks: ['t'], retries: 0, writeBest: false });
    const failed = r.summary.candidates.filter((c) => c.status === 'failed');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.some((c) => /too large/.test(c.reason!))).toBe(true);
    for (const c of failed) {
      // Either the evaluator refused it, or every weight was clipped to 0 and the merge itself
      // refused (a materialise failure, recorded the same way).
      if (c.weights.every((w) => w === 0)) expect(c.reason).toMatch(/materialise failed: .*every weight is 0/);
      else {
        expect(c.weights[0], `${c.id} ${c.reason}`).toBeGreaterThan(0.4);
        expect(c.reason).toMatch(/too large/);
      }
    }
    expect(r.summary.best!.weights[0]).toBeLessThanOrEqual(0.4);
    expect(r.summary.best!.objective).toBe(Math.max(...r.summary.candidates.filter((c) => c.status === 'ok').map((c) => c.objective!)));
  }, 120_000);

  it('refuses a method without weights, a single expert and a bad start', async () => {
    const base = path.join(Z, 'base.safetensors');
    const common = { base, outDir: mkdtempSync(path.join(os.tmpdir(), 'mergelens-search-')), budget: 4, evaluator: (async () => ({ scores: {} })) as Evaluator };
    await expect(runSearch({ ...common, experts, method: 'slerp' })).rejects.toThrow(/no per-expert weights|nothing to search/);
    await expect(runSearch({ ...common, experts: experts.slice(0, 1), method: 'ties' })).rejects.toThrow(/at least 2 experts/);
    await expect(runSearch({ ...common, experts, method: 'ties', start: '0.5,2,0' })).rejects.toThrow(/3 weights within \[0, 1\]/);
    await expect(runSearch({ ...common, experts, method: 'task_arithmetic', searchParams: ['density'] })).rejects.toThrow(/has no parameter "density"/);
    // 3 dimensions → default popsize 4 + ⌊3 ln 3⌋ = 7 > budget 4.
    await expect(runSearch({ ...common, experts, method: 'task_arithmetic' })).rejects.toThrow(/below one generation \(popsize 7\)/);
  });
});
