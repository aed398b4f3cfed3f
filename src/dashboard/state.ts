/**
 * Dashboard state and its pure reducer: (state, key, context) → state (+ an effect the shell
 * performs: quit or export). No I/O, no React — so every key binding is unit-testable.
 */

/** 'verdict': the best-method view (src/predict/verdict.ts), shown when predictions exist. */
export type DashView = 'matrix' | 'list' | 'verdict';
/** What colours the matrix and orders the ranked list: a metric, or a method's predictions. */
export type DashLens = 'metric' | 'method';

export interface DashState {
  view: DashView;
  lens: DashLens;
  metricIndex: number;
  methodIndex: number;
  /** Matrix cursor, as positions in the *visible* (filtered) expert list. */
  row: number;
  col: number;
  /** Cursor in the ranked list view (index into its shown entries). */
  listCursor: number;
  /** Applied expert filter (case-insensitive substring); '' = all. */
  filter: string;
  /** Text being typed after `/`; null when not typing. Filters live while typing. */
  filterDraft: string | null;
  help: boolean;
  /** One-line message for the footer (export path, hints); cleared by the next key. */
  status: string;
}

/** What the reducer needs to know about the data. */
export interface DashContext {
  experts: string[];
  metricIds: string[];
  methods: string[];
  /** Entries shown in the ranked list for the state the key is applied to. */
  listLength: number;
}

export type DashKey =
  | { kind: 'up' | 'down' | 'left' | 'right' | 'tab' | 'enter' | 'escape' | 'backspace' | 'home' | 'end' }
  | { kind: 'char'; ch: string };

export type DashEffect = 'quit' | 'export';

export interface Reduced {
  state: DashState;
  effect?: DashEffect;
}

export interface InitialOptions {
  metric?: string;
  method?: string;
  /** View at start (`screen --tui` opens on 'verdict'). */
  view?: DashView;
}

export function initialState(ctx: Pick<DashContext, 'experts' | 'metricIds' | 'methods'>, opts: InitialOptions = {}): DashState {
  const metricIndex = Math.max(0, opts.metric ? ctx.metricIds.indexOf(opts.metric) : 0);
  const methodIndex = Math.max(0, opts.method ? ctx.methods.indexOf(opts.method) : 0);
  return {
    view: opts.view === 'verdict' && ctx.methods.length === 0 ? 'matrix' : (opts.view ?? 'matrix'),
    // Start on predictions only when asked for a method and predictions exist.
    lens: opts.method && ctx.methods.includes(opts.method) ? 'method' : 'metric',
    metricIndex,
    methodIndex,
    row: 0,
    col: ctx.experts.length > 1 ? 1 : 0,
    listCursor: 0,
    filter: '',
    filterDraft: null,
    help: false,
    status: '',
  };
}

/** The filter text in effect: the draft while typing, else the applied one. */
export function activeFilter(s: DashState): string {
  return s.filterDraft ?? s.filter;
}

/** Indices (into `experts`) of the experts whose name contains `filter`, case-insensitive. */
export function visibleExperts(experts: string[], filter: string): number[] {
  const f = filter.trim().toLowerCase();
  const out: number[] = [];
  experts.forEach((name, i) => {
    if (!f || name.toLowerCase().includes(f)) out.push(i);
  });
  return out;
}

const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));

/** After the visible set changes, put the cursor back on the first off-diagonal cell. */
function resetCursor(s: DashState, ctx: DashContext): DashState {
  const n = visibleExperts(ctx.experts, activeFilter(s)).length;
  return { ...s, row: 0, col: n > 1 ? 1 : 0, listCursor: 0 };
}

function withFilterDraft(s: DashState, draft: string | null, ctx: DashContext): DashState {
  return resetCursor({ ...s, filterDraft: draft }, ctx);
}

