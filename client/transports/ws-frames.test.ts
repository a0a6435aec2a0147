import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import * as wsModule from 'ws';
import { HeldFrames, maskedHeaderSize, randomMask, writeMaskedFrame, type MaskSource } from './ws-frames.js';

// ws's own framing, the slow path this module replaces (ws/lib/sender.js).
interface FrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
  generateMask: (m: Buffer) => void;
}
const Sender = (wsModule as unknown as { Sender: unknown }).Sender as { frame(data: Buffer, o: FrameOptions): Buffer[] };
// ws's Receiver, to read frames back as a server would (unmasking them).
const Receiver = (wsModule as unknown as { Receiver: unknown }).Receiver as new (o: { isServer: boolean; maxPayload?: number }) => NodeJS.WritableStream & {
  on(ev: 'message', fn: (data: Buffer, isBinary: boolean) => void): void;
  on(ev: 'error', fn: (err: Error) => void): void;
};

/** What ws.send() puts on the wire for `bytes` with masking key `key`. */
function wsFrame(bytes: Uint8Array, key: Uint8Array): Buffer {
  const parts = Sender.frame(Buffer.from(bytes), {
    fin: true, opcode: 2, mask: true, readOnly: false, rsv1: false, generateMask: (m) => m.set(key),
  });
  return Buffer.concat(parts);
}

/** Hands out the given keys in turn. */
function keysOf(keys: readonly Uint8Array[]): MaskSource {
  let i = 0;
  return (out, at) => out.set(keys[i++ % keys.length] as Uint8Array, at);
}

// Sizes around every header boundary (125/126, 65,535/65,536) and the word masking threshold.
const payload = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 300 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, 1, 3, 4, 31, 32, 33, 125, 126, 127, 65_535, 65_536, 70_001).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })) },
);
const key = fc.uint8Array({ minLength: 4, maxLength: 4 });

describe('client ws framing (issue 16, RFC 6455 §5.2, §5.3)', () => {
  test('WIRE-1 a masked frame is byte for byte what ws.send() writes with the same key, at any alignment', () => {
    fc.assert(
      fc.property(payload, key, fc.nat(7), (bytes, k, offset) => {
        const n = maskedHeaderSize(bytes.byteLength) + bytes.byteLength;
        const backing = new Uint8Array(n + offset + 8);
        const out = new Uint8Array(backing.buffer, offset, n + 8);
        const end = writeMaskedFrame(out, 0, bytes, keysOf([k]));
        expect(end).toBe(n);
        expect(Buffer.from(out.subarray(0, end)).equals(wsFrame(bytes, k))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  test('WIRE-1 a tick of frames is the concatenation of ws.send()s frames, each with its own key', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(payload, key), { minLength: 1, maxLength: 12 }), (list) => {
        const held = new HeldFrames();
        for (const [b] of list) held.add(b);
        const expected = Buffer.concat(list.map(([b, k]) => wsFrame(b, k)));
        expect(held.bytes).toBe(expected.length);
        const out = held.take(keysOf(list.map(([, k]) => k)));
        expect(out.equals(expected)).toBe(true);
        expect(held.bytes).toBe(0);
        expect(held.frames.length).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  test('WIRE-1 ws reads the frames back as the payloads sent, with random keys', async () => {
    const list = fc.sample(payload, 60);
    const held = new HeldFrames();
    for (const b of list) held.add(b);
    const wire = held.take();
    const got: Buffer[] = [];
    const r = new Receiver({ isServer: true, maxPayload: 1 << 20 });
    r.on('message', (data, isBinary) => {
      expect(isBinary).toBe(true);
      got.push(data);
    });
    r.on('error', (err) => {
      throw err;
    });
    // Split the wire at an odd place, as TCP may.
    await new Promise<void>((resolve) => r.write(wire.subarray(0, 37), () => resolve()));
    await new Promise<void>((resolve) => r.write(wire.subarray(37), () => resolve()));
    expect(got.map((b) => Buffer.from(b).toString('hex'))).toEqual(list.map((b) => Buffer.from(b).toString('hex')));
  });

  test('RFC 6455 §5.3 each frame gets a fresh key from the CSPRNG pool', () => {
    const seen = new Set<string>();
    const out = new Uint8Array(4);
    for (let i = 0; i < 5000; i++) {
      randomMask(out, 0);
      seen.add(Buffer.from(out).toString('hex'));
    }
    // 5,000 draws from 2³² keys: a repeat or two is possible, a pattern is not.
    expect(seen.size).toBeGreaterThan(4990);
  });
});
