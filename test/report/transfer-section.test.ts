/**
 * The transfer section: one table row per (source, target) with the figures given, formatted to
 * 3 decimals, the in-domain share as a percentage, and study names escaped.
 */
import { describe, expect, it } from 'vitest';
import { renderReport } from '../../src/report/render.js';
import type { TransferRow } from '../../src/report/model.js';
import { EVIL, sampleInput } from './sample.js';

const row = (o: Partial<TransferRow>): TransferRow => ({
  from: 'MNIST (weights only)', to: 'transformer full', rows: 288, meanMethodR: 0.0912, r: 0.0851, rmse: 0.2314, baselineRmse: 0.2372,
  ownR: 0.3301, ownRmse: 0.1261, ownBaselineRmse: 0.1433, inDomain: 0.04, ...o,
});

function section(html: string): string {
  const start = html.indexOf('<section id="transfer-section">');
  expect(start).toBeGreaterThan(0);
  return html.slice(start, html.indexOf('</section>', start));
}

describe('report: transfer between studies', () => {
  it('shows each row with its figures and escapes study names', () => {
    const s = section(renderReport({ ...sampleInput(), transfer: [row({}), row({ from: EVIL, r: null, inDomain: null })] }));
    const rows = s.split('<tr').slice(2); // header row first
    expect(rows).toHaveLength(2);
    for (const text of ['MNIST (weights only)', 'transformer full', '288', '0.091', '0.085', '0.231', '0.237', '0.330', '0.126', '0.143', '4%']) expect(rows[0]).toContain(text);
    expect(s).not.toContain(EVIL);
    expect(s).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it("shows each method's out-of-fold RMSE against the mean baseline's in the validation table", () => {
    const input = sampleInput();
    const html = renderReport(input);
    const start = html.indexOf('id="validation-table"');
    const table = html.slice(start, html.indexOf('</table>', start));
    const header = table.slice(0, table.indexOf('</tr>'));
    expect(header).toContain('Calibrated RMSE');
    expect(header).toContain('Baseline RMSE');
    for (const mp of Object.values(input.predictor.methods)) {
      const v = mp.validation[0];
      const rowStart = table.indexOf(`>${mp.method}<`);
      const row = table.slice(rowStart, table.indexOf('</tr>', rowStart));
      for (const x of [v.calibrated.rmse, v.baseline.rmse]) expect(row).toContain(`data-sort="${x}"`);
    }
  });

  it('is absent without transfer rows', () => {
    expect(renderReport(sampleInput())).not.toContain('id="transfer-section"');
  });
});
