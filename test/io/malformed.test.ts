/** One test per malformed-input case: the right error code, and a message naming the problem and the file/tensor. */
import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/safetensors/reader.js';
import type { ErrorCode } from '../../src/errors.js';
import { f32Bytes, rawFile, tempDir } from './raw.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const ok = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ __metadata__: { format: 'pt' }, a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] }, ...extra });

async function expectError(name: string, bytes: Uint8Array | string, code: ErrorCode, ...fragments: (string | RegExp)[]) {
  const file = tmp.file(name, bytes);
  let err: { code?: string; message: string } | undefined;
  try {
    const f = await SafetensorsFile.open(file);
    await f.close();
  } catch (e) {
    err = e as { code?: string; message: string };
  }
  expect(err, 'expected an error').toBeDefined();
  expect(err!.code, err!.message).toBe(code);
  expect(err!.message).toContain(name);
  for (const f of fragments) expect(err!.message).toMatch(f);
}

describe('malformed safetensors files', () => {
  it('well-formed control case opens', async () => {
    const f = await SafetensorsFile.open(tmp.file('good.safetensors', rawFile(ok(), f32Bytes([1, 2, 3]))));
    expect(Array.from(await f.read('a'))).toEqual([1, 2]);
    await f.close();
  });

  it('truncated data', () => expectError('trunc.safetensors', rawFile(ok(), f32Bytes([1, 2])), 'TRUNCATED', /truncated/, /need \d+ bytes/));
  it('truncated inside the header', () => expectError('trunc-hdr.safetensors', rawFile(ok()).subarray(0, 30), 'TRUNCATED', /header declares/));
  it('shorter than the 8-byte length', () => expectError('tiny.safetensors', new Uint8Array(5), 'TRUNCATED', /too short/));
  it('header not starting with {', () => expectError('nobrace.safetensors', rawFile(' ' + ok(), f32Bytes([1, 2, 3])), 'BAD_HEADER', /must start with "\{"/));
  it('NUL padding', () => expectError('nul.safetensors', rawFile(ok() + '\0\0\0', f32Bytes([1, 2, 3])), 'BAD_HEADER', /NUL/));
  it('space padding is fine', async () => {
    const f = await SafetensorsFile.open(tmp.file('spaces.safetensors', rawFile(ok() + '     ', f32Bytes([1, 2, 3]))));
    expect(f.names()).toEqual(['a', 'b']);
    await f.close();
  });
  it('invalid JSON', () => expectError('badjson.safetensors', rawFile('{"a": ', new Uint8Array(0)), 'BAD_HEADER', /not valid JSON/));
  it('overlapping offsets', () =>
    expectError(
      'overlap.safetensors',
      rawFile(JSON.stringify({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }), new Uint8Array(12)),
      'BAD_OFFSETS',
      /overlap/,
      /tensor "b"/,
    ));
  it('gap between tensors', () =>
    expectError(
      'gap.safetensors',
      rawFile(JSON.stringify({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }), new Uint8Array(12)),
      'BAD_OFFSETS',
      /gap/,
      /tensor "b"/,
    ));
  it('data not starting at 0', () =>
    expectError('start.safetensors', rawFile(JSON.stringify({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }), new Uint8Array(8)), 'BAD_OFFSETS', /gap/, /tensor "a"/));
  it('wrong byte size for the shape', () =>
    expectError(
      'size.safetensors',
      rawFile(JSON.stringify({ w: { dtype: 'F16', shape: [2, 3], data_offsets: [0, 8] } }), new Uint8Array(8)),
      'SIZE_MISMATCH',
      /span 8 bytes/,
      /needs 12/,
      /tensor "w"/,
    ));
  it('numel overflow is caught, not wrapped', () =>
    expectError(
      'overflow.safetensors',
      rawFile(JSON.stringify({ w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 4] } }), new Uint8Array(4)),
      'SIZE_MISMATCH',
      /tensor "w"/,
    ));
  it('declared header > 100 MB', () => expectError('huge.safetensors', rawFile(ok(), f32Bytes([1, 2, 3]), 200_000_000n), 'HEADER_TOO_LARGE', /exceeds the 100,000,000-byte limit/));
  it('Git LFS pointer', () =>
    expectError(
      'lfs.safetensors',
      'version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n',
      'LFS_POINTER',
      /Git LFS pointer/,
      /git lfs pull/,
    ));
  it('unknown dtype', () =>
    expectError('dtype.safetensors', rawFile(JSON.stringify({ w: { dtype: 'F17', shape: [1], data_offsets: [0, 4] } }), new Uint8Array(4)), 'UNSUPPORTED_DTYPE', /unknown dtype "F17"/, /tensor "w"/));
  it('quantised dtype opens but reading it is refused by name', async () => {
    const f = await SafetensorsFile.open(tmp.file('fp8.safetensors', rawFile(JSON.stringify({ q: { dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] } }), new Uint8Array(4))));
    await expect(f.read('q')).rejects.toMatchObject({ code: 'UNSUPPORTED_DTYPE', message: expect.stringMatching(/quantised or unsupported dtype F8_E4M3.*|tensor "q"/) });
    await f.close();
  });
  it('trailing bytes not covered by any tensor', () => expectError('trailing.safetensors', rawFile(ok(), f32Bytes([1, 2, 3, 4])), 'BAD_OFFSETS', /4 trailing bytes/));
  it('duplicate tensor key', () =>
    expectError(
      'dup.safetensors',
      rawFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4)),
      'BAD_HEADER',
      /duplicate key/,
      /tensor "a"/,
    ));
  it('non-string metadata value', () => expectError('meta.safetensors', rawFile(JSON.stringify({ __metadata__: { n: 3 } })), 'BAD_HEADER', /__metadata__\["n"\] must be a string/));
  it('entry without data_offsets', () => expectError('nooff.safetensors', rawFile(JSON.stringify({ w: { dtype: 'F32', shape: [1] } }), new Uint8Array(4)), 'BAD_HEADER', /data_offsets/, /tensor "w"/));
  it('header JSON that is an array', () => expectError('array.safetensors', rawFile('[1]'), 'BAD_HEADER', /must start with/));
  it('invalid UTF-8 in the header', () => {
    const bytes = rawFile('{"\u00e9":1}');
    bytes[10] = 0xff;
    return expectError('utf8.safetensors', bytes, 'BAD_HEADER', /UTF-8/);
  });
});
