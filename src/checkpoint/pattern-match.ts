/**
 * PEFT's rank_pattern / alpha_pattern key matching, in linear time.
 *
 * PEFT picks, for a module name, the first key with `re.match(rf"(.*\.)?({key})$", name)`.
 * Keys come from adapter_config.json — untrusted — and a backtracking engine (JS RegExp, Python
 * re) takes exponential time on keys such as `(a|a)+b` (21.8 s for a 28-character name in the
 * audit). So keys are compiled here to a Thompson NFA and simulated state-set by state-set:
 * O(|name| · |key|) whatever the key, with PEFT's full-match semantics. The subset covers what
 * configs use: literals, `.`, escapes (\d \w \s \D \W \S, escaped punctuation), classes
 * `[a-z_]` / `[^…]`, groups `(…)` / `(?:…)` / `(?P<n>…)`, `|`, `* + ?` (lazy or not) and
 * `{m}` `{m,}` `{m,n}`; a leading `^` / trailing `$` are accepted. Back-references and
 * look-arounds (which no linear engine can do) are refused with a named error.
 */
import { MergelensError } from '../errors.js';

/** Longest key accepted and largest NFA built from one key (counted repetitions expand it). */
const MAX_KEY_LENGTH = 2000;
const MAX_STATES = 20_000;

type CharTest = (c: number) => boolean;

/** NFA state: `test` consumes one char and goes to `out`; otherwise epsilon edges to `out`/`out2`. */
interface State {
  test?: CharTest;
  out?: State;
  out2?: State;
  accept?: boolean;
}

interface Frag {
  start: State;
  /** Dangling states whose `out` (or `out2` for splits) must be patched to the next fragment. */
  ends: { s: State; which: 'out' | 'out2' }[];
}

class Unsupported extends Error {}

const isDigit: CharTest = (c) => c >= 48 && c <= 57;
const isWord: CharTest = (c) => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isSpace: CharTest = (c) => c === 32 || (c >= 9 && c <= 13);
const any: CharTest = (c) => c !== 10; // Python '.' does not match a newline

function escapeTest(ch: string): CharTest {
  switch (ch) {
    case 'd': return isDigit;
    case 'D': return (c) => !isDigit(c);
    case 'w': return isWord;
    case 'W': return (c) => !isWord(c);
    case 's': return isSpace;
    case 'S': return (c) => !isSpace(c);
    case 'n': return (c) => c === 10;
    case 't': return (c) => c === 9;
  }
  if (/[0-9]/.test(ch)) throw new Unsupported('back-references');
  if (/[bBAZzG]/.test(ch)) throw new Unsupported(`the \\${ch} assertion`);
  if (/[A-Za-z]/.test(ch)) throw new Unsupported(`the \\${ch} escape`);
  const code = ch.charCodeAt(0);
  return (c) => c === code;
}

class Parser {
  private i = 0;
  states = 0;
  constructor(private readonly src: string) {}

  private state(s: State): State {
    if (++this.states > MAX_STATES) throw new Unsupported(`more than ${MAX_STATES} states (counted repetitions too large)`);
    return s;
  }

  parse(): Frag {
    const f = this.alternation();
    if (this.i < this.src.length) throw new Unsupported(`unbalanced ")" at position ${this.i}`);
    return f;
  }

  private alternation(): Frag {
    let left = this.sequence();
    while (this.src[this.i] === '|') {
      this.i++;
      const right = this.sequence();
      const split = this.state({ out: left.start, out2: right.start });
      left = { start: split, ends: [...left.ends, ...right.ends] };
    }
    return left;
  }

  private sequence(): Frag {
    let acc: Frag | undefined;
    while (this.i < this.src.length && this.src[this.i] !== '|' && this.src[this.i] !== ')') {
      const f = this.repeat();
      if (!acc) acc = f;
      else {
        patch(acc, f.start);
        acc = { start: acc.start, ends: f.ends };
      }
    }
    if (acc) return acc;
    const e = this.state({});
    return { start: e, ends: [{ s: e, which: 'out' }] };
  }

