import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GarbageResult, locateResults, parseMetricChoice, readResults, scoresFromJson } from '../../src/eval/contract.js';
import { ROOT } from '../helpers/cli.js';

const FIX = path.join(ROOT, 'fixtures/lm-eval');
const BIAS = path.join(FIX, 'bias/meta-llama__Meta-Llama-3-8B/results_2024-06-17T12-20-26.826621.json');
const GSM = path.join(FIX, 'gsm8k/meta-llama__Meta-Llama-3-8B-Instruct/results_2024-08-25T21-59-12.123082.json');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-contract-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Independent reading of the fixture: plain JSON.parse and a key lookup. */
const raw = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as { results: Record<string, Record<string, number>> };

describe('result contracts', () => {
  it('reads the mergelens contract', () => {
    expect(scoresFromJson({ scores: { a: 0.5, b: 1 }, note: 'x' })).toEqual({ scores: { a: 0.5, b: 1 }, contract: 'mergelens' });
  });

  it('reads a real lm-evaluation-harness results file (acc,none by default)', async () => {
    const r = await readResults(BIAS);
    expect(r.contract).toBe('lm-eval');
    expect(r.scores).toEqual({ bias_classification: raw(BIAS).results.bias_classification['acc,none'] });
    expect(r.scores.bias_classification).toBe(0.5369458128078818);
  });

  it('takes the metric the user names, for all tasks or per task', async () => {
    const f1 = await readResults(BIAS, parseMetricChoice(['f1,none']));
    expect(f1.scores.bias_classification).toBe(raw(BIAS).results.bias_classification['f1,none']);
    const gsm = await readResults(GSM, parseMetricChoice(['gsm8k_cot_llama=exact_match,flexible-extract']));
    expect(gsm.scores.gsm8k_cot_llama).toBe(raw(GSM).results.gsm8k_cot_llama['exact_match,flexible-extract']);
  });

  it('names the metrics a task has when the default does not apply', async () => {
    await expect(readResults(GSM)).rejects.toThrow(/exact_match,strict-match/);
    await expect(readResults(GSM, parseMetricChoice(['gsm8k_cot_llama=acc,none']))).rejects.toThrow(/no metric "acc,none".*exact_match,strict-match/);
  });

  it('reads the harness’s pre-0.4 test data (plain "acc")', async () => {
    const r = await readResults(path.join(FIX, 'arc_challenge-v2.0-res.json'));
    expect(r.scores).toEqual({ arc_challenge: 0.26621160409556316 });
  });

  it('finds the file lm_eval writes under --output_path DIR (DIR/<model>/results_<time>.json, newest)', async () => {
    const out = path.join(tmp, 'out-dir');
    cpSync(path.join(FIX, 'bias'), out, { recursive: true });
    const older = path.join(out, 'meta-llama__Meta-Llama-3-8B', 'results_2024-01-01T00-00-00.json');
    writeFileSync(older, JSON.stringify({ results: { bias_classification: { 'acc,none': 0.1 } } }));
    expect(await locateResults(out)).toBe(path.join(out, 'meta-llama__Meta-Llama-3-8B', path.basename(BIAS)));
    expect((await readResults(out)).scores.bias_classification).toBe(0.5369458128078818);
  });

  it('finds X_<time>.json when lm_eval was given --output_path X.json', async () => {
    const d = path.join(tmp, 'json-suffix');
    mkdirSync(d);
    cpSync(GSM, path.join(d, 'result_2024-08-25T21-59-12.123082.json'));
    const r = await readResults(path.join(d, 'result.json'), parseMetricChoice(['exact_match,strict-match']));
    expect(r.scores.gsm8k_cot_llama).toBe(0.7725549658832449);
  });

  it('rejects garbage with a reason', async () => {
    const bad = (v: unknown) => () => scoresFromJson(v);
    expect(bad([1, 2])).toThrow(GarbageResult);
    expect(bad({ scores: { a: 'x' } })).toThrow(/scores.a must be a finite number/);
    expect(bad({ scores: {} })).toThrow(/empty/);
    expect(bad({ accuracy: 1 })).toThrow(/no "scores" object/);
    const f = path.join(tmp, 'garbage.json');
    writeFileSync(f, 'not json {');
    await expect(readResults(f)).rejects.toThrow(/not valid JSON/);
    await expect(readResults(path.join(tmp, 'missing.json'))).rejects.toThrow(/wrote no results/);
  });
});
