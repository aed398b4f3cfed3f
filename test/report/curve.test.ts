/**
 * The study report's learning-curve table: the budgeted sweep's curve computed on a study
 * (learningCurve, as the study does with --curve) appears in the HTML with the same numbers, one
 * row per budget plus the two all-evaluated rows, escaped; no section without a curve.
 */
import { describe, expect, it } from 'vitest';
import { renderReport } from '../../src/report/render.js';
import { defaultBudgets, learningCurve } from '../../src/sweep/curve.js';
import { sampleMetrics, sampleStudyAndPredictor } from './sample.js';

/** The text of every cell of the table with this id, row by row (tags stripped). */
function tableCells(html: string, id: string): string[][] {
  const start = html.indexOf(`id="${id}"`);
  expect(start).toBeGreaterThan(0);
  const body = html.slice(html.indexOf('<tbody>', start), html.indexOf('</tbody>', start));
  return [...body.matchAll(/<tr>(.*?)<\/tr>/g)].map((m) => [...m[1].matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((c) => c[1]));
}

describe('report: budgeted-sweep learning curve', () => {
  const { study, predictor } = sampleStudyAndPredictor({ experts: 8 });
  const total = study.rows.length;
  const budgets = [Math.round(total * 0.2), Math.round(total * 0.5)];
  const curve = learningCurve(study, { budgets, randomSeeds: 3 });
  const input = { metrics: sampleMetrics({ experts: 4 }), study, predictor, curve };
  const html = renderReport(input);

  it('the table holds one row per budget with the computed numbers, then the out-of-fold rows', () => {
    const cells = tableCells(html, 'curve-table');
    expect(cells).toHaveLength(budgets.length + 2);
    curve.points.forEach((p, i) => {
      const row = cells[i];
      expect(row[0]).toBe(String(budgets[i]));
      expect(row[1]).toBe(`${Math.round((budgets[i] / total) * 100)}%`);
      expect(Number(row[2])).toBe(total - budgets[i]); // every merge not evaluated is predicted
      expect(row[3]).toBe(p.selected.r.toFixed(3));
      expect(row[4]).toBe(`${p.random.mean.r.toFixed(3)} ± ${p.random.sd.r.toFixed(3)}`);
      expect(row[5]).toBe(p.selected.rmse.toFixed(3));
      expect(row[6]).toBe(`${p.random.mean.rmse.toFixed(3)} ± ${p.random.sd.rmse.toFixed(3)}`);
    });
    expect(cells[budgets.length][0]).toBe(`all ${total}, 5-fold out-of-fold`);
    expect(cells[budgets.length][3]).toBe(curve.all.kfold.r.toFixed(3));
    expect(cells[budgets.length + 1][5]).toBe(curve.all.loto.rmse.toFixed(3));
    // the numbers are real: the sample's outcomes are linear in the metrics plus small noise
    // (residual sd 0.02–0.035), so a fit on half the merges predicts the other half well
    expect(curve.points[1].selected.r).toBeGreaterThan(0.5);
    expect(curve.points[1].selected.rmse).toBeLessThan(0.1);
    expect(Math.abs(curve.all.kfold.r)).toBeLessThanOrEqual(1);
  });

  it('is linked from the navigation, and absent without a curve', () => {
    expect(html).toContain('<a href="#curve-section">Learning curve</a>');
    expect(html).toContain(`If only some of the study's ${total} merges`);
    const without = renderReport({ ...input, curve: undefined });
    expect(without.includes('curve-section')).toBe(false);
    expect(without.includes('curve-table')).toBe(false);
  });

  it('defaultBudgets: the sweep-curve shares, rounded, inside [1, total − 1]', () => {
    expect(defaultBudgets(360)).toEqual([18, 36, 54, 72, 108, 144, 180, 241]);
    expect(defaultBudgets(4)).toEqual([1, 2, 3]);
  });
});
