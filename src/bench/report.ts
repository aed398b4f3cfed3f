/** Formatting of benchmark results: the terminal table and reports/bench/latest.md. */
import type { Bandwidth } from './bandwidth.js';
import type { KernelResult, MergeResultFigures, MetricsResult, SubspaceResult, WriteFloor } from './phases.js';
import type { ModelShape } from './synth.js';
import { renderStartup, type StartupFigures } from './startup.js';
import { renderScreen, type ScreenFigures } from './screen-phase.js';
import { renderSweep, type SweepFigures } from './sweep-phase.js';

/** The streaming front end alone (read + decode + task vectors), all processes together. */
export interface StreamFigures {
  threads: number;
  seconds: number;
  bytes: number;
  peakRss: number;
}

/** bench/merge_reference.py's figures (mergekit-style torch merge of the same files), or why it failed. */
export interface TorchMerge {
  seconds?: number;
  cpuSeconds?: number;
  bytesIn?: number;
  threads?: number;
  torch?: string;
  /** Largest |ours − torch| over every output element (both BF16). */
  maxAbsDiff?: number;
  fractionDiffering?: number;
  error?: string;
}

/** bench/pair_kernel.c: ns per pair-element, strict IEEE order and -ffast-math. */
export interface NativePairs {
  experts: number;
  compiler: string;
  strict?: number;
  fast?: number;
  error?: string;
}

export interface BenchReport {
  format: 'mergelens.bench';
  version: 1;
  createdAt: string;
  seconds: number;
  scale: 'small' | '1b';
  machine: { cpu: string; cores: number; memoryGB: number; node: string; platform: string; loadAverage?: number[] };
  warmRead?: { bytes: number; seconds: number };
  synth: { shape: ModelShape; params: number; experts: number; bytesPerCheckpoint: number; seconds: number; reused: boolean; note?: string; dir: string };
  bandwidth?: Bandwidth;
  kernel?: KernelResult;
  nativePairs?: NativePairs;
  stream?: StreamFigures;
  /** experts: how many of the synthetic experts the run compared (older reports: all). */
  metrics: { label: string; threads: number; subspace: boolean; experts?: number; result: MetricsResult }[];
  numpyMetrics?: Record<string, unknown>;
  subspace?: SubspaceResult;
  numpySvd?: Record<string, unknown>;
  /** numpy with one BLAS thread. */
  numpySvd1?: Record<string, unknown>;
  /** result: the merge as shipped; before: the float32 path (MERGELENS_FUSED=0); wasm: the WebAssembly kernel alone (MERGELENS_NATIVE=0, where native is built); torch: the side-by-side; writeFloor: the run's output written alone (phases.ts writeFloorPhase). */
  merges: {
    method: string;
    experts: number;
    result: MergeResultFigures;
    before?: MergeResultFigures;
    wasm?: MergeResultFigures;
    torch?: TorchMerge;
    writeFloor?: WriteFloor;
    /** Its inputs read from the page cache just before it (bandwidth.ts readAllCached): the reference of its targets. */
    inputsRead?: { bytes: number; seconds: number };
    /** Rendering only, set by withRunReferences: the one-shard page-cache rate of the run the merge comes from, and the fastest reading of its inputs there. */
    runPageCacheGBs?: number;
    inputsBestGBs?: number;
  }[];
  /** Why the torch column is missing. */
  torchNote?: string;
  /** CLI start-up against bare node (startup.ts). */
  startup?: StartupFigures;
  /** screen vs metrics on the same files (screen-phase.ts; only with --only screen). */
  screen?: ScreenFigures;
  /** mergelens sweep's own overhead on the built-in zoo (sweep-phase.ts; only with --only sweep). */
  sweep?: SweepFigures;
}

interface NumpyPair {
  i: number;
  j: number;
  cosine: number;
  l2: number;
  sign_agreement: number | null;
}

const GB = 1e9;
const MiB = 2 ** 20;
const f = (x: number | undefined, d = 2) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d));
const rss = (b: number) => `${(b / MiB).toFixed(0)} MiB`;

function table(head: string[], rows: string[][]): string[] {
  const w = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (r: string[]) => '| ' + r.map((x, c) => (c === 0 ? x.padEnd(w[c]) : x.padStart(w[c]))).join(' | ') + ' |';
  // Blank lines around: markdown needs them to start and end a table.
  return ['', line(head), '|' + w.map((x, c) => (c === 0 ? ':' : '') + '-'.repeat(x + 1) + (c === 0 ? '' : ':')).join('|') + '|', ...rows.map(line), ''];
}

