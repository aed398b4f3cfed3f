import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-tstudy-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('mergelens study --study', () => {
  it('refuses an unknown study and options that belong to one study when both run (usage, exit 2)', () => {
    const bad = runCli(['study', '--study', 'cifar', '--out', path.join(tmp, 'x')]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--study must be mnist, transformer or both/);
    const both = runCli(['study', '--study', 'both', '--tasks', 'gender,final', '--out', path.join(tmp, 'x')]);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/--tasks, --zoo and --retrain/);
    const ship = runCli(['study', '--study', 'transformer', '--update-shipped']);
    expect(ship.status).toBe(2);
  });

  it('runs the transformer study on the committed zoo (quick subset) and writes both kinds', () => {
    const out = path.join(tmp, 'quick');
    const r = runCli(['study', '--study', 'transformer', '--quick', '--tasks', 'gender,final,moby', '--methods', 'weight_avg,ties', '--workers', '1', '--no-fit', '--no-report', '--out', out]);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    for (const kind of ['full', 'lora']) {
      const ds = JSON.parse(readFileSync(path.join(out, kind, 'study.json'), 'utf8'));
      expect(ds.experts).toEqual(['gender', 'final', 'moby']);
      expect(ds.rows).toHaveLength(3 * 2);
      // The expert accuracies the study measured are those the zoo manifest recorded (same files, same splits).
      const manifest = JSON.parse(readFileSync(path.join('fixtures', 'study-transformer', 'manifest.json'), 'utf8'));
      const entry = manifest.tasks.find((t: { id: string }) => t.id === 'final');
      const row = ds.rows.find((x: { a: string }) => x.a === 'final') ?? ds.rows.find((x: { b: string }) => x.b === 'final');
      const acc = row.a === 'final' ? row.extra.expert_acc_a : row.extra.expert_acc_b;
      expect(acc).toBe(kind === 'full' ? entry.fullAccuracy : entry.loraAccuracy);
    }
    expect(JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')).format).toBe('mergelens.study-transformer');
    // A second run into the same folder needs --force, and --force replaces it.
    const again = runCli(['study', '--study', 'transformer', '--quick', '--tasks', 'gender,final', '--methods', 'weight_avg', '--workers', '1', '--no-fit', '--no-report', '--out', out]);
    expect(again.status).not.toBe(0);
    const forced = runCli(['study', '--study', 'transformer', '--quick', '--tasks', 'gender,final', '--methods', 'weight_avg', '--workers', '1', '--no-fit', '--no-report', '--out', out, '--force']);
    expect(forced.status).toBe(0);
  }, 600_000);
});
