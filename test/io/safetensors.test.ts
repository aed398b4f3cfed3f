import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsFile, parseSafetensorsBuffer } from '../../src/safetensors/reader.js';
import { createCheckpointWriter, writeSafetensors } from '../../src/safetensors/writer.js';
import { bf16BitsToF32, f16BitsToF32, numberToBf16Bits, numberToF16Bits, FLOAT_DTYPE_BYTES } from '../../src/safetensors/dtype.js';
import { MergelensError } from '../../src/errors.js';
import { f32Bytes, randomF32, rawFile, tempDir } from './raw.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** Independent expectation: what each dtype stores for a float32 value. */
function quantise(dtype: 'F32' | 'F64' | 'F16' | 'BF16', v: number): number {
  if (dtype === 'F16') return f16BitsToF32(numberToF16Bits(v));
  if (dtype === 'BF16') return bf16BitsToF32(numberToBf16Bits(v));
  return Math.fround(v);
}

describe('write → read round trip', () => {
  for (const dtype of ['F32', 'F64', 'F16', 'BF16'] as const) {
    it(`${dtype}: values, shapes, metadata and layout`, async () => {
      const a = randomF32(6 * 5, 1, 3);
      const b = randomF32(7, 2, 100);
      b[0] = NaN;
      b[1] = Infinity;
      b[2] = -0;
      const file = tmp.file(`rt-${dtype}.safetensors`);
      await writeSafetensors(
        file,
        [
          { name: 'b.bias', dtype, shape: [7], data: b },
          { name: 'a.weight', dtype, shape: [6, 5], data: a },
          { name: 'scalar', dtype, shape: [], data: [42.5] },
          { name: 'empty', dtype, shape: [0, 3], data: [] },
        ],
        { note: 'hello' },
      );
      const f = await SafetensorsFile.open(file);
      try {
        expect(f.names()).toEqual(['a.weight', 'b.bias', 'empty', 'scalar']);
        expect(f.metadata).toEqual({ format: 'pt', note: 'hello' });
        expect(f.entry('a.weight')!.shape).toEqual([6, 5]);
        expect(f.entry('scalar')!.shape).toEqual([]);
        expect(Array.from(await f.read('a.weight'))).toEqual(Array.from(a, (v) => quantise(dtype, v)));
        const rb = await f.read('b.bias');
        expect(Number.isNaN(rb[0])).toBe(true);
        expect(rb[1]).toBe(Infinity);
        expect(Object.is(rb[2], -0)).toBe(true);
        expect(Array.from(rb.slice(3))).toEqual(Array.from(b.slice(3), (v) => quantise(dtype, v)));
        expect(Array.from(await f.read('scalar'))).toEqual([42.5]);
        expect((await f.read('empty')).length).toBe(0);
        // chunked read = slice of the full read
        expect(Array.from(await f.read('a.weight', 7, 11))).toEqual(Array.from(await f.read('a.weight')).slice(7, 18));
        // layout: data start 8-aligned, every tensor aligned to its element size
        expect(f.header.dataStart % 8).toBe(0);
        for (const e of f.header.entries) expect(e.begin % FLOAT_DTYPE_BYTES[dtype]).toBe(0);
        // file size exactly 8 + N + data
        expect(readFileSync(file).length).toBe(f.header.dataStart + (6 * 5 + 7 + 1) * FLOAT_DTYPE_BYTES[dtype]);
      } finally {
        await f.close();
      }
    });
  }

  it('F64 keeps full double precision through readFloat64', async () => {
    const file = tmp.file('f64.safetensors');
    await writeSafetensors(file, [{ name: 'x', dtype: 'F64', shape: [3], data: Float64Array.from([0.1, 1 / 3, 1e300]) }]);
    const f = await SafetensorsFile.open(file);
    expect(Array.from(await f.readFloat64('x'))).toEqual([0.1, 1 / 3, 1e300]);
    expect((await f.read('x'))[0]).toBe(Math.fround(0.1));
    await f.close();
  });

  it('orders tensors by descending alignment then name, and pads the header with spaces', async () => {
    const file = tmp.file('order.safetensors');
    await writeSafetensors(file, [
      { name: 'z16', dtype: 'F16', shape: [3], data: [1, 2, 3] },
      { name: 'a16', dtype: 'BF16', shape: [1], data: [1] },
      { name: 'm32', dtype: 'F32', shape: [1], data: [1] },
      { name: 'q64', dtype: 'F64', shape: [1], data: [1] },
    ]);
    const bytes = readFileSync(file);
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const text = bytes.subarray(8, 8 + n).toString('utf8');
    expect(text.startsWith('{')).toBe(true);
    expect(/^[^ ]*\}( *)$/.test(text)).toBe(true);
    const hdr = JSON.parse(text);
    const order = Object.keys(hdr)
      .filter((k) => k !== '__metadata__')
      .sort((a, b) => hdr[a].data_offsets[0] - hdr[b].data_offsets[0]);
    expect(order).toEqual(['q64', 'm32', 'a16', 'z16']);
    expect(hdr.__metadata__).toEqual({ format: 'pt' });
  });
});

