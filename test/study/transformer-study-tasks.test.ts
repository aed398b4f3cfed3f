import { describe, expect, it } from 'vitest';
import { loadCmudict, loadSotu } from '../../src/study/transformer/data.js';
import {
  buildTextTaskData,
  candidateBytes,
  finalClass,
  getTextTask,
  passages,
  PASSAGE_BYTES,
  pretrainCorpus,
  primaryStress,
  syllableCount,
  TEXT_TASKS,
  type TextExample,
} from '../../src/study/transformer/tasks.js';

const SIZES = { train: 240, test: 60 };
const key = (e: TextExample) => `${Buffer.from(e.prompt).toString('latin1')}\u0000${Buffer.from(e.target).toString('latin1')}`;
const promptKey = (e: TextExample) => Buffer.from(e.prompt).toString('latin1');

describe('transformer study tasks', () => {
  it('phonetic labels match hand-read CMUdict entries', () => {
    const dict = new Map(loadCmudict().map((p) => [p.word, p]));
    // UNIVERSITY  Y UW2 N AH0 V ER1 S AH0 T IY0: 5 vowels, primary stress on the 3rd, ends in a vowel.
    const uni = dict.get('university')!;
    expect(uni.phones.join(' ')).toBe('Y UW2 N AH0 V ER1 S AH0 T IY0');
    expect([syllableCount(uni), primaryStress(uni), finalClass(uni)]).toEqual([5, 3, 'v']);
    // ELEPHANT  EH1 L AH0 F AH0 N T: 3 syllables, stress on the 1st, ends in a stop.
    expect([syllableCount(dict.get('elephant')!), primaryStress(dict.get('elephant')!), finalClass(dict.get('elephant')!)]).toEqual([3, 1, 's']);
    // CAT  K AE1 T: one syllable, stressed, ends in a stop. ABOUT  AH0 B AW1 T: stress on the 2nd.
    expect([syllableCount(dict.get('cat')!), primaryStress(dict.get('cat')!), finalClass(dict.get('cat')!)]).toEqual([1, 1, 's']);
    expect([syllableCount(dict.get('about')!), primaryStress(dict.get('about')!)]).toEqual([2, 2]);
    expect(finalClass(dict.get('sofa')!)).toBe('v');
    expect(finalClass(dict.get('fish')!)).toBe('f');
    expect(finalClass(dict.get('feel')!)).toBe('l');
  });

  it.each(TEXT_TASKS.map((t) => t.id))('%s: same seed → same bytes; other seed → other split; train and test disjoint', (id) => {
    const task = getTextTask(id);
    const a = buildTextTaskData(task, 1, SIZES);
    const b = buildTextTaskData(task, 1, SIZES);
    expect(a.train.map(key)).toEqual(b.train.map(key));
    expect(a.test.map(key)).toEqual(b.test.map(key));
    const c = buildTextTaskData(task, 2, SIZES);
    expect(c.test.map(key)).not.toEqual(a.test.map(key));
    // Disjoint: no test input occurs in the training split — the prompt (tag + input) of a
    // classification, the whole 32-byte window (context + targets) of a next-byte task.
    const k = task.kind === 'classify' ? promptKey : key;
    const train = new Set(a.train.map(k));
    expect(a.test.filter((e) => train.has(k(e)))).toEqual([]);
    // Every prompt starts with the task's tag; targets are label bytes for classification.
    const tag = Buffer.from(`${task.tag}|`);
    for (const e of [...a.train, ...a.test]) expect(Buffer.from(e.prompt.subarray(0, tag.length)).equals(tag)).toBe(true);
    const cand = candidateBytes(task);
    if (cand) {
      const C = cand.length;
      // Balanced classes: ⌊n/C⌋ examples of each label in both splits.
      for (const split of [a.train, a.test]) {
        const n = split === a.train ? SIZES.train : SIZES.test;
        for (const c of cand) expect(split.filter((e) => e.target.length === 1 && e.target[0] === c).length).toBe(Math.floor(n / C));
      }
    } else {
      expect(a.train.length).toBe(SIZES.train);
      expect(a.test.length).toBe(SIZES.test);
    }
  });

  it('speech passages of test documents never occur in the pretraining corpus; training ones do', () => {
    const corpus = pretrainCorpus(1).text;
    // Independently of tasks.ts: a speech is in the corpus iff its opening is.
    const speeches = loadSotu();
    const inCorpus = speeches.filter((s) => corpus.includes(s.text.slice(0, 200)));
    expect(inCorpus.length).toBeGreaterThan(150);
    expect(inCorpus.length).toBeLessThan(speeches.length);
    const party = buildTextTaskData(getTextTask('party'), 1, SIZES);
    const heldOut = speeches.filter((s) => !inCorpus.includes(s)).map((s) => Buffer.from(s.text));
    const held = inCorpus.map((s) => Buffer.from(s.text));
    // Bytes, not strings: a passage may end inside a multi-byte character.
    const passageOf = (e: TextExample) => Buffer.from(e.prompt.subarray(3, 3 + PASSAGE_BYTES));
    // Every test passage comes from a speech the corpus does not hold …
    for (const e of party.test) expect(heldOut.some((t) => t.includes(passageOf(e)))).toBe(true);
    // … and every training passage from one it holds (not necessarily the passage itself).
    for (const e of party.train.slice(0, 40)) expect(held.some((t) => t.includes(passageOf(e)))).toBe(true);
  });

  it('passages are whole-length, non-overlapping and start at a word', () => {
    expect(passages('one two three four five', 8).map((b) => Buffer.from(b).toString())).toEqual(['one two ', 'three fo']);
  });
});