/** Agreement of our whole-model values with numpy's on the same files. */
export function numpyAgreement(ours: MetricsResult, np: NumpyPair[]): { cosine: number; l2Rel: number; sign: number } {
  let cosine = 0, l2Rel = 0, sign = 0;
  for (const p of np) {
    const o = ours.values.find((v) => v.i === p.i && v.j === p.j);
    if (!o) continue;
    cosine = Math.max(cosine, Math.abs((o.cosine ?? NaN) - p.cosine));
    l2Rel = Math.max(l2Rel, Math.abs((o.l2 ?? NaN) - p.l2) / Math.max(p.l2, 1e-300));
    if (p.sign_agreement !== null) sign = Math.max(sign, Math.abs((o.sign ?? NaN) - p.sign_agreement));
  }
  return { cosine, l2Rel, sign };
}

function sections(r: BenchReport, parts = { subspace: true }): string[] {
  const out: string[] = [];
  const m = r.machine;
  const s = r.synth;
  out.push(`Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGB.toFixed(1)} GB RAM, Node ${m.node}, ${m.platform}`);
  if (m.loadAverage) out.push(`Load average (1 min) at start / end: ${m.loadAverage.map((x) => x.toFixed(1)).join(' / ')} — other processes shared the ${m.cores} cores when this is above ~0.5.`);
  out.push(
    `Checkpoints: base + ${s.experts} experts × ${(s.params / 1e6).toFixed(1)}M params (BF16, ${(s.bytesPerCheckpoint / GB).toFixed(2)} GB each; hidden ${s.shape.hidden}, ` +
      `intermediate ${s.shape.intermediate}, ${s.shape.layers} layers, vocab ${s.shape.vocab})` +
      (s.reused ? ', reused' : `, generated in ${f(s.seconds, 0)} s`) + (s.note ? ` — ${s.note}` : ''),
  );
  const bw = r.bandwidth;
  if (bw) {
    out.push('');
    out.push(
      `Memory bandwidth (in-process): read ${f(bw.readGBs, 1)} GB/s (1 thread), ${f(bw.readAllThreadsGBs, 1)} GB/s (${bw.threads} threads), ` +
        `memcpy ${f(bw.copyGBs, 1)} GB/s (read+write); page-cache positioned reads ${f(bw.pageCacheGBs, 1)} GB/s` +
        (bw.pageCacheCpuGBs ? ` (${f(bw.pageCacheCpuGBs, 1)} GB per CPU-second)` : '') +
        (bw.pageCacheWriteGBs ? `; page-cache writes of a new file ${f(bw.pageCacheWriteGBs.first, 2)} GB/s, of the next one ${f(bw.pageCacheWriteGBs.again, 1)} GB/s` : '') +
        (bw.directWriteGBs ? `; direct writes (O_DIRECT, fsync included: how merges write) ${f(bw.directWriteGBs, 2)} GB/s` : '') +
        (bw.firstTouchCpuGBs ? `; first touch of fresh memory ${f(bw.firstTouchCpuGBs, 2)} GB per CPU-second.` : '.'),
    );
    out.push(`  How: ${bw.method}.`);
  }
  const ref = bw ? Math.max(bw.readAllThreadsGBs, bw.readGBs) : undefined;
  const pct = (gbs: number) => (ref ? `${f((100 * gbs) / ref, 0)}%` : '—');
  if (r.kernel) {
    const k = r.kernel;
    out.push('');
    out.push(
      `Fused pair kernel alone (${k.engine ?? 'WebAssembly'}; one thread, no I/O, CPU time, best of 25; BF16 decode, task vectors, every pair's float64 sums and sign counts): ${k.experts} experts, ` +
        `${f(k.positionsPerSecond / 1e6, 1)} M parameters/s = ${f(k.nsPerPairElement, 2)} ns per pair-element` +
        (k.wasmNsPerPairElement ? `; the WebAssembly kernel in the same run ${f(k.wasmNsPerPairElement, 2)} ns (native ${f(k.wasmNsPerPairElement / k.nsPerPairElement, 2)}× faster, the same sums)` : '') +
        (k.twoExperts ? `; 2 experts: ${f(k.twoExperts.nsPerPairElement, 2)} ns` : '') +
        (k.sweepNsPerElement ? `. The exact trim thresholds' counting sweep over the same block, which the pass runs before the pair kernel: ${f(k.sweepNsPerElement, 3)} ns per expert-element.` : '.'),
    );
  }
  const nat = r.nativePairs;
  if (nat) {
    out.push('');
    out.push(
      nat.error
        ? `Native C reference of the pair kernel (bench/pair_kernel.c): not run — ${nat.error}`
        : `Native C reference of the same pair update (bench/pair_kernel.c, ${nat.compiler}, one thread, thread CPU time, best of 25; ${nat.experts} experts): ${f(nat.strict, 2)} ns per pair-element in strict IEEE order, ` +
            `${f(nat.fast, 2)} ns with -ffast-math (float64 sums reassociated and vectorised).`,
    );
  }
  if (r.stream) {
    const st = r.stream;
    const gbs = st.bytes / st.seconds / GB;
    out.push('');
    out.push(
      `Streaming front end alone (every tensor's stored bytes read from the page cache into the kernels' memory, decoded, task vectors formed and checked for NaN/Inf; ` +
        `${st.threads} processes): ${f(st.bytes / GB, 1)} GB in ${f(st.seconds, 1)} s = ${f(gbs, 2)} GB/s, ${pct(gbs)} of the ${st.threads}-thread read bandwidth; peak RSS ${rss(st.peakRss)} per process.`,
    );
  }
  if (r.metrics.length) {
    out.push('');
    const w = r.warmRead;
    out.push(
      `Metrics pass (every file read once first: ${w ? f(w.bytes / GB, 1) + ' GB in ' + f(w.seconds, 1) + ' s, ' + f(w.bytes / w.seconds / GB, 2) + ' GB/s' : '—'}; GB/s = checkpoint bytes (base + experts) / pass time; ` +
        'subspace off unless stated; warm = the same pass again in the same process, without starting threads and compiling code):',
    );
    out.push(
      ...table(
        ['run', 'seconds', 'CPU s', 'GB/s read', '% of read bw', 'param-pairs/s', 'warm s', 'warm param-pairs/s', 'peak RSS'],
        r.metrics.map((x) => {
          // Checkpoint bytes (base + the experts compared) per second; the engine's own count also
          // includes what it re-reads for the trim thresholds of chunked tensors.
          const gbs = (s.bytesPerCheckpoint * ((x.experts ?? s.experts) + 1)) / x.result.seconds / GB;
          const rate = (t: number | undefined) => (t ? `${f((x.result.params * x.result.pairs) / t / 1e9, 2)}G` : '—');
          return [x.label, f(x.result.seconds, 2), f(x.result.cpuSeconds, 2), f(gbs, 2), pct(gbs), rate(x.result.seconds), f(x.result.warm?.seconds, 2), rate(x.result.warm?.seconds), rss(x.result.peakRss)];
        }),
      ),
    );
    const np = r.numpyMetrics as { metrics?: { seconds: number; pairs: NumpyPair[] }; error?: string } | undefined;
    if (np?.metrics) {
      const ours = r.metrics[0].result;
      const a = numpyAgreement(ours, np.metrics.pairs);
      out.push(
        `numpy (cosine, L2, sign agreement only; same files, same run): ${f(np.metrics.seconds, 1)} s → ours/numpy time ratio ${f(ours.seconds / np.metrics.seconds, 2)} ` +
          `(${r.metrics[0].label}; ours also computes trimmed/weighted signs and the rank family). ` +
          `Max |Δ| vs numpy: cosine ${a.cosine.toExponential(1)}, L2 ${a.l2Rel.toExponential(1)} relative, sign agreement ${a.sign.toExponential(1)}.`,
      );
    } else if (np?.error) {
      out.push(`numpy reference failed: ${np.error.split('\n').slice(-2).join(' ')}`);
    }
  }
  const sv = r.subspace;
  if (sv && parts.subspace) {
    out.push('');
    out.push(`Subspace, ${sv.size}×${sv.size} task-vector-like tensor (float32), k = 10, oversample 10, 1 power iteration (sketch l = 20):`);
    const np = (r.numpySvd as { rsvd?: Record<string, number> } | undefined)?.rsvd;
    const np1 = (r.numpySvd1 as { rsvd?: Record<string, number> } | undefined)?.rsvd;
    const vs = (t: number | undefined, ref: number | undefined) => (t !== undefined && ref ? f(t / ref, 2) + '×' : '—');
    const threads = sv.threads ?? r.machine.cores;
    const rows: string[][] = [
      [`randomised SVD, ours, ${threads} threads, A in kernel memory (as the metrics pass holds it)`, f(sv.rsvdResidentSeconds, 3), vs(sv.rsvdResidentSeconds, np?.rsvd_f64_seconds)],
      [`randomised SVD, ours, ${threads} threads, A a plain Float32Array (copied in)`, f(sv.rsvdSeconds, 3), vs(sv.rsvdSeconds, np?.rsvd_f64_seconds)],
      ['randomised SVD, ours, 1 thread, A in kernel memory (a metrics worker)', f(sv.rsvdOneThreadSeconds, 3), vs(sv.rsvdOneThreadSeconds, np1?.rsvd_f64_seconds) + ' of 1-thread numpy'],
      [`randomised SVD, ours, ${threads} threads, Float64 input`, f(sv.rsvdF64Seconds, 3), vs(sv.rsvdF64Seconds, np?.rsvd_f64_seconds)],
      [`engine factors per expert (k 10, spectrumK 100: l = 110), ${threads} threads`, f(sv.factorsDefaultSeconds, 3), vs(sv.factorsDefaultSeconds, np?.rsvd_spectrum_seconds) + ' of numpy l = 110'],
      ['subspace metrics per pair (from factors)', f(sv.pairSeconds, 4), ''],
    ];
    if (np) {
      rows.push(
        [`numpy randomised SVD, float64 (same algorithm, l = 20), default BLAS threads`, f(np.rsvd_f64_seconds, 3), '1×'],
        ['numpy randomised SVD, float32', f(np.rsvd_f32_seconds, 3), ''],
        ['numpy randomised SVD, float64, l = 110', f(np.rsvd_spectrum_seconds, 3), ''],
        ['numpy np.linalg.svd full (LAPACK gesdd)', f(np.full_svd_seconds, 2), ''],
      );
    }
    if (np1) rows.push(['numpy randomised SVD, float64, l = 20, 1 BLAS thread', f(np1.rsvd_f64_seconds, 3), '']);
    out.push(...table(['computation', 'seconds', 'vs numpy'], rows));
    out.push(`Peak RSS of the subspace phase: ${rss(sv.peakRss)}.`);
  }
  if (r.merges.length) {
    out.push('');
    out.push(
      'Merge (to disk, sharded BF16 output, fsync included; GB/s = checkpoint bytes read per second; inputs read = the same files read alone, twice just before each merge (one thread, 16 MiB reads), the fastest reading of them in this run; % pc = of that page-cache read rate; ' +
        'warm = the same merge again in the same process, helper threads started and code compiled, as a sweep\'s or search\'s later merges run; before = the float32 path, ' +
        'MERGELENS_FUSED=0; WebAssembly = the fused path on the WebAssembly kernel alone, MERGELENS_NATIVE=0 (where the native kernels are built; same bytes); ' +
        'torch = bench/merge_reference.py, mergekit\'s loop in torch float32, BF16 out, same files):',
    );
    const gb = (x: { bytesIn?: number; seconds?: number } | undefined) => (x?.bytesIn && x.seconds ? x.bytesIn / x.seconds / GB : undefined);
    out.push(
      ...table(
        ['method', 'experts', 'seconds', 'CPU s', 'GB/s read', 'inputs read GB/s', '% pc', 'warm s', '% pc warm', 'before s', 'speed-up', 'WebAssembly s', 'native speed-up', 'torch s', 'torch CPU s', 'torch GB/s', 'ours/torch time', 'max |Δ| vs torch', 'peak RSS'],
        r.merges.map((x) => {
          const t = x.torch;
          const warm = x.result.warm && { bytesIn: x.result.bytesIn, seconds: x.result.warm.seconds };
          const pc = pageCacheRef(x)?.gbs;
          const ofPc = (g: number | undefined) => (pc && g ? `${f((100 * g) / pc, 0)}%` : '—');
          return [
            x.method,
            String(x.experts),
            f(x.result.seconds, 2),
            f(x.result.cpuSeconds, 2),
            f(gb(x.result), 2),
            f(x.inputsRead ? pc : undefined, 2),
            ofPc(gb(x.result)),
            f(warm?.seconds, 2),
            ofPc(gb(warm)),
            f(x.before?.seconds, 1),
            x.before ? `${f(x.before.seconds / x.result.seconds, 1)}×` : '—',
            f(x.wasm?.seconds, 2),
            x.wasm ? `${f(x.wasm.seconds / x.result.seconds, 2)}×` : '—',
            f(t?.seconds, 1),
            f(t?.cpuSeconds, 1),
            f(gb(t), 2),
            t?.seconds ? f(x.result.seconds / t.seconds, 2) : '—',
            t?.maxAbsDiff === undefined ? '—' : x.method.startsWith('dare') ? `${t.maxAbsDiff.toExponential(1)} (other masks)` : t.maxAbsDiff.toExponential(1),
            rss(x.result.peakRss),
          ];
        }),
      ),
    );
    const failed = r.merges.filter((x) => x.torch?.error);
    if (failed.length) out.push(`torch reference failed for ${failed.map((x) => x.method).join(', ')}: ${failed[0].torch!.error!.split('\n').slice(-2).join(' ')}`);
    if (r.torchNote) out.push(`(${r.torchNote}.)`);
    const threads = r.merges.find((x) => x.torch?.threads)?.torch;
    if (threads) out.push(`torch ${threads.torch}, ${threads.threads} intra-op threads; ours: the kernel pool's threads merging (one part of each big chunk per core), reads and writes on libuv's pool.`);
    const floor = r.merges.find((x) => x.writeFloor)?.writeFloor;
    if (floor) out.push(`Output written alone (the floor under every merge: the same files through the same writer, O_DIRECT and fsync, nothing read or merged; the faster of one run before the merges and one after): ${f(floor.bytes / GB, 2)} GB in ${f(floor.seconds, 2)} s, ${f(floor.bytes / GB / floor.seconds, 2)} GB/s.`);
  }
  out.push(...targets(r));
  return out;
}

