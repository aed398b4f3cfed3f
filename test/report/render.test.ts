/**
 * The rendered HTML as text (no browser): self-contained, plotly inlined once, no external
 * references, the data block parses back to the model, user strings escaped, size bounded.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildReportModel } from '../../src/report/model.js';
import { plotlyBundlePath, renderReport, resolvePredictions } from '../../src/report/render.js';
import { predictPairs } from '../../src/predict/predict.js';
import { EVIL, EVIL_TENSOR, sampleInput, sampleMetrics, sampleStudyAndPredictor, samplePredictions } from './sample.js';

const plotly = readFileSync(plotlyBundlePath(), 'utf8');
const DATA_OPEN = '<script type="application/json" id="mergelens-data">';

/** The page without the plotly bundle (whose source mentions URLs in strings it never fetches). */
function withoutPlotly(html: string): string {
  const start = html.indexOf(plotly.slice(0, 200));
  expect(start).toBeGreaterThan(0);
  return html.slice(0, start) + html.slice(start + plotly.length);
}

function dataBlock(html: string): unknown {
  const start = html.indexOf(DATA_OPEN) + DATA_OPEN.length;
  const end = html.toLowerCase().indexOf('</script', start);
  return JSON.parse(html.slice(start, end));
}

describe('renderReport (static HTML)', () => {
  const input = { ...sampleInput({ evil: true }), preflight: ['expert <b>x</b>: "dtype" differs'] };
  const html = renderReport(input);
  const page = withoutPlotly(html);

  it('inlines the plotly bundle exactly once, verbatim', () => {
    expect(html.split(plotly.slice(0, 200)).length - 1).toBe(1);
    expect(html.includes(plotly)).toBe(true); // bundle has no "</script" so it is not rewritten
  });

  it('loads nothing from outside the file: no src/href to another document, no URL in CSS, no http(s) anywhere else', () => {
    // booleans, not toMatch: a failure must not print the whole 5 MB page
    expect(/https?:\/\//i.test(withoutPlotly(renderReport(sampleInput())))).toBe(false);
    expect(/<[^>]*https?:\/\//i.test(page)).toBe(false); // the hostile link name stays text
    expect(/<link\b/i.test(page)).toBe(false);
    expect(/<[a-z][^>]*\s(src|srcset|action|poster)\s*=/i.test(page)).toBe(false); // a tag loading a resource
    expect(/url\(/i.test(page)).toBe(false);
    expect(/@import/i.test(page)).toBe(false);
    const hrefs = [...page.matchAll(/href="([^"]*)"/g)].map((m) => m[1]);
    expect(hrefs.length).toBeGreaterThan(5);
    for (const h of hrefs) expect(h.startsWith('#')).toBe(true);
    // exactly three script elements: data, plotly, page script
    expect(page.match(/<script\b/gi)!.length).toBe(3);
  });

  it('embeds the report model as JSON that survives </script> in names', () => {
    const model = dataBlock(html);
    expect(model).toEqual(JSON.parse(JSON.stringify(buildReportModel(input))));
    const m = model as { experts: string[]; tensor: { groups: string[] } };
    expect(m.experts).toContain(EVIL);
    expect(m.tensor.groups).toContain(EVIL_TENSOR);
  });

  it('escapes every user string in the markup', () => {
    const outsideData = page.slice(0, page.indexOf(DATA_OPEN)) + page.slice(page.indexOf('</script>', page.indexOf(DATA_OPEN)));
    expect(outsideData.includes('<script>alert')).toBe(false);
    expect(outsideData.includes('<img')).toBe(false);
    expect(outsideData.includes('<b>bold</b>')).toBe(false);
    expect(outsideData).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(outsideData).toContain('base &lt;b&gt;bold&lt;/b&gt;');
    expect(outsideData).toContain('/models/base&quot;&#39;&gt;&lt;img src=x onerror=alert(3)&gt;');
    expect(outsideData).toContain('expert &lt;b&gt;x&lt;/b&gt;: &quot;dtype&quot; differs');
  });

  it('lists every prediction in the predictions table and every warning', () => {
    const table = page.slice(page.indexOf('id="predictions-table"'), page.indexOf('</table>', page.indexOf('id="predictions-table"')));
    expect(table.match(/<tr>/g)!.length - 1).toBe(input.predictions.length);
    for (const w of input.metrics.warnings) expect(page).toContain(w.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;'));
  });

  it('keeps the size reasonable: data for the 5-expert sample < 400 KB; large models are down-sampled', () => {
    const plain = renderReport(sampleInput());
    expect(Buffer.byteLength(plain) - Buffer.byteLength(plotly)).toBeLessThan(400_000);
    const big = sampleMetrics({ experts: 16, layers: 80, tensorsPerLayer: 8, dim: 8 });
    const { study, predictor } = sampleStudyAndPredictor();
    const bigHtml = renderReport({ metrics: big, predictor, study, predictions: samplePredictions(big, predictor) });
    const model = dataBlock(bigHtml) as { tensor: { groups: string[]; originalGroups: number; values: Record<string, number[][]> } };
    expect(model.tensor.originalGroups).toBe(642);
    expect(model.tensor.groups.length).toBeLessThanOrEqual(200);
    const nValues = Object.values(model.tensor.values).reduce((s, rows) => s + rows.length * rows[0].length, 0);
    expect(nValues).toBeLessThanOrEqual(400_000);
    // 16 experts, 120 pairs, 642 tensors: about 10 MB with the 4.9 MB plotly bundle
    expect(Buffer.byteLength(bigHtml)).toBeLessThan(12_000_000);
  });
});

describe('predictions from a predictor', () => {
  it('are computed with predictPairs when only a predictor is given', () => {
    const { metrics, predictor } = sampleInput();
    expect(resolvePredictions({ metrics, predictor }).predictions).toEqual(predictPairs(predictor, metrics));
  });

  it('a predictor needing metrics the file lacks still renders, with the reason shown', () => {
    const { metrics, predictor } = sampleInput();
    delete (metrics.metrics as Record<string, unknown>).enc_grad_l2;
    const r = resolvePredictions({ metrics, predictor });
    expect(r.predictions).toBeUndefined();
    expect(r.problem).toMatch(/enc_grad_l2/);
    const html = renderReport({ metrics, predictor });
    expect(html).toContain('<span class="src">predictor</span>no predictions:');
    expect(html).not.toContain('id="predictions-section"');
  });
});
