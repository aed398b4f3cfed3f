/**
 * Merge outputs under the output policy: a full disk while the record is written leaves nothing
 * (never weights without their record); the extras hook writes inside the output before the final
 * rename; `kill -9` mid-merge, then any command: no temp left, inputs unchanged; two concurrent
 * merges to one output: exactly one succeeds and the record names its method.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MergelensError } from '../../src/errors.js';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { mergeToDisk, MERGE_RECORD } from '../../src/merge/to-disk.js';
import { writeSafetensors } from '../../src/safetensors/writer.js';
import { faults } from '../../src/util/output-policy.js';
import { ROOT, runCli } from '../helpers/cli.js';

const TINY = path.join(ROOT, 'fixtures/tiny');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-outmerge-'));
const STATE = path.join(tmp, 'state');
process.env.MERGELENS_STATE_DIR = STATE;
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => {
  delete faults.beforeWrite;
});

const leftovers = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('.mergelens-') || f.startsWith('.tmp-'));
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('merge record and extras', () => {
  it('ENOSPC while the record is written: no weights, no record, no temp; exit as NO_SPACE', async () => {
    const [base, a, b] = await Promise.all(['base', 'expert-a.safetensors', 'expert-b.safetensors'].map((n) => openCheckpoint(path.join(TINY, n))));
    for (const out of [path.join(tmp, 'full-disk'), path.join(tmp, 'full-disk.safetensors')]) {
      faults.beforeWrite = (file) => {
        if (path.basename(file).includes(MERGE_RECORD)) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' });
      };
      const e = await mergeToDisk(base, [a, b], { method: 'ties', out }).catch((x) => x);
      expect(e).toBeInstanceOf(MergelensError);
      expect(e.code).toBe('NO_SPACE');
      expect(existsSync(out)).toBe(false);
      expect(existsSync(out.replace(/\.safetensors$/, `.${MERGE_RECORD}`))).toBe(false);
      expect(leftovers(tmp)).toEqual([]);
    }
    await Promise.all([base, a, b].map((c) => c.close()));
  });

  it('writeExtras writes into the output folder before the final rename, next to the record', async () => {
    const [base, a] = await Promise.all(['base', 'expert-a.safetensors'].map((n) => openCheckpoint(path.join(TINY, n))));
    const out = path.join(tmp, 'with-extras');
    let seenDir = '';
    const res = await mergeToDisk(base, [a], {
      method: 'task_arithmetic',
      out,
      writeExtras: async ({ dir, record }) => {
        seenDir = dir;
        expect(existsSync(out)).toBe(false); // not yet in place
        writeFileSync(path.join(dir, 'README.md'), `merged with ${record.method}\n`);
        return ['README.md'];
      },
    });
    expect(path.dirname(seenDir)).toBe(tmp);
    expect(path.basename(seenDir)).toMatch(/^\.mergelens-tmp-\d+-[0-9a-f]{8}-with-extras$/);
    expect(res.extras).toContain('README.md'); // after the built-in docs (mergekit_config.yml, model card)
    for (const f of res.extras) expect(existsSync(path.join(out, f))).toBe(true);
    expect(readFileSync(path.join(out, 'README.md'), 'utf8')).toBe('merged with task_arithmetic\n');
    expect(JSON.parse(readFileSync(path.join(out, MERGE_RECORD), 'utf8')).method).toBe('task_arithmetic');
    await Promise.all([base, a].map((c) => c.close()));
  });
});

/** base + 2 experts, 3 × 2M float32 each (24 MB per checkpoint): a merge takes long enough to interrupt. */
const BIG = path.join(tmp, 'big');
beforeAll(async () => {
  mkdirSync(BIG, { recursive: true });
  const numel = 2 ** 21;
  const tensor = (name: string, f: (i: number) => number) => {
    const data = new Float32Array(numel);
    for (let i = 0; i < numel; i++) data[i] = f(i);
    return { name, dtype: 'F32' as const, shape: [2048, 1024], data };
  };
  const names = ['layers.0.weight', 'layers.1.weight', 'layers.2.weight'];
  await writeSafetensors(path.join(BIG, 'base.safetensors'), names.map((n, k) => tensor(n, (i) => Math.sin(i * 0.001 + k))));
  for (const [e, s] of [['a', 1], ['b', 2]] as const) {
    await writeSafetensors(path.join(BIG, `expert-${e}.safetensors`), names.map((n, k) => tensor(n, (i) => Math.sin(i * 0.001 + k) + 0.01 * Math.cos(i * 0.37 * s + k))));
  }
}, 120_000);

