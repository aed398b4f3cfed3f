/**
 * State and pure reducer of the dashboard's search view (`mergelens dashboard --search`):
 * which run, which list (Pareto front or top candidates), which candidate is selected.
 * Keys arrive as the main dashboard's DashKey (keys.ts).
 */
import type { DashKey } from './state.js';

export type SearchList = 'pareto' | 'top';

export interface SearchDashState {
  /** Index of the shown run (one per --search file). */
  run: number;
  list: SearchList;
  /** Selected entry of the list. */
  cursor: number;
  help: boolean;
  status: string;
}

export interface SearchDashContext {
  runs: number;
  /** Length of the list shown for the state the key is applied to. */
  listLength: (s: SearchDashState) => number;
}

export interface SearchReduced {
  state: SearchDashState;
  effect?: 'quit';
}

export function initialSearchState(): SearchDashState {
  return { run: 0, list: 'pareto', cursor: 0, help: false, status: '' };
}

const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));

export function reduceSearch(prev: SearchDashState, key: DashKey, ctx: SearchDashContext): SearchReduced {
  const s: SearchDashState = { ...prev, status: '' };
  const last = Math.max(0, ctx.listLength(s) - 1);
  if (s.help) {
    if (key.kind === 'char' && key.ch === 'q') return { state: s, effect: 'quit' };
    if (key.kind === 'escape' || key.kind === 'enter' || (key.kind === 'char' && key.ch === '?')) return { state: { ...s, help: false } };
    return { state: s };
  }
  switch (key.kind) {
    case 'up':
      return { state: { ...s, cursor: clamp(s.cursor - 1, 0, last) } };
    case 'down':
      return { state: { ...s, cursor: clamp(s.cursor + 1, 0, last) } };
    case 'home':
      return { state: { ...s, cursor: 0 } };
    case 'end':
      return { state: { ...s, cursor: last } };
    case 'tab':
      return { state: { ...s, list: s.list === 'pareto' ? 'top' : 'pareto', cursor: 0 } };
    case 'char':
      break;
    default:
      return { state: s };
  }
  switch (key.ch) {
    case 'q':
      return { state: s, effect: 'quit' };
    case '?':
      return { state: { ...s, help: true } };
    case 'k':
      return reduceSearch(prev, { kind: 'up' }, ctx);
    case 'j':
      return reduceSearch(prev, { kind: 'down' }, ctx);
    case 'r':
    case 'R': {
      if (ctx.runs < 2) return { state: { ...s, status: 'one search log loaded (pass --search several times to compare runs)' } };
      const run = (s.run + (key.ch === 'r' ? 1 : ctx.runs - 1)) % ctx.runs;
      return { state: { ...s, run, cursor: 0 } };
    }
    default:
      return { state: s };
  }
}
