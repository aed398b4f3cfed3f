import { describe, expect, it } from 'vitest';
import { MergelensError } from '../../src/errors.js';
import { getMethod, listMethods, resolveParams } from '../../src/merge/registry.js';
import { fnv1a32, tensorRandom } from '../../src/merge/random.js';

function errorOf(f: () => unknown): MergelensError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(MergelensError);
    return e as MergelensError;
  }
  throw new Error('expected an error');
}

describe('registry', () => {
  it('lists the eight methods and resolves aliases', () => {
    expect(listMethods().map((m) => m.id)).toEqual(['weight_avg', 'task_arithmetic', 'ties', 'dare', 'dare_ties', 'slerp', 'tsv', 'iso_c']);
    expect(getMethod('linear').id).toBe('weight_avg');
    expect(getMethod('dare_linear').id).toBe('dare');
  });

  it('unknown method: UNKNOWN_METHOD with a did-you-mean and the valid list', () => {
    const e = errorOf(() => getMethod('dare-ties'));
    expect(e.code).toBe('UNKNOWN_METHOD');
    expect(e.message).toContain('did you mean "dare_ties"');
    expect(e.message).toContain('task_arithmetic');
    expect(errorOf(() => getMethod('tise')).message).toContain('did you mean "ties"');
    expect(errorOf(() => getMethod('zzzzzzzz')).message).not.toContain('did you mean');
  });

  it('fills defaults and parses CLI strings by type', () => {
    expect(resolveParams(getMethod('ties'), {})).toEqual({ density: 0.2, lambda: 1, normalize: true });
    expect(resolveParams(getMethod('task_arithmetic'), {})).toEqual({ lambda: 0.3, normalize: false });
    expect(resolveParams(getMethod('dare'), {})).toEqual({ density: 0.1, rescale: 'inverse', lambda: 1, normalize: false });
    expect(resolveParams(getMethod('ties'), { density: '0.5', normalize: 'false' })).toEqual({ density: 0.5, lambda: 1, normalize: false });
    // mergekit's boolean rescale means the L1 rule
    expect(resolveParams(getMethod('dare_ties'), { rescale: true }).rescale).toBe('l1');
    expect(resolveParams(getMethod('dare_ties'), { rescale: 'false' }).rescale).toBe('none');
  });

  it('bad parameters: BAD_PARAM naming method and parameter', () => {
    const unknown = errorOf(() => resolveParams(getMethod('ties'), { densty: 0.3 }));
    expect(unknown.code).toBe('BAD_PARAM');
    expect(unknown.message).toContain('ties: parameter "densty"');
    expect(unknown.message).toContain('did you mean "density"');
    const range = errorOf(() => resolveParams(getMethod('dare'), { density: 0 }));
    expect(range.message).toMatch(/dare: parameter "density" must be > 0/);
    expect(errorOf(() => resolveParams(getMethod('slerp'), { t: 1.5 })).message).toMatch(/slerp: parameter "t" must be ≤ 1/);
    expect(errorOf(() => resolveParams(getMethod('ties'), { lambda: 'big' })).message).toMatch(/ties: parameter "lambda" must be a finite number/);
    expect(errorOf(() => resolveParams(getMethod('ties'), { normalize: 'maybe' })).message).toMatch(/must be true or false/);
    expect(errorOf(() => resolveParams(getMethod('dare'), { rescale: 'l2' })).message).toMatch(/one of inverse, l1, none/);
    expect(errorOf(() => resolveParams(getMethod('ties'), { weight: 1 })).hint).toContain('--weights');
  });
});

describe('per-tensor random streams', () => {
  it('FNV-1a 32 matches the published test vectors', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(fnv1a32(enc(''))).toBe(0x811c9dc5);
    expect(fnv1a32(enc('a'))).toBe(0xe40c292c);
    expect(fnv1a32(enc('foobar'))).toBe(0xbf9cf968);
  });

  it('is reproducible, depends on seed and name, and is uniform on [0,1)', () => {
    const take = (r: () => number, n: number) => Array.from({ length: n }, r);
    expect(take(tensorRandom(3, 'a.weight'), 50)).toEqual(take(tensorRandom(3, 'a.weight'), 50));
    expect(take(tensorRandom(3, 'a.weight'), 50)).not.toEqual(take(tensorRandom(4, 'a.weight'), 50));
    expect(take(tensorRandom(3, 'a.weight'), 50)).not.toEqual(take(tensorRandom(3, 'b.weight'), 50));
    expect(take(tensorRandom(2 ** 40, 'x'), 20)).not.toEqual(take(tensorRandom(2 ** 40 + 2 ** 33, 'x'), 20)); // high seed bits count
    const n = 100_000;
    const xs = take(tensorRandom(0, 'u'), n);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((a, b) => a + b, 0) / n;
    expect(Math.abs(mean - 0.5)).toBeLessThan(4 * Math.sqrt(1 / 12 / n));
    // 10 equal bins: chi-square with 9 d.o.f. well below its 0.999 quantile (27.9)
    const bins = new Array(10).fill(0);
    for (const x of xs) bins[Math.floor(x * 10)]++;
    const chi2 = bins.reduce((s, c) => s + (c - n / 10) ** 2 / (n / 10), 0);
    expect(chi2).toBeLessThan(27.9);
  });

  it('rejects seeds that are not safe integers', () => {
    expect(() => tensorRandom(1.5, 'x')).toThrow(RangeError);
  });
});
