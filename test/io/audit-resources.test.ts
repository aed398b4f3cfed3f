/**
 * Audit (issue 20, item 5): bounded resources. rank_pattern keys matched in linear time (PEFT
 * semantics, checked against RegExp on safe keys); check text linear in the number of issues;
 * inspect on 125k tensors; JSON nested 5,000 deep refused by depth everywhere; whole-tensor
 * merges refused from the header estimate above --memory-budget; fit --bootstrap capped.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MergelensError } from '../../src/errors.js';
import { compilePatternKey } from '../../src/checkpoint/pattern-match.js';
import { matchPatternKey } from '../../src/checkpoint/lora.js';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { formatPreflight } from '../../src/check/format.js';
import type { PreflightIssue, PreflightReport } from '../../src/check/preflight.js';
import { formatInspect, inspectCheckpoint } from '../../src/check/inspect.js';
import { jsonDepth } from '../../src/safetensors/json-depth.js';
import { parseHeader } from '../../src/safetensors/header.js';
import { planMerge, type MergePlan } from '../../src/merge/plan.js';
import { assertWithinMemoryBudget, tensorPeak } from '../../src/merge/memory-estimate.js';
import { DEFAULT_CHUNK_ELEMENTS } from '../../src/merge/stream.js';
import { fitPredictors } from '../../src/predict/fit.js';
import type { Checkpoint, StudyDataset } from '../../src/types.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { rawFile, rng, tempDir } from './raw.js';

const FIX = path.join(ROOT, 'fixtures/tiny');
const tmp = tempDir('mergelens-audit-res-');
afterAll(() => tmp.cleanup());

describe('rank_pattern / alpha_pattern matching', () => {
  it('agrees with PEFT\'s regex semantics, re.match(rf"(.*\\.)?({key})$", name), on random safe keys and names', () => {
    const r = rng(2026);
    const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
    const atoms = ['q_proj', 'k', 'v_proj', 'layers', '\\d', '\\d+', '[0-3]', '[^.]+', '.', '.*', '(q|k|v)', '(?:mlp|attn)', 'x?', 'a{1,2}', '\\.', '_'];
    const parts = ['model', 'layers', '0', '1', '12', 'self_attn', 'q_proj', 'k_proj', 'v_proj', 'mlp', 'down_proj', 'a', 'aa', 'x'];
    let agree = 0;
    let matched = 0;
    for (let t = 0; t < 3000; t++) {
      const key = Array.from({ length: 1 + Math.floor(r() * 4) }, () => pick(atoms)).join(pick(['', '\\.', '.']));
      const name = Array.from({ length: 1 + Math.floor(r() * 5) }, () => pick(parts)).join('.');
      const expected = new RegExp(`^(?:.*\\.)?(?:${key})$`).test(name);
      expect(compilePatternKey(key, 'f').matches(name), `${key} vs ${name}`).toBe(expected);
      agree++;
      if (expected) matched++;
    }
    expect(agree).toBe(3000);
    expect(matched).toBeGreaterThan(100); // the sample exercises both outcomes
  });

  it('the audit key (a|a)+b does not blow up: a 28-char name (21.8 s before) and a 5,000-char one answer correctly', () => {
    const k = compilePatternKey('(a|a)+b', 'f');
    expect(k.matches('a'.repeat(28))).toBe(false);
    expect(k.matches(`m.${'a'.repeat(5000)}b`)).toBe(true);
    expect(k.matches(`m.${'a'.repeat(5000)}`)).toBe(false);
    // Nested quantifiers of every kind stay linear too.
    expect(compilePatternKey('(a*)*b', 'f').matches('a'.repeat(3000))).toBe(false);
    expect(compilePatternKey('(.*.*)*x', 'f').matches('y'.repeat(3000))).toBe(false);
  });

  it('first key in config order wins, as PEFT picks it; unsupported syntax is a named BAD_ADAPTER', () => {
    expect(matchPatternKey({ 'layers.1.mlp': 1, mlp: 2 }, 'model.layers.1.mlp', 'f')).toBe('layers.1.mlp');
    expect(matchPatternKey({ mlp: 2, 'layers.1.mlp': 1 }, 'model.layers.1.mlp', 'f')).toBe('mlp');
    for (const key of ['(a)\\1', '(?=a)a', '(?<!x)a', 'a\\b']) {
      expect(() => compilePatternKey(key, 'adapter_config.json')).toThrow(MergelensError);
      try {
        compilePatternKey(key, 'adapter_config.json');
      } catch (e) {
        expect((e as MergelensError).code).toBe('BAD_ADAPTER');
        expect((e as MergelensError).message).toMatch(/adapter_config\.json.*not supported/);
      }
    }
  });
});

describe('check and inspect text at scale', () => {
  it('check text for 20,000 issues (33.6 s before): every expert line, 10 lines per code, the rest counted', () => {
    const experts = Array.from({ length: 40 }, (_, i) => ({ name: `e${i}`, path: `/m/e${i}`, kind: 'safetensors', tensors: 500, parameters: 0, missing: [], extra: [], shapeMismatches: [], dtypeMismatches: [], vocab: [], relDelta: [], medianRelDelta: null, descendsFromBase: null, nonFinite: [] }));
    const issues: PreflightIssue[] = [];
    for (const e of experts) for (let t = 0; t < 500; t++) issues.push({ severity: 'error', code: 'MISSING_TENSOR', expert: e.name, tensor: `t${t}`, message: 'missing' });
    const report = {
      format: 'mergelens.check', version: 1,
      base: { name: 'b', path: '/m/b', kind: 'safetensors', tensors: 500, parameters: 0, nonFinite: [] },
      experts, issues, counts: { error: 20_000, warning: 0, info: 0 }, ok: false,
      settings: { sampleBlocks: 8, blockSize: 256, differentBaseThreshold: 0.5 },
    } as unknown as PreflightReport;
    const lines = formatPreflight(report).split('\n');
    expect(lines.filter((l) => /^e\d+ \(safetensors, 500 tensors\): 500 errors$/.test(l))).toHaveLength(40);
    expect(lines.filter((l) => /\[MISSING_TENSOR\] t\d+: missing/.test(l))).toHaveLength(400);
    expect(lines.filter((l) => /… and 490 more \[MISSING_TENSOR\]/.test(l))).toHaveLength(40);
    expect(lines.at(-2)).toMatch(/summary: 20000 errors/);
  });

  it('inspect on a valid file with 125,000 tensors (crashed before) lists them all', async () => {
    const n = 125_000;
    const entries: string[] = [];
    for (let i = 0; i < n; i++) entries.push(`"t${i}":{"dtype":"F32","shape":[1],"data_offsets":[${4 * i},${4 * i + 4}]}`);
    const file = tmp.file('many.safetensors', rawFile(`{${entries.join(',')}}`, new Uint8Array(4 * n)));
    const c = await openCheckpoint(file);
    const r = inspectCheckpoint(c);
    expect(r.tensors).toHaveLength(n);
    expect(r.parameters).toBe(n);
    const text = formatInspect(r);
    expect(text.split('\n').filter((l) => /^ {4}t\d+ +F32 +\[1\] +1$/.test(l))).toHaveLength(n);
    await c.close();
  }, 60_000);
});

describe('JSON nested 5,000 deep is refused by depth, not a stack overflow', () => {
  const deep = (d: number) => '['.repeat(d) + ']'.repeat(d);
  it('jsonDepth counts nesting and skips strings', () => {
    expect(jsonDepth('{"a":[1,{"b":"[[[["}]}')).toBe(3);
    expect(jsonDepth(deep(5000))).toBe(5000);
    expect(jsonDepth('"\\"[["')).toBe(0);
  });
  it('safetensors header __metadata__', () => {
    const text = `{"__metadata__":{"a":${deep(5000)}}}`;
    expect(() => parseHeader(new TextEncoder().encode(text), 'deep.safetensors')).toThrow(/deep\.safetensors: header nests JSON deeper than 64 levels/);
  });
  it('config.json (a warning on open), adapter_config.json, shard index', async () => {
    const base = path.join(tmp.dir, 'deep-config');
    cpSync(path.join(FIX, 'base'), base, { recursive: true });
    writeFileSync(path.join(base, 'config.json'), `{"x":${deep(5000)}}`);
    const c = await openCheckpoint(base);
    expect(c.warnings?.join('\n')).toMatch(/config\.json nests JSON deeper than 64 levels/);
    await c.close();

    const lora = path.join(tmp.dir, 'deep-lora');
    cpSync(path.join(FIX, 'lora-expert'), lora, { recursive: true });
    writeFileSync(path.join(lora, 'adapter_config.json'), `{"r":4,"rank_pattern":{"a":${deep(5000)}}}`);
    await expect(openCheckpoint(lora)).rejects.toMatchObject({ code: 'BAD_ADAPTER', message: expect.stringMatching(/nests JSON deeper/) });

    const sharded = path.join(tmp.dir, 'deep-index');
    cpSync(path.join(FIX, 'expert-a-sharded'), sharded, { recursive: true });
    writeFileSync(path.join(sharded, 'model.safetensors.index.json'), `{"metadata":${deep(5000)},"weight_map":{}}`);
    await expect(openCheckpoint(sharded)).rejects.toMatchObject({ code: 'BAD_INDEX', message: expect.stringMatching(/nests JSON deeper/) });
  });
});

/** A header-only checkpoint: shapes without data (the estimate reads nothing). */
function shapeOnly(name: string, shapes: Record<string, number[]>): Checkpoint {
  const locs = new Map(Object.entries(shapes).map(([n, shape]) => [n, { name: n, dtype: 'BF16', shape, file: name, begin: 0, end: shape.reduce((a, b) => a * b, 2) }]));
  return {
    path: `memory:${name}`, name, kind: 'safetensors', metadata: {},
    tensorNames: () => [...locs.keys()].sort(),
    location: (n: string) => locs.get(n),
    read: () => Promise.reject(new Error('the estimate must not read data')),
    readInto: () => Promise.reject(new Error('the estimate must not read data')),
    close: async () => {},
  } as unknown as Checkpoint;
}

