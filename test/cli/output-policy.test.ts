/**
 * The audit's data-loss, leftover and unclear-error cases (issue 20) through the real CLI, and the
 * CLI conventions (issue 19): exit codes 0/1/2, EPIPE-safe stdout, --quiet, screen -o/--csv, and
 * `mergelens clean`. Every case checks that the inputs are byte-for-byte unchanged.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { faults } from '../../src/util/output-policy.js';
import { ROOT } from '../helpers/cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-cli-out-'));
const STATE = path.join(tmp, 'state');
process.env.MERGELENS_STATE_DIR = STATE;
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => {
  delete faults.beforeWrite;
});

/** A copy of fixtures/tiny, as in the audit (`T`). */
const T = path.join(tmp, 'T');
cpSync(path.join(ROOT, 'fixtures/tiny'), T, { recursive: true });
const BASE = path.join(T, 'base');
const A = path.join(T, 'expert-a.safetensors');
const B = path.join(T, 'expert-b.safetensors');
const LOADER = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const CLI = path.join(ROOT, 'src/cli/main.ts');

/** The CLI from any working folder (the tsx loader by absolute URL, so cwd need not be the repo). */
function ml(args: string[], cwd = tmp) {
  const r = spawnSync(process.execPath, ['--import', LOADER, CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0', MERGELENS_STATE_DIR: STATE } });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function treeHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      h.update(p.slice(dir.length));
      try {
        h.update(readFileSync(p));
      } catch {
        walk(p);
      }
    }
  };
  walk(dir);
  return h.digest('hex');
}
const INPUTS = treeHash(T);
const inputsUnchanged = () => expect(treeHash(T)).toBe(INPUTS);

