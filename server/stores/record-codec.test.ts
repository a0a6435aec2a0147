import { describe, expect, test } from 'vitest';
import { sampleRecord } from './contract.js';
import { decodeRecord, encodeRecord, RecordCodecError } from './record-codec.js';

describe('SessionRecord codec', () => {
  test('round-trips bigints, bytes, optional fields and the machine snapshot', () => {
    const bytes = Buffer.from([0, 1, 2, 255]); // a Buffer, as the server's frames are
    const r = sampleRecord({
      expiresAtMs: 1_700_000_150_000,
      outbound: { next: 2n ** 63n, acked: 9n, replay: [{ seq: 10n, bytes }, { seq: 11n, bytes: new Uint8Array(0) }] },
      inbound: { lastProcessed: 5n, lastAckSent: 4n },
      machine: { value: { attached: { liveness: 'waiting' } }, context: { missed: 1, list: [1, 'x', null], big: 3n } },
      owner: { nodeId: 'n1', fence: 7 },
      isContinuityLost: true,
    });
    const text = encodeRecord(r);
    expect(typeof text).toBe('string');
    const back = decodeRecord(text);
    expect(back).toEqual({ ...r, outbound: { ...r.outbound, replay: [{ seq: 10n, bytes: new Uint8Array([0, 1, 2, 255]) }, { seq: 11n, bytes: new Uint8Array(0) }] } });
    expect(back.outbound.replay[0]?.bytes).toBeInstanceOf(Uint8Array);
    expect(decodeRecord(encodeRecord(back))).toEqual(back);
  });

  test('a record with a missing or mistyped field is refused by name', () => {
    const good = JSON.parse(encodeRecord(sampleRecord())) as Record<string, unknown>;
    expect(() => decodeRecord('{')).toThrow(RecordCodecError);
    expect(() => decodeRecord(JSON.stringify({ ...good, id: 3 }))).toThrow(/id/);
    expect(() => decodeRecord(JSON.stringify({ ...good, outbound: { next: 1, acked: 0, replay: [] } }))).toThrow(/next/);
  });
});