  /** An atom with its quantifiers; the atom is re-parsed per copy for counted repetitions. */
  private repeat(): Frag {
    const atomStart = this.i;
    let f = this.atom();
    const atomEnd = this.i;
    for (;;) {
      const q = this.src[this.i];
      let min: number;
      let max: number;
      if (q === '*') [min, max] = [0, Infinity];
      else if (q === '+') [min, max] = [1, Infinity];
      else if (q === '?') [min, max] = [0, 1];
      else if (q === '{' && /^\{\d*(,\d*)?\}/.test(this.src.slice(this.i))) {
        const m = /^\{(\d*)(,(\d*))?\}/.exec(this.src.slice(this.i))!;
        min = m[1] === '' ? 0 : Number(m[1]);
        max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
        if (max < min) throw new Unsupported(`bad repetition ${m[0]}`);
        this.i += m[0].length - 1;
      } else return f;
      this.i++;
      if (this.src[this.i] === '?' || this.src[this.i] === '+') this.i++; // lazy/possessive: same language
      f = this.quantify(f, min, max, atomStart, atomEnd);
    }
  }

  private copyAtom(start: number, end: number): Frag {
    const sub = new Parser(this.src.slice(start, end));
    sub.states = this.states;
    const f = sub.repeatOnce();
    this.states = sub.states;
    return f;
  }

  /** Parse exactly one atom (for copies of a repeated atom). */
  repeatOnce(): Frag {
    return this.atom();
  }

  private quantify(f: Frag, min: number, max: number, atomStart: number, atomEnd: number): Frag {
    const parts: Frag[] = [];
    const fresh = (k: number) => (k === 0 ? f : this.copyAtom(atomStart, atomEnd));
    let k = 0;
    for (; k < min; k++) parts.push(fresh(k));
    if (max === Infinity) {
      const body = fresh(k++);
      const split = this.state({ out: body.start });
      patch(body, split);
      parts.push({ start: split, ends: [{ s: split, which: 'out2' }] });
    } else {
      for (; k < max; k++) {
        const body = fresh(k);
        const split = this.state({ out: body.start });
        parts.push({ start: split, ends: [...body.ends, { s: split, which: 'out2' }] });
      }
    }
    if (parts.length === 0) {
      const e = this.state({});
      return { start: e, ends: [{ s: e, which: 'out' }] };
    }
    for (let j = 1; j < parts.length; j++) patch(parts[j - 1], parts[j].start);
    return { start: parts[0].start, ends: parts[parts.length - 1].ends };
  }

  private atom(): Frag {
    const ch = this.src[this.i++];
    let test: CharTest;
    if (ch === '(') {
      if (this.src[this.i] === '?') {
        const rest = this.src.slice(this.i);
        const named = /^\?P<[A-Za-z_]\w*>/.exec(rest);
        if (rest.startsWith('?:')) this.i += 2;
        else if (named) this.i += named[0].length;
        else throw new Unsupported('look-arounds, inline flags and named back-references');
      }
      const f = this.alternation();
      if (this.src[this.i++] !== ')') throw new Unsupported('unbalanced "("');
      return f;
    }
    if (ch === '[') test = this.charClass();
    else if (ch === '.') test = any;
    else if (ch === '\\') {
      if (this.i >= this.src.length) throw new Unsupported('a trailing backslash');
      test = escapeTest(this.src[this.i++]);
    } else if (ch === '*' || ch === '+' || ch === '?') throw new Unsupported(`a quantifier "${ch}" with nothing to repeat`);
    else if (ch === '^' || ch === '$') throw new Unsupported(`"${ch}" inside the pattern`);
    else {
      const code = ch.charCodeAt(0);
      test = (c) => c === code;
    }
    const s = this.state({ test });
    return { start: s, ends: [{ s, which: 'out' }] };
  }

