import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { CarrierError, closeRecord, frameHeader, frameRecord, KEEPALIVE_RECORD, RecordDecoder, RecordKind, type CarrierRecord } from './http-carrier.js';

/** Split `bytes` at the given cut points (sorted, deduplicated, inside the buffer). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.byteLength + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...at, bytes.byteLength]) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

const record = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((envelope) => ({ kind: RecordKind.FRAME, envelope }) as CarrierRecord),
  fc.record({ code: fc.integer({ min: 1000, max: 4999 }), reason: fc.string({ maxLength: 40 }) }).map((r) => ({ kind: RecordKind.CLOSE, ...r }) as CarrierRecord),
  fc.constant({ kind: RecordKind.KEEPALIVE } as CarrierRecord),
);

function encodeRecord(r: CarrierRecord): Uint8Array {
  if (r.kind === RecordKind.FRAME) return frameRecord(r.envelope);
  if (r.kind === RecordKind.CLOSE) return closeRecord(r.code, r.reason);
  return KEEPALIVE_RECORD;
}

function normal(r: CarrierRecord): unknown {
  return r.kind === RecordKind.FRAME ? { kind: r.kind, envelope: [...r.envelope] } : r;
}

describe('HTTP carrier records (HT-2)', () => {
  test('HT-2 any sequence of records, cut into any chunks, decodes to the same records', () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 12 }), (records, cuts) => {
        const body = concat(records.map(encodeRecord));
        const d = new RecordDecoder(1024);
        const got = split(body, cuts).flatMap((c) => d.push(c));
        d.end();
        expect(got.map(normal)).toEqual(records.map(normal));
      }),
    );
  });

  test('HT-2 frameHeader followed by the Envelope is the same bytes as frameRecord', () => {
    const env = new Uint8Array([8, 1, 18, 0]);
    expect(concat([frameHeader(env.byteLength), env])).toEqual(frameRecord(env));
  });

  test('WIRE-4 a FRAME over the limit is refused from its header, before its payload arrives', () => {
    const d = new RecordDecoder(10);
    expect(() => d.push(frameHeader(11))).toThrow(CarrierError);
    try {
      new RecordDecoder(10).push(frameHeader(11));
    } catch (e) {
      expect((e as CarrierError).isTooBig).toBe(true);
    }
  });

  test('HT-2 an unknown kind, a malformed CLOSE and a body cut inside a record are errors', () => {
    expect(() => new RecordDecoder(10).push(new Uint8Array([9, 0, 0, 0, 0]))).toThrow(/unknown record kind/);
    expect(() => new RecordDecoder(10).push(new Uint8Array([RecordKind.CLOSE, 0, 0, 0, 1, 0]))).toThrow(/close record/);
    expect(() => new RecordDecoder(10).push(new Uint8Array([RecordKind.KEEPALIVE, 0, 0, 0, 1]))).toThrow(/keepalive/);
    const d = new RecordDecoder(10);
    d.push(frameRecord(new Uint8Array([1, 2, 3])).subarray(0, 6));
    expect(() => d.end()).toThrow(/ended inside a record/);
  });

  test('CC-1 a CLOSE reason is cut to 123 bytes at a character boundary', () => {
    const d = new RecordDecoder(10);
    const [r] = d.push(closeRecord(4000, 'é'.repeat(100)));
    expect(r?.kind).toBe(RecordKind.CLOSE);
    const reason = r?.kind === RecordKind.CLOSE ? r.reason : '';
    expect(new TextEncoder().encode(reason).byteLength).toBeLessThanOrEqual(123);
    expect(reason).toBe('é'.repeat(61));
  });

  test('a large FRAME in many small chunks is held without re-joining every chunk', () => {
    const env = new Uint8Array(100_000).fill(7);
    const d = new RecordDecoder(200_000);
    const rec = frameRecord(env);
    let got: CarrierRecord[] = [];
    for (let i = 0; i < rec.byteLength; i += 1000) got = got.concat(d.push(rec.subarray(i, i + 1000)));
    expect(got).toHaveLength(1);
    expect(got[0]?.kind === RecordKind.FRAME && got[0].envelope.byteLength).toBe(100_000);
    expect(d.bufferedBytes).toBe(0);
  });
});
