/**
 * Progress output (src/util/progress.ts): sizes and durations as the packages format them,
 * the one-line form for logs (throttled, always the final line), and the terminal bar, drawn on
 * a fake TTY stream whose bytes are checked.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, formatProgress, stderrProgress } from '../../src/util/progress.js';

/** A writable that records everything and says whether it is a terminal. */
function sink(isTTY: boolean) {
  const chunks: string[] = [];
  const w = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c.toString());
      cb();
    },
  }) as Writable & { isTTY: boolean; columns: number; cursorTo: unknown; clearLine: unknown; moveCursor: unknown };
  w.isTTY = isTTY;
  w.columns = 120;
  return { stream: w as unknown as NodeJS.WriteStream, text: () => chunks.join('') };
}

describe('formatting', () => {
  it('bytes in SI units with at most one decimal; durations in h/m/s', () => {
    expect([0, 999, 1000, 98_900, 1_234_567_890].map(formatBytes)).toEqual(['0 B', '999 B', '1 kB', '98.9 kB', '1.2 GB']);
    expect([0.2, 5, 59.6, 125, 3725, Infinity, -1].map(formatDuration)).toEqual(['0s', '5s', '1m', '2m 5s', '1h 2m', '?', '?']);
  });

  it('a progress line: done / total, percentage, rate from elapsed time, ETA from the rate', () => {
    // 1.2 GB in 3 s → 400 MB/s; 2.2 GB left → 5.5 s → "6s"
    expect(formatProgress({ phase: 'metrics', done: 1.2e9, total: 3.4e9, unit: 'bytes', detail: 'layer.3' }, 3)).toBe('metrics     1.2 GB / 3.4 GB (35%)  400 MB/s  ETA 6s  layer.3');
    expect(formatProgress({ phase: 'merge', done: 4, total: 4, unit: 'tensors' }, 2)).toBe('merge       4 / 4 (100%)  2.0 tensors/s  done in 2s');
  });
});

describe('stderrProgress', () => {
  it('not a terminal: throttled lines, the final one always written', () => {
    const s = sink(false);
    const p = stderrProgress({ stream: s.stream, minIntervalMs: 60_000 });
    for (let i = 1; i <= 10; i++) p({ phase: 'merge', done: i, total: 10, unit: 'tensors' });
    const lines = s.text().trim().split('\n');
    expect(lines).toHaveLength(2); // the first update, then (throttled) only the final one
    expect(lines[0]).toMatch(/^merge {7}1 \/ 10 \(10%\)/);
    expect(lines[1]).toMatch(/^merge {7}10 \/ 10 \(100%\) .* done in /);
  });

  it('a terminal: a bar redrawn in place, one per phase, ending with a newline', () => {
    const s = sink(true);
    const p = stderrProgress({ stream: s.stream });
    p({ phase: 'read', done: 0, total: 4, unit: 'tensors' });
    p({ phase: 'read', done: 4, total: 4, unit: 'tensors', detail: 'lm_head.weight' });
    p({ phase: 'write', done: 1, total: 2, unit: 'tensors' });
    p.finish();
    const out = s.text();
    expect(out).toContain('read       ' + '░'.repeat(24) + ' 0%');
    expect(out).toContain('read       ' + '█'.repeat(24) + ' 100%  4 / 4');
    expect(out).toContain('lm_head.weight');
    expect(out).toContain('write      ' + '█'.repeat(12) + '░'.repeat(12) + ' 50%  1 / 2');
    expect(out.endsWith('\n')).toBe(true);
  });
});