export function reduce(prev: DashState, key: DashKey, ctx: DashContext): Reduced {
  const s: DashState = { ...prev, status: '' };

  // Typing a filter: every printable key is text, so q/m/e do not fire here.
  if (s.filterDraft !== null) {
    switch (key.kind) {
      case 'char':
        return { state: withFilterDraft(s, s.filterDraft + key.ch, ctx) };
      case 'backspace':
        return { state: withFilterDraft(s, s.filterDraft.slice(0, -1), ctx) };
      case 'enter': {
        const filter = s.filterDraft.trim();
        const n = visibleExperts(ctx.experts, filter).length;
        return {
          state: resetCursor({ ...s, filter, filterDraft: null, status: filter ? `filter "${filter}": ${n} of ${ctx.experts.length} experts` : '' }, ctx),
        };
      }
      case 'escape':
        return { state: resetCursor({ ...s, filter: '', filterDraft: null }, ctx) };
      default:
        return { state: s };
    }
  }

  if (s.help) {
    if (key.kind === 'char' && key.ch === 'q') return { state: s, effect: 'quit' };
    if (key.kind === 'escape' || key.kind === 'enter' || (key.kind === 'char' && key.ch === '?')) return { state: { ...s, help: false } };
    return { state: s };
  }

  const n = visibleExperts(ctx.experts, s.filter).length;
  switch (key.kind) {
    case 'up':
      return s.view === 'matrix' ? { state: { ...s, row: clamp(s.row - 1, 0, n - 1) } } : { state: { ...s, listCursor: clamp(s.listCursor - 1, 0, ctx.listLength - 1) } };
    case 'down':
      return s.view === 'matrix' ? { state: { ...s, row: clamp(s.row + 1, 0, n - 1) } } : { state: { ...s, listCursor: clamp(s.listCursor + 1, 0, ctx.listLength - 1) } };
    case 'left':
      return { state: s.view === 'matrix' ? { ...s, col: clamp(s.col - 1, 0, n - 1) } : s };
    case 'right':
      return { state: s.view === 'matrix' ? { ...s, col: clamp(s.col + 1, 0, n - 1) } : s };
    case 'home':
      return { state: s.view === 'matrix' ? { ...s, row: 0, col: 0 } : { ...s, listCursor: 0 } };
    case 'end':
      return { state: s.view === 'matrix' ? { ...s, row: Math.max(0, n - 1), col: Math.max(0, n - 1) } : { ...s, listCursor: Math.max(0, ctx.listLength - 1) } };
    case 'tab': {
      // matrix → list → verdict (only with predictions) → matrix
      const next: DashView = s.view === 'matrix' ? 'list' : s.view === 'list' && ctx.methods.length ? 'verdict' : 'matrix';
      return { state: { ...s, view: next, listCursor: 0 } };
    }
    case 'escape':
      return { state: s.filter ? resetCursor({ ...s, filter: '' }, ctx) : s };
    case 'enter':
    case 'backspace':
      return { state: s };
    case 'char':
      break;
  }

  switch (key.ch) {
    case 'q':
      return { state: s, effect: 'quit' };
    case 'e':
      return { state: s, effect: 'export' };
    case 'b':
      if (ctx.methods.length === 0) return { state: { ...s, status: 'no predictions loaded (pass --predictor or --predictions)' } };
      return { state: { ...s, view: 'verdict', listCursor: 0 } };
    case '?':
      return { state: { ...s, help: true } };
    case '/':
      return { state: { ...s, filterDraft: s.filter } };
    case 'm': {
      if (ctx.metricIds.length === 0) return { state: { ...s, status: 'no metrics in this file' } };
      // First press from prediction mode returns to the current metric; later presses cycle.
      const metricIndex = s.lens === 'metric' ? (s.metricIndex + 1) % ctx.metricIds.length : s.metricIndex;
      return { state: { ...s, lens: 'metric', metricIndex, listCursor: 0 } };
    }
    case 'M': {
      if (ctx.methods.length === 0) return { state: { ...s, status: 'no predictions loaded (pass --predictor or --predictions)' } };
      const methodIndex = s.lens === 'method' ? (s.methodIndex + 1) % ctx.methods.length : s.methodIndex;
      return { state: { ...s, lens: 'method', methodIndex, listCursor: 0 } };
    }
    // Vim-style movement for people on keyboards without arrows handy.
    case 'k':
      return reduce(prev, { kind: 'up' }, ctx);
    case 'j':
      return reduce(prev, { kind: 'down' }, ctx);
    case 'h':
      return reduce(prev, { kind: 'left' }, ctx);
    case 'l':
      return reduce(prev, { kind: 'right' }, ctx);
    default:
      return { state: s };
  }
}
