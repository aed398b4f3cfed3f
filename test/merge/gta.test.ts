import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { gtaMerge } from '../../src/merge/gta.js';

/** The combine step as a plain float64 loop in expert order (what the kernel must equal bit for bit). */
function plainCombine(base: Float32Array, deltas: Float32Array[], weights: number[], consensus: boolean, normalize: boolean, lambda: number): Float32Array {
  const n = base.length;
  const out = new Float32Array(n);
  let wsum = 0;
  for (const w of weights) wsum += w;
  for (let j = 0; j < n; j++) {
    let total = 0;
    for (let e = 0; e < deltas.length; e++) total += weights[e] * deltas[e][j];
    if (!consensus) {
      out[j] = base[j] + (lambda * total) / (normalize && Math.abs(wsum) >= 1e-8 ? wsum : 1);
      continue;
    }
    const positive = total >= 0;
    let num = 0, den = 0;
    for (let e = 0; e < deltas.length; e++) {
      const v = weights[e] * deltas[e][j];
      if (positive ? v > 0 : v < 0) {
        num += v;
        den += weights[e];
      }
    }
    out[j] = base[j] + (lambda * num) / (normalize && den !== 0 ? den : 1);
  }
  return out;
}

describe('GTA combine kernel (WebAssembly)', () => {
  it('equals the plain float64 loop bit for bit: consensus or not, normalize or not, any weights, zeros and ties, odd lengths', () => {
    const value = fc.oneof(fc.constant(0), fc.constant(-0), fc.constant(1), fc.constant(-1), fc.float({ min: -3, max: 3, noNaN: true }));
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 41 }),
        fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: 5, maxLength: 5 }),
        fc.boolean(),
        fc.boolean(),
        fc.double({ min: -2, max: 2, noNaN: true }),
        fc.array(value, { minLength: 6 * 41, maxLength: 6 * 41 }),
        (N, n, w, consensus, normalize, lambda, xs) => {
          const base = Float32Array.from(xs.slice(0, n));
          const experts = Array.from({ length: N }, (_, e) => Float32Array.from(xs.slice((e + 1) * 41, (e + 1) * 41 + n)));
          const weights = w.slice(0, N);
          const got = gtaMerge(base, experts, weights, { sparsify: 'none', consensus, density: 1, rescale: 'none', normalize, lambda });
          const deltas = experts.map((x) => x.map((v, j) => v - base[j]));
          expect(Array.from(new Uint32Array(got.buffer))).toEqual(Array.from(new Uint32Array(plainCombine(base, deltas, weights, consensus, normalize, lambda).buffer)));
        },
      ),
      { numRuns: 400 },
    );
  });
});
