/**
 * End to end under a real terminal: start `mergelens dashboard` in a detached 80×24 tmux
 * session, type keys with send-keys, read the screen with capture-pane. Also runnable alone:
 * test/dashboard/tmux-e2e.sh. Needs tmux (test/setup/system-tools.ts installs it when missing); fails loudly without it.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatInterval, formatValue } from '../../src/dashboard/format.js';
import type { MetricsReport, Prediction } from '../../src/types.js';
import { ROOT } from '../helpers/cli.js';
import { tmuxPath } from '../setup/system-tools.js';
import { FIXTURE_METRICS, FIXTURE_PREDICTIONS } from './sample.js';

const metrics = JSON.parse(readFileSync(path.join(ROOT, FIXTURE_METRICS), 'utf8')) as MetricsReport;
const predictions = JSON.parse(readFileSync(path.join(ROOT, FIXTURE_PREDICTIONS), 'utf8')) as Prediction[];
const E = metrics.experts;

// A private server socket so the test never touches a user's tmux sessions.
const SOCKET = `mergelens-e2e-${process.pid}`;
const SESSION = 'dash';

function tmux(...args: string[]): string {
  const r = spawnSync(tmuxPath(), ['-L', SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** The visible screen; with `history`, the scrollback too (tmux's "Pane is dead" line can push text up). */
const screen = (history = false) => tmux('capture-pane', '-p', ...(history ? ['-S', '-'] : []), '-t', SESSION);

/** Poll until `pred` holds for the screen text; on timeout fail showing the last screen. */
async function waitForScreen(pred: (s: string) => boolean, what: string, history = false, timeoutMs = 20_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    last = screen(history);
    if (pred(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; screen was:\n${last}`);
}

/** The matrix row of `name` on screen, as cell texts. */
const rowCells = (s: string, name: string) =>
  s
    .split('\n')
    .find((l) => l.startsWith(name.padEnd(14)))
    ?.slice(14)
    .trim()
    .split(/\s+/);

const tmuxAvailable = spawnSync(tmuxPath(), ['-V'], { encoding: 'utf8' }).status === 0;

describe('dashboard under tmux (80×24)', () => {
  afterAll(() => {
    if (tmuxAvailable) spawnSync(tmuxPath(), ['-L', SOCKET, 'kill-server']);
  });

  it('navigates, cycles metric/method, shows help, and quits with exit status 0', async () => {
    if (!tmuxAvailable) {
      throw new Error(`tmux not found (${tmuxPath()}): the test setup (test/setup/system-tools.ts) should have installed it; see its message above`);
    }
    // ink draws only a final frame when CI is set, so the dashboard under test runs without it.
    // The shell reports the exit status on the normal screen once the dashboard has left its own.
    const dashboard = [
      'env -u CI -u CONTINUOUS_INTEGRATION',
      JSON.stringify(process.execPath),
      '--import tsx src/cli/main.ts dashboard',
      JSON.stringify(path.join(ROOT, FIXTURE_METRICS)),
      '--predictions',
      JSON.stringify(path.join(ROOT, FIXTURE_PREDICTIONS)),
    ].join(' ');
    const cmd = `${dashboard}; echo "dashboard exited with status $?"`;
    tmux('new-session', '-d', '-s', SESSION, '-x', '80', '-y', '24', '-c', ROOT, cmd, ';', 'set-option', '-t', SESSION, 'remain-on-exit', 'on');

    let s = await waitForScreen((t) => t.includes('pair matrix │ tv_cosine'), 'the dashboard to start');
    expect(s).toContain(`▶ ${E[0]} × ${E[1]}`);
    expect(rowCells(s, 'kmnist')).toEqual(E.map((_, j) => (j === 2 ? '·' : formatValue(metrics.metrics.tv_cosine[2][j]))));

    tmux('send-keys', '-t', SESSION, 'Down', 'Right');
    s = await waitForScreen((t) => t.includes(`▶ ${E[1]} × ${E[2]}`), 'the cursor to move to fashion-mnist × kmnist');
    expect(s).toMatch(new RegExp(`tv_l2\\s+${formatValue(metrics.metrics.tv_l2[1][2]).replace('.', '\\.')} `));

    tmux('send-keys', '-t', SESSION, 'm');
    s = await waitForScreen((t) => t.includes('pair matrix │ tv_l2'), 'm to select tv_l2');
    expect(rowCells(s, 'kmnist')).toEqual(E.map((_, j) => (j === 2 ? '·' : formatValue(metrics.metrics.tv_l2[2][j]))));
    expect(s).toContain('tv_l2 per layer (6)');

    tmux('send-keys', '-t', SESSION, 'M');
    s = await waitForScreen((t) => t.includes('weight_avg (predicted)'), 'M to select weight_avg predictions');
    const p = predictions.find((q) => q.method === 'weight_avg' && q.a === E[1] && q.b === E[2])!;
    expect(s).toContain(formatInterval(p.predicted, p.lo, p.hi));
    expect(rowCells(s, 'fashion-mnist')?.[2]).toBe(formatValue(p.predicted));

    tmux('send-keys', '-t', SESSION, '?');
    s = await waitForScreen((t) => t.includes('Keys'), '? to open help');
    expect(s).toMatch(/q\s+quit/);
    tmux('send-keys', '-t', SESSION, '?');
    await waitForScreen((t) => !t.includes('Keys') && t.includes(`▶ ${E[1]} × ${E[2]}`), '? to close help');

    // Shrink the terminal: 50 columns leave room for 4 matrix columns (⌊(50 − 14 − 1) / 8⌋), one hidden.
    tmux('send-keys', '-t', SESSION, 'm'); // back to metrics (tv_l2)
    tmux('resize-window', '-t', SESSION, '-x', '50', '-y', '20');
    s = await waitForScreen((t) => t.includes('▸1') && t.includes('│ tv_l2'), 'the matrix to drop a column after resizing to 50×20');
    const lines = s.split('\n');
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(50);
    expect(rowCells(s, 'fashion-mnist')).toEqual([0, 1, 2, 3].map((j) => (j === 1 ? '·' : formatValue(metrics.metrics.tv_l2[1][j]))));

    tmux('send-keys', '-t', SESSION, 'q');
    s = await waitForScreen((t) => t.includes('dashboard exited with status'), 'q to end the dashboard', true);
    expect(s).toContain('dashboard exited with status 0');
    // the dashboard drew on the alternate screen: none of its frame is left in the normal screen or scrollback
    expect(s).not.toContain('pair matrix');
  });
});
