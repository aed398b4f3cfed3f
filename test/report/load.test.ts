import { describe, expect, it } from 'vitest';
import { preflightWarnings, validateMetricsReport } from '../../src/report/load.js';
import type { PreflightReport } from '../../src/check/preflight.js';
import { sampleMetrics } from './sample.js';

describe('validateMetricsReport', () => {
  const good = () => JSON.parse(JSON.stringify(sampleMetrics({ experts: 3, layers: 2, tensorsPerLayer: 2 })));

  it('accepts a well-formed report and fills optional parts', () => {
    const m = good();
    delete m.perTensor;
    delete m.warnings;
    const v = validateMetricsReport(m, 'm.json');
    expect(v.perTensor).toEqual({ groups: [], numel: [], values: {} });
    expect(v.warnings).toEqual([]);
    expect(v.metrics).toEqual(m.metrics);
  });

  it('names the file and the bad field', () => {
    const cases: [(m: any) => void, RegExp][] = [
      [(m) => (m.format = 'mergelens.study'), /not a mergelens metrics report.*mergelens\.study/],
      [(m) => (m.experts = [1, 2, 3]), /experts must be an array of names/],
      [(m) => m.metrics.tv_cosine.pop(), /metrics\.tv_cosine must be a 3×3 matrix/],
      [(m) => (m.metrics.tv_l2[0][1] = 'x'), /metrics\.tv_l2 must be a 3×3 matrix/],
      [(m) => (m.pairs = [[0, 3]]), /pairs must be \[i, j\] index pairs into experts \(0…2\)/],
      [(m) => m.perLayer.values.tv_cosine.pop(), /perLayer\.values\.tv_cosine must have one row per pair \(3\)/],
      [(m) => m.perTensor.values.tv_dot[1].push(1), /perTensor\.values\.tv_dot\[1\] must be \d+ numbers or nulls/],
    ];
    for (const [mutate, msg] of cases) {
      const m = good();
      mutate(m);
      expect(() => validateMetricsReport(m, 'dir/m.json')).toThrow(msg);
      expect(() => validateMetricsReport(m, 'dir/m.json')).toThrow(/^dir\/m\.json: /);
    }
  });
});

describe('preflightWarnings', () => {
  it('keeps errors and warnings, names expert and tensor, caps each code at 10', () => {
    const issues = [
      { severity: 'error', code: 'SHAPE_MISMATCH', expert: 'e1', tensor: 'w.0', message: 'shape [2,3] vs [3,2]' },
      { severity: 'info', code: 'DTYPE_MISMATCH', expert: 'e1', tensor: 'w.1', message: 'BF16 vs F32' },
      ...Array.from({ length: 12 }, (_, k) => ({ severity: 'warning', code: 'EXTRA_TENSOR', expert: 'e2', tensor: `x.${k}`, message: 'not in the base' })),
    ];
    const report = { format: 'mergelens.check', version: 1, issues } as unknown as PreflightReport;
    const w = preflightWarnings(report);
    expect(w[0]).toBe('error [SHAPE_MISMATCH] e1: tensor "w.0": shape [2,3] vs [3,2]');
    expect(w.some((l) => l.includes('DTYPE_MISMATCH'))).toBe(false);
    expect(w.filter((l) => l.startsWith('warning [EXTRA_TENSOR]')).length).toBe(10);
    expect(w[w.length - 1]).toBe('… and 2 more [EXTRA_TENSOR] (see mergelens check)');
    expect(w.length).toBe(12);
  });
});
