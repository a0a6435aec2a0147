import { Duplex } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { PeerWebSocket } from './ws.js';
import { receiveFast, unmaskInPlace } from './ws-receive.js';

/** What a server-side WebSocket did with the chunks: its events, and what it wrote back (close frames, pongs). */
type Event = readonly (string | number | boolean)[];

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/**
 * A server-side WebSocket on an in-process socket (ws's own setSocket, as WebSocketServer calls it),
 * fed `chunks` as the socket's 'data' events: ws alone (`fast` false) or the server's class with the
 * receive fast path (PeerWebSocket, ws-receive.ts).
 */
async function feed(chunks: readonly Uint8Array[], maxPayload: number, fast: boolean): Promise<Event[]> {
  const events: Event[] = [];
  const sock = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      events.push(['wrote', hex(chunk)]);
      cb();
    },
  });
  const ws = fast ? new PeerWebSocket(null as unknown as string, undefined, {} as never) : new WebSocket(null as unknown as string, undefined, {} as never);
  (ws as unknown as { setSocket(s: Duplex, h: Buffer, o: object): void }).setSocket(sock, Buffer.alloc(0), { allowSynchronousEvents: true, maxPayload });
  ws.on('message', (d: Buffer, isBinary: boolean) => events.push(['message', hex(d), isBinary, Buffer.isBuffer(d)]));
  ws.on('ping', (d: Buffer) => events.push(['ping', hex(d)]));
  ws.on('pong', (d: Buffer) => events.push(['pong', hex(d)]));
  ws.on('error', (e: Error & { code?: string }) => events.push(['error', e.code ?? e.message]));
  ws.on('close', (code: number, reason: Buffer) => events.push(['close', code, hex(reason)]));
  for (const c of chunks) sock.emit('data', Buffer.from(c)); // a copy each: both paths unmask in place
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  ws.terminate();
  await new Promise((r) => setImmediate(r));
  return events;
}

/** One client frame of a kind, RFC 6455 §5.2 (masked unless the kind says otherwise). */
type Kind = 'binary' | 'binary16' | 'short16' | 'len64' | 'empty' | 'text' | 'ping' | 'pong' | 'close' | 'unmasked' | 'fragmented' | 'rsv1' | 'opcode3';

function header(b0: number, n: number, masked: boolean, lenForm: 7 | 16 | 64): number[] {
  const m = masked ? 0x80 : 0;
  if (lenForm === 7) return [b0, m | n];
  if (lenForm === 16) return [b0, m | 126, n >> 8, n & 0xff];
  return [b0, m | 127, 0, 0, 0, 0, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

function rawFrame(b0: number, payload: Uint8Array, key: readonly number[], masked = true, lenForm?: 7 | 16 | 64): number[] {
  const n = payload.length;
  const out = header(b0, n, masked, lenForm ?? (n < 126 ? 7 : 16));
  if (!masked) return [...out, ...payload];
  out.push(...key);
  for (let i = 0; i < n; i++) out.push((payload[i] as number) ^ (key[i & 3] as number));
  return out;
}

function frameOf(kind: Kind, payload: Uint8Array, key: readonly number[]): number[] {
  switch (kind) {
    case 'binary':
      return rawFrame(0x82, payload, key);
    case 'binary16':
      return rawFrame(0x82, payload, key, true, 16);
    case 'short16':
      return rawFrame(0x82, payload.subarray(0, 100), key, true, 16); // a 16-bit length under 126: ws takes it
    case 'len64':
      return rawFrame(0x82, payload, key, true, 64);
    case 'empty':
      return rawFrame(0x82, new Uint8Array(0), key);
    case 'text':
      return rawFrame(0x81, payload, key);
    case 'ping':
      return rawFrame(0x89, payload.subarray(0, 125), key);
    case 'pong':
      return rawFrame(0x8a, payload.subarray(0, 125), key);
    case 'close':
      return rawFrame(0x88, new Uint8Array([0x03, 0xe8, 0x62, 0x79, 0x65]), key);
    case 'unmasked':
      return rawFrame(0x82, payload, key, false);
    case 'fragmented':
      return [...rawFrame(0x02, payload.subarray(0, 3), key), ...rawFrame(0x80, payload.subarray(3), key)];
    case 'rsv1':
      return rawFrame(0xc2, payload, key);
    case 'opcode3':
      return rawFrame(0x83, payload, key);
  }
}

const kindArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom<Kind>('binary') },
  { weight: 6, arbitrary: fc.constantFrom<Kind>('ping', 'pong', 'binary16', 'short16', 'len64', 'empty', 'text', 'fragmented') },
  { weight: 1, arbitrary: fc.constantFrom<Kind>('close', 'unmasked', 'rsv1', 'opcode3') },
);
const keyArb = fc.oneof(fc.constant([0, 0, 0, 0]), fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }));
// Short payloads, and long ones (fast-check keeps arrays short unless told: `size: 'max'`) past the word-wise unmask and maxPayload.
const payloadArb = fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 40 }), fc.uint8Array({ minLength: 90, maxLength: 1200, size: 'max' }));
const frameArb = fc.record({ kind: kindArb, payload: payloadArb, key: keyArb });
// Frames of the size the echo sends (64 B and 1 KiB payloads in an Envelope), and odd ones around the limits.
const streamArb = fc.record({
  frames: fc.array(frameArb, { minLength: 1, maxLength: 12 }),
  cuts: fc.array(fc.nat(), { maxLength: 6 }),
  maxPayload: fc.constantFrom(0, 100, 300, 1000, 1 << 20),
});

