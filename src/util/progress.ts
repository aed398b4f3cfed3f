/**
 * Progress on stderr for long work: done / total, rate and ETA. On a terminal, a bar redrawn in
 * place (cli-progress, loaded only then); elsewhere (logs, CI, pipes) one throttled line per
 * update. Sizes by pretty-bytes (SI: kB, MB, GB), durations by pretty-ms.
 */
import { createRequire } from 'node:module';
import prettyBytes from 'pretty-bytes';
import prettyMilliseconds from 'pretty-ms';
import type { ProgressEvent, ProgressSink } from '../types.js';
import { escapeControl } from './terminal.js';

/** "98.9 kB", "1.2 GB": SI units, at most one decimal. */
export function formatBytes(n: number): string {
  return prettyBytes(n, { maximumFractionDigits: 1 });
}

/** "42s", "2m 5s", "1h 2m"; "?" when unknown (no rate yet). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 0.5) return '0s'; // pretty-ms would say "0ms", a precision this estimate does not have
  return prettyMilliseconds(Math.round(seconds) * 1000, { unitCount: 2, secondsDecimalDigits: 0 });
}

interface Figures {
  frac: number;
  doneText: string;
  rateText: string;
  timeText: string;
  detail: string;
}

function figures(e: ProgressEvent, elapsedSeconds: number): Figures {
  const fmt = e.unit === 'bytes' ? formatBytes : (n: number) => String(n);
  const rate = elapsedSeconds > 0 ? e.done / elapsedSeconds : 0;
  const eta = rate > 0 ? (e.total - e.done) / rate : Infinity;
  return {
    frac: e.total > 0 ? Math.min(1, e.done / e.total) : 1,
    doneText: `${fmt(e.done)} / ${fmt(e.total)}`,
    rateText: e.unit === 'bytes' ? `${formatBytes(rate)}/s` : `${rate.toFixed(1)} ${e.unit}/s`,
    timeText: e.done >= e.total ? `done in ${formatDuration(elapsedSeconds)}` : `ETA ${formatDuration(eta)}`,
    detail: e.detail ? escapeControl(e.detail) : '', // usually a tensor or expert name, from the file
  };
}

/** "metrics     1.2 GB / 3.4 GB (35%)  410 MB/s  ETA 5s  layer.3.weight" */
export function formatProgress(e: ProgressEvent, elapsedSeconds: number): string {
  const f = figures(e, elapsedSeconds);
  const parts = [e.phase.padEnd(10), `${f.doneText} (${(f.frac * 100).toFixed(0)}%)`, f.rateText, f.timeText];
  if (f.detail) parts.push(f.detail);
  return parts.join('  ');
}

type Bar = { start(total: number, value: number, payload: object): void; update(value: number, payload: object): void; stop(): void };
type BarClass = new (opts: object) => Bar & { render(): void; timer?: NodeJS.Timeout | null };

let barClass: BarClass | undefined;
/**
 * cli-progress's SingleBar, loaded on first use (CommonJS, and only needed on a terminal), with
 * its redraw timer unref'd: a bar left running by a failed command must not keep Node alive.
 */
function loadBar(): BarClass {
  if (barClass) return barClass;
  const { SingleBar } = createRequire(import.meta.url)('cli-progress') as { SingleBar: BarClass };
  barClass = class extends SingleBar {
    override render(): void {
      super.render();
      this.timer?.unref();
    }
  };
  return barClass;
}

/**
 * A progress sink for `stream` (stderr by default). Non-terminal: one line per update, at most
 * every `minIntervalMs`, and always the final one. Terminal: a bar, one per phase.
 */
export function stderrProgress(opts: { stream?: NodeJS.WriteStream; minIntervalMs?: number } = {}): ProgressSink & { finish(): void } {
  const stream = opts.stream ?? process.stderr;
  const minInterval = opts.minIntervalMs ?? 250;
  const starts = new Map<string, number>();
  let last = 0;
  let bar: { phase: string; bar: Bar } | undefined;
  const stopBar = () => {
    bar?.bar.stop();
    bar = undefined;
  };
  const sink = ((e: ProgressEvent) => {
    const now = Date.now();
    if (!starts.has(e.phase)) starts.set(e.phase, now);
    const elapsed = (now - starts.get(e.phase)!) / 1000;
    const finished = e.done >= e.total;
    if (stream.isTTY) {
      if (bar && bar.phase !== e.phase) stopBar();
      const f = figures(e, elapsed);
      const payload = { phase: e.phase.padEnd(10), doneText: f.doneText, rateText: f.rateText, timeText: f.timeText, detail: f.detail };
      if (!bar) {
        const SingleBar = loadBar();
        bar = {
          phase: e.phase,
          bar: new SingleBar({
            stream,
            format: '{phase} {bar} {percentage}%  {doneText}  {rateText}  {timeText}  {detail}',
            barsize: 24,
            barCompleteChar: '█',
            barIncompleteChar: '░',
            hideCursor: false,
            clearOnComplete: false,
            fps: 1000 / minInterval,
            linewrap: false,
          }),
        };
        bar.bar.start(Math.max(e.total, 1), Math.min(e.done, e.total), payload);
      } else bar.bar.update(Math.min(e.done, e.total), payload);
      if (finished) stopBar();
      return;
    }
    if (!finished && now - last < minInterval) return;
    last = now;
    stream.write(formatProgress(e, elapsed) + '\n');
  }) as ProgressSink & { finish(): void };
  sink.finish = stopBar;
  return sink;
}
