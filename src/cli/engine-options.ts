/**
 * The metrics engine's knobs as CLI options, shared by the commands that run a metrics pass
 * (`screen`; `metrics` declares the same flags with its own defaults). Values left out are
 * left to the engine's defaults, so no default is repeated here.
 */
import type { Command } from 'commander';
import type { MetricFamily, PredictorFile } from '../types.js';
import { MergelensError } from '../errors.js';
import type { ParallelMetricsOptions } from '../metrics/parallel.js';
import { metricFamily } from '../predict/families.js';

export interface EngineCliOptions {
  threads?: string;
  memoryBudget?: string;
  k?: string;
  spectrumK?: string;
  exactMaxDim?: string;
  bottomMaxDim?: string;
  subspaceMaxElements?: string;
}

export function addEngineOptions(cmd: Command): Command {
  return cmd
    .option('--threads <n>', 'worker threads for the metrics pass (default: all cores; small models run in-process)')
    .option('--memory-budget <MiB>', 'tensor bytes one thread holds (default 256); bigger tensors stream in row chunks')
    .option('--k <k>', 'k for subspace overlaps (default 10)')
    .option('--spectrum-k <k>', 'top singular values compared by sv_overlap (default 100)')
    .option('--exact-max-dim <n>', 'exact SVD when min(rows, cols) ≤ n, randomised above (default 512)')
    .option('--bottom-max-dim <n>', 'bottom-k overlaps only when min(rows, cols) ≤ n (default 512)')
    .option('--subspace-max-elements <elements>', '2-D tensors not read whole get the subspace family up to this size (default 16Mi)');
}

function num(flag: string, text: string | undefined, integer: boolean): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new MergelensError('USAGE', `${flag} must be a positive ${integer ? 'integer' : 'number'}, got "${text}"`);
  }
  return v;
}

/** Engine settings from the options (undefined = engine default). */
export function engineSettings(o: EngineCliOptions): ParallelMetricsOptions {
  const budget = num('--memory-budget', o.memoryBudget, false);
  const s: ParallelMetricsOptions = {
    threads: num('--threads', o.threads, true),
    memoryBudget: budget === undefined ? undefined : Math.round(budget * 2 ** 20),
    subspaceK: num('--k', o.k, true),
    spectrumK: num('--spectrum-k', o.spectrumK, true),
    exactMaxDim: num('--exact-max-dim', o.exactMaxDim, true),
    bottomMaxDim: num('--bottom-max-dim', o.bottomMaxDim, true),
    subspaceMaxElements: num('--subspace-max-elements', o.subspaceMaxElements, true),
  };
  return Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) as ParallelMetricsOptions;
}

/** The metric families the predictor's models for `methods` (all when absent) use. */
export function familiesNeeded(pf: PredictorFile, methods?: readonly string[]): Set<MetricFamily> {
  const out = new Set<MetricFamily>();
  for (const [name, m] of Object.entries(pf.methods)) {
    if (methods && !methods.includes(name)) continue;
    for (const id of m.features) {
      const f = metricFamily(id);
      if (f) out.add(f);
    }
  }
  return out;
}
