import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASES, findingsOf, runAxes, variantsOf, zooConfigOf, type AxesSummary } from '../../src/study/axes.js';
import type { StudyDataset } from '../../src/types.js';
import { runCli } from '../helpers/cli.js';

// A tiny variant set: 4 experts (groups of 3 hold one task out, groups of 4 none), two widths, one
// cheap base recipe, two methods, inline (workers 1) so it stays small on a loaded machine.
const TASKS = ['digits', 'rot90', 'invert', 'parity'];
const METHODS = ['weight_avg', 'task_arithmetic'];

let tmp: string;
let summary: AxesSummary;
let files: string[];

beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'mergelens-axes-'));
  ({ summary, files } = await runAxes({
    outDir: tmp,
    widths: [16, 32],
    bases: ['tiny'],
    recipes: { tiny: { pretrainTasks: ['digits'], epochs: 1 } },
    tasks: TASKS,
    methods: METHODS,
    groups: 1,
    split: { train: 200, test: 100 },
    seed: 3,
    workers: 1,
  }));
}, 120_000);

afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;

/** Held-in outcome of every merge in a written dataset, recomputed from the raw accuracies it records. */
function merges(ds: StudyDataset): { method: string; k: number; heldIn: number; heldOut?: number }[] {
  const pairs = ds.rows.map((r) => ({ method: r.method, k: 2, heldIn: (r.extra!.acc_a / r.extra!.expert_acc_a + r.extra!.acc_b / r.extra!.expert_acc_b) / 2 }));
  const groups = (ds.groups ?? []).map((g) => ({
    method: g.method,
    k: g.experts.length,
    heldIn: mean(g.experts.map((e) => g.extra![`norm_${e}`])),
    heldOut: g.heldOut,
  }));
  return [...pairs, ...groups];
}

describe('scale and base axes', () => {
  it('trains and studies every variant, and writes the summary', async () => {
    expect(summary.variants.map((v) => v.id)).toEqual(variantsOf({ widths: [16, 32], bases: ['tiny'], seed: 3 }).map((v) => v.id));
    expect(summary.variants.map((v) => v.id)).toEqual(['w16-tiny-s3', 'w32-tiny-s3']);
    const written = JSON.parse(await fsp.readFile(files[0], 'utf8')) as AxesSummary;
    expect(written.format).toBe('mergelens.study-axes');
    expect(written.cells).toEqual(summary.cells);
    const md = await fsp.readFile(files[1], 'utf8');
    for (const f of summary.findings) expect(md).toContain(f.claim);
    // The zoo manifests record the variant's encoder.
    for (const v of summary.variants) {
      const m = JSON.parse(await fsp.readFile(path.join(v.zoo, 'manifest.json'), 'utf8'));
      expect(m.config.encoderDims).toEqual([784, v.width, v.width / 2]);
    }
  });

  it("summary means equal a recomputation from each variant's written study rows", async () => {
    let heldOutSeen = 0;
    for (const v of summary.variants) {
      const ds = JSON.parse(await fsp.readFile(v.study, 'utf8')) as StudyDataset;
      const all = merges(ds);
      expect(all.filter((m) => m.k === 2)).toHaveLength(6 * METHODS.length);
      for (const method of METHODS) {
        const ks = [...new Set(all.filter((m) => m.method === method).map((m) => m.k))].sort((a, b) => a - b);
        expect(ks).toEqual([2, 3, 4]);
        const perK = ks.map((k) => mean(all.filter((m) => m.method === method && m.k === k).map((m) => m.heldIn)));
        ks.forEach((k, q) => {
          const cell = summary.cells.find((c) => c.variant === v.id && c.method === method && c.k === k)!;
          expect(cell.heldIn).toBeCloseTo(perK[q], 12);
          const outs = all.filter((m) => m.method === method && m.k === k && m.heldOut !== undefined).map((m) => m.heldOut!);
          if (outs.length) {
            heldOutSeen++;
            expect(cell.heldOut).toBeCloseTo(mean(outs), 12);
          } else expect(cell.heldOut).toBeUndefined();
        });
        const pv = summary.perVariant.find((p) => p.variant === v.id && p.method === method)!;
        expect(pv.heldIn).toBeCloseTo(mean(perK), 12);
        // Least-squares slope of held-in on k over every merge, from its normal equations.
        const xs = all.filter((m) => m.method === method);
        const mx = mean(xs.map((m) => m.k));
        const my = mean(xs.map((m) => m.heldIn));
        const slope = xs.reduce((s, m) => s + (m.k - mx) * (m.heldIn - my), 0) / xs.reduce((s, m) => s + (m.k - mx) ** 2, 0);
        expect(pv.heldInSlope!.slope).toBeCloseTo(slope, 12);
      }
    }
    // Groups of 3 among 4 experts hold one task out: the held-out probe was measured.
    expect(heldOutSeen).toBeGreaterThan(0);
  });

  it('the width finding is the widest minus the narrowest k-averaged outcome', () => {
    const f = summary.findings.find((x) => x.id === 'larger-models')!;
    for (const method of METHODS) {
      const at = (w: number) => summary.perVariant.find((p) => p.width === w && p.method === method)!.heldIn;
      expect(f.byMethod[method].effect).toBeCloseTo(at(32) - at(16), 12);
    }
    // One base only: no base comparison to make.
    expect(summary.findings.find((x) => x.id === 'stronger-base')!.verdict).toBe('inconclusive');
  });
});

