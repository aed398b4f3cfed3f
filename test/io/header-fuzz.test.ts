/**
 * Property test: thousands of mutated headers. Every input either parses consistently
 * (re-serialising the result and parsing again gives the same entries and metadata) or
 * fails with MergelensError — never another exception, never a hang.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeHeader, parseHeader, parseHeaderLength, type SafetensorsHeader } from '../../src/safetensors/header.js';
import { DTYPE_BITS } from '../../src/safetensors/dtype.js';
import { MergelensError } from '../../src/errors.js';

const DTYPES = Object.keys(DTYPE_BITS);

/** A valid header: random tensors laid out contiguously. */
const validHeader = fc
  .tuple(
    fc.uniqueArray(
      fc.record({
        name: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('model.layers.0.w', '__proto__', 'constructor', 'a"b', 'é\\n')),
        dtype: fc.constantFrom(...DTYPES),
        shape: fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 3 }),
      }),
      { selector: (t) => t.name, maxLength: 6 },
    ),
    fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 3 }),
  )
  .map(([tensors, metadata]) => {
    let off = 0;
    const entries = tensors
      .filter((t) => t.name !== '__metadata__')
      .map((t) => {
        const numel = t.shape.reduce((a, b) => a * b, 1);
        // keep F4/F6 sizes whole bytes by padding numel up
        const bits = DTYPE_BITS[t.dtype];
        const shape = (numel * bits) % 8 === 0 ? t.shape : [8];
        const bytes = (shape.reduce((a, b) => a * b, 1) * bits) / 8;
        const e = { name: t.name, dtype: t.dtype, shape, begin: off, end: off + bytes };
        off += bytes;
        return e;
      });
    return { bytes: encodeHeader(metadata, entries).subarray(8), dataLength: off };
  });

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), pos: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), pos: fc.nat(), text: fc.constantFrom('"', '{', '}', '[', ']', ',', ':', '-1', '1e400', 'null', '0', '\\', '"F32"', '9007199254740993', ' ', '\0') }),
  fc.record({ kind: fc.constant('delete' as const), pos: fc.nat(), len: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), pos: fc.nat() }),
);

function mutate(bytes: Uint8Array, muts: { kind: string; pos: number; value?: number; text?: string; len?: number }[]): Uint8Array {
  let b = Array.from(bytes);
  for (const m of muts) {
    const p = b.length ? m.pos % (b.length + 1) : 0;
    if (m.kind === 'flip' && b.length) b[p % b.length] = m.value!;
    else if (m.kind === 'insert') b.splice(p, 0, ...Buffer.from(m.text!, 'utf8'));
    else if (m.kind === 'delete') b.splice(p, m.len!);
    else if (m.kind === 'truncate') b = b.slice(0, p);
  }
  return Uint8Array.from(b);
}

function checkConsistent(h: SafetensorsHeader, fileSize: number | undefined) {
  const again = parseHeader(encodeHeader(h.metadata, h.entries).subarray(8), 'reparse');
  expect(again.entries).toEqual(h.entries);
  expect({ ...again.metadata }).toEqual({ ...h.metadata });
  // invariants of a successful parse
  let off = 0;
  for (const e of h.entries) {
    expect(e.begin).toBe(off);
    off = e.end;
  }
  if (fileSize !== undefined) expect(h.dataStart + h.dataLength).toBe(fileSize);
}

const outcomes = { parsed: 0, rejected: 0 };

function parseOrOwnError(bytes: Uint8Array, fileSize: number | undefined) {
  let h: SafetensorsHeader;
  try {
    h = parseHeader(bytes, 'fuzz.safetensors', fileSize);
  } catch (e) {
    if (!(e instanceof MergelensError)) throw new Error(`non-MergelensError thrown: ${String(e)}`);
    expect(e.message).toContain('fuzz.safetensors');
    outcomes.rejected++;
    return;
  }
  outcomes.parsed++;
  checkConsistent(h, fileSize);
}

describe('header parser under fuzzing', () => {
  it('valid headers parse and round-trip', () => {
    fc.assert(
      fc.property(validHeader, ({ bytes, dataLength }) => {
        const h = parseHeader(bytes, 'v', 8 + bytes.length + dataLength);
        checkConsistent(h, 8 + bytes.length + dataLength);
      }),
      { numRuns: 500 },
    );
  });

  it('mutated headers parse consistently or throw MergelensError', () => {
    fc.assert(
      fc.property(validHeader, fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), ({ bytes, dataLength }, muts, withSize) => {
        const m = mutate(bytes, muts);
        parseOrOwnError(m, withSize ? 8 + m.length + dataLength : undefined);
      }),
      { numRuns: 4000 },
    );
    // Both branches must really be exercised (mutations that keep a header valid, e.g. padding, and ones that break it).
    expect(outcomes.parsed).toBeGreaterThan(50);
    expect(outcomes.rejected).toBeGreaterThan(1000);
  });

  it('arbitrary JSON values and random bytes never crash the parser', () => {
    fc.assert(
      fc.property(fc.oneof(fc.json().map((s) => Buffer.from(s)), fc.uint8Array({ maxLength: 64 })), (b) => parseOrOwnError(Uint8Array.from(b), undefined)),
      { numRuns: 2000 },
    );
  });

  it('random 8-byte length prefixes are accepted only when within limits', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 24 }), fc.nat({ max: 1e9 }), (prefix, size) => {
        try {
          const n = parseHeaderLength(prefix, size, 'fuzz.safetensors');
          expect(n).toBeLessThanOrEqual(100_000_000);
          expect(8 + n).toBeLessThanOrEqual(size);
        } catch (e) {
          if (!(e instanceof MergelensError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
