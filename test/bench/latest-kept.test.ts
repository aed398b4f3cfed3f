/**
 * reports/bench/latest.json (src/bench/latest.ts): the runs latest.md draws on are kept, so a
 * fresh clone (whose run reports are git-ignored, hence absent) that runs one phase keeps every
 * other figure; and only the runs still drawn on are kept.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeLatest } from '../../src/bench/latest.js';
import { report, merge } from './report-fixtures.js';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const save = (name: string, doc: unknown) => writeFileSync(path.join(dir, name), JSON.stringify(doc));
const kept = () => (JSON.parse(readFileSync(path.join(dir, 'latest.json'), 'utf8')) as { runs: { createdAt: string }[] }).runs.map((r) => r.createdAt);

describe('bench: latest.json keeps the runs latest.md draws on', () => {
  it('a later run of one phase in a fresh folder keeps the other figures, and drops runs no longer drawn on', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'mergelens-latest-'));
    save('a.json', report('2026-01-01T00:00:00Z', [merge('weight_avg', 7), merge('tsv', 240)], true));
    save('b.json', report('2026-01-02T00:00:00Z', [merge('weight_avg', 5)]));
    await writeLatest(dir);
    expect(kept()).toEqual(['2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z']);

    // a fresh clone: the run reports are gone, latest.json is committed; one new merge run
    rmSync(path.join(dir, 'a.json'));
    rmSync(path.join(dir, 'b.json'));
    save('c.json', report('2026-01-03T00:00:00Z', [merge('weight_avg', 0.5), merge('tsv', 90)]));
    await writeLatest(dir);
    const md = readFileSync(path.join(dir, 'latest.md'), 'utf8');
    expect(md).toContain('## Small scale (~50M params × 4 experts) — run of 2026-01-01T00:00:00Z'); // metrics still from the first run
    expect(md).toMatch(/^\| tsv +\| +4 \| +90\.00 \|/m);
    expect(md).toMatch(/^\| weight_avg +\| +4 \| +0\.50 \|/m);
    // the second run no longer contributes anything: not kept
    expect(kept()).toEqual(['2026-01-01T00:00:00Z', '2026-01-03T00:00:00Z']);
  });

  it('names the file when a report is not JSON', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'mergelens-latest-'));
    writeFileSync(path.join(dir, 'latest.json'), '{"format": "mergelens.bench-latest", "runs": [');
    await expect(writeLatest(dir)).rejects.toThrow(/latest\.json: not a bench report/);
  });
});
