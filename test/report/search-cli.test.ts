/**
 * `mergelens report --search`: inputs it refuses (with the file and the field named) and where
 * it writes by default. The page itself is checked in search-browser.test.ts.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { handLog } from './search-sample.js';

describe('mergelens report --search', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mergelens-search-cli-'));
  const good = path.join(dir, 'run-a', 'search.json');
  mkdirSync(path.dirname(good));
  writeFileSync(good, JSON.stringify(handLog(1)));

  it('writes reports/<folder>-search.html by default, holding the run', () => {
    const r = runCli(['report', '--search', good], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = path.join(dir, 'reports', 'run-a-search.html');
    expect(r.stdout).toContain(`wrote ${path.join('reports', 'run-a-search.html')}`);
    expect(existsSync(out)).toBe(true);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('<section id="search-section">');
    expect(html).toContain('<meta name="generator" content="mergelens">');
  });

  it('refuses no input, a predictor without metrics, and a file that is not a search log', () => {
    const none = runCli(['report'], { cwd: dir });
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('no input');
    const pred = runCli(['report', '--search', good, '--study', good], { cwd: dir });
    expect(pred.status).toBe(2);
    expect(pred.stderr).toContain('--study needs a metrics file');
    const badFile = path.join(dir, 'metrics.json');
    writeFileSync(badFile, JSON.stringify({ format: 'mergelens.metrics' }));
    const bad = runCli(['report', '--search', badFile, '-o', path.join(dir, 'x.html')], { cwd: dir });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(badFile);
    expect(bad.stderr).toContain('not a mergelens search log');
    expect(existsSync(path.join(dir, 'x.html'))).toBe(false);
  });
});
