import { describe, expect, it } from 'vitest';
import { type DashContext, type DashKey, type DashState, activeFilter, initialState, reduce, visibleExperts } from '../../src/dashboard/state.js';

const ctx: DashContext = {
  experts: ['alpha', 'beta', 'gamma', 'delta'],
  metricIds: ['m1', 'm2', 'm3'],
  methods: ['avg', 'ties'],
  listLength: 6,
};

const ch = (c: string): DashKey => ({ kind: 'char', ch: c });
const K = (kind: 'up' | 'down' | 'left' | 'right' | 'tab' | 'enter' | 'escape' | 'backspace' | 'home' | 'end'): DashKey => ({ kind });

/** Apply keys in order, returning the final state and every effect fired. */
function run(keys: DashKey[], s: DashState = initialState(ctx), c: DashContext = ctx): { s: DashState; effects: string[] } {
  const effects: string[] = [];
  for (const k of keys) {
    const r = reduce(s, k, c);
    s = r.state;
    if (r.effect) effects.push(r.effect);
  }
  return { s, effects };
}

describe('initialState', () => {
  it('starts on the matrix, first metric, cursor on the first off-diagonal cell', () => {
    const s = initialState(ctx);
    expect(s).toMatchObject({ view: 'matrix', lens: 'metric', metricIndex: 0, methodIndex: 0, row: 0, col: 1, filter: '', filterDraft: null, help: false });
  });
  it('honours a requested metric and method', () => {
    const s = initialState(ctx, { metric: 'm3', method: 'ties' });
    expect(s).toMatchObject({ metricIndex: 2, methodIndex: 1, lens: 'method' });
    // Unknown names fall back to the first entry instead of a negative index.
    expect(initialState(ctx, { metric: 'nope', method: 'nope' })).toMatchObject({ metricIndex: 0, methodIndex: 0, lens: 'metric' });
  });
});

describe('cursor movement', () => {
  it('arrows move row/col and clamp at the edges', () => {
    expect(run([K('down'), K('down')]).s).toMatchObject({ row: 2, col: 1 });
    expect(run([K('up')]).s).toMatchObject({ row: 0 });
    expect(run([K('right'), K('right'), K('right'), K('right')]).s).toMatchObject({ col: 3 });
    expect(run([K('left'), K('left'), K('left')]).s).toMatchObject({ col: 0 });
    expect(run([K('end')]).s).toMatchObject({ row: 3, col: 3 });
    expect(run([K('end'), K('home')]).s).toMatchObject({ row: 0, col: 0 });
  });
  it('h j k l mirror the arrows', () => {
    expect(run([ch('j'), ch('j'), ch('l')]).s).toMatchObject({ row: 2, col: 2 });
    expect(run([ch('j'), ch('k'), ch('h')]).s).toMatchObject({ row: 0, col: 0 });
  });
  it('in the list view up/down move the list cursor within listLength', () => {
    const { s } = run([K('tab'), K('down'), K('down'), K('up')]);
    expect(s).toMatchObject({ view: 'list', listCursor: 1, row: 0, col: 1 });
    expect(run([K('tab'), ...Array(10).fill(K('down'))]).s.listCursor).toBe(5);
    expect(run([K('tab'), K('end')]).s.listCursor).toBe(5);
    // left/right do nothing there
    expect(run([K('tab'), K('right')]).s).toMatchObject({ col: 1, listCursor: 0 });
  });
  it('tab cycles matrix → list → best method (with predictions) → matrix and resets the list cursor', () => {
    expect(run([K('tab')]).s.view).toBe('list');
    expect(run([K('tab'), K('tab')]).s.view).toBe('verdict');
    expect(run([K('tab'), K('down'), K('tab'), K('tab'), K('tab')]).s).toMatchObject({ view: 'list', listCursor: 0 });
    // without predictions there is no verdict view: tab toggles matrix ↔ list
    const bare = { ...ctx, methods: [] };
    expect(run([K('tab'), K('tab')], initialState(bare), bare).s.view).toBe('matrix');
  });
  it('b opens the best-method view (only with predictions); screen --tui starts there', () => {
    expect(run([ch('b')]).s).toMatchObject({ view: 'verdict', listCursor: 0 });
    const bare = { ...ctx, methods: [] };
    const r = run([ch('b')], initialState(bare), bare).s;
    expect(r.view).toBe('matrix');
    expect(r.status).toContain('no predictions');
    expect(initialState(ctx, { view: 'verdict' }).view).toBe('verdict');
    expect(initialState(bare, { view: 'verdict' }).view).toBe('matrix');
  });
});

