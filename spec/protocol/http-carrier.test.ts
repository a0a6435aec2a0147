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

/** The slow path: the whole body at once, read plainly with a DataView (as the decoder did before `feed`). */
function referenceDecode(body: Uint8Array, max: number): { records: CarrierRecord[]; error?: { message: string; isTooBig: boolean } } {
  const records: CarrierRecord[] = [];
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let at = 0;
  const fail = (message: string, isTooBig = false) => ({ records, error: { message, isTooBig } });
  while (at < body.byteLength) {
    if (body.byteLength - at < 5) return fail(`body ended inside a record (${body.byteLength - at} bytes left)`);
    const kind = body[at] as number;
    const length = view.getUint32(at + 1, false);
    if (kind === RecordKind.FRAME && length > max) return fail(`frame of ${length} bytes over the limit of ${max}`, true);
    if (kind === RecordKind.CLOSE && (length < 2 || length > 125)) return fail(`close record of ${length} bytes`);
    if (kind === RecordKind.KEEPALIVE && length !== 0) return fail(`keepalive record of ${length} bytes`);
    if (kind !== RecordKind.FRAME && kind !== RecordKind.CLOSE && kind !== RecordKind.KEEPALIVE) return fail(`unknown record kind ${kind}`);
    if (body.byteLength - at - 5 < length) return fail(`body ended inside a record (${body.byteLength - at} bytes left)`);
    const payload = body.subarray(at + 5, at + 5 + length);
    if (kind === RecordKind.FRAME) records.push({ kind, envelope: payload });
    else if (kind === RecordKind.CLOSE) records.push({ kind, code: view.getUint16(at + 5, false), reason: new TextDecoder().decode(payload.subarray(2)) });
    else records.push({ kind: RecordKind.KEEPALIVE });
    at += 5 + length;
  }
  return { records };
}

describe('RecordDecoder.feed, the send path\'s decoder (issue 16 deliverable 3: a fast path equals the slow path)', () => {
  /** Valid records, then maybe bytes that break the stream: a bad kind, an oversized or short CLOSE, a cut. */
  const body = fc
    .tuple(
      fc.array(record, { maxLength: 12 }),
      fc.oneof(
        fc.constant(new Uint8Array(0)),
        fc.uint8Array({ minLength: 1, maxLength: 12 }),
        fc.nat({ max: 5000 }).map((n) => frameHeader(n)),
        fc.integer({ min: 0, max: 200 }).map((n) => new Uint8Array([RecordKind.CLOSE, 0, 0, 0, n, 0, 0])),
      ),
    )
    .map(([records, tail]) => concat([...records.map(encodeRecord), tail]));

  test('HT-2 WIRE-4 any body, cut into any chunks: feed hands on the records the whole-body reading finds, and fails where and as it fails', () => {
    fc.assert(
      fc.property(body, fc.array(fc.nat(), { maxLength: 10 }), fc.constantFrom(300, 1024, 4096), (bytes, cuts, max) => {
        const want = referenceDecode(bytes, max);
        const got: CarrierRecord[] = [];
        const d = new RecordDecoder(max);
        let error: CarrierError | undefined;
        try {
          for (const c of split(bytes, cuts))
            d.feed(c, {
              frame: (envelope) => void got.push({ kind: RecordKind.FRAME, envelope: envelope.slice() }),
              close: (code, reason) => void got.push({ kind: RecordKind.CLOSE, code, reason }),
              keepalive: () => void got.push({ kind: RecordKind.KEEPALIVE }),
            });
          d.end();
        } catch (e) {
          error = e as CarrierError;
        }
        expect(got.map(normal)).toEqual(want.records.map(normal));
        if (want.error === undefined) expect(error).toBeUndefined();
        else {
          expect(error).toBeInstanceOf(CarrierError);
          expect(error?.isTooBig).toBe(want.error.isTooBig);
          // the "bytes left" of a cut body depends on where the last chunk ended; the kind of failure does not
          expect(error?.message.replace(/\(\d+ bytes left\)/, '')).toBe(want.error.message.replace(/\(\d+ bytes left\)/, ''));
        }
      }),
      { numRuns: 500 },
    );
  });
});