describe('unaligned tensor offsets (third-party writers)', () => {
  // Unpadded header and an odd-sized first tensor: F32/F16/F64 data at odd absolute offsets.
  const header = JSON.stringify({
    u8: { dtype: 'U8', shape: [3], data_offsets: [0, 3] },
    w32: { dtype: 'F32', shape: [2, 2], data_offsets: [3, 19] },
    h16: { dtype: 'F16', shape: [3], data_offsets: [19, 25] },
    d64: { dtype: 'F64', shape: [2], data_offsets: [25, 41] },
  });
  const data = new Uint8Array(41);
  data.set([9, 9, 9], 0);
  data.set(f32Bytes([1.5, -2, 3.25, 1e-3]), 3);
  data.set([0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00], 19); // 1, -2, 2^-24
  new DataView(data.buffer).setFloat64(25, 0.1, true);
  new DataView(data.buffer).setFloat64(33, -7, true);
  const bytes = rawFile(header, data);

  it('reads correctly from disk', async () => {
    const file = tmp.file('unaligned.safetensors', bytes);
    const f = await SafetensorsFile.open(file);
    expect(f.header.dataStart % 4).not.toBe(0);
    expect(Array.from(await f.read('w32'))).toEqual([1.5, -2, 3.25, Math.fround(1e-3)]);
    expect(Array.from(await f.read('w32', 1, 2))).toEqual([-2, 3.25]);
    expect(Array.from(await f.read('h16'))).toEqual([1, -2, 2 ** -24]);
    expect(Array.from(await f.readFloat64('d64'))).toEqual([0.1, -7]);
    expect(Array.from(await f.readBytes('u8'))).toEqual([9, 9, 9]);
    await expect(f.read('u8')).rejects.toMatchObject({ code: 'UNSUPPORTED_DTYPE' });
    await f.close();
  });

  it('reads correctly from an in-memory buffer (DataView fallback)', () => {
    const p = parseSafetensorsBuffer(bytes);
    expect(Array.from(p.tensor('w32'))).toEqual([1.5, -2, 3.25, Math.fround(1e-3)]);
    expect(Array.from(p.tensor('h16'))).toEqual([1, -2, 2 ** -24]);
    expect(Array.from(p.tensor('d64'))).toEqual([0.1, -7].map(Math.fround));
  });
});