/**
 * CPU seconds a metrics pass cannot do without beyond its pair kernel, from this run's own
 * best-case figures: reading every checkpoint byte from the page cache (at the reads' GB per
 * CPU-second) and the exact trim thresholds' counting sweep (N·P expert-elements at the kernel
 * phase's rate). A bound, not an estimate: the pass's own reads, sweep and kernel run on memory
 * no cache holds and cost at least these. (The first touch of its memory is left out: on this
 * kind of VM it ranges from nothing to seconds with what the host still backs.) Undefined
 * without those figures (older reports).
 */
function passCeiling(r: BenchReport, run: { experts?: number; result: MetricsResult }, kernelCpu: number): { total: number; parts: string } | undefined {
  const N = run.experts ?? r.synth.experts;
  const readRate = r.bandwidth?.pageCacheCpuGBs;
  const sweepNs = N === 2 && r.kernel?.twoExperts ? r.kernel.twoExperts.sweepNsPerElement : r.kernel?.sweepNsPerElement;
  if (!readRate || !sweepNs) return undefined;
  const read = (r.synth.bytesPerCheckpoint * (N + 1)) / GB / readRate;
  const sweep = (N * run.result.params * sweepNs) / 1e9;
  return { total: kernelCpu + read + sweep, parts: `reads ${f(read, 2)} s, threshold sweep ${f(sweep, 2)} s` };
}

