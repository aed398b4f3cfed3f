/**
 * readTensor / readTensorRows: ndarray views over the float32 data a checkpoint decodes. Each
 * element is checked against Checkpoint.read's flat row-major data (an independent path: plain
 * index arithmetic), across a single file, a sharded folder and BF16 storage.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isMergelensError, openCheckpoint, readTensor, readTensorRows } from '../../src/index.js';
import { ROOT } from '../helpers/cli.js';

const tiny = (p: string) => path.join(ROOT, 'fixtures/tiny', p);

describe('tensor views (ndarray)', () => {
  it.each(['expert-a.safetensors', 'expert-a-sharded', 'bf16/expert-b.safetensors'])('%s: shape, strides and every element match the flat read', async (file) => {
    const ck = await openCheckpoint(tiny(file));
    try {
      for (const name of ['model.layers.0.mlp.down_proj.weight', 'model.norm.weight', 'lm_head.weight']) {
        const shape = ck.location(name)!.shape;
        const flat = await ck.read(name);
        const t = await readTensor(ck, name);
        expect(t.shape).toEqual(shape);
        expect(t.size).toBe(flat.length);
        // row-major strides: the last axis 1, each earlier one the product of the later sizes
        expect(t.stride).toEqual(shape.map((_, k) => shape.slice(k + 1).reduce((a, b) => a * b, 1)));
        if (shape.length === 2) {
          const [r, c] = shape;
          for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) expect(t.get(i, j)).toBe(flat[i * c + j]);
          // the transpose is a view: same numbers, swapped indices, no copy
          expect(t.transpose(1, 0).get(3, 1)).toBe(flat[1 * c + 3]);
          expect(t.transpose(1, 0).data).toBe(t.data);
        } else {
          for (let i = 0; i < shape[0]; i++) expect(t.get(i)).toBe(flat[i]);
        }
      }
    } finally {
      await ck.close();
    }
  });

  it('readTensorRows reads only rows [start, end) and indexes them from 0', async () => {
    const ck = await openCheckpoint(tiny('expert-a.safetensors'));
    try {
      const name = 'model.embed_tokens.weight';
      const [rows, cols] = ck.location(name)!.shape;
      const flat = await ck.read(name);
      const v = await readTensorRows(ck, name, 5, 9);
      expect(v.shape).toEqual([4, cols]);
      expect(v.data.length).toBe(4 * cols);
      for (let i = 0; i < 4; i++) for (let j = 0; j < cols; j++) expect(v.get(i, j)).toBe(flat[(5 + i) * cols + j]);
      expect((await readTensorRows(ck, name, rows, rows)).shape).toEqual([0, cols]);
      await expect(readTensorRows(ck, name, 0, rows + 1)).rejects.toThrow(`rows [0, ${rows + 1}) are outside tensor "${name}" with ${rows} rows`);
      const missing = await readTensor(ck, 'no.such.weight').catch((e: unknown) => e);
      expect(isMergelensError(missing) && missing.code).toBe('NOT_FOUND');
      expect((missing as Error).message).toContain('no tensor "no.such.weight"');
    } finally {
      await ck.close();
    }
  });
});
