/**
 * The output policy (src/util/output-policy.ts) in-process: real-path overlap with inputs (symlink
 * aliases, `..`, hard links, HF-cache style shards), what --force may replace, output clashes,
 * locks (live, stale), leftovers of dead runs, filesystem failures mapped to named errors — and a
 * fast-check fuzz of random symlink layouts in which no input ever changes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MergelensError } from '../../src/errors.js';
import { claimOutputs, cleanFolder, faults, lockPathFor, realPathOf, sweepInterrupted, withOutputs, type OutputRequest } from '../../src/util/output-policy.js';
import { writeFileAtomic } from '../../src/util/atomic.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-policy-'));
process.env.MERGELENS_STATE_DIR = path.join(tmp, 'state');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => {
  delete faults.beforeWrite;
});

let n = 0;
/** A fresh folder with an input file `in.bin` and an input folder `model/` (with a shard). */
function layout(): { dir: string; file: string; model: string; shard: string } {
  const dir = path.join(tmp, `case-${n++}`);
  mkdirSync(path.join(dir, 'model'), { recursive: true });
  writeFileSync(path.join(dir, 'in.bin'), 'input-file');
  writeFileSync(path.join(dir, 'model', 'model.safetensors'), 'input-shard');
  return { dir, file: path.join(dir, 'in.bin'), model: path.join(dir, 'model'), shard: path.join(dir, 'model', 'model.safetensors') };
}

async function refusal(reqs: OutputRequest[], inputs: string[], force = false): Promise<MergelensError> {
  const e = await claimOutputs(reqs, { inputs, force }).then(
    async (c) => {
      await c.release();
      return null;
    },
    (x) => x,
  );
  if (!(e instanceof MergelensError)) throw new Error(`expected a refusal, got ${e}`);
  return e;
}

