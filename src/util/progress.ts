import type { ProgressEvent, ProgressSink } from '../types.js';

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

export function formatBytes(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${UNITS[i]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(0)}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/**
 * A progress sink that prints one line per update to a stream (stderr by default):
 * done/total, rate and ETA. Throttled so a tight loop does not flood the terminal.
 * On a TTY the line is redrawn in place.
 */
export function stderrProgress(opts: { stream?: NodeJS.WriteStream; minIntervalMs?: number } = {}): ProgressSink & { finish(): void } {
  const stream = opts.stream ?? process.stderr;
  const minInterval = opts.minIntervalMs ?? 250;
  const starts = new Map<string, number>();
  let last = 0;
  let dirty = false;
  const sink = ((e: ProgressEvent) => {
    const now = Date.now();
    if (!starts.has(e.phase)) starts.set(e.phase, now);
    const finished = e.done >= e.total;
    if (!finished && now - last < minInterval) return;
    last = now;
    const line = formatProgress(e, (now - starts.get(e.phase)!) / 1000);
    if (stream.isTTY) {
      stream.write(`\r\x1b[2K${line}`);
      dirty = !finished;
      if (finished) stream.write('\n');
    } else {
      stream.write(line + '\n');
    }
  }) as ProgressSink & { finish(): void };
  sink.finish = () => {
    if (dirty) stream.write('\n');
    dirty = false;
  };
  return sink;
}

/** "metrics  1.2 GB / 3.4 GB (35%)  410 MB/s  ETA 5s  layer.3.weight" */
export function formatProgress(e: ProgressEvent, elapsedSeconds: number): string {
  const fmt = e.unit === 'bytes' ? formatBytes : (n: number) => String(n);
  const frac = e.total > 0 ? e.done / e.total : 1;
  const rate = elapsedSeconds > 0 ? e.done / elapsedSeconds : 0;
  const eta = rate > 0 ? (e.total - e.done) / rate : Infinity;
  const rateText = e.unit === 'bytes' ? `${formatBytes(rate)}/s` : `${rate.toFixed(1)} ${e.unit}/s`;
  const parts = [
    e.phase.padEnd(10),
    `${fmt(e.done)} / ${fmt(e.total)} (${(frac * 100).toFixed(0)}%)`,
    rateText,
    e.done >= e.total ? `done in ${formatDuration(elapsedSeconds)}` : `ETA ${formatDuration(eta)}`,
  ];
  if (e.detail) parts.push(e.detail);
  return parts.join('  ');
}
