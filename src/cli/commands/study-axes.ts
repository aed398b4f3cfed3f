/** `mergelens study --axes`: the scale and base axes (src/study/axes.ts), a thin shell. */
import path from 'node:path';
import { MergelensError } from '../../errors.js';
import { DEFAULT_AXES, formatAxesMarkdown, runAxes } from '../../study/axes.js';
import { parseGroupSample } from '../../study/groups.js';
import { withOutputs } from '../../util/output-policy.js';
import { info, progressSink } from '../io.js';

export interface AxesCliOptions {
  out?: string;
  seed?: string;
  methods?: string;
  tasks?: string;
  groups?: string;
  workers?: string;
  widths?: string;
  force?: boolean;
  /** Options of the single study that --axes does not take (it trains its own zoos). */
  zoo?: string;
  retrain?: boolean;
  quick?: boolean;
  study?: string;
  updateShipped?: boolean;
  curve?: boolean;
}

export const DEFAULT_AXES_OUT = path.join('mergelens-out', 'axes');

const list = (s: string | undefined): string[] | undefined => (s === undefined ? undefined : s.split(',').map((x) => x.trim()).filter(Boolean));

function int(s: string | undefined, name: string, lo: number, hi: number): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n < lo || n > hi) throw new MergelensError('BAD_PARAM', `${name} must be an integer in [${lo}, ${hi}], got "${s}"`);
  return n;
}

export async function axesCli(o: AxesCliOptions): Promise<void> {
  const clash = (['zoo', 'retrain', 'quick', 'study', 'updateShipped', 'curve'] as const).filter((k) => o[k] !== undefined && o[k] !== false);
  if (clash.length) throw new MergelensError('USAGE', `--axes trains and studies its own variant zoos: drop ${clash.map((k) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())).join(', ')}`);
  const outDir = o.out ?? DEFAULT_AXES_OUT;
  const widths = list(o.widths)?.map((w) => int(w, '--widths', 2, 4096)!);
  if (widths?.some((w) => w % 2)) throw new MergelensError('BAD_PARAM', `--widths must be even (the second layer is w/2), got "${o.widths}"`);
  const seed = int(o.seed, '--seed', 0, 0xffffffff) ?? DEFAULT_AXES.seed;
  // The folder holds the variant zoos it reuses when their config matches: the run continues what is there.
  await withOutputs([{ path: outDir, kind: 'study', folder: true, flag: '--out', reuse: true }], { inputs: [], force: o.force }, async () => {
    const progress = progressSink();
    try {
      const { summary, files } = await runAxes({
        ...DEFAULT_AXES,
        outDir,
        seed,
        repeatSeeds: DEFAULT_AXES.repeatSeeds?.map((s) => (s === seed ? s + 1 : s)),
        ...(widths ? { widths } : {}),
        ...(o.methods ? { methods: list(o.methods)! } : {}),
        ...(o.tasks ? { tasks: list(o.tasks)! } : {}),
        ...(o.groups !== undefined ? { groups: parseGroupSample(o.groups) } : {}),
        workers: int(o.workers, '--workers', 1, 64),
        onProgress: progress,
        log: (line) => {
          progress.finish();
          info(`study --axes: ${line}`);
        },
      });
      progress.finish();
      process.stdout.write(formatAxesMarkdown(summary) + `\nwrote:\n${files.map((f) => `  ${f}`).join('\n')}\n`);
    } finally {
      progress.finish();
    }
  });
}
