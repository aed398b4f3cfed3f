/**
 * The dashboard's colour ramps stay readable with colour-vision deficiencies: every pair of
 * neighbouring buckets remains distinct after simulating protanopia and deuteranopia (Viénot,
 * Brettel & Mollon 1999, in linear RGB), and the metric ramp is ordered by lightness, so it
 * reads as "more" without hue at all.
 */
import { describe, expect, it } from 'vitest';
import { METHOD_PALETTE, METRIC_PALETTE } from '../../src/dashboard/view-model.js';

type RGB = [number, number, number];
const toLinear = (c: number) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
const toSrgb = (c: number) => (c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055);
const parse = (hex: string): RGB => [1, 3, 5].map((k) => toLinear(parseInt(hex.slice(k, k + 2), 16) / 255)) as RGB;
const SIM: Record<string, number[][]> = {
  none: [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
  protanopia: [[0.11238, 0.88762, 0], [0.11238, 0.88762, 0], [0.00401, -0.00401, 1]],
  deuteranopia: [[0.29275, 0.70725, 0], [0.29275, 0.70725, 0], [-0.02234, 0.02234, 1]],
};
const simulate = (m: number[][], c: RGB): RGB => m.map((row) => toSrgb(Math.min(1, Math.max(0, row[0] * c[0] + row[1] * c[1] + row[2] * c[2])))) as RGB;
const dist = (a: RGB, b: RGB) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
const luminance = (c: RGB) => 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];

describe('dashboard colour ramps', () => {
  it.each([['metric', METRIC_PALETTE], ['prediction', METHOD_PALETTE]])('%s ramp: 5 hex colours, neighbours distinct under every simulation', (_, palette) => {
    expect(palette).toHaveLength(5);
    for (const c of palette) expect(c).toMatch(/^#[0-9A-F]{6}$/);
    for (const [kind, m] of Object.entries(SIM)) {
      const sim = palette.map((c) => simulate(m, parse(c)));
      for (let k = 1; k < sim.length; k++) expect(dist(sim[k - 1], sim[k]), `${kind}: ${palette[k - 1]} vs ${palette[k]}`).toBeGreaterThan(0.12);
    }
  });

  it('the metric ramp grows in luminance from bucket to bucket', () => {
    const lum = METRIC_PALETTE.map((c) => luminance(parse(c)));
    for (let k = 1; k < lum.length; k++) expect(lum[k]).toBeGreaterThan(lum[k - 1]);
  });

  it('the prediction ramp ends (worst, best) stay far apart for red–green colour-blind eyes', () => {
    for (const m of [SIM.protanopia, SIM.deuteranopia]) expect(dist(simulate(m, parse(METHOD_PALETTE[0])), simulate(m, parse(METHOD_PALETTE[4])))).toBeGreaterThan(0.5);
  });
});