describe('data loss (issue 20): every case refused, inputs unchanged', () => {
  it('screen --save-metrics INPUT', () => {
    const r = ml(['screen', BASE, A, B, '--save-metrics', A]);
    expect(r.stderr).toContain('[OUTPUT_IS_INPUT]');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('[OUTPUT_IS_INPUT]');
    expect(r.stderr).not.toMatch(/metrics\s+\d/); // refused before the pass
    inputsUnchanged();
  });

  it('metrics -o INPUT --force, metrics --csv INPUT --force, metrics -o F --csv F', () => {
    const o = ml(['metrics', BASE, A, B, '-o', B, '--force']);
    expect(o.status).toBe(1);
    expect(o.stderr).toContain('[OUTPUT_IS_INPUT]');
    const c = ml(['metrics', BASE, A, B, '-o', path.join(tmp, 'ok.json'), '--csv', path.join(BASE, 'model.safetensors'), '--force']);
    expect(c.status).toBe(1);
    expect(c.stderr).toContain('[OUTPUT_IS_INPUT]');
    expect(existsSync(path.join(tmp, 'ok.json'))).toBe(false); // neither output is written
    const f = ml(['metrics', BASE, A, B, '-o', path.join(tmp, 'F'), '--csv', path.join(tmp, 'F')]);
    expect(f.status).toBe(1);
    expect(f.stderr).toContain('[OUTPUT_CONFLICT]');
    inputsUnchanged();
  });

  it('fit s.csv -o s.csv --force', () => {
    const s = path.join(tmp, 's.csv');
    writeFileSync(s, 'a,b,method,outcome,cos\nx,y,ties,0.5,0.1\n');
    const r = ml(['fit', s, '-o', s, '--force']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('[OUTPUT_IS_INPUT]');
    expect(readFileSync(s, 'utf8')).toBe('a,b,method,outcome,cos\nx,y,ties,0.5,0.1\n');
  });

  it('predict -o ANYFILE and report -o EXISTING: refused without --force, and with it unless it is their own output', () => {
    const notes = path.join(tmp, 'notes.txt');
    writeFileSync(notes, 'my notes\n');
    const predictor = path.join(ROOT, 'reports/predictor.json');
    const metrics = path.join(ROOT, 'reports/metrics.json');
    const p1 = ml(['predict', predictor, metrics, '--json', '-o', notes]);
    expect([p1.status, p1.stderr.match(/\[[A-Z_]+\]/)?.[0]]).toEqual([1, '[OUTPUT_EXISTS]']);
    const p2 = ml(['predict', predictor, metrics, '--json', '-o', notes, '--force']);
    expect([p2.status, p2.stderr.match(/\[[A-Z_]+\]/)?.[0]]).toEqual([1, '[OUTPUT_NOT_OURS]']);
    const r1 = ml(['report', metrics, '-o', notes]);
    expect([r1.status, r1.stderr.match(/\[[A-Z_]+\]/)?.[0]]).toEqual([1, '[OUTPUT_EXISTS]']);
    const r2 = ml(['report', metrics, '-o', notes, '--force']);
    expect([r2.status, r2.stderr.match(/\[[A-Z_]+\]/)?.[0]]).toEqual([1, '[OUTPUT_NOT_OURS]']);
    expect(readFileSync(notes, 'utf8')).toBe('my notes\n');
    // their own previous output is replaced with --force
    const pj = path.join(tmp, 'pred.json');
    expect(ml(['predict', predictor, metrics, '--json', '-o', pj]).status).toBe(0);
    expect(ml(['predict', predictor, metrics, '--csv', '-o', pj, '--force']).status).toBe(0);
    expect(readFileSync(pj, 'utf8').split('\n')[0]).toMatch(/^a,b,method,predicted,lo,hi,/);
  });

  it('merge through a symlinked alias with --force, and -o an unrelated folder with --force', () => {
    symlinkSync(T, path.join(tmp, 'alias'));
    const al = (p: string) => path.join(tmp, 'alias', path.relative(T, p));
    const r = ml(['merge', '-m', 'ties', '-b', al(BASE), al(A), al(B), '-o', T, '--force']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('[OUTPUT_IS_INPUT]');
    inputsUnchanged();
    const proj = path.join(tmp, 'proj');
    mkdirSync(proj);
    writeFileSync(path.join(proj, 'main.py'), 'print(1)\n');
    const p = ml(['merge', '-m', 'ties', '-b', BASE, A, B, '-o', proj, '--force']);
    expect(p.status).toBe(1);
    expect(p.stderr).toContain('[OUTPUT_NOT_OURS]');
    expect(readdirSync(proj)).toEqual(['main.py']);
  });
});

describe('study --out follows the same policy', () => {
  it('a previous study needs --force; the zoo and unrelated folders are refused (before any work)', () => {
    const prev = path.join(tmp, 'prev-study');
    mkdirSync(prev);
    writeFileSync(path.join(prev, 'study.json'), '{"format": "mergelens.study", "rows": []}');
    const again = ml(['study', '--quick', '--out', prev]);
    expect([again.status, again.stderr.match(/\[[A-Z_]+\]/)?.[0]]).toEqual([1, '[OUTPUT_EXISTS]']);
    const zoo = ml(['study', '--quick', '--out', path.join(ROOT, 'fixtures/study')]);
    expect([zoo.status, zoo.stderr.match(/\[[A-Z_]+\]/)?.[0]]).toEqual([1, '[OUTPUT_IS_INPUT]']);
    const other = path.join(tmp, 'other-project');
    mkdirSync(other);
    writeFileSync(path.join(other, 'data.csv'), 'x\n');
    const forced = ml(['study', '--quick', '--out', other, '--force']);
    expect([forced.status, forced.stderr.match(/\[[A-Z_]+\]/)?.[0]]).toEqual([1, '[OUTPUT_NOT_OURS]']);
    expect(readdirSync(other)).toEqual(['data.csv']);
    for (const r of [again, zoo, forced]) expect(r.stderr).not.toMatch(/^study: /m); // refused before the study started
  });
});

describe('newer writing commands follow it too', () => {
  it('sweep-curve --json INPUT and eval-mnist --out MODEL are refused before any work', () => {
    const study = path.join(tmp, 'study-copy.json');
    cpSync(path.join(ROOT, 'reports/study.json'), study);
    const before = readFileSync(study);
    const c = ml(['sweep-curve', study, '--json', study, '--force']);
    expect([c.status, c.stderr.match(/\[[A-Z_]+\]/)?.[0]]).toEqual([1, '[OUTPUT_IS_INPUT]']);
    expect(readFileSync(study).equals(before)).toBe(true);
    const e = ml(['eval-mnist', A, '--out', A, '--force']);
    expect([e.status, e.stderr.match(/\[[A-Z_]+\]/)?.[0]]).toEqual([1, '[OUTPUT_IS_INPUT]']);
    inputsUnchanged();
  });
});

describe('unclear errors (issue 20): named, exit 1, before the work', () => {
  it('EISDIR, `-o .`, a path under a file: named errors with the path and a hint', () => {
    const dir = path.join(tmp, 'empty-cwd');
    mkdirSync(dir);
    const m = ml(['metrics', BASE, A, B, '-o', '.'], dir);
    expect(m.status).toBe(1);
    expect(m.stderr).toMatch(/\[BAD_OUTPUT\]: \.: output is the current folder/);
    mkdirSync(path.join(tmp, 'a-folder'));
    const d = ml(['metrics', BASE, A, B, '-o', path.join(tmp, 'a-folder')]);
    expect(d.status).toBe(1);
    expect(d.stderr).toMatch(/\[IS_A_DIRECTORY\]: .*a-folder: .*hint: give a file path/);
    const g = ml(['merge', '-m', 'ties', '-b', BASE, A, B, '-o', '.'], dir);
    expect(g.status).toBe(1);
    expect(g.stderr).toMatch(/\[BAD_OUTPUT\]: \.: output is the current folder/);
    const u = ml(['metrics', BASE, A, B, '-o', path.join(A, 'm.json')]);
    expect(u.status).toBe(1);
    expect(u.stderr).toContain('[NOT_A_DIRECTORY]');
    for (const r of [m, g, u]) expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /);
    expect(u.stderr).not.toMatch(/metrics\s+\d/); // no pass was run
  });

  it('full disk and read-only filesystem while writing: exit 1, named, no temp left (in-process, injected)', async () => {
    for (const [code, ours] of [['ENOSPC', 'NO_SPACE'], ['EROFS', 'READ_ONLY_FS'], ['EACCES', 'PERMISSION_DENIED']] as const) {
      const out = path.join(tmp, `inproc-${code}`);
      mkdirSync(out);
      faults.beforeWrite = () => {
        throw Object.assign(new Error(`${code}: simulated, write`), { code, syscall: 'write' });
      };
      const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
      let status: number;
      let text = '';
      try {
        status = await main(['node', 'mergelens', 'metrics', BASE, A, B, '-o', path.join(out, 'm.json'), '--quiet']);
        text = err.mock.calls.map((c) => String(c[0])).join('');
      } finally {
        err.mockRestore();
      }
      expect(status).toBe(1);
      expect(text).toContain(`[${ours}]`);
      expect(text).toContain(path.join(out, 'm.json'));
      expect(text).toContain('hint:');
      expect(readdirSync(out)).toEqual([]);
    }
    inputsUnchanged();
  });

  it('check --sample-blocks 0 is a usage error (exit 2), as is an unknown option; --help exits 0', () => {
    const r = ml(['check', BASE, A, '--sample-blocks', '0']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--sample-blocks must be an integer > 0');
    expect(ml(['metrics', BASE, A, B, '--no-such-option']).status).toBe(2);
    expect(ml(['merge', '-m', 'ties', A, B, '-o', path.join(tmp, 'x'), '--shard-size', 'lots']).status).toBe(2);
    expect(ml(['--help']).status).toBe(0);
    const missing = ml(['inspect', path.join(tmp, 'nope.safetensors')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('[NOT_FOUND]');
  });
});

describe('CLI conventions (issue 19)', () => {
  it('`predict … --json | head` exits quietly: no EPIPE stack trace', () => {
    const predictor = path.join(ROOT, 'reports/predictor.json');
    const metrics = path.join(ROOT, 'reports/metrics.json');
    const cmd = `set -o pipefail; node --import ${LOADER} ${CLI} predict ${predictor} ${metrics} --json | head -c 100 >/dev/null; echo "status=$?"`;
    const r = spawnSync('bash', ['-c', cmd], { cwd: tmp, encoding: 'utf8', env: { ...process.env, MERGELENS_STATE_DIR: STATE } });
    expect(r.stdout.trim()).toBe('status=0');
    expect(r.stderr).toBe('');
    const closed = spawnSync('bash', ['-c', `set -o pipefail; node --import ${LOADER} ${CLI} methods --json | true; echo "status=$?"`], { cwd: tmp, encoding: 'utf8' });
    expect(closed.stdout.trim()).toBe('status=0');
    expect(closed.stderr).not.toContain('EPIPE');
  });

  it('--quiet silences progress and info on stderr; the result still goes where asked', () => {
    const loud = ml(['metrics', BASE, A, B, '-o', path.join(tmp, 'loud.json')]);
    expect(loud.status).toBe(0);
    expect(loud.stderr).toContain('wrote');
    const quiet = ml(['metrics', BASE, A, B, '-o', path.join(tmp, 'quiet.json'), '--quiet']);
    expect(quiet.status).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(JSON.parse(readFileSync(path.join(tmp, 'quiet.json'), 'utf8')).format).toBe('mergelens.metrics');
  });

  it('screen -o FILE --csv FILE write the result; a second run needs --force', () => {
    const json = path.join(tmp, 'screen.json');
    const csv = path.join(tmp, 'screen.csv');
    const r = ml(['screen', BASE, A, B, '-o', json, '--csv', csv, '-q']);
    expect(r.status).toBe(0);
    const full = JSON.parse(readFileSync(json, 'utf8'));
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    expect(rows[0]).toMatch(/^a,b,method,predicted,lo,hi,/);
    expect(rows.length - 1).toBe(full.predictions.length); // one row per pair × method
    expect(ml(['screen', BASE, A, B, '-o', json, '-q']).status).toBe(1);
    expect(ml(['screen', BASE, A, B, '-o', json, '-q', '--force']).status).toBe(0);
    inputsUnchanged();
  });

  it('`mergelens clean DIR` removes dead runs’ temps and locks, lists them, and leaves live ones', () => {
    const dir = path.join(tmp, 'to-clean');
    mkdirSync(dir);
    const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
    writeFileSync(path.join(dir, `.mergelens-tmp-${dead}-0badf00d-model.safetensors`), Buffer.alloc(2000));
    writeFileSync(path.join(dir, '.mergelens-lock-model.safetensors'), JSON.stringify({ pid: dead, host: os.hostname(), createdAt: 'x' }));
    writeFileSync(path.join(dir, `.mergelens-tmp-${process.pid}-0badf00d-live.json`), 'in progress');
    writeFileSync(path.join(dir, 'keep.txt'), 'mine');
    const dry = ml(['clean', dir, '--dry-run', '--json']);
    expect(JSON.parse(dry.stdout).removed.map((x: { what: string }) => x.what).sort()).toEqual(['lock', 'temp']);
    expect(readdirSync(dir)).toHaveLength(4);
    const r = ml(['clean', dir]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/removed 2 leftover\(s\), 2(\.0)? [kK]B/);
    expect(readdirSync(dir).sort()).toEqual([`.mergelens-tmp-${process.pid}-0badf00d-live.json`, 'keep.txt']);
  });
});