/**
 * The performance targets of issue 16, each as a ratio of two figures of this run (so the load
 * of a shared machine cancels out as far as it can).
 */
function targets(r: BenchReport): string[] {
  const rows: string[][] = [];
  const verdict = (ok: boolean | undefined) => (ok === undefined ? '—' : ok ? 'met' : 'not met');
  const k = r.kernel;
  const nat = r.nativePairs;
  if (k && nat?.fast) {
    const ratio = k.nsPerPairElement / nat.fast;
    rows.push(['pair kernel within 2× of native (C, -O3 -march=native -ffast-math)', `${f(k.nsPerPairElement, 2)} / ${f(nat.fast, 2)} ns = ${f(ratio, 2)}×`, verdict(ratio <= 2)]);
    if (nat.strict) rows.push(['(same, against strict-order C)', `${f(k.nsPerPairElement, 2)} / ${f(nat.strict, 2)} ns = ${f(k.nsPerPairElement / nat.strict, 2)}×`, '']);
    if (k.wasmNsPerPairElement) rows.push(['(the WebAssembly kernel alone, same run)', `${f(k.wasmNsPerPairElement, 2)} / ${f(nat.fast, 2)} ns = ${f(k.wasmNsPerPairElement / nat.fast, 2)}×`, verdict(k.wasmNsPerPairElement / nat.fast <= 2)]);
  }
  const multi = r.metrics.find((x) => !x.subspace && x.threads > 1 && (x.experts ?? r.synth.experts) === r.synth.experts);
  if (k && multi) {
    const rate = (multi.result.params * multi.result.pairs) / multi.result.seconds;
    const cap = (multi.threads * 1e9) / k.nsPerPairElement;
    rows.push([`metrics pass on ${multi.threads} threads ≥ 70% of kernel rate × threads`, `${f(rate / 1e9, 2)}G / ${f(cap / 1e9, 2)}G pair-elements/s = ${f((100 * rate) / cap, 0)}%`, verdict(rate / cap >= 0.7)]);
    const warm = multi.result.warm;
    if (warm) {
      const wr = (multi.result.params * multi.result.pairs) / warm.seconds;
      rows.push([`(same, warm: the pass again in the same process)`, `${f(wr / 1e9, 2)}G / ${f(cap / 1e9, 2)}G pair-elements/s = ${f((100 * wr) / cap, 0)}%`, verdict(wr / cap >= 0.7)]);
    }
    // Load-independent split of the same ratio: the kernel's CPU time for the pass's pair-elements
    // over the pass's CPU time (what reads, thresholds and hand-offs add), and the CPU the pass got
    // over wall × threads (what a shared machine takes away).
    const cpu = multi.result.cpuSeconds;
    if (cpu) {
      const kernelCpu = (multi.result.params * multi.result.pairs * k.nsPerPairElement) / 1e9;
      rows.push([`(same, by CPU time: kernel CPU for the pass's pair-elements / pass CPU)`, `${f(kernelCpu, 2)} / ${f(cpu, 2)} s = ${f((100 * kernelCpu) / cpu, 0)}%`, verdict(kernelCpu / cpu >= 0.7)]);
      rows.push([`(CPU the pass got: CPU s / (wall s × ${multi.threads}))`, `${f(cpu, 2)} / ${f(multi.result.seconds * multi.threads, 2)} s = ${f((100 * cpu) / (multi.result.seconds * multi.threads), 0)}%`, '']);
      const c = passCeiling(r, multi, kernelCpu);
      if (c) {
        rows.push([
          `(ceiling here: the kernel's CPU over it plus the reads and threshold sweep no pass avoids — ${c.parts})`,
          `${f(kernelCpu, 2)} / ${f(c.total, 2)} s = ${f((100 * kernelCpu) / c.total, 0)}%; this run ${f((100 * c.total) / cpu, 0)}% of it`,
          kernelCpu / c.total < 0.7 ? 'target above the ceiling' : '',
        ]);
      }
    }
  }
  const pc = r.bandwidth?.pageCacheGBs;
  const pair = r.metrics.find((x) => x.experts === 2);
  if (pc && pair) {
    const gbs = (r.synth.bytesPerCheckpoint * 3) / pair.result.seconds / GB;
    rows.push(['1-pair metrics pass ≥ 30% of page-cache read rate', `${f(gbs, 2)} / ${f(pc, 2)} GB/s = ${f((100 * gbs) / pc, 0)}%`, verdict(gbs / pc >= 0.3)]);
    if (pair.result.warm) {
      const wg = (r.synth.bytesPerCheckpoint * 3) / pair.result.warm.seconds / GB;
      rows.push(['(same, warm)', `${f(wg, 2)} / ${f(pc, 2)} GB/s = ${f((100 * wg) / pc, 0)}%`, verdict(wg / pc >= 0.3)]);
    }
    // per CPU-second × threads against the page-cache reads per CPU-second: both as they would
    // run with the cores to themselves (the wall-time pair above shrinks with the machine's load)
    const cpu = pair.result.cpuSeconds;
    const pcCpu = r.bandwidth?.pageCacheCpuGBs;
    if (cpu && pcCpu) {
      const cpuGbs = (r.synth.bytesPerCheckpoint * 3 * pair.threads) / cpu / GB;
      rows.push([`(same, per CPU-second × ${pair.threads} threads, against reads per CPU-second)`, `${f(cpuGbs, 2)} / ${f(pcCpu, 2)} GB/s = ${f((100 * cpuGbs) / pcCpu, 0)}%`, verdict(cpuGbs / pcCpu >= 0.3)]);
    }
    // the same work ceiling as the full pass's, as GB/s on the pass's threads with the cores to itself
    const two = r.kernel?.twoExperts;
    const c = two && passCeiling(r, pair, (pair.result.params * two.nsPerPairElement) / 1e9);
    if (c) {
      const ceiling = (r.synth.bytesPerCheckpoint * 3 * pair.threads) / c.total / GB;
      rows.push([
        `(ceiling here: ${pair.threads} threads doing only the pair kernel, the reads and the threshold sweep — ${c.parts})`,
        `${f(ceiling, 2)} / ${f(pc, 2)} GB/s = ${f((100 * ceiling) / pc, 0)}%; this run ${f((100 * gbs) / ceiling, 0)}% of it`,
        ceiling / pc < 0.3 ? 'target above the ceiling' : '',
      ]);
    }
  }
  for (const x of r.merges) {
    const ref = pageCacheRef(x);
    const pc = ref?.gbs;
    const gbs = x.result.bytesIn / x.result.seconds / GB;
    const need = ['weight_avg', 'task_arithmetic', 'slerp'].includes(x.method) ? 0.3 : ['ties', 'dare', 'dare_ties'].includes(x.method) ? 0.15 : undefined;
    if (pc) rows.push([`${x.method} ${need ? `≥ ${need * 100}%` : '(reported)'} of page-cache read rate (${ref.what})`, `${f(gbs, 2)} / ${f(pc, 2)} GB/s = ${f((100 * gbs) / pc, 0)}%`, need ? verdict(gbs / pc >= need) : '']);
    // the one-shard figure as well, where it differs from the reference: the two can be 3× apart on this VM
    const shard = x.runPageCacheGBs;
    if (x.inputsRead && shard) rows.push([`(same, against one 0.5 GB shard re-read, the bandwidth line's page-cache rate)`, `${f(gbs, 2)} / ${f(shard, 2)} GB/s = ${f((100 * gbs) / shard, 0)}%`, need ? verdict(gbs / shard >= need) : '']);
    // No merge ends before its output is on disk: the same output written alone, in the same run,
    // bounds its GB/s whatever the reads and kernels cost.
    const floor = x.writeFloor;
    if (need && pc && floor && x.result.bytesOut) {
      const writeSeconds = floor.seconds * (x.result.bytesOut / floor.bytes);
      const ceiling = x.result.bytesIn / GB / writeSeconds;
      rows.push([
        `(ceiling here: its ${f(x.result.bytesOut / GB, 2)} GB output alone, written as merges write, takes ${f(writeSeconds, 2)} s)`,
        `${f(ceiling, 2)} / ${f(pc, 2)} GB/s = ${f((100 * ceiling) / pc, 0)}%; this run ${f((100 * gbs) / ceiling, 0)}% of it`,
        ceiling / pc < need ? 'target above the ceiling' : '',
      ]);
    }
    if (pc && x.result.warm) {
      const wg = x.result.bytesIn / x.result.warm.seconds / GB;
      rows.push([`(same, warm: a later merge in the same process)`, `${f(wg, 2)} / ${f(pc, 2)} GB/s = ${f((100 * wg) / pc, 0)}%`, need ? verdict(wg / pc >= need) : '']);
    }
    // on a loaded machine wall time includes waiting for a core: GB per CPU-second is what a quiet one would see (CPU-bound)
    const cpuGbs = x.result.cpuSeconds ? x.result.bytesIn / x.result.cpuSeconds / GB : undefined;
    if (pc && cpuGbs) rows.push([`(same, per CPU-second)`, `${f(cpuGbs, 2)} / ${f(pc, 2)} GB/s = ${f((100 * cpuGbs) / pc, 0)}%`, need ? verdict(cpuGbs / pc >= need) : '']);
    if (x.torch?.seconds) rows.push([`${x.method} faster than torch`, `${f(x.result.seconds, 1)} / ${f(x.torch.seconds, 1)} s = ${f(x.result.seconds / x.torch.seconds, 2)}`, verdict(x.result.seconds < x.torch.seconds)]);
  }
  const peaks = [...r.metrics.map((x) => x.result.peakRss), ...r.merges.map((x) => x.result.peakRss)];
  if (peaks.length) rows.push([`peak RSS < 1 GiB (${r.scale === '1b' ? '1.1B × 8' : 'small set: not the 1.1B × 8 target scale'})`, rss(Math.max(...peaks)), verdict(Math.max(...peaks) < 2 ** 30)]);
  if (!rows.length) return [];
  return ['', 'Targets (issue 16), as ratios within this run:', ...table(['target', 'this run', ''], rows)];
}