function spawnCli(args: string[]) {
  return spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), ...args], { cwd: ROOT, env: { ...process.env, MERGELENS_STATE_DIR: STATE }, stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('interrupted and concurrent merges', () => {
  it('kill -9 mid-merge, then any command: no temp or lock remains, inputs unchanged', async () => {
    const inputs = ['base', 'expert-a', 'expert-b'].map((n) => path.join(BIG, `${n}.safetensors`));
    const before = inputs.map(sha);
    const outDir = path.join(tmp, 'killed');
    mkdirSync(outDir);
    const child = spawnCli(['merge', '-m', 'ties', '-b', inputs[0], inputs[1], inputs[2], '-o', path.join(outDir, 'merged'), '--no-progress']);
    // Wait until the merge is writing (its temp folder exists), then kill it without warning.
    const started = Date.now();
    while (!readdirSync(outDir).some((f) => f.startsWith('.mergelens-tmp-'))) {
      if (Date.now() - started > 60_000 || child.exitCode !== null) throw new Error(`merge never started writing (exit ${child.exitCode})`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;
    expect(leftovers(outDir).length).toBeGreaterThan(0); // it really was interrupted mid-write
    const any = runCli(['methods', '--json'], { env: { MERGELENS_STATE_DIR: STATE } });
    expect(any.status).toBe(0);
    expect(leftovers(outDir)).toEqual([]);
    expect(existsSync(path.join(outDir, 'merged'))).toBe(false);
    expect(inputs.map(sha)).toEqual(before);
  });

  it('SIGTERM mid-merge: exit 143 and the run removes its own temps and lock at once', async () => {
    const inputs = ['base', 'expert-a', 'expert-b'].map((n) => path.join(BIG, `${n}.safetensors`));
    const outDir = path.join(tmp, 'terminated');
    mkdirSync(outDir);
    const child = spawnCli(['merge', '-m', 'ties', '-b', ...inputs, '-o', path.join(outDir, 'merged.safetensors'), '--no-progress']);
    const started = Date.now();
    while (!readdirSync(outDir).some((f) => f.startsWith('.mergelens-tmp-'))) {
      if (Date.now() - started > 60_000 || child.exitCode !== null) throw new Error(`merge never started writing (exit ${child.exitCode})`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const code = new Promise((r) => child.on('exit', (c) => r(c)));
    child.kill('SIGTERM');
    expect(await code).toBe(143);
    expect(leftovers(outDir)).toEqual([]);
    expect(readdirSync(outDir)).toEqual([]);
  });

  it('two concurrent merges to one output: exactly one succeeds, and the record names its method', async () => {
    const inputs = ['base', 'expert-a', 'expert-b'].map((n) => path.join(BIG, `${n}.safetensors`));
    const out = path.join(tmp, 'race');
    const run = (method: string) =>
      new Promise<{ method: string; code: number; stderr: string }>((resolve) => {
        const c = spawnCli(['merge', '-m', method, '-b', ...inputs, '-o', out, '--no-progress']);
        let stderr = '';
        c.stderr.on('data', (d) => (stderr += d));
        c.on('exit', (code) => resolve({ method, code: code ?? -1, stderr }));
      });
    const results = await Promise.all([run('ties'), run('task_arithmetic')]);
    const ok = results.filter((r) => r.code === 0);
    const failed = results.filter((r) => r.code !== 0);
    expect(ok).toHaveLength(1);
    expect(failed).toHaveLength(1);
    expect(failed[0].code).toBe(1);
    expect(failed[0].stderr).toMatch(/\[(OUTPUT_LOCKED|OUTPUT_EXISTS)\]/);
    expect(JSON.parse(readFileSync(path.join(out, MERGE_RECORD), 'utf8')).method).toBe(ok[0].method);
    expect(leftovers(tmp)).toEqual([]);
  });
});
