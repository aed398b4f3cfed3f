/**
 * The one natural order of layer groups and tensor names, used wherever depth is shown
 * (the metrics engine's per-layer/per-tensor output, the report's per-layer plot, the
 * dashboard sparkline): embeddings first, then numbered blocks by integer index (so
 * `layers.2` < `layers.10`), then anything else unnumbered, then the final norm, then the
 * output head. Text order would put `layers.10` before `layers.2` and scramble depth for any
 * model with 11+ layers.
 */
import type { MetricBreakdown } from '../types.js';

const EMBED = /(^|\.)(embed_tokens|embed_positions|embeddings?|wte|wpe|word_embeddings|tok_embeddings|position_embeddings|token_type_embeddings)(\.|$)/;
const HEAD = /(^|\.)(lm_head|output|classifier|score|head|pooler)(\.|$)/;
const FINAL_NORM = /(^|\.)(norm|final_layernorm|final_layer_norm|ln_f|layer_norm|layernorm)(\.|$)/;
const NUMBERED = /(^|\.)\d+(\.|$)/;

/** 0 embeddings, 1 numbered blocks, 2 other, 3 final norm, 4 output head. */
function stage(name: string): number {
  if (EMBED.test(name)) return 0;
  if (NUMBERED.test(name)) return 1;
  if (HEAD.test(name)) return 4;
  if (FINAL_NORM.test(name)) return 3;
  return 2;
}

/** Split into text and integer runs: "layers.10.mlp" → ["layers.", 10, ".mlp"]. */
function chunks(name: string): (string | number)[] {
  return name.split(/(\d+)/).map((s, i) => (i % 2 === 1 ? Number(s) : s));
}

/** Text runs compared as text, digit runs as integers ("natural" order). */
export function compareNatural(a: string, b: string): number {
  const x = chunks(a);
  const y = chunks(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const p = x[i];
    const q = y[i];
    if (p === q) continue;
    if (typeof p === 'number' && typeof q === 'number') return p - q;
    return String(p) < String(q) ? -1 : 1;
  }
  if (x.length !== y.length) return x.length - y.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Order of two layer groups or tensor names by depth (see the header). */
export function compareLayers(a: string, b: string): number {
  return stage(a) - stage(b) || compareNatural(a, b);
}

/** The names in depth order (a new array). */
export function sortLayers(names: readonly string[]): string[] {
  return [...names].sort(compareLayers);
}

/**
 * A breakdown reordered by depth (groups, numel and every value row permuted alike), for
 * metrics files written before the engine used this order. Already ordered → returned as is.
 */
export function orderBreakdown(b: MetricBreakdown): MetricBreakdown {
  const order = b.groups.map((g, i) => ({ g, i })).sort((p, q) => compareLayers(p.g, q.g)).map((x) => x.i);
  if (order.every((k, i) => k === i)) return b;
  const values: MetricBreakdown['values'] = {};
  for (const [id, rows] of Object.entries(b.values)) values[id] = rows.map((row) => order.map((k) => row[k]));
  return { groups: order.map((k) => b.groups[k]), numel: order.map((k) => b.numel[k]), values };
}