describe('whole-tensor memory estimate (tsv / dare rescale=l1 on a 1.23B-element tensor reached 16 GiB)', () => {
  // The audit's tensor: a 151,936 × 8,096 embedding (1.23B elements), two experts.
  const shapes = { 'model.embed_tokens.weight': [151_936, 8_096], 'model.norm.weight': [8_096] };
  const base = shapeOnly('base', shapes);
  const experts = [shapeOnly('a', shapes), shapeOnly('b', shapes)];
  const GiB = 2 ** 30;

  it('tsv: the estimate follows the documented formula and is refused under 16 GiB, naming the tensor', () => {
    const plan = planMerge(base, experts, { method: 'tsv' }) as MergePlan;
    const t = plan.tensors.find((x) => x.name === 'model.embed_tokens.weight')!;
    const [m, n] = [151_936, 8_096];
    const p = Math.min(m, n);
    const expected = 4 * 4 * m * n + 3 * 8 * m * n + 2 * 8 * p * p + 8 * (m + n) * p; // (N+2)·4·numel + SVD working set
    expect(tensorPeak(plan, t, DEFAULT_CHUNK_ELEMENTS)).toMatchObject({ bytes: expected, whole: true });
    expect(expected / GiB).toBeGreaterThan(16);
    try {
      assertWithinMemoryBudget(plan, 16 * GiB, DEFAULT_CHUNK_ELEMENTS);
      throw new Error('expected MEMORY_BUDGET');
    } catch (e) {
      expect((e as MergelensError).code).toBe('MEMORY_BUDGET');
      expect((e as MergelensError).message).toMatch(/tensor "model\.embed_tokens\.weight".*151936×8096 tensor with tsv needs about \d+\.\d\d GiB.*over the memory budget of 16\.00 GiB/);
    }
  });

  it('dare rescale=l1 is whole-tensor and estimated; rescale=inverse is row-chunked and bounded by the chunk', () => {
    const l1 = planMerge(base, experts, { method: 'dare', params: { rescale: 'l1' } }) as MergePlan;
    const t = l1.tensors.find((x) => x.name === 'model.embed_tokens.weight')!;
    const numel = 151_936 * 8_096;
    expect(tensorPeak(l1, t, DEFAULT_CHUNK_ELEMENTS)).toMatchObject({ bytes: 4 * 4 * numel + 3 * 4 * numel, whole: true });
    expect(() => assertWithinMemoryBudget(l1, 16 * GiB, DEFAULT_CHUNK_ELEMENTS)).toThrow(/rescale=l1 needs whole-tensor norms/);

    const inv = planMerge(base, experts, { method: 'dare' }) as MergePlan;
    const ti = inv.tensors.find((x) => x.name === 'model.embed_tokens.weight')!;
    const peak = tensorPeak(inv, ti, DEFAULT_CHUNK_ELEMENTS);
    const rows = Math.floor(DEFAULT_CHUNK_ELEMENTS / 8_096);
    expect(peak).toMatchObject({ whole: false, bytes: (2 * 2 + 3) * 4 * rows * 8_096 });
    expect(assertWithinMemoryBudget(inv, 1 * GiB, DEFAULT_CHUNK_ELEMENTS)?.whole).toBe(false);
  });

  it('merge --memory-budget refuses before any work (nothing written)', () => {
    const out = path.join(tmp.dir, 'mem-out');
    const r = runCli(['merge', '-m', 'tsv', '-b', path.join(FIX, 'base'), path.join(FIX, 'expert-a.safetensors'), path.join(FIX, 'expert-b.safetensors'), '-o', out, '--memory-budget', '0.05']);
    expect(r.status).toBe(1);
    // 64×32 embedding and lm_head are the tiny model's largest matrices: (N+2)·4·2048 + 3·8·2048 + 2·8·32² + 8·96·32 B.
    const bytes = 4 * 4 * 2048 + 3 * 8 * 2048 + 2 * 8 * 32 * 32 + 8 * 96 * 32;
    expect(r.stderr).toMatch(/\[MEMORY_BUDGET\]: tensor "(lm_head|model\.embed_tokens)\.weight": merging this 64×32 tensor with tsv needs about (\d+\.\d\d) MiB/);
    expect(Number(/needs about (\d+\.\d\d) MiB/.exec(r.stderr)![1])).toBeCloseTo(bytes / 2 ** 20, 2);
    expect(() => readFileSync(path.join(out, 'model.safetensors'))).toThrow();
  });
});

