/**
 * The bench's CLI start-up section (src/bench/startup.ts): what it measures (the commands issues
 * 16 and 19 name, on the tiny fixtures, all of which must exist) and how it reports them — the
 * excess over bare Node in the same run, held to the budget.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderStartup, STARTUP_BUDGET_SECONDS, startupCases, type StartupFigures } from '../../src/bench/startup.js';

describe('bench: CLI start-up', () => {
  it('times --help, --version, inspect and check on fixtures that exist', () => {
    const cases = startupCases('/x/main.js');
    expect(cases.map((c) => c.args.slice(1, 2)[0])).toEqual(['--help', '--version', 'inspect', 'check']);
    for (const c of cases) for (const a of c.args.slice(2)) expect(existsSync(a), a).toBe(true);
  });

  it('reports each command over bare node and the budget verdict', () => {
    const fig = (label: string, min: number, median: number) => ({ label, args: [], minSeconds: min, medianSeconds: median });
    const f: StartupFigures = { runs: 5, node: fig('node -e 0', 0.1, 0.12), commands: [fig('mergelens --help', 0.25, 0.3), fig('mergelens check', 0.5, 0.6)], budgetSeconds: STARTUP_BUDGET_SECONDS };
    const md = renderStartup(f).join('\n');
    expect(md).toContain('bare `node -e 0` in the same run: 100 ms / 120 ms');
    expect(md).toContain('| mergelens --help | 250 ms | 300 ms | 150 ms | yes |');
    expect(md).toContain('| mergelens check | 500 ms | 600 ms | 400 ms | **no** |');
  });
});