describe('findingsOf verdicts', () => {
  const pv = (width: number, base: string, method: string, heldIn: number, slope: number) => ({
    variant: `w${width}-${base}`,
    width,
    base,
    seed: 1,
    method,
    heldIn,
    heldInSlope: { slope, se: 0.001, n: 10 },
  });

  it('calls effects in the paper’s direction reproduced, and the opposite not reproduced', () => {
    // Width helps by +0.10 / +0.12 under two bases (SE 0.01); the strong base hurts by 0.05 at both widths; slopes −0.02.
    const per = ['a', 'b'].flatMap((m) => [
      pv(16, 'default', m, 0.7, -0.02),
      pv(64, 'default', m, 0.8, -0.02),
      pv(16, 'strong', m, 0.65, -0.02),
      pv(64, 'strong', m, 0.77, -0.02),
    ]);
    const f = Object.fromEntries(findingsOf(per, 1).map((x) => [x.id, x]));
    expect(f['more-experts'].verdict).toBe('reproduced');
    expect(f['more-experts'].byMethod.a.effect).toBeCloseTo(-0.02, 12);
    expect(f['larger-models'].byMethod.a.effect).toBeCloseTo((0.1 + 0.12) / 2, 12);
    expect(f['larger-models'].byMethod.a.se).toBeCloseTo(0.01, 12);
    expect(f['larger-models'].verdict).toBe('reproduced');
    expect(f['stronger-base'].byMethod.a.effect).toBeCloseTo((-0.05 - 0.03) / 2, 12);
    expect(f['stronger-base'].verdict).toBe('not reproduced');
    // A seed spread larger than every effect makes nothing clear.
    const noisy = Object.fromEntries(findingsOf(per, 1, { a: 0.5, b: 0.5 }).map((x) => [x.id, x]));
    expect(noisy['larger-models'].verdict).toBe('not reproduced');
  });
});

describe('mergelens study --axes (CLI)', () => {
  it('refuses single-study options (and odd widths) before training anything', async () => {
    const out = path.join(os.tmpdir(), `mergelens-axes-cli-${process.pid}`);
    const r = runCli(['study', '--axes', '--quick', '--out', out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('drop --quick');
    // Odd widths are refused by the library too (the second layer is w/2).
    expect(() => zooConfigOf({ id: 'x', width: 33, base: 'default', seed: 1 }, { tasks: TASKS, split: { train: 10, test: 10 } }, BASES.default)).toThrow(/even/);
    await expect(fsp.stat(path.join(out, 'zoos'))).rejects.toThrow();
  });
});