function chunksOf(frames: readonly { kind: Kind; payload: Uint8Array; key: readonly number[] }[], cuts: readonly number[]): Uint8Array[] {
  const bytes = Uint8Array.from(frames.flatMap((f) => frameOf(f.kind, f.payload, f.key)));
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...at, bytes.length]) {
    if (c > prev) out.push(bytes.subarray(prev, c));
    prev = c;
  }
  return out;
}

describe('ws-receive: the receive fast path equals ws alone', () => {
  test('any frames, cut into any chunks: the same messages (bytes, binary, Buffer), control frames, errors, closes and writes', async () => {
    await fc.assert(
      fc.asyncProperty(streamArb, async ({ frames, cuts, maxPayload }) => {
        const chunks = chunksOf(frames, cuts);
        const slow = await feed(chunks, maxPayload, false);
        const fast = await feed(chunks, maxPayload, true);
        expect(fast).toEqual(slow);
      }),
      { numRuns: 400 },
    );
  });

  test('a burst of plain binary frames in one chunk, as the echo sends them', async () => {
    const key = [1, 2, 3, 4];
    const frames = [8, 64, 90, 200, 1100].map((n) => ({ kind: 'binary' as Kind, payload: new Uint8Array(n).map((_, i) => i * 7), key }));
    const chunks = chunksOf(frames, []);
    const fast = await feed(chunks, 1 << 20, true);
    expect(fast.filter((e) => e[0] === 'message').map((e) => (e[1] as string).length / 2)).toEqual([8, 64, 90, 200, 1100]);
    expect(fast).toEqual(await feed(chunks, 1 << 20, false));
  });

  test('installed per prototype, not per socket: no own write, one shared prototype, plain frames never reach ws\'s parser', () => {
    const open = (fast = true) => {
      const sock = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
      const ws = fast ? new PeerWebSocket(null as unknown as string, undefined, {} as never) : new WebSocket(null as unknown as string, undefined, {} as never);
      (ws as unknown as { setSocket(s: Duplex, h: Buffer, o: object): void }).setSocket(sock, Buffer.alloc(0), { allowSynchronousEvents: true, maxPayload: 1 << 20 });
      return { ws, sock, r: (ws as unknown as { _receiver: object })._receiver };
    };
    const a = open();
    const b = open();
    const plain = open(false);
    expect(Object.hasOwn(a.r, 'write')).toBe(false);
    expect(Object.getPrototypeOf(a.r)).toBe(Object.getPrototypeOf(b.r));
    expect(receiveFast(a.ws)).toBe(true); // again: a no-op, the prototype is not stacked
    expect(Object.getPrototypeOf(a.r)).toBe(Object.getPrototypeOf(b.r));
    const base = Object.getPrototypeOf(Object.getPrototypeOf(a.r)) as object;
    expect(Object.getPrototypeOf(plain.r)).toBe(base); // inherits ws's own Receiver: every other rule is ws's
    expect(Object.getPrototypeOf(a.r)).not.toBe(base);
    // ws's parser records each frame's length it reads (`_payloadLength`): a plain frame leaves it untouched, a ping goes to ws.
    const got: number[] = [];
    a.ws.on('message', (d: Buffer) => got.push(d.length));
    const parsed = () => (a.r as { _payloadLength?: number })._payloadLength;
    expect(parsed()).toBe(0);
    a.sock.emit('data', Buffer.from(rawFrame(0x82, new Uint8Array(10), [9, 8, 7, 6])));
    expect(got).toEqual([10]);
    expect(parsed()).toBe(0);
    a.sock.emit('data', Buffer.from(rawFrame(0x89, new Uint8Array(3), [9, 8, 7, 6])));
    expect(parsed()).toBe(3);
    for (const s of [a, b, plain]) s.ws.terminate();
  });

  test('unmaskInPlace equals the byte loop of RFC 6455 §5.3 at any offset and length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600, size: 'max' }), fc.nat(7), fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), (data, off, key) => {
        const buf = new Uint8Array(off + 4 + data.length);
        buf.set(key, off);
        buf.set(data, off + 4);
        const view = new Uint8Array(buf.buffer, 0, buf.length); // byteOffset 0: `off` moves the alignment
        unmaskInPlace(view, off, off + 4, data.length);
        const want = data.map((b, i) => b ^ (key[i & 3] as number));
        expect(hex(buf.subarray(off + 4))).toBe(hex(want));
      }),
      { numRuns: 1000 },
    );
  });
});