describe('metric and method cycling', () => {
  it('m cycles metrics and wraps', () => {
    expect(run([ch('m')]).s.metricIndex).toBe(1);
    expect(run([ch('m'), ch('m'), ch('m')]).s.metricIndex).toBe(0);
  });
  it('M switches to predictions, then cycles methods; m returns to the same metric first', () => {
    const a = run([ch('m'), ch('M')]).s;
    expect(a).toMatchObject({ lens: 'method', methodIndex: 0, metricIndex: 1 });
    expect(run([ch('M'), ch('M')]).s).toMatchObject({ lens: 'method', methodIndex: 1 });
    expect(run([ch('M'), ch('M'), ch('M')]).s).toMatchObject({ methodIndex: 0 });
    const b = run([ch('m')], a).s;
    expect(b).toMatchObject({ lens: 'metric', metricIndex: 1 });
    expect(run([ch('m')], b).s.metricIndex).toBe(2);
  });
  it('M without predictions stays on metrics and says why', () => {
    const { s } = run([ch('M')], initialState(ctx), { ...ctx, methods: [] });
    expect(s.lens).toBe('metric');
    expect(s.status).toMatch(/no predictions/);
    // the message goes away on the next key
    expect(run([K('down')], s).s.status).toBe('');
  });
});

describe('filter', () => {
  it('typing filters live, Enter applies, cursor resets', () => {
    const typing = run([K('down'), K('down'), ch('/'), ch('t'), ch('a')]).s;
    expect(typing.filterDraft).toBe('ta');
    expect(activeFilter(typing)).toBe('ta');
    expect(visibleExperts(ctx.experts, activeFilter(typing))).toEqual([1, 3]); // beta, delta
    expect(typing).toMatchObject({ row: 0, col: 1 });
    const applied = run([K('enter')], typing).s;
    expect(applied).toMatchObject({ filter: 'ta', filterDraft: null });
    expect(applied.status).toBe('filter "ta": 2 of 4 experts');
    // movement is bounded by the 2 visible experts
    expect(run([K('down'), K('down'), K('down')], applied).s.row).toBe(1);
  });
  it('letters are text while typing: q, m, e do not fire', () => {
    const { s, effects } = run([ch('/'), ch('q'), ch('m'), ch('e')]);
    expect(effects).toEqual([]);
    expect(s).toMatchObject({ filterDraft: 'qme', metricIndex: 0 });
  });
  it('backspace edits, Esc clears the filter entirely', () => {
    const s = run([ch('/'), ch('a'), ch('l'), ch('x'), K('backspace')]).s;
    expect(s.filterDraft).toBe('al');
    expect(run([K('escape')], s).s).toMatchObject({ filter: '', filterDraft: null });
    const applied = run([K('enter')], s).s;
    expect(applied.filter).toBe('al');
    // `/` again starts from the applied text; Esc in normal mode also clears it
    expect(run([ch('/')], applied).s.filterDraft).toBe('al');
    expect(run([K('escape')], applied).s.filter).toBe('');
  });
  it('matching is case-insensitive substring', () => {
    expect(visibleExperts(['Math-7B', 'code', 'mathy'], 'MATH')).toEqual([0, 2]);
    expect(visibleExperts(['a', 'b'], '')).toEqual([0, 1]);
    expect(visibleExperts(['a', 'b'], 'zzz')).toEqual([]);
  });
});

describe('help, quit, export', () => {
  it('? opens help; ? or Esc closes; other keys are ignored while open', () => {
    const open = run([ch('?')]).s;
    expect(open.help).toBe(true);
    expect(run([K('down'), ch('m')], open).s).toMatchObject({ help: true, row: 0, metricIndex: 0 });
    expect(run([ch('?')], open).s.help).toBe(false);
    expect(run([K('escape')], open).s.help).toBe(false);
  });
  it('q quits (also from help); e exports without changing the view', () => {
    expect(run([ch('q')]).effects).toEqual(['quit']);
    expect(run([ch('?'), ch('q')]).effects).toEqual(['quit']);
    const r = run([K('down'), ch('e')]);
    expect(r.effects).toEqual(['export']);
    expect(r.s).toMatchObject({ row: 1, view: 'matrix' });
  });
  it('does not mutate the input state', () => {
    const s0 = initialState(ctx);
    const copy = structuredClone(s0);
    reduce(s0, K('down'), ctx);
    reduce(s0, ch('/'), ctx);
    expect(s0).toEqual(copy);
  });
});