/**
 * The page-cache rate a merge's targets are measured against (withRunReferences): the fastest
 * reading of its inputs in its run, where the run read them, else its run's one-shard rate.
 */
export function pageCacheRef(x: BenchReport['merges'][number]): { gbs: number; what: string } | undefined {
  if (x.inputsBestGBs) return { gbs: x.inputsBestGBs, what: 'its inputs, fastest read in the run' };
  return x.runPageCacheGBs ? { gbs: x.runPageCacheGBs, what: 'one shard re-read' } : undefined;
}

const inputsGBs = (x: BenchReport['merges'][number]) => (x.inputsRead ? x.inputsRead.bytes / x.inputsRead.seconds / GB : undefined);

/**
 * One run's merges with the references their targets use, both from that run: its one-shard
 * page-cache rate, and per merge the fastest reading of its inputs in the run (merges of as many
 * experts read the same files). One slow reading — another tenant on the cores, pages evicted by
 * the torch reference — would otherwise make the reference low and the ratio high (a 1.15 GB/s
 * reading against 5.36 for the same 19.8 GB in one run put task_arithmetic at "307 %").
 */
export function withRunReferences(run: BenchReport): BenchReport['merges'] {
  const runPageCacheGBs = run.bandwidth?.pageCacheGBs;
  return run.merges.map((x) => {
    const rates = run.merges.filter((m) => m.experts === x.experts).map(inputsGBs).filter((g): g is number => g !== undefined);
    return { ...x, runPageCacheGBs, inputsBestGBs: x.inputsRead ? Math.max(...rates) : undefined };
  });
}

