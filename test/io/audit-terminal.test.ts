/**
 * Audit (issue 20, item 2): names from files never reach a terminal raw. A tensor named
 * "\e[2J\e[H…ready to merge\r\n\e[8m" used to blank `check`'s screen down to a fake verdict,
 * and a file name with an OSC sequence retitled the terminal.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { escapeControl, escapeControlKeepNewlines, hasControl } from '../../src/util/terminal.js';
import { formatProgress } from '../../src/util/progress.js';
import { escapeMetricsReport, escapePredictions } from '../../src/dashboard/escape-input.js';
import { writeSafetensors } from '../../src/safetensors/writer.js';
import { tinyBase } from '../../src/fixtures/tiny.js';
import type { MetricsReport } from '../../src/types.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { tempDir } from './raw.js';

const FIX = path.join(ROOT, 'fixtures/tiny');
const tmp = tempDir('mergelens-audit-term-');
afterAll(() => tmp.cleanup());

const HOSTILE_TENSOR = '\x1b[2J\x1b[Hsummary: 0 errors — ready to merge\r\n\x1b[8m';
const OSC_TITLE = '\x1b]0;pwned\x07';
/** Every code point escapeControl must neutralise (ESC, CSI as C1, BEL, CR, DEL, bidi override, LS). */
const RAW = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;

describe('escapeControl', () => {
  it('shows each control character as a visible escape and leaves text alone', () => {
    expect(escapeControl('a\x1b[2Jb')).toBe('a\\x1b[2Jb');
    expect(escapeControl('x\r\ny\x07\x7f\x9b')).toBe('x\\x0d\\x0ay\\x07\\x7f\\x9b');
    expect(escapeControl('abc\u202edef')).toBe('abc\\u202edef');
    expect(escapeControl('\u2028\u2066\u200b\ufeff')).toBe('\\u2028\\u2066\\u200b\\ufeff');
    expect(escapeControl('\ud800x')).toBe('\\ud800x'); // lone surrogate
    // Ordinary names, paths, non-ASCII text and emoji are untouched.
    for (const s of ['model.layers.0.self_attn.q_proj.weight', 'C:\\models\\x', 'héllo ‖θ−θ₀‖ 模型 😀']) {
      expect(escapeControl(s)).toBe(s);
      expect(hasControl(s)).toBe(false);
    }
    expect(hasControl(HOSTILE_TENSOR)).toBe(true);
  });
  it('keep-newlines variant keeps only \\n', () => {
    expect(escapeControlKeepNewlines('a\nb\x1bc\r')).toBe('a\nb\\x1bc\\x0d');
  });
  it('progress detail and dashboard inputs are escaped', () => {
    expect(formatProgress({ phase: 'metrics', done: 1, total: 2, unit: 'tensors', detail: HOSTILE_TENSOR }, 1)).not.toMatch(RAW);
    const m = {
      experts: ['a\x1b]0;x\x07', 'b'],
      definitions: { ['m\x1b']: { id: 'm\x1b', label: 'L\x1b', unit: 'u', description: 'd', aggregation: 'g', family: 'weights' } },
      metrics: { ['m\x1b']: [[null, 1], [1, null]] },
      perLayer: { groups: ['g\x1b'], numel: [1], values: { ['m\x1b']: [[1]] } },
      perTensor: { groups: [], numel: [], values: {} },
      warnings: ['w\x1b'],
    } as unknown as MetricsReport;
    const e = escapeMetricsReport(m);
    expect(JSON.stringify(e)).not.toMatch(/\\u001b/); // no raw ESC left anywhere (JSON shows raw ESC as \u001b)
    expect(Object.keys(e.metrics)).toEqual(['m\\x1b']);
    expect(Object.keys(e.definitions)).toEqual(['m\\x1b']);
    expect(e.experts[0]).toBe('a\\x1b]0;x\\x07');
    const p = escapePredictions([{ a: 'a\x1b]0;x\x07', b: 'b', method: 'ties', predicted: 0, lo: 0, hi: 0, score: 0, drivers: [{ metric: 'm\x1b', contribution: 1 }] }])!;
    expect(p[0].a).toBe(e.experts[0]); // keys and references escape identically
    expect(p[0].drivers[0].metric).toBe('m\\x1b');
  });
});

describe('CLI output carries no raw control characters', () => {
  // A base and an expert with a hostile tensor name, and an expert whose file name sets the terminal title.
  const base = tinyBase(7);
  const baseFile = tmp.file('base.safetensors');
  const hostile = tmp.file('hostile.safetensors');
  const titled = path.join(tmp.dir, `x${OSC_TITLE}.safetensors`);
  const ready = (async () => {
    await writeSafetensors(baseFile, base.map((t) => ({ ...t, dtype: 'F32' as const })));
    // The hostile expert renames one tensor: check reports it as missing/extra, by name.
    await writeSafetensors(hostile, base.map((t, i) => ({ ...t, name: i === 0 ? HOSTILE_TENSOR : t.name, dtype: 'F32' as const })), { note: `meta\x1b[31m` });
    copyFileSync(path.join(FIX, 'expert-a.safetensors'), titled);
  })();

  it('check (text) names the hostile tensor visibly, and the real verdict stays on screen', async () => {
    await ready;
    const r = runCli(['check', baseFile, hostile, titled]);
    expect(r.status).toBe(1);
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stdout).toContain('\\x1b[2J\\x1b[Hsummary: 0 errors — ready to merge\\x0d\\x0a\\x1b[8m');
    expect(r.stdout).toContain('x\\x1b]0;pwned\\x07');
    expect(r.stdout).toMatch(/summary: [1-9]\d* errors?, .* — fix the errors before merging/);
  });

  it('inspect (text) escapes tensor names, metadata and the path', async () => {
    await ready;
    const r = runCli(['inspect', hostile]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stdout).toContain('note=meta\\x1b[31m');
    const t = runCli(['inspect', titled]);
    expect(t.stdout).not.toMatch(RAW);
    expect(t.stdout).toContain('\\x1b]0;pwned\\x07');
  });

  it('errors printed by the CLI escape file names', async () => {
    await ready;
    const missing = path.join(tmp.dir, `gone${OSC_TITLE}`);
    const r = runCli(['inspect', missing]);
    expect(r.status).toBe(1);
    expect(r.stderr).not.toMatch(RAW);
    expect(r.stderr).toContain('gone\\x1b]0;pwned\\x07');
  });

  it('metrics progress and messages, screen ranking: no raw ESC', async () => {
    await ready;
    const dir = path.join(tmp.dir, `m${OSC_TITLE}`);
    mkdirSync(dir);
    const a = path.join(dir, `a${OSC_TITLE}.safetensors`);
    const b = path.join(dir, 'b\u202e.safetensors');
    copyFileSync(path.join(FIX, 'expert-a.safetensors'), a);
    copyFileSync(path.join(FIX, 'expert-b.safetensors'), b);
    const out = path.join(tmp.dir, 'm.json');
    const m = runCli(['metrics', path.join(FIX, 'base'), a, b, '-o', out, '--no-subspace']);
    expect(m.status, m.stderr).toBe(0);
    expect(m.stderr).not.toMatch(RAW);
    const s = runCli(['screen', path.join(FIX, 'base'), a, b]);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout + s.stderr).not.toMatch(RAW);
    expect(s.stdout).toContain('a\\x1b]0;pwned\\x07');
    expect(s.stdout).toContain('b\\u202e');
  });
});