describe('streaming checkpoint writer', () => {
  const specs = [
    { name: 'model.embed_tokens.weight', dtype: 'F32' as const, shape: [16, 8] },
    { name: 'model.layers.0.mlp.weight', dtype: 'F16' as const, shape: [8, 8] },
    { name: 'model.layers.1.mlp.weight', dtype: 'BF16' as const, shape: [8, 8] },
    { name: 'model.norm.weight', dtype: 'F32' as const, shape: [8] },
  ];
  const data = specs.map((s, i) => randomF32(s.shape.reduce((a, b) => a * b, 1), 10 + i));

  it('writes shards greedily in spec order with an index, tensors in any order', async () => {
    const out = tmp.file('sharded-out');
    // 512 + 128 + 128 + 32 bytes; limit 600 → [embed], [mlp0, mlp1, norm]
    const w = createCheckpointWriter(out, specs, { shardBytes: 600 });
    for (let i = specs.length - 1; i >= 0; i--) await w.write(specs[i].name, data[i]);
    const paths = await w.finish();
    expect(paths.map((p) => path.basename(p))).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json']);
    expect(readdirSync(out).sort()).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json']);
    const index = JSON.parse(readFileSync(path.join(out, 'model.safetensors.index.json'), 'utf8'));
    expect(index.metadata.total_size).toBe(512 + 128 + 128 + 32);
    expect(index.weight_map).toEqual({
      'model.embed_tokens.weight': 'model-00001-of-00002.safetensors',
      'model.layers.0.mlp.weight': 'model-00002-of-00002.safetensors',
      'model.layers.1.mlp.weight': 'model-00002-of-00002.safetensors',
      'model.norm.weight': 'model-00002-of-00002.safetensors',
    });
    const s2 = await SafetensorsFile.open(path.join(out, 'model-00002-of-00002.safetensors'));
    expect(Array.from(await s2.read('model.norm.weight'))).toEqual(Array.from(data[3]));
    expect(Array.from(await s2.read('model.layers.0.mlp.weight'))).toEqual(Array.from(data[1], (v) => quantise('F16', v)));
    await s2.close();
  });

  it('writes a single model.safetensors into a folder when under the shard size', async () => {
    const out = tmp.file('single-out');
    const w = createCheckpointWriter(out, specs, { shardBytes: 1e9 });
    for (let i = 0; i < specs.length; i++) await w.write(specs[i].name, data[i]);
    expect((await w.finish()).map((p) => path.basename(p))).toEqual(['model.safetensors']);
    expect(readdirSync(out)).toEqual(['model.safetensors']);
  });

  it('a file past the background-flush size (32 MiB) written in ranges reads back byte for byte', async () => {
    const out = tmp.file('flushed.safetensors');
    const rows = 5000, cols = 4096; // 40.96 MB of BF16, written 2 MiB-ish at a time
    const w = createCheckpointWriter(out, [{ name: 'w', dtype: 'BF16', shape: [rows, cols] }]);
    const bytes = new Uint8Array(rows * cols * 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    const step = 256 * cols;
    for (let e = 0; e < rows * cols; e += step) {
      const n = Math.min(step, rows * cols - e);
      await w.writeRangeBytes('w', e, n, bytes.subarray(2 * e, 2 * (e + n)));
    }
    await w.finish();
    const f = await SafetensorsFile.open(out);
    expect(Buffer.from(await f.readBytes('w')).equals(Buffer.from(bytes))).toBe(true);
    await f.close();
  });

  it('abort() leaves no file behind, and neither does finish() with a tensor missing', async () => {
    const out = tmp.file('aborted');
    const w = createCheckpointWriter(out, specs, { shardBytes: 600 });
    await w.write(specs[0].name, data[0]);
    expect(readdirSync(out).length).toBe(2); // temp shards exist while writing
    await w.abort();
    expect(readdirSync(out)).toEqual([]);

    const out2 = tmp.file('incomplete.safetensors');
    const w2 = createCheckpointWriter(out2, specs);
    await w2.write(specs[0].name, data[0]);
    await expect(w2.finish()).rejects.toMatchObject({ code: 'MISSING_TENSOR', message: expect.stringContaining('model.layers.0.mlp.weight') });
    expect(readdirSync(tmp.dir).filter((n) => n.includes('incomplete'))).toEqual([]);
  });

  it('rejects a wrong value count and names the tensor, leaving nothing', async () => {
    const out = tmp.file('wrongcount.safetensors');
    const w = createCheckpointWriter(out, specs);
    await w.write(specs[0].name, data[0]);
    await expect(w.write('model.norm.weight', new Float32Array(3))).rejects.toMatchObject({ code: 'SIZE_MISMATCH', tensor: 'model.norm.weight' });
    await w.abort();
    expect(readdirSync(tmp.dir).filter((n) => n.includes('wrongcount'))).toEqual([]);
  });

  it('never touches an existing file until finish() renames over it', async () => {
    const out = tmp.file('existing.safetensors', 'old contents');
    const w = createCheckpointWriter(out, specs.slice(3));
    await w.write('model.norm.weight', data[3]);
    expect(readFileSync(out, 'utf8')).toBe('old contents');
    await w.abort();
    expect(readFileSync(out, 'utf8')).toBe('old contents');
  });
});

describe('reader error paths that need a file', () => {
  it('missing file → NOT_FOUND naming it', async () => {
    await expect(SafetensorsFile.open(tmp.file('nope.safetensors'))).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('nope.safetensors') });
  });
  it('read outside the tensor → BAD_INPUT; unknown tensor → MISSING_TENSOR', async () => {
    const file = tmp.file('small.safetensors');
    writeFileSync(file, rawFile(JSON.stringify({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }), f32Bytes([1, 2])));
    const f = await SafetensorsFile.open(file);
    await expect(f.read('w', 1, 2)).rejects.toBeInstanceOf(MergelensError);
    await expect(f.read('v')).rejects.toMatchObject({ code: 'MISSING_TENSOR', tensor: 'v' });
    await f.close();
  });
});

describe('large files', () => {
  it('reads a chunk at a > 4 GiB offset of a (sparse) 6 GB file without loading it', async () => {
    // One F32 tensor of 1.5e9 elements: 6 GB of data, created sparse (no disk or RAM used).
    const numel = 1_500_000_000;
    const header = JSON.stringify({ big: { dtype: 'F32', shape: [30_000, 50_000], data_offsets: [0, numel * 4] } });
    const prefix = rawFile(header);
    const file = tmp.file('sparse.safetensors', prefix);
    const { truncateSync, openSync, writeSync, closeSync } = await import('node:fs');
    truncateSync(file, prefix.length + numel * 4);
    const fd = openSync(file, 'r+');
    const tail = f32Bytes([1.25, -3.5, 7]);
    const at = numel - 3;
    writeSync(fd, tail, 0, tail.length, prefix.length + at * 4);
    closeSync(fd);
    const f = await SafetensorsFile.open(file);
    expect(f.size).toBe(prefix.length + 6_000_000_000);
    expect(Array.from(await f.read('big', at - 1, 4))).toEqual([0, 1.25, -3.5, 7]);
    expect(f.location('big')!.end).toBe(prefix.length + 6_000_000_000);
    await f.close();
  });
});