export function renderTable(r: BenchReport): string {
  return [`mergelens bench (${r.scale}), ${r.createdAt}, ${f(r.seconds, 0)} s`, '', ...sections({ ...r, merges: withRunReferences(r) })].join('\n');
}

/** One scale's section of latest.md: the run it is named for, and the run each part comes from. */
interface ScaleSelection {
  scale: BenchReport['scale'];
  /** The newest run with metrics figures. */
  run: BenchReport;
  bandwidth?: BenchReport;
  kernel?: BenchReport;
  nativePairs?: BenchReport;
  stream?: BenchReport;
  /** The newest run that timed merges. */
  merged?: BenchReport;
  /** Methods that run did not time, each as timed by the newest run that did. */
  otherMerges: { run: BenchReport; merge: BenchReport['merges'][number] }[];
}

/** Which run each part of latest.md comes from (see renderMarkdown). */
export interface LatestSelection {
  scales: ScaleSelection[];
  startup?: BenchReport;
  screen?: BenchReport;
  sweep?: BenchReport;
  subspace?: BenchReport;
}

const newest = (rs: BenchReport[]) => rs.reduce<BenchReport | undefined>((a, b) => (!a || a.createdAt < b.createdAt ? b : a), undefined);

/**
 * Per scale, the newest run that has metrics figures (a run limited with --only may lack some),
 * each other section from the newest run that has it (merges: each method from the newest run
 * that timed it); start-up, screen, sweep and subspace from the newest run of any scale with them.
 */
