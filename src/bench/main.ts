/**
 * `npm run bench [-- --small] [-- options]`: generates synthetic checkpoints, measures this
 * machine (cores, memory, bandwidth), the metrics pass, subspace SVD time per 4096² tensor,
 * merge throughput per method and peak RSS of each phase (each in its own child process), and
 * a numpy side-by-side when `python3 -c "import numpy"` works. Prints a table, writes
 * reports/bench/<timestamp>.json and regenerates reports/bench/latest.md.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, promises as fsp, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { nativeKernels } from '../native/load.js';
import { writeFileAtomic } from '../util/atomic.js';
import { stderrProgress } from '../util/progress.js';
import { measureBandwidth, readAll, readAllCached, type Bandwidth } from './bandwidth.js';
import { runPhase, type MergeResultFigures, type MetricsResult, type KernelResult, type Phase, type StreamResult, type SubspaceResult, type WriteFloor } from './phases.js';
import { writeLatest } from './latest.js';
import { renderTable, type BenchReport, type NativePairs, type StreamFigures, type TorchMerge } from './report.js';
import { measureStartup, renderStartup, type StartupFigures } from './startup.js';
import { renderScreen, screenPhase, type ScreenFigures } from './screen-phase.js';
import { renderSweep, sweepPhase, type SweepFigures } from './sweep-phase.js';
import { fitLayers, freeBytes, generateSynthetic, paramCount, SHAPE_1B, SHAPE_SMALL, synthBytes, type ModelShape, type SynthResult } from './synth.js';
import { removeSettled, syncDisk } from './settle.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Repository root: dist/bench or src/bench → two levels up. */
const root = path.resolve(here, '..', '..');

interface Options {
  small?: boolean;
  dir?: string;
  experts?: string;
  threads?: string;
  methods?: string;
  keep?: boolean;
  numpy: boolean;
  torch: boolean;
  before: boolean;
  wasm: boolean;
  subspaceSize: string;
  only?: string;
  runs?: string;
  out: string;
  render?: boolean;
}

/** Run one phase in a child process (same node flags, so it works from dist and under tsx). */
function child<T>(p: Phase, env: NodeJS.ProcessEnv = process.env): Promise<T> {
  return new Promise((resolve, reject) => {
    // Through `sh -c 'cmd; exit $?'`, which forks for cmd: on Linux a process's maxRSS survives
    // exec and a direct child starts from this (parent) process's RSS, which would hide the
    // phase's own peak. sh's fork starts from sh's ~1 MB instead.
    const args = [process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), '--phase', JSON.stringify(p)];
    const proc = spawn('/bin/sh', ['-c', '"$0" "$@"; exit $?', ...args], { stdio: ['ignore', 'pipe', 'inherit'], env });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('error', reject);
    proc.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`bench phase ${p.phase} exited with code ${code}`));
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`bench phase ${p.phase} printed no result: ${out.slice(-500)}`));
      }
    });
  });
}

/** Debian's python3 (not a pyenv shim): the one `apt-get install python3-torch` serves. */
const SYSTEM_PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