  private charClass(): CharTest {
    let negate = false;
    if (this.src[this.i] === '^') {
      negate = true;
      this.i++;
    }
    const tests: CharTest[] = [];
    let first = true;
    while (this.i < this.src.length && (this.src[this.i] !== ']' || first)) {
      first = false;
      let lo: number;
      let single: CharTest | undefined;
      if (this.src[this.i] === '\\') {
        const e = this.src[this.i + 1];
        this.i += 2;
        if (e === undefined) throw new Unsupported('a trailing backslash');
        if (/[dDwWsS]/.test(e)) {
          tests.push(escapeTest(e));
          continue;
        }
        single = escapeTest(e);
        lo = e === 'n' ? 10 : e === 't' ? 9 : e.charCodeAt(0);
      } else lo = this.src.charCodeAt(this.i++);
      if (this.src[this.i] === '-' && this.src[this.i + 1] !== ']' && this.i + 1 < this.src.length) {
        this.i++;
        let hiCh = this.src[this.i++];
        if (hiCh === '\\') hiCh = this.src[this.i++] ?? '';
        const hi = hiCh.charCodeAt(0);
        if (hi < lo) throw new Unsupported('a reversed character range');
        tests.push((c) => c >= lo && c <= hi);
      } else tests.push(single ?? ((c) => c === lo));
    }
    if (this.src[this.i++] !== ']') throw new Unsupported('an unterminated "["');
    return negate ? (c) => c !== 10 && !tests.some((t) => t(c)) : (c) => tests.some((t) => t(c));
  }
}

function patch(f: Frag, to: State): void {
  for (const e of f.ends) e.s[e.which] = to;
}

/** A compiled key: `matches(name)` ⇔ Python `re.match(rf"(.*\.)?({key})$", name)`. */
export interface PatternKey {
  key: string;
  matches(name: string): boolean;
}

/** Compile one key, or throw BAD_ADAPTER naming the key and the file. */
export function compilePatternKey(key: string, file: string): PatternKey {
  const bad = (why: string) =>
    new MergelensError('BAD_ADAPTER', `rank_pattern/alpha_pattern key "${key.slice(0, 80)}" is not supported: ${why}`, {
      file,
      hint: 'use a module name suffix (e.g. "q_proj", "layers.3.mlp.down_proj") or a plain regular expression without back-references or look-arounds',
    });
  if (key.length > MAX_KEY_LENGTH) throw bad(`longer than ${MAX_KEY_LENGTH} characters`);
  let src = key;
  let anchored = false;
  if (src.startsWith('^')) {
    anchored = true;
    src = src.slice(1);
  }
  if (src.endsWith('$') && !src.endsWith('\\$')) src = src.slice(0, -1);
  let start: State;
  try {
    // (.*\.)?(key) — the optional prefix, unless the key is anchored at the start.
    const p = new Parser(anchored ? `(?:${src})` : `(?:.*\\.)?(?:${src})`);
    const f = p.parse();
    const accept: State = { accept: true };
    patch(f, accept);
    start = f.start;
  } catch (e) {
    if (e instanceof Unsupported) throw bad(e.message);
    if (e instanceof RangeError) throw bad('nested too deeply');
    throw e;
  }
  return { key, matches: (name) => simulate(start, name) };
}

function addState(set: Set<State>, s: State | undefined): void {
  // Iterative epsilon closure (a key nested thousands deep must not overflow the stack).
  const stack: State[] = [];
  if (s) stack.push(s);
  while (stack.length) {
    const t = stack.pop()!;
    if (set.has(t)) continue;
    set.add(t);
    if (!t.test) {
      if (t.out) stack.push(t.out);
      if (t.out2) stack.push(t.out2);
    }
  }
}

function simulate(start: State, name: string): boolean {
  let cur = new Set<State>();
  addState(cur, start);
  for (let i = 0; i < name.length && cur.size; i++) {
    const c = name.charCodeAt(i);
    const next = new Set<State>();
    for (const s of cur) if (s.test && s.test(c)) addState(next, s.out);
    cur = next;
  }
  for (const s of cur) if (s.accept) return true;
  return false;
}

/** The first key (in config order) whose pattern matches the module name, as PEFT picks it. */
export function firstMatchingKey(keys: readonly PatternKey[], module: string): string | undefined {
  for (const k of keys) if (k.matches(module)) return k.key;
  return undefined;
}