/** A pid that certainly is not running: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('outputs vs inputs, by real path', () => {
  it('refuses an output that is an input through a symlinked folder, `..` or a hard link', async () => {
    const { dir, file, model } = layout();
    symlinkSync(dir, path.join(tmp, `alias-${n}`));
    const alias = path.join(tmp, `alias-${n}`);
    expect((await refusal([{ path: path.join(alias, 'in.bin'), kind: 'metrics' }], [file], true)).code).toBe('OUTPUT_IS_INPUT');
    expect((await refusal([{ path: path.join(dir, 'model', '..', 'in.bin'), kind: 'metrics' }], [file], true)).code).toBe('OUTPUT_IS_INPUT');
    linkSync(file, path.join(dir, 'hard.bin'));
    expect((await refusal([{ path: path.join(dir, 'hard.bin'), kind: 'metrics' }], [file], true)).message).toMatch(/output is the input/);
    // inside an input folder, or containing one (the issue's `-o $T --force` through an alias)
    expect((await refusal([{ path: path.join(alias, 'model', 'out.json'), kind: 'metrics' }], [model])).message).toMatch(/lies inside the input/);
    const e = await refusal([{ path: alias, kind: 'merge', folder: true }], [path.join(alias, 'model')], true);
    expect(e.code).toBe('OUTPUT_IS_INPUT');
    expect(e.message).toMatch(/contains the input/);
    expect(readFileSync(file, 'utf8')).toBe('input-file');
  });

  it('follows shards that an input folder links to elsewhere (HF cache: snapshots → blobs)', async () => {
    const { dir } = layout();
    const blobs = path.join(dir, 'blobs');
    const snap = path.join(dir, 'snapshots', 'rev');
    mkdirSync(blobs, { recursive: true });
    mkdirSync(snap, { recursive: true });
    writeFileSync(path.join(blobs, 'abc123'), 'shard-bytes');
    symlinkSync('../../blobs/abc123', path.join(snap, 'model.safetensors'));
    expect((await refusal([{ path: path.join(blobs, 'abc123'), kind: 'metrics' }], [snap], true)).code).toBe('OUTPUT_IS_INPUT');
    expect((await refusal([{ path: blobs, kind: 'merge', folder: true }], [snap], true)).message).toMatch(/contains the input/);
  });

  it('resolves a path that does not exist yet through its existing ancestors', async () => {
    const { dir } = layout();
    const link = path.join(tmp, `to-${n}`);
    symlinkSync(dir, link);
    expect(await realPathOf(path.join(link, 'new', 'deeper', 'x.json'))).toBe(path.join(dir, 'new', 'deeper', 'x.json'));
  });
});

describe('--force replaces only a previous output of the same kind', () => {
  it('refuses without --force, refuses an unrelated file or folder with it, replaces its own kind', async () => {
    const { dir } = layout();
    const out = path.join(dir, 'metrics.json');
    writeFileSync(out, '{"format": "mergelens.metrics", "experts": []}');
    expect((await refusal([{ path: out, kind: 'metrics' }], [])).code).toBe('OUTPUT_EXISTS');
    expect((await refusal([{ path: out, kind: 'predictor' }], [], true)).code).toBe('OUTPUT_NOT_OURS');
    await withOutputs([{ path: out, kind: 'metrics' }], { inputs: [], force: true }, async ([o]) => o.write('{"format": "mergelens.metrics", "v": 2}\n'));
    expect(JSON.parse(readFileSync(out, 'utf8')).v).toBe(2);

    const proj = path.join(dir, 'proj');
    mkdirSync(proj);
    writeFileSync(path.join(proj, 'thesis.tex'), 'precious');
    const e = await refusal([{ path: proj, kind: 'merge', folder: true }], [], true);
    expect(e.code).toBe('OUTPUT_NOT_OURS');
    expect(readFileSync(path.join(proj, 'thesis.tex'), 'utf8')).toBe('precious');

    const merged = path.join(dir, 'merged');
    mkdirSync(merged);
    writeFileSync(path.join(merged, 'mergelens_merge.json'), '{"format": "mergelens.merge"}');
    const claim = await claimOutputs([{ path: merged, kind: 'merge', folder: true }], { inputs: [], force: true });
    const temp = claim.outputs[0].tempPath();
    mkdirSync(temp);
    writeFileSync(path.join(temp, 'mergelens_merge.json'), '{"format": "mergelens.merge", "new": true}');
    await claim.outputs[0].commit(temp);
    await claim.release();
    expect(JSON.parse(readFileSync(path.join(merged, 'mergelens_merge.json'), 'utf8')).new).toBe(true);
    expect(readdirSync(dir).filter((f) => f.startsWith('.mergelens'))).toEqual([]);
  });

  it('recognises each kind by content, not by name', async () => {
    const { dir } = layout();
    const cases: [OutputRequest['kind'], string, boolean][] = [
      ['metrics-csv', 'a,b,cos\nx,y,1\n', true],
      ['metrics-csv', 'a,b,method,predicted\n', false],
      ['predictions', 'a,b,method,predicted,lo,hi\n', true],
      ['predictions', 'Predictor: p.json (fitted on x)\n', true],
      ['predictions', '{"predictor": {"path": "p.json"}, "predictions": [], "ranking": {}}', true],
      ['predictions', '{"predictions": []}', false],
      ['predictions', 'my notes\n', false],
      ['report', '<!doctype html><html><head><meta name="generator" content="mergelens">', true],
      ['report', '<!doctype html><html><head><title>mine</title>', false],
      ['predictor', '{"format": "mergelens.predictor"}', true],
      ['predictor', '{"format": "mergelens.metrics"}', false],
    ];
    for (const [kind, content, ours] of cases) {
      const f = path.join(dir, `k-${n++}`);
      writeFileSync(f, content);
      const r = await claimOutputs([{ path: f, kind }], { inputs: [], force: true }).then(
        async (c) => (await c.release(), 'ok'),
        (e: MergelensError) => e.code,
      );
      expect([kind, content, r]).toEqual([kind, content, ours ? 'ok' : 'OUTPUT_NOT_OURS']);
    }
  });

  it('two outputs of one command on one path clash (metrics -o F --csv F)', async () => {
    const { dir } = layout();
    const f = path.join(dir, 'F');
    const e = await refusal([{ path: f, kind: 'metrics', flag: '-o' }, { path: path.join(dir, '.', 'F'), kind: 'metrics-csv', flag: '--csv' }], []);
    expect(e.code).toBe('OUTPUT_CONFLICT');
    expect(e.message).toContain('-o');
    expect(e.message).toContain('--csv');
  });

  it('a folder where a file goes, a path under a file, a device, the current folder: named errors', async () => {
    const { dir, file } = layout();
    expect((await refusal([{ path: dir, kind: 'metrics' }], [])).code).toBe('IS_A_DIRECTORY');
    expect((await refusal([{ path: path.join(file, 'x.json'), kind: 'metrics' }], [])).code).toBe('NOT_A_DIRECTORY');
    expect((await refusal([{ path: '/dev/null', kind: 'metrics' }], [], true)).code).toBe('BAD_OUTPUT');
    expect((await refusal([{ path: '.', kind: 'merge', folder: true }], [], true)).code).toBe('BAD_OUTPUT');
  });
});

describe('locks and leftovers', () => {
  it('a second claim on a locked output fails with OUTPUT_LOCKED; a dead holder’s lock is reclaimed', async () => {
    const { dir } = layout();
    const out = path.join(dir, 'o.json');
    const first = await claimOutputs([{ path: out, kind: 'metrics' }], { inputs: [] });
    // another process holds it: simulate by rewriting the lock with a live foreign pid (our parent)
    writeFileSync(lockPathFor(out), JSON.stringify({ pid: process.ppid, host: os.hostname(), createdAt: 'now' }));
    const e = await refusal([{ path: out, kind: 'metrics' }], []);
    expect(e.code).toBe('OUTPUT_LOCKED');
    expect(e.message).toContain(`pid ${process.ppid}`);
    await first.release(); // not ours any more: left alone
    expect(existsSync(lockPathFor(out))).toBe(true);
    writeFileSync(lockPathFor(out), JSON.stringify({ pid: deadPid(), host: os.hostname(), createdAt: 'then' }));
    const again = await claimOutputs([{ path: out, kind: 'metrics' }], { inputs: [] });
    expect(JSON.parse(readFileSync(lockPathFor(out), 'utf8')).pid).toBe(process.pid);
    await again.release();
    expect(existsSync(lockPathFor(out))).toBe(false);
  });

  it('temps of dead runs are removed by the next claim in that folder; a live run’s temps stay', async () => {
    const { dir } = layout();
    const dead = deadPid();
    const deadTemp = path.join(dir, `.mergelens-tmp-${dead}-0123abcd-merged`);
    mkdirSync(deadTemp);
    writeFileSync(path.join(deadTemp, 'model.safetensors'), Buffer.alloc(1000));
    const legacy = path.join(dir, `.tmp-x.safetensors-${dead}-deadbeef`);
    writeFileSync(legacy, 'old style');
    const liveTemp = path.join(dir, `.mergelens-tmp-${process.ppid}-0123abcd-other`);
    writeFileSync(liveTemp, 'being written');
    const dry = await cleanFolder(dir, { dryRun: true });
    expect(dry.map((r) => path.basename(r.path)).sort()).toEqual([path.basename(deadTemp), path.basename(legacy)].sort());
    expect(dry.find((r) => r.path === deadTemp)?.bytes).toBe(1000);
    await withOutputs([{ path: path.join(dir, 'new.json'), kind: 'metrics' }], { inputs: [] }, async ([o]) => o.write('{}'));
    expect(existsSync(deadTemp)).toBe(false);
    expect(existsSync(legacy)).toBe(false);
    expect(existsSync(liveTemp)).toBe(true);
  });

  it('a run killed mid-write is cleaned by any later run through its state file', async () => {
    const { dir } = layout();
    const state = process.env.MERGELENS_STATE_DIR!;
    mkdirSync(state, { recursive: true });
    const dead = deadPid();
    writeFileSync(path.join(state, `${os.hostname()}-${dead}.json`), JSON.stringify({ pid: dead, dirs: [dir] }));
    const temp = path.join(dir, `.mergelens-tmp-${dead}-00000000-big.safetensors`);
    writeFileSync(temp, Buffer.alloc(4096));
    writeFileSync(path.join(dir, '.mergelens-lock-big.safetensors'), JSON.stringify({ pid: dead, host: os.hostname(), createdAt: 'x' }));
    const removed = await sweepInterrupted();
    expect(removed.map((r) => r.what).sort()).toEqual(['lock', 'temp']);
    expect(readdirSync(dir).filter((f) => f.startsWith('.mergelens'))).toEqual([]);
    expect(readdirSync(state).filter((f) => f.includes(`-${dead}.json`))).toEqual([]);
  });
});

describe('filesystem failures become named errors with the path, and leave nothing', () => {
  const errno = (code: string) => Object.assign(new Error(`${code}: simulated`), { code, syscall: 'write' });
  for (const [code, ours] of [
    ['ENOSPC', 'NO_SPACE'],
    ['EACCES', 'PERMISSION_DENIED'],
    ['EROFS', 'READ_ONLY_FS'],
    ['EBUSY', 'FILE_BUSY'],
  ] as const) {
    it(`${code} → ${ours}`, async () => {
      const { dir } = layout();
      const out = path.join(dir, 'o.json');
      writeFileSync(out, '{"format": "mergelens.metrics", "old": true}');
      faults.beforeWrite = () => {
        throw errno(code);
      };
      const e = await withOutputs([{ path: out, kind: 'metrics' }], { inputs: [], force: true }, async ([o]) => o.write('new')).catch((x) => x);
      expect(e).toBeInstanceOf(MergelensError);
      expect(e.code).toBe(ours);
      expect(e.file).toBe(out);
      expect(e.message).toMatch(/hint: /);
      expect(JSON.parse(readFileSync(out, 'utf8')).old).toBe(true); // the previous output is intact
      expect(readdirSync(dir).filter((f) => f.startsWith('.mergelens'))).toEqual([]);
      const e2 = await writeFileAtomic(path.join(dir, 'p.json'), 'x').catch((x) => x);
      expect(e2.code).toBe(ours);
    });
  }

  it('a real read-only or unwritable location fails at claim time (before any work)', async () => {
    // /proc is read-only for everyone, root included.
    const e = await refusal([{ path: '/proc/mergelens-out/x.json', kind: 'metrics' }], []);
    expect(['READ_ONLY_FS', 'NOT_FOUND', 'PERMISSION_DENIED']).toContain(e.code);
    expect(e.file).toMatch(/^\/proc/);
  });
});

describe('fuzz: random symlink/alias layouts of inputs and outputs never change an input', () => {
  it('claim + write either refuses or writes somewhere that is no input', async () => {
    const root = path.join(tmp, 'fuzz');
    let round = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          // how the output names things: via the real folder, an alias, `..` detours; what it targets
          via: fc.constantFrom('real', 'alias', 'dotdot', 'link-to-file', 'link-to-model'),
          target: fc.constantFrom('in.bin', 'model', 'model/model.safetensors', 'model/new.json', '.', 'new.json', 'sub/new.json', 'linked-shard'),
          folder: fc.boolean(),
          force: fc.boolean(),
          kind: fc.constantFrom('merge', 'metrics', 'report', 'predictions'),
        }),
        async (c) => {
          const dir = path.join(root, `r${round++}`);
          mkdirSync(path.join(dir, 'model'), { recursive: true });
          mkdirSync(path.join(dir, 'elsewhere'));
          writeFileSync(path.join(dir, 'in.bin'), 'IN');
          writeFileSync(path.join(dir, 'model', 'model.safetensors'), 'SHARD');
          writeFileSync(path.join(dir, 'elsewhere', 'blob'), 'BLOB');
          symlinkSync(path.join(dir, 'elsewhere', 'blob'), path.join(dir, 'model', 'shard-2.safetensors'));
          symlinkSync(dir, path.join(dir, 'alias'));
          symlinkSync(path.join(dir, 'in.bin'), path.join(dir, 'link-to-file'));
          symlinkSync(path.join(dir, 'model'), path.join(dir, 'link-to-model'));
          const prefix = c.via === 'alias' ? path.join(dir, 'alias') : c.via === 'dotdot' ? path.join(dir, 'model', '..') : dir;
          const out =
            c.via === 'link-to-file' ? path.join(dir, 'link-to-file') : c.via === 'link-to-model' ? path.join(dir, 'link-to-model', c.target === '.' ? '' : 'x') : c.target === 'linked-shard' ? path.join(dir, 'elsewhere', 'blob') : path.join(prefix, c.target);
          const inputs = [path.join(dir, 'in.bin'), path.join(dir, 'model')];
          const snapshot = () => [readFileSync(path.join(dir, 'in.bin'), 'utf8'), readFileSync(path.join(dir, 'model', 'model.safetensors'), 'utf8'), readFileSync(path.join(dir, 'elsewhere', 'blob'), 'utf8')];
          const before = snapshot();
          try {
            await withOutputs([{ path: out, kind: c.kind as OutputRequest['kind'], folder: c.folder }], { inputs, force: c.force }, async ([o]) => {
              if (c.folder) {
                const t = o.tempPath();
                mkdirSync(t);
                writeFileSync(path.join(t, 'mergelens_merge.json'), '{"format": "mergelens.merge"}');
                await o.commit(t);
              } else await o.write('OUTPUT');
            });
          } catch (e) {
            if (!(e instanceof MergelensError)) throw e;
          }
          expect(snapshot()).toEqual(before);
          expect(existsSync(path.join(dir, 'model', 'model.safetensors'))).toBe(true);
        },
      ),
      { numRuns: 150, seed: 20 },
    );
    // nothing left behind anywhere
    expect(execFileSync('find', [root, '-name', '.mergelens-*'], { encoding: 'utf8' })).toBe('');
  });
});
