/**
 * Which tensors a metrics pass covers and how they group: include/exclude filters, layer
 * groups, deterministic shards, and the embedding rule for differing row counts.
 */
import picomatch from 'picomatch';
import { MergelensError } from '../errors.js';

/** A filter pattern: `/regex/flags` or a picomatch glob (dots are ordinary characters). */
export function compilePattern(pattern: string): (name: string) => boolean {
  const m = /^\/(.*)\/([a-z]*)$/.exec(pattern);
  if (m) {
    try {
      const re = new RegExp(m[1], m[2]);
      return (name) => re.test(name);
    } catch (e) {
      throw new MergelensError('BAD_PARAM', `invalid regular expression ${pattern}: ${(e as Error).message}`);
    }
  }
  return picomatch(pattern, { dot: true });
}

/**
 * Keep a tensor iff (no include patterns or it matches one) and it matches no exclude pattern.
 * Globs match the whole name: `*` does not cross `.`-free boundaries specially (use `**`
 * or a regex for "anywhere"), e.g. `model.layers.*.self_attn.*` or `/lm_head|embed/`.
 */
export function tensorFilter(include: string[], exclude: string[]): (name: string) => boolean {
  const inc = include.map(compilePattern);
  const exc = exclude.map(compilePattern);
  return (name) => (inc.length === 0 || inc.some((f) => f(name))) && !exc.some((f) => f(name));
}

const LAYER_RE = /^(.*?)(?:^|\.)([A-Za-z_]+)\.(\d+)(?:\.|$)/;
const STRIP_PREFIX = /^(?:base_model\.model\.)?(?:model\.)?/;

/**
 * Layer group of a tensor name: up to the first `<word>.<index>` pair, with a leading
 * `base_model.model.` / `model.` stripped — `model.layers.12.mlp.up_proj.weight` → `layers.12`,
 * `transformer.h.3.attn.c_attn.weight` → `transformer.h.3`, `vision.encoder.layer.5.x` →
 * `vision.encoder.layer.5`. Names without an index group by module (name minus its last part):
 * `model.embed_tokens.weight` → `embed_tokens`, `lm_head.weight` → `lm_head`, `fc1.bias` → `fc1`.
 */
export function layerOf(name: string): string {
  const n = name.replace(STRIP_PREFIX, '');
  const m = LAYER_RE.exec(n);
  if (m) return `${m[1] ? m[1] + '.' : ''}${m[2]}.${m[3]}`;
  const dot = n.lastIndexOf('.');
  return dot > 0 ? n.slice(0, dot) : n;
}

/**
 * Shard i of n (1-based) of a sorted tensor list: contiguous ranges balanced by element count
 * (a tensor goes to the shard where the midpoint of its element range falls). Deterministic.
 */
export function shardTensors<T extends { name: string; numel: number }>(sorted: T[], index: number, count: number): T[] {
  if (!(Number.isInteger(count) && count >= 1 && Number.isInteger(index) && index >= 1 && index <= count)) {
    throw new MergelensError('BAD_PARAM', `invalid shard ${index}/${count}: expected i/n with 1 ≤ i ≤ n`);
  }
  const total = sorted.reduce((s, t) => s + Math.max(t.numel, 1), 0);
  let before = 0;
  return sorted.filter((t) => {
    const w = Math.max(t.numel, 1);
    const mid = (before + w / 2) / total;
    before += w;
    const s = Math.min(count - 1, Math.floor(mid * count));
    return s === index - 1;
  });
}

/** Parse "i/n". */
export function parseShard(text: string): [number, number] {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new MergelensError('BAD_PARAM', `invalid --shard "${text}": expected i/n, e.g. 2/4`);
  const [i, n] = [Number(m[1]), Number(m[2])];
  if (n < 1 || i < 1 || i > n) throw new MergelensError('BAD_PARAM', `invalid --shard "${text}": need 1 ≤ i ≤ n`);
  return [i, n];
}

/** Tensors whose row counts may legitimately differ between checkpoints (vocabulary rows). */
export const EMBEDDING_RE = /(embed|wte|lm_head|word_embeddings|tok_embeddings|shared\.weight|(^|\.)output\.weight$)/;