function hasTorch(): boolean {
  return spawnSync(SYSTEM_PYTHON, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status === 0;
}

/** bench/merge_reference.py: the mergekit-style torch merge of the same files, compared with ours. */
function runTorchMerge(method: string, base: string, experts: string[], out: string, ours: string): TorchMerge {
  const r = spawnSync(SYSTEM_PYTHON, [path.join(root, 'bench', 'merge_reference.py'), '--method', method, '--base', base, '--experts', ...experts, '--out', out, '--compare', ours], {
    env: numpyEnv(),
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) return { error: (r.stderr || `exit ${r.status}`).slice(-2000) };
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchMerge;
}

/**
 * bench/pair_kernel.c compiled with gcc -O3 -march=native, strict IEEE order and with
 * -ffast-math: the native figure the WebAssembly pair kernel is held against.
 */
function runNativePairs(experts: number, dir: string): NativePairs {
  const src = path.join(root, 'bench', 'pair_kernel.c');
  const out: NativePairs = { experts, compiler: 'gcc -O3 -march=native' };
  for (const [key, flags] of [['strict', []], ['fast', ['-ffast-math']]] as const) {
    const bin = path.join(dir, `pair_kernel_${key}`);
    const cc = spawnSync('gcc', ['-O3', '-march=native', ...flags, '-o', bin, src, '-lm'], { encoding: 'utf8' });
    if (cc.status !== 0) return { ...out, error: cc.error ? 'no gcc on PATH' : (cc.stderr || 'gcc failed').slice(-500) };
    // 1Mi positions, best of 25 by thread CPU time: as kernelPhase measures the WebAssembly kernel
    const run = spawnSync(bin, [String(experts), String(1 << 20), '25'], { encoding: 'utf8' });
    if (run.status !== 0) return { ...out, error: (run.stderr || 'pair_kernel failed').slice(-500) };
    out[key] = (JSON.parse(run.stdout.trim()) as { nsPerPairElement: number }).nsPerPairElement;
  }
  return out;
}

function hasNumpy(): boolean {
  return spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
}

/** The env for numpy: the OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE overrides removed together. */
function numpyEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

function runNumpy(args: string[], env: NodeJS.ProcessEnv = numpyEnv()): Record<string, unknown> | { error: string } {
  const t0 = performance.now();
  const r = spawnSync('python3', [path.join(root, 'bench', 'reference.py'), ...args], { env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) return { error: (r.stderr || `exit ${r.status}`).slice(-2000) };
  const parsed = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  return { ...parsed, wallSeconds: (performance.now() - t0) / 1000 };
}

function cpuModel(): string {
  return os.cpus()[0]?.model?.trim() || 'unknown';
}

async function synthesise(o: Options, scale: 'small' | '1b', experts: number, log: (s: string) => void): Promise<SynthResult & { reused: boolean; note?: string }> {
  const dir = o.dir ?? path.join(os.tmpdir(), `mergelens-bench-${scale}`);
  let shape: ModelShape = scale === 'small' ? SHAPE_SMALL : SHAPE_1B;
  const marker = path.join(dir, 'synth.json');
  if (existsSync(marker)) {
    const prev = JSON.parse(readFileSync(marker, 'utf8')) as SynthResult;
    if (prev.experts.length === experts && prev.shape.hidden === shape.hidden && [prev.base, ...prev.experts].every(existsSync)) {
      log(`reusing synthetic checkpoints in ${dir} (delete it to regenerate)`);
      return { ...prev, reused: true };
    }
  }
  await fsp.rm(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // Room for the inputs plus one merged checkpoint and 1 GB slack.
  const budget = freeBytes(dir) - 1e9;
  const need = synthBytes(shape, experts + 1);
  let note: string | undefined;
  if (need > budget) {
    const layers = fitLayers(shape, experts + 1, budget);
    if (layers === 0) throw new Error(`not enough free disk in ${dir}: need ${(need / 1e9).toFixed(1)} GB`);
    note = `scaled down to ${layers} of ${shape.layers} layers: ${(need / 1e9).toFixed(1)} GB needed, ${(budget / 1e9).toFixed(1)} GB free in ${dir}`;
    log(note);
    shape = { ...shape, layers };
  }
  log(`generating base + ${experts} experts × ${(paramCount(shape) / 1e6).toFixed(0)}M params (BF16) in ${dir}`);
  const progress = stderrProgress();
  const r = await generateSynthetic({ dir, shape, experts, onProgress: progress });
  progress.finish();
  await writeFileAtomic(marker, JSON.stringify(r, null, 2) + '\n');
  syncDisk();
  return { ...r, reused: false, note };
}

async function main(argv: string[]): Promise<void> {
  const phaseIdx = argv.indexOf('--phase');
  if (phaseIdx >= 0) {
    const result = await runPhase(JSON.parse(argv[phaseIdx + 1]) as Phase);
    process.stdout.write(JSON.stringify(result) + '\n');
    return;
  }
  const program = new Command('bench')
    .option('--small', 'quick run: ~50M parameters × 4 experts (default: ~1.1B × 8)')
    .option('--dir <dir>', 'where synthetic checkpoints go (default: $TMPDIR/mergelens-bench-<scale>, reused when present)')
    .option('--experts <n>', 'number of experts')
    .option('--threads <n>', 'metrics worker threads (default: all cores)')
    .option('--methods <list>', 'merge methods to time, comma-separated (default: all but the SVD-based tsv, iso_c)')
    .option('--only <list>', 'phases to run: bandwidth,kernel,native,stream,metrics,numpy,subspace,merge,startup (default: all), and screen / sweep (only when named: screen vs metrics, minutes; the sweep overhead on the built-in zoo, ~1 min)')
    .option('--no-torch', 'skip the torch (mergekit-style) merge side-by-side')
    .option('--no-before', 'skip the float32-path merges (the "before" column of the fused path)')
    .option('--no-wasm', 'skip the merges on the WebAssembly kernels alone (the comparison column where the native kernels are built)')
    .option('--runs <list>', 'metrics passes: default,single,pair,subspace (default: default,single,pair)')
    .option('--subspace-size <n>', 'side of the square subspace test matrix', '4096')
    .option('--no-numpy', 'skip the numpy side-by-side')
    .option('--keep', 'keep the synthetic checkpoints (default: kept anyway for reuse; use --dir to control)')
    .option('--out <dir>', 'reports directory', path.join(root, 'reports', 'bench'))
    .option('--render', 'only regenerate latest.md from the JSON reports');
  program.parse(argv, { from: 'user' });
  const o = program.opts<Options>();
  if (o.render) return writeLatest(o.out);
  const scale = o.small ? 'small' : '1b';
  const N = Number(o.experts ?? (o.small ? 4 : 8));
  const threads = Number(o.threads ?? os.availableParallelism());
  const only = new Set((o.only ?? 'bandwidth,kernel,native,stream,metrics,numpy,subspace,merge,startup').split(','));
  const log = (s: string) => process.stderr.write(`bench: ${s}\n`);
  const started = new Date();

  // Other processes on the machine skew every timing: the 1-minute load average is recorded.
  const loadStart = os.loadavg()[0];
  const machine = {
    cpu: cpuModel(),
    cores: os.availableParallelism(),
    memoryGB: os.totalmem() / 1e9,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
  log(`${machine.cpu}, ${machine.cores} cores, ${machine.memoryGB.toFixed(1)} GB RAM, node ${machine.node}`);
  const synth = await synthesise(o, scale, N, log);
  const ckptBytes = synth.bytesPerCheckpoint;

  let bandwidth: Bandwidth | undefined;
  if (only.has('bandwidth')) {
    log('measuring memory bandwidth and page-cache reads');
    const firstShard = readdirSync(synth.base).filter((f) => f.endsWith('.safetensors')).sort()[0];
    bandwidth = await measureBandwidth({ threads, cacheFile: path.join(synth.base, firstShard) });
  }

  const metrics: { label: string; threads: number; subspace: boolean; experts: number; result: MetricsResult }[] = [];
  let warm: { bytes: number; seconds: number } | undefined;
  let stream: StreamFigures | undefined;
  if (only.has('metrics') || only.has('stream')) {
    // Read every file once first, so every timed pass reads from the page cache.
    log('warming the page cache (reading every checkpoint file once)');
    warm = await readAll([synth.base, ...synth.experts]);
  }
  let kernel: KernelResult | undefined;
  if (only.has('kernel')) {
    log(`fused pair kernel alone, ${N} experts, one thread`);
    kernel = await child<KernelResult>({ phase: 'kernel', experts: N });
    if (kernel.engine === 'native') {
      log(`the same on the WebAssembly kernel alone (MERGELENS_NATIVE=0)`);
      kernel.wasmNsPerPairElement = (await child<KernelResult>({ phase: 'kernel', experts: N }, { ...process.env, MERGELENS_NATIVE: '0' })).nsPerPairElement;
    }
    if (N > 2) {
      log('the same with 2 experts (the 1-pair pass)');
      const { nsPerPairElement, sweepNsPerElement } = await child<KernelResult>({ phase: 'kernel', experts: 2 });
      kernel.twoExperts = { nsPerPairElement, sweepNsPerElement };
    }
  }
  let nativePairs: NativePairs | undefined;
  if (only.has('native')) {
    log(`native C reference of the pair kernel (gcc -O3 -march=native), ${N} experts, one thread`);
    nativePairs = runNativePairs(N, path.dirname(synth.base));
  }
  if (only.has('stream')) {
    log(`streaming front end alone (read + decode + task vectors), ${threads} processes`);
    // Seconds: the slowest process's own timing (process start-up and module loading excluded).
    const parts = await Promise.all(Array.from({ length: threads }, (_, index) => child<StreamResult>({ phase: 'stream', base: synth.base, experts: synth.experts, index, count: threads })));
    stream = { threads, seconds: Math.max(...parts.map((x) => x.seconds)), bytes: parts.reduce((n, x) => n + x.bytes, 0), peakRss: Math.max(...parts.map((x) => x.peakRss)) };
  }
  if (only.has('metrics')) {
    const all = {
      default: { label: `${threads} threads`, threads, subspace: false, experts: N },
      single: { label: '1 thread', threads: 1, subspace: false, experts: N },
      pair: { label: `${threads} threads, 2 experts (1 pair)`, threads, subspace: false, experts: 2 },
      subspace: { label: `${threads} threads, with subspace`, threads, subspace: true, experts: N },
    };
    const runs = (o.runs ?? 'default,single,pair').split(',').map((k) => {
      const r = all[k as keyof typeof all];
      if (!r) throw new Error(`unknown --runs entry "${k}" (default, single, pair, subspace)`);
      return r;
    });
    for (const r of runs) {
      log(`metrics pass, ${r.label}`);
      metrics.push({ ...r, result: await child<MetricsResult>({ phase: 'metrics', base: synth.base, experts: synth.experts.slice(0, r.experts), threads: r.threads, subspace: r.subspace }) });
    }
  }

  const numpyOk = o.numpy && hasNumpy();
  let numpyMetrics: Record<string, unknown> | undefined;
  if (only.has('numpy') && numpyOk) {
    log('numpy reference: cosine / L2 / sign agreement on the same files');
    numpyMetrics = runNumpy(['--base', synth.base, '--experts', ...synth.experts]);
  }

  let subspace: SubspaceResult | undefined;
  let numpySvd: Record<string, unknown> | undefined;
  let numpySvd1: Record<string, unknown> | undefined;
  if (only.has('subspace')) {
    const size = Number(o.subspaceSize);
    const file = path.join(path.dirname(synth.base), `subspace-${size}.safetensors`);
    log(`subspace: randomised SVD of a ${size}×${size} task-vector-like tensor`);
    subspace = await child<SubspaceResult>({ phase: 'subspace', file, size, k: 10, oversample: 10, power: 1 });
    if (numpyOk) {
      log('numpy reference: randomised and full SVD of the same tensor');
      numpySvd = runNumpy(['--rsvd', file, '--k', '10', '--oversample', '10', '--power', '1']);
      log('numpy reference, one BLAS thread');
      numpySvd1 = runNumpy(['--rsvd', file, '--k', '10', '--oversample', '10', '--power', '1', '--no-full-svd'], { ...numpyEnv(), OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' });
    }
  }

  const merges: BenchReport['merges'] = [];
  let torchNote: string | undefined;
  if (only.has('merge')) {
    // tsv / iso_c need a dense SVD per matrix (minutes per tensor at LLM sizes, see
    // src/merge/svd.ts): only with --methods.
    const methods = o.methods ? o.methods.split(',') : ['weight_avg', 'task_arithmetic', 'ties', 'dare', 'dare_ties', 'slerp'];
    const torchOk = o.torch && hasTorch();
    if (!torchOk) torchNote = o.torch ? `no torch for ${SYSTEM_PYTHON} (apt-get install python3-torch): the torch column is skipped` : 'torch side-by-side skipped (--no-torch)';
    // Every merge writes the same output layout: written alone, before the merges and after them, the
    // faster of the two is the floor under each (the targets' ceilings; the disk's rate drifts).
    const floorRun = async () => {
      log('write floor: a merge output written alone (nothing read or merged)');
      return child<WriteFloor>({ phase: 'write-floor', base: synth.base, out: path.join(path.dirname(synth.base), 'write-floor') });
    };
    const floors = [await floorRun()];
    for (const method of methods) {
      const experts = method === 'slerp' ? synth.experts.slice(0, 2) : synth.experts;
      const out = path.join(path.dirname(synth.base), `merged-${method}`);
      const phase = { phase: 'merge' as const, base: synth.base, experts, method, out };
      // The inputs from the page cache before each timing (not whatever the last phase left there).
      let before: MergeResultFigures | undefined;
      if (o.before) {
        log(`merge ${method} (${experts.length} experts), float32 path (before)`);
        await readAll([synth.base, ...experts]);
        before = await child<MergeResultFigures>(phase, { ...process.env, MERGELENS_FUSED: '0' });
      }
      // where the native kernels are built, the same merge on the WebAssembly kernels alone
      let wasm: MergeResultFigures | undefined;
      if (o.wasm && nativeKernels()) {
        log(`merge ${method} (${experts.length} experts), WebAssembly kernel (MERGELENS_NATIVE=0)`);
        await readAll([synth.base, ...experts]);
        wasm = await child<MergeResultFigures>(phase, { ...process.env, MERGELENS_NATIVE: '0' });
      }
      log(`merge ${method} (${experts.length} experts)`);
      const inputsRead = await readAllCached([synth.base, ...experts]);
      const result = await child<MergeResultFigures>({ ...phase, keep: torchOk });
      let torch: TorchMerge | undefined;
      if (torchOk) {
        log(`torch reference merge ${method}`);
        await readAll([synth.base, ...experts]);
        const ref = path.join(path.dirname(synth.base), `torch-${method}.safetensors`);
        torch = runTorchMerge(method, synth.base, experts, ref, out);
        await removeSettled(ref, out);
      }
      merges.push({ method, experts: experts.length, result, before, wasm, torch, inputsRead });
    }
    floors.push(await floorRun());
    const writeFloor = floors.reduce((a, x) => (x.seconds < a.seconds ? x : a));
    for (const m of merges) m.writeFloor = writeFloor;
  }

  let screen: ScreenFigures | undefined;
  if (only.has('screen')) {
    // screen-phase.ts: `screen` against `metrics` on the same files (issue 18's fast-screen target).
    await readAll([synth.base, ...synth.experts]);
    screen = screenPhase({ base: synth.base, experts: synth.experts, threads: o.threads ? threads : undefined, subspace: !process.env.MERGELENS_BENCH_SCREEN_NO_SUBSPACE, log });
    process.stdout.write(renderScreen(screen) + '\n');
  }

  let sweep: SweepFigures | undefined;
  if (only.has('sweep')) {
    // sweep-phase.ts: mergelens sweep over the built-in MNIST zoo, its own overhead vs wall time (issue 13).
    sweep = sweepPhase({ log });
    process.stdout.write(renderSweep(sweep).join('\n') + '\n');
  }

  let startup: StartupFigures | undefined;
  if (only.has('startup')) {
    // startup.ts: wall time of the commands that must start at once, against bare node (issues 16, 19).
    log('CLI start-up: --help, --version, inspect and check on the tiny fixtures, against bare node');
    startup = measureStartup();
    process.stdout.write(renderStartup(startup).join('\n') + '\n');
  }

  const report: BenchReport = {
    format: 'mergelens.bench',
    version: 1,
    createdAt: started.toISOString(),
    seconds: (Date.now() - started.getTime()) / 1000,
    scale,
    machine: { ...machine, loadAverage: [loadStart, os.loadavg()[0]] },
    warmRead: warm,
    synth: { shape: synth.shape, params: synth.params, experts: N, bytesPerCheckpoint: ckptBytes, seconds: synth.seconds, reused: synth.reused, note: synth.note, dir: path.dirname(synth.base) },
    bandwidth,
    kernel,
    nativePairs,
    stream,
    metrics,
    numpyMetrics,
    subspace,
    numpySvd,
    numpySvd1,
    merges,
    torchNote,
    ...(screen ? { screen } : {}),
    ...(sweep ? { sweep } : {}),
    ...(startup ? { startup } : {}),
  };
  mkdirSync(o.out, { recursive: true });
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const jsonPath = path.join(o.out, `${stamp}-${scale}.json`);
  await writeFileAtomic(jsonPath, JSON.stringify(report, null, 1) + '\n');
  process.stdout.write(renderTable(report) + '\n');
  await writeLatest(o.out);
  log(`wrote ${jsonPath} and ${path.join(o.out, 'latest.md')}`);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
