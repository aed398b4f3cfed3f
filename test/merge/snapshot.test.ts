/**
 * Every method's written bytes equal the recorded ones (test/merge/snapshot/merge-hashes.json,
 * made by the float32 pipeline before the fused WebAssembly merge path; see cases.ts) — for the
 * default chunking and for small row chunks, so the fused path's chunking, read-ahead, TIES
 * prescan and in-kernel DARE draws change nothing.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OUT_DTYPES, runCase, snapshotCases } from './snapshot/cases.js';

const recorded = JSON.parse(readFileSync(path.join(import.meta.dirname, 'snapshot/merge-hashes.json'), 'utf8')) as { hashes: Record<string, string> };

describe('merge output snapshot (bit-identical to the float32 pipeline)', () => {
  const cases = snapshotCases();
  it('covers every method', () => {
    expect(new Set(cases.map((c) => c.method))).toEqual(new Set(['weight_avg', 'task_arithmetic', 'ties', 'dare', 'dare_ties', 'slerp', 'tsv', 'iso_c']));
    expect(Object.keys(recorded.hashes).length).toBe(cases.length * OUT_DTYPES.length);
  });
  for (const c of cases) {
    it(c.id, async () => {
      for (const dtype of OUT_DTYPES) {
        // whole tensors, row chunks of ~3 rows of the 32-wide tensors, and (F32 inputs) one-row chunks
        for (const chunkElements of c.id.startsWith('f32/') ? [undefined, 100, 1] : [undefined, 100]) {
          expect(await runCase(c, dtype, chunkElements), `${dtype}, chunkElements ${chunkElements ?? 'default'}`).toBe(recorded.hashes[`${c.id}/${dtype}`]);
        }
      }
    });
  }
});
