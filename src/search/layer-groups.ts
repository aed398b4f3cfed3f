/**
 * Per-layer-group weights (as mergekit-evolve searches them): the model's numbered layers, in
 * depth order (metrics/layer-order.ts), split into G contiguous groups of as equal a count of
 * layers as possible (group k takes layers ⌊kL/G⌋ … ⌊(k+1)L/G⌋ − 1); one weight per (expert,
 * group). Tensors outside the numbered layers follow mergekit's rule for slices: what comes
 * before the first layer in depth order (embeddings) takes the first group's weight, everything
 * else (final norm, head, unnumbered modules) the last group's.
 *
 * A recipe expresses an expert's group weights as mergekit's list-valued parameter of
 * `{filter, value}` entries (the first entry whose filter is a substring of the tensor name
 * wins, an entry without filter matches everything): one entry per layer of groups 1…G−1
 * (filter `<layer>.`), one per leading non-layer tensor (its full name), and a last entry
 * without filter for group G. The list is checked against every tensor name before use, so a
 * filter that would also catch another layer's tensors is never written. Pure functions.
 */
import type { Conditional } from '../merge/config.js';
import { evaluateSetting } from '../merge/config.js';
import { MergelensError } from '../errors.js';
import { compareLayers, sortLayers } from '../metrics/layer-order.js';
import { layerOf } from '../metrics/selection.js';

export interface LayerGrouping {
  count: number;
  /** Layer names (metrics/selection.ts layerOf) of each group, in depth order. */
  layers: string[][];
  /** Tensor name → group index (0-based). */
  groupOf: Map<string, number>;
  /** Parameters (elements) per group, non-layer tensors included. */
  numel: number[];
  /** Tensors per group. */
  tensors: number[];
}

/** The rule, in words, for search.json and messages. */
export const GROUPING_RULE =
  'numbered layers in depth order, split into contiguous groups of ⌊L/G⌋ or ⌈L/G⌉ layers; tensors before the first layer (embeddings) follow the first group, all other non-layer tensors (final norm, head) the last';

const NUMBERED = /\.\d+$/;

export function groupLayers(tensors: readonly { name: string; numel: number }[], count: number): LayerGrouping {
  if (!Number.isInteger(count) || count < 1) throw new MergelensError('BAD_PARAM', `--layer-groups must be a positive integer, got ${count}`);
  const layerNames = sortLayers([...new Set(tensors.map((t) => layerOf(t.name)).filter((l) => NUMBERED.test(l)))]);
  const L = layerNames.length;
  if (count > 1 && L === 0) throw new MergelensError('BAD_PARAM', `--layer-groups ${count}: the model has no numbered layers (tensor names like "layers.3.…" or "encoder.0.…")`, { hint: 'use --layer-groups 1 (one weight per expert)' });
  if (count > Math.max(1, L)) throw new MergelensError('BAD_PARAM', `--layer-groups ${count}: the model has only ${L} numbered layer(s)`, { hint: `give at most ${L}` });
  const layers: string[][] = Array.from({ length: count }, () => []);
  const layerGroup = new Map<string, number>();
  for (let k = 0; k < count; k++) {
    for (let l = Math.floor((k * L) / count); l < Math.floor(((k + 1) * L) / count); l++) {
      layers[k].push(layerNames[l]);
      layerGroup.set(layerNames[l], k);
    }
  }
  const first = layerNames[0];
  const groupOf = new Map<string, number>();
  const numel = new Array<number>(count).fill(0);
  const counts = new Array<number>(count).fill(0);
  for (const t of tensors) {
    const g = layerGroup.get(layerOf(t.name)) ?? (first !== undefined && compareLayers(t.name, first) < 0 ? 0 : count - 1);
    groupOf.set(t.name, g);
    numel[g] += t.numel;
    counts[g]++;
  }
  const grouping = { count, layers, groupOf, numel, tensors: counts };
  checkFilters(grouping);
  return grouping;
}

/** The filter list for one expert (see the header), unchecked. */
function entriesFor(g: LayerGrouping, values: readonly number[]): Conditional[] {
  const last = g.count - 1;
  const entries: Conditional[] = [];
  for (let k = 0; k < last; k++) for (const l of g.layers[k]) entries.push({ filter: `${l}.`, value: values[k] });
  // Non-layer tensors outside the last group (the embeddings, group 1), by full name.
  for (const [name, k] of g.groupOf) if (k !== last && !g.layers[k].includes(layerOf(name))) entries.push({ filter: name, value: values[k] });
  entries.push({ value: values[last] });
  return entries;
}

/** Throw unless the filter list sends every tensor to its own group (checked with the group indices as values). */
function checkFilters(g: LayerGrouping): void {
  if (g.count === 1) return;
  const entries = entriesFor(g, g.layers.map((_, k) => k));
  for (const [name, k] of g.groupOf) {
    const got = evaluateSetting(name, entries, 0);
    if (got !== k) {
      throw new MergelensError('BAD_INPUT', `tensor ${name} belongs to layer group ${k + 1}, but mergekit's substring filters would give it group ${Number(got) + 1}'s weight`, {
        tensor: name,
        hint: 'use another --layer-groups count, or 1 (one weight per expert)',
      });
    }
  }
}

/** One expert's group weights as a mergekit parameter setting: a scalar for one group, else the `{filter, value}` list. */
export function groupSetting(g: LayerGrouping, values: readonly number[]): number | Conditional[] {
  if (values.length !== g.count) throw new Error(`${values.length} group weight(s) for ${g.count} group(s)`);
  return g.count === 1 ? values[0] : entriesFor(g, values);
}

/** Group weights of every expert as one number per expert: the mean weighted by each group's parameter count. */
export function meanWeights(g: LayerGrouping, groupWeights: readonly (readonly number[])[]): number[] {
  const total = g.numel.reduce((a, b) => a + b, 0);
  return groupWeights.map((ws) => (total > 0 ? ws.reduce((s, w, k) => s + w * g.numel[k], 0) / total : ws.reduce((a, b) => a + b, 0) / ws.length));
}
