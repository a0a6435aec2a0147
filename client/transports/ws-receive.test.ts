import { Duplex } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { FastReceiveWebSocket } from './ws-receive.js';

/** What a client-side WebSocket did with the chunks: its events, and what it wrote back (close frames, pongs). */
type Event = readonly (string | number | boolean)[];

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/**
 * A client-side WebSocket on an in-process socket, set up by ws's own setSocket as ws's upgrade
 * handler calls it, fed `chunks` as the socket's 'data' events: ws alone (`fast` false) or the
 * client's class with the receive fast path (FastReceiveWebSocket). Masks of what it writes back
 * are fixed, so both runs write the same bytes.
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
  const Ws = fast ? FastReceiveWebSocket : WebSocket;
  // A null address makes no request; `_isServer` false makes it the client end (an unmasking-free Receiver, a masking Sender).
  const ws = new Ws(null as unknown as string, undefined, {} as never);
  (ws as unknown as { _isServer: boolean })._isServer = false;
  const generateMask = (m: Buffer) => m.fill(0x5a);
  (ws as unknown as { setSocket(s: Duplex, h: Buffer, o: object): void }).setSocket(sock, Buffer.alloc(0), { allowSynchronousEvents: true, maxPayload, generateMask });
  ws.on('message', (d: Buffer, isBinary: boolean) => events.push(['message', hex(d), isBinary, Buffer.isBuffer(d)]));
  ws.on('ping', (d: Buffer) => events.push(['ping', hex(d)]));
  ws.on('pong', (d: Buffer) => events.push(['pong', hex(d)]));
  ws.on('error', (e: Error & { code?: string }) => events.push(['error', e.code ?? e.message]));
  ws.on('close', (code: number, reason: Buffer) => events.push(['close', code, hex(reason)]));
  for (const c of chunks) sock.emit('data', Buffer.from(c)); // a copy each
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  ws.terminate();
  await new Promise((r) => setImmediate(r));
  return events;
}

/** One server frame of a kind, RFC 6455 §5.2 (unmasked unless the kind says otherwise). */
type Kind = 'binary' | 'binary16' | 'short16' | 'len64' | 'empty' | 'text' | 'ping' | 'pong' | 'close' | 'masked' | 'fragmented' | 'fragStart' | 'nested' | 'rsv1' | 'opcode3';

function header(b0: number, n: number, masked: boolean, lenForm: 7 | 16 | 64): number[] {
  const m = masked ? 0x80 : 0;
  if (lenForm === 7) return [b0, m | n];
  if (lenForm === 16) return [b0, m | 126, n >> 8, n & 0xff];
  return [b0, m | 127, 0, 0, 0, 0, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

function rawFrame(b0: number, payload: Uint8Array, masked = false, lenForm?: 7 | 16 | 64): number[] {
  const n = payload.length;
  const out = header(b0, n, masked, lenForm ?? (n < 126 ? 7 : 16));
  if (!masked) return [...out, ...payload];
  const key = [1, 2, 3, 4];
  out.push(...key);
  for (let i = 0; i < n; i++) out.push((payload[i] as number) ^ (key[i & 3] as number));
  return out;
}

function frameOf(kind: Kind, payload: Uint8Array): number[] {
  switch (kind) {
    case 'binary':
      return rawFrame(0x82, payload);
    case 'binary16':
      return rawFrame(0x82, payload, false, 16);
    case 'short16':
      return rawFrame(0x82, payload.subarray(0, 100), false, 16); // a 16-bit length under 126: ws takes it
    case 'len64':
      return rawFrame(0x82, payload, false, 64);
    case 'empty':
      return rawFrame(0x82, new Uint8Array(0));
    case 'text':
      return rawFrame(0x81, payload);
    case 'ping':
      return rawFrame(0x89, payload.subarray(0, 125));
    case 'pong':
      return rawFrame(0x8a, payload.subarray(0, 125));
    case 'close':
      return rawFrame(0x88, new Uint8Array([0x03, 0xe8, 0x62, 0x79, 0x65]));
    case 'masked':
      return rawFrame(0x82, payload, true); // a server must not mask (RFC 6455 §5.1): ws fails the connection
    case 'fragmented':
      return [...rawFrame(0x02, payload.subarray(0, 3)), ...rawFrame(0x80, payload.subarray(3))];
    case 'fragStart':
      return rawFrame(0x02, payload.subarray(0, 3)); // a message's first fragment, no continuation: a binary frame next is ws's error
    case 'nested':
      return rawFrame(0x82, Uint8Array.from(rawFrame(0x82, payload.subarray(0, 20)))); // a payload that reads as a plain frame if cut after the header
    case 'rsv1':
      return rawFrame(0xc2, payload);
    case 'opcode3':
      return rawFrame(0x83, payload);
  }
}

const kindArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom<Kind>('binary') },
  { weight: 6, arbitrary: fc.constantFrom<Kind>('ping', 'pong', 'binary16', 'short16', 'len64', 'empty', 'text', 'fragmented', 'nested') },
  { weight: 1, arbitrary: fc.constantFrom<Kind>('close', 'masked', 'fragStart', 'rsv1', 'opcode3') },
);
// Short payloads (a fan-out's ~100 B Messages), and long ones past 126 bytes and maxPayload.
const payloadArb = fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 40 }), fc.uint8Array({ minLength: 90, maxLength: 1200, size: 'max' }));
const frameArb = fc.record({ kind: kindArb, payload: payloadArb });
const streamArb = fc.record({
  frames: fc.array(frameArb, { minLength: 1, maxLength: 12 }),
  cuts: fc.array(fc.nat(), { maxLength: 6 }),
  // Cuts a few bytes into a frame: a chunk then starts inside a frame's header or payload (ws is mid-frame).
  headerCuts: fc.array(fc.record({ frame: fc.nat(), at: fc.nat(11) }), { maxLength: 4 }),
  maxPayload: fc.constantFrom(0, 100, 300, 1000, 1 << 20),
});

