import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadStudy, parseStudyCsv } from '../../src/predict/load.js';
import { errorOf } from '../helpers/errors.js';


describe('study CSV', () => {
  it('parses columns, quoted fields, empty cells (NaN) and extra_ columns', () => {
    const csv = 'a,b,method,outcome,tv_cosine,"act_l2",extra_acc_a\r\n"x,1",y,ties,0.8,0.5,,0.9\r\nx2,y,ties,0.7,1e-3,2,0.8\n';
    const d = parseStudyCsv(csv, 's.csv');
    expect(d.metricIds).toEqual(['tv_cosine', 'act_l2']);
    expect(d.rows[0]).toMatchObject({ a: 'x,1', b: 'y', method: 'ties', outcome: 0.8, extra: { acc_a: 0.9 } });
    expect(d.rows[0].metrics.tv_cosine).toBe(0.5);
    expect(d.rows[0].metrics.act_l2).toBeNaN();
    expect(d.rows[1].metrics.tv_cosine).toBe(0.001);
    expect(d.experts).toEqual(['x,1', 'x2', 'y']);
    expect(d.methods).toEqual(['ties']);
  });

  it('names file, line and column on bad input', () => {
    const missing = errorOf(() => parseStudyCsv('a,b,outcome,tv_cosine\nx,y,1,2\n', 's.csv'));
    expect(missing.code).toBe('BAD_INPUT');
    expect(missing.message).toMatch(/^s\.csv: line 1: missing required column "method"/);
    const nan = errorOf(() => parseStudyCsv('a,b,method,outcome,tv_cosine\nx,y,ties,0.5,0.1\nx,z,ties,0.5,abc\n', 's.csv'));
    expect(nan.message).toContain('s.csv: line 3, column 5 ("tv_cosine"): not a number: "abc"');
    const width = errorOf(() => parseStudyCsv('a,b,method,outcome,tv_cosine\nx,y,ties,0.5\n', 's.csv'));
    expect(width.message).toContain('line 2: 4 fields, header has 5');
    const outcome = errorOf(() => parseStudyCsv('a,b,method,outcome,tv_cosine\nx,y,ties,,1\n', 's.csv'));
    expect(outcome.message).toContain('line 2, column 4 ("outcome"): empty value');
    const quote = errorOf(() => parseStudyCsv('a,b,method,outcome,m\n"x,y,ties,1,2\n', 's.csv'));
    expect(quote.message).toContain('line 2: unterminated quoted field');
  });

  it('loadStudy reads JSON studies and reports missing files and bad formats', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ml-study-'));
    const good = path.join(dir, 'study.json');
    writeFileSync(good, JSON.stringify({ format: 'mergelens.study', version: 1, metricIds: ['m'], rows: [{ a: 'x', b: 'y', method: 'ties', outcome: 1, metrics: { m: null } }] }));
    const d = await loadStudy(good);
    expect(d.rows[0].metrics.m).toBeNaN();
    const wrong = path.join(dir, 'wrong.json');
    writeFileSync(wrong, JSON.stringify({ format: 'mergelens.metrics' }));
    await expect(loadStudy(wrong)).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('not a mergelens study') });
    const badRow = path.join(dir, 'badrow.json');
    writeFileSync(badRow, JSON.stringify({ format: 'mergelens.study', rows: [{ a: 'x', b: 'y', method: 'ties', outcome: 'high', metrics: {} }] }));
    await expect(loadStudy(badRow)).rejects.toMatchObject({ message: expect.stringContaining('rows[0].outcome must be a finite number') });
    await expect(loadStudy(path.join(dir, 'nope.csv'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
