import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { predictPairs } from '../../src/predict/predict.js';
import { sampleInput } from './sample.js';

const DATA_OPEN = '<script type="application/json" id="mergelens-data">';
const embedded = (html: string) => {
  const s = html.indexOf(DATA_OPEN) + DATA_OPEN.length;
  return JSON.parse(html.slice(s, html.indexOf('</script', s)));
};

describe('mergelens report (CLI)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mergelens-report-'));
  const { metrics, predictor, study } = sampleInput();
  const files = { metrics: path.join(dir, 'metrics.json'), predictor: path.join(dir, 'predictor.json'), study: path.join(dir, 'study.json') };
  writeFileSync(files.metrics, JSON.stringify(metrics));
  writeFileSync(files.predictor, JSON.stringify(predictor));
  writeFileSync(files.study, JSON.stringify(study));

  it('writes one self-contained report with predictions computed from the predictor', () => {
    const out = path.join(dir, 'reports', 'team.html');
    const r = runCli(['report', files.metrics, '--predictor', files.predictor, '--study', files.study, '-o', out, '--title', 'Team <review>']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*team\.html \(\d+(\.\d)? MB\)\n$/);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('<title>Team &lt;review&gt;</title>');
    const model = embedded(html);
    // the pair × method matrix holds predictPairs' output for this metrics file
    const expected = predictPairs(predictor, metrics);
    for (const p of expected) {
      const row = model.predictions.pairs.findIndex((q: string[]) => q[0] === p.a && q[1] === p.b);
      expect(model.predictions.predicted[row][model.predictions.methods.indexOf(p.method)]).toBeCloseTo(p.predicted, 12);
    }
    expect(model.scatter.length).toBe(Object.keys(predictor.methods).length);
    // inputs untouched
    expect(JSON.parse(readFileSync(files.metrics, 'utf8'))).toEqual(JSON.parse(JSON.stringify(metrics)));
  });

  it('fails with a named error on a wrong or missing input, and never overwrites an input', () => {
    const wrong = runCli(['report', files.predictor, '-o', path.join(dir, 'x.html')]);
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toContain('BAD_INPUT');
    expect(wrong.stderr).toContain(files.predictor);
    expect(wrong.stderr).toContain('mergelens.metrics');
    const missing = runCli(['report', path.join(dir, 'nope.json'), '-o', path.join(dir, 'y.html')]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('NOT_FOUND');
    expect(missing.stderr).toContain('nope.json');
    const clobber = runCli(['report', files.metrics, '-o', files.metrics]);
    expect(clobber.status).not.toBe(0);
    expect(clobber.stderr).toContain('[OUTPUT_IS_INPUT]');
    expect(existsSync(path.join(dir, 'x.html')) || existsSync(path.join(dir, 'y.html'))).toBe(false);
  });
});