export function selectLatest(all: BenchReport[]): LatestSelection {
  const scales: ScaleSelection[] = [];
  for (const scale of ['1b', 'small'] as const) {
    const mine = all.filter((x) => x.scale === scale);
    const run = newest(mine.filter((x) => x.metrics.length > 0));
    if (!run) continue;
    const having = (has: (x: BenchReport) => boolean) => newest(mine.filter(has));
    const merged = having((x) => x.merges.length > 0);
    // methods the newest merge run did not time (e.g. tsv and iso_c, timed only when asked for): each from the newest run that did
    const timed = new Set(merged?.merges.map((m) => m.method));
    const otherMerges: ScaleSelection['otherMerges'] = [];
    for (const x of [...mine].sort((a, b) => b.createdAt.localeCompare(a.createdAt))) {
      for (const m of x.merges) {
        if (timed.has(m.method)) continue;
        timed.add(m.method);
        otherMerges.push({ run: x, merge: m });
      }
    }
    scales.push({ scale, run, merged, otherMerges, bandwidth: having((x) => !!x.bandwidth), kernel: having((x) => !!x.kernel), nativePairs: having((x) => !!x.nativePairs), stream: having((x) => !!x.stream) });
  }
  return { scales, startup: newest(all.filter((x) => x.startup)), screen: newest(all.filter((x) => x.screen)), sweep: newest(all.filter((x) => x.sweep)), subspace: newest(all.filter((x) => x.subspace)) };
}