describe('fit --bootstrap is capped', () => {
  it('a usage error above 10,000, before any work', () => {
    const r = runCli(['fit', path.join(tmp.dir, 'none.csv'), '-o', path.join(tmp.dir, 'p.json'), '--bootstrap', '100000000']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--bootstrap must be an integer from 0 to 10000, got "100000000"/);
  });
  it('the library refuses it too', () => {
    const ds = { description: 'd', outcome: 'acc', experts: ['a', 'b'], metricIds: ['m'], rows: [{ a: 'a', b: 'b', method: 'ties', outcome: 1, metrics: { m: 0 } }] } as unknown as StudyDataset;
    expect(() => fitPredictors(ds, { bootstrap: 1e8 })).toThrow(/bootstrap must be an integer from 0 to 10000/);
  });
});

describe('report on 200 experts (a 121.5 MB page before)', () => {
  it('embeds per-layer series for as many pairs as the budget allows, best predicted first, and nulls the rest', async () => {
    const { buildReportModel } = await import('../../src/report/model.js');
    const { renderReport } = await import('../../src/report/render.js');
    const N = 200;
    const ids = Array.from({ length: 20 }, (_, k) => `m${k}`);
    const experts = Array.from({ length: N }, (_, i) => `expert-${i}`);
    const pairs: [number, number][] = [];
    for (let i = 0; i < N; i++) for (let j = i + 1; j < N; j++) pairs.push([i, j]);
    const r = rng(7);
    const groups = Array.from({ length: 8 }, (_, g) => `model.layers.${g}`);
    const bd = () => ({ groups, numel: groups.map(() => 10), values: Object.fromEntries(ids.map((id) => [id, pairs.map(() => groups.map(() => r()))])) });
    const metrics = {
      format: 'mergelens.metrics', version: 1, createdAt: '', base: { name: 'b', path: 'b', kind: 'safetensors', files: [] }, experts, inputs: [], settings: {},
      definitions: Object.fromEntries(ids.map((id) => [id, { id, label: id, family: 'weights', description: 'd', unit: 'u', aggregation: 'a' }])),
      metrics: Object.fromEntries(ids.map((id) => [id, experts.map((_, i) => experts.map((__, j) => (i === j ? null : r())))])),
      pairs, perLayer: bd(), perTensor: bd(), warnings: [], stats: { tensors: 1, parameters: 1, bytesRead: 1, seconds: 1 },
    } as unknown as import('../../src/types.js').MetricsReport;
    // One prediction makes pair 19,899 (the last) the best: it must be among those embedded.
    const predictions = [{ a: experts[198], b: experts[199], method: 'ties', predicted: 0.9, lo: 0.8, hi: 1, score: 0, drivers: [] }];
    const model = buildReportModel({ metrics, predictions });
    // Budget 400,000 values / (20 metrics × 16 points minimum) = 1,250 pairs, of 19,900.
    expect(model.layer.pairsTotal).toBe(19_900);
    expect(model.layer.pairsEmbedded).toBe(1250);
    const rows = model.layer.values.m0;
    expect(rows.filter((x) => x !== null)).toHaveLength(1250);
    expect(rows[19_899]).not.toBeNull();
    // An embedded row keeps its 8 groups (no bucketing needed at 8 ≤ 16 points), rounded to 5 digits.
    const k = rows.findIndex((x) => x !== null);
    expect(rows[k]).toEqual(metrics.perLayer.values.m0[k].map((v) => Number(v!.toPrecision(5))));
    const html = renderReport({ metrics, predictions });
    expect(html).toContain('Report size cap');
    expect(html.length).toBeLessThan(40e6);
  }, 120_000);
});