function chunksOf(frames: readonly { kind: Kind; payload: Uint8Array }[], cuts: readonly number[], headerCuts: readonly { frame: number; at: number }[] = []): Uint8Array[] {
  const starts: number[] = [];
  const all: number[] = [];
  for (const f of frames) {
    starts.push(all.length);
    all.push(...frameOf(f.kind, f.payload));
  }
  const bytes = Uint8Array.from(all);
  const near = headerCuts.map((h) => (starts[h.frame % starts.length] as number) + h.at);
  const at = [...new Set([...cuts, ...near].map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...at, bytes.length]) {
    if (c > prev) out.push(bytes.subarray(prev, c));
    prev = c;
  }
  return out;
}

describe('client ws-receive: the receive fast path equals ws alone', () => {
  test('any server frames, cut into any chunks: the same messages (bytes, binary, Buffer), control frames, errors, closes and writes', async () => {
    await fc.assert(
      fc.asyncProperty(streamArb, async ({ frames, cuts, headerCuts, maxPayload }) => {
        const chunks = chunksOf(frames, cuts, headerCuts);
        const slow = await feed(chunks, maxPayload, false);
        const fast = await feed(chunks, maxPayload, true);
        expect(fast).toEqual(slow);
      }),
      { numRuns: 400 },
    );
  });

  test('a burst of plain binary frames in one chunk, as a fan-out sends them, is read by the fast path', async () => {
    const frames = [8, 64, 100, 125, 126, 200, 1100].map((n) => ({ kind: 'binary' as Kind, payload: new Uint8Array(n).map((_, i) => i * 7) }));
    const chunks = chunksOf(frames, []);
    const fast = await feed(chunks, 1 << 20, true);
    expect(fast.filter((e) => e[0] === 'message').map((e) => (e[1] as string).length / 2)).toEqual([8, 64, 100, 125, 126, 200, 1100]);
    expect(fast).toEqual(await feed(chunks, 1 << 20, false));
  });

  test('a chunk that starts where ws is mid-message or mid-frame goes to ws (fragment open, payload that looks like a frame, half a header)', async () => {
    const p = new Uint8Array(30).map((_, i) => i + 1);
    const cases: Uint8Array[][] = [
      [Uint8Array.from(frameOf('fragStart', p)), Uint8Array.from(frameOf('binary', p))],
      [Uint8Array.from(frameOf('nested', p)).subarray(0, 2), Uint8Array.from(frameOf('nested', p)).subarray(2)],
      [Uint8Array.from([...frameOf('binary', p), 0x82]), Uint8Array.from([...frameOf('binary', p).slice(1), ...frameOf('binary', p)])],
      // ws holds the first header byte; the next chunk starts 0x82 (a masked 2-byte frame's second byte), then a key that reads as a plain frame.
      [Uint8Array.of(0x82), Uint8Array.from(rawFrame(0x82, Uint8Array.of(9, 9), true).slice(1))],
      [Uint8Array.from(frameOf('binary16', new Uint8Array(200))).subarray(0, 3), Uint8Array.from(frameOf('binary16', new Uint8Array(200))).subarray(3)],
    ];
    for (const chunks of cases) {
      const slow = await feed(chunks, 1 << 20, false);
      expect(await feed(chunks, 1 << 20, true)).toEqual(slow);
    }
  });

  test('the hook is in place: ws’s Receiver.write is the fast one after setSocket', () => {
    const ws = new FastReceiveWebSocket(null as unknown as string, undefined, {} as never);
    (ws as unknown as { setSocket(s: Duplex, h: Buffer, o: object): void }).setSocket(new Duplex({ read() {}, write(_c, _e, cb) { cb(); } }), Buffer.alloc(0), {});
    expect((ws as unknown as { _receiver: { write: { name: string } } })._receiver.write.name).toBe('fastWrite');
    ws.terminate();
  });
});