/** Every run latest.md draws on (what reports/bench/latest.json keeps), oldest first. */
export function latestRuns(sel: LatestSelection): BenchReport[] {
  const runs = new Set<BenchReport>();
  for (const s of sel.scales) {
    for (const x of [s.run, s.bandwidth, s.kernel, s.nativePairs, s.stream, s.merged, ...s.otherMerges.map((o) => o.run)]) if (x) runs.add(x);
  }
  for (const x of [sel.startup, sel.screen, sel.sweep, sel.subspace]) if (x) runs.add(x);
  return [...runs].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** latest.md from the selected runs (selectLatest). */
export function renderMarkdown(sel: LatestSelection, earlier: string[] = []): string {
  const out = ['# mergelens benchmark — latest figures', '', 'Written by `npm run bench` (`npm run bench -- --small` for the quick scale) from its JSON reports in this folder and the runs kept in `latest.json`.', ''];
  if (earlier.length) out.push(`Earlier figures: ${earlier.map((f) => `[${f}](${f})`).join(', ')}.`, '');
  const bullet = (line: string) => (line.startsWith('|') || line === '' ? line : `${line}  `);
  for (const s of sel.scales) {
    const r = s.run;
    // each merge with its own run's references, the metrics with theirs: ratios within one run
    const merges = [...(s.merged ? withRunReferences(s.merged) : []), ...s.otherMerges.map((o) => withRunReferences(o.run).find((m) => m.method === o.merge.method)!)];
    const bandwidth = r.bandwidth ? r : s.bandwidth;
    const composite: BenchReport = { ...r, bandwidth: bandwidth?.bandwidth, kernel: s.kernel?.kernel, nativePairs: s.nativePairs?.nativePairs, stream: s.stream?.stream, merges, torchNote: s.merged?.torchNote };
    out.push(`## ${s.scale === '1b' ? 'Default scale (~1.1B params × 8 experts)' : 'Small scale (~50M params × 4 experts)'} — run of ${r.createdAt}`, '');
    const from = (x: BenchReport | undefined, what: string) => (x && x !== r ? [`(${what} from the run of ${x.createdAt}: same files, the same kind of machine.)`, ''] : []);
    out.push(...from(bandwidth, 'Bandwidth'), ...from(s.kernel, 'Kernel figure'), ...from(s.nativePairs, 'Native kernel figure'), ...from(s.stream, 'Front-end figure'), ...from(s.merged, 'Merge figures'));
    const byRun = new Map<string, string[]>();
    for (const o of s.otherMerges) byRun.set(o.run.createdAt, [...(byRun.get(o.run.createdAt) ?? []), o.merge.method]);
    for (const [at, methods] of byRun) out.push(`(${methods.join(', ')} merge figures from the run of ${at}: same files, the same kind of machine.)`, '');
    out.push(...sections(composite, { subspace: false }).map(bullet), '');
  }
  const load = (x: BenchReport) => x.machine.loadAverage?.map((l) => l.toFixed(1)).join(' → ') ?? '?';
  const { startup: su, screen: sc, sweep: sw, subspace: sv } = sel;
  if (su?.startup) out.push(`## CLI start-up (from the ${su.scale} run of ${su.createdAt}, load average ${load(su)})`, ...renderStartup(su.startup), '');
  if (sc?.screen) out.push(`## screen vs metrics (from the ${sc.scale} run of ${sc.createdAt}, load average ${load(sc)})`, '', renderScreen(sc.screen), '');
  if (sw?.sweep) out.push(`## Sweep overhead on the built-in zoo (run of ${sw.createdAt}, load average ${load(sw)})`, '', ...renderSweep(sw.sweep), '');
  if (sv) {
    out.push(`## Subspace SVD (from the ${sv.scale} run of ${sv.createdAt})`, '');
    const lines = sections({ ...sv, metrics: [], merges: [], bandwidth: undefined }, { subspace: true });
    out.push(...lines.map(bullet), '');
  }
  return out.join('\n');
}
