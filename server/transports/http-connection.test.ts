import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import fc from 'fast-check';
import { describe, expect, test, vi } from 'vitest';
import { codeOf } from '../../spec/protocol/close-codes.js';
import { frameRecord, KEEPALIVE_RECORD, RecordDecoder, RecordKind, type CarrierRecord } from '../../spec/protocol/http-carrier.js';
import { systemClock } from '../clock.js';
import type { PeerSink } from '../transport.js';
import { HttpConnection, type HttpConnectionOptions } from './http-connection.js';

/** A ServerResponse stand-in: what was written, whether it ended or was destroyed. */
class FakeResponse extends EventEmitter {
  readonly writes: Uint8Array[] = [];
  status = 0;
  writableEnded = false;
  destroyed = false;
  writeHead(status: number): this {
    this.status = status;
    return this;
  }
  write(b: Uint8Array): boolean {
    this.writes.push(b);
    return true;
  }
  end(): void {
    this.writableEnded = true;
    this.emit('close');
  }
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
  records(): CarrierRecord[] {
    const d = new RecordDecoder(1 << 20);
    return this.writes.flatMap((w) => d.push(w));
  }
}

const opts: HttpConnectionOptions = {
  maxPayloadBytes: 1 << 20,
  closeTimeoutMs: 200,
  streamMaxBytes: 1 << 20,
  streamMaxMs: 10_000,
  pollHoldMs: 10_000,
  receiveGapMs: 10_000,
  maxRetainedBytes: 10_000,
  timers: systemClock,
};

function conn(o: Partial<HttpConnectionOptions> = {}): { c: HttpConnection; closed: number[]; gone: string[] } {
  const closed: number[] = [];
  const gone: string[] = [];
  const c = new HttpConnection('id', undefined, { ...opts, ...o }, (x) => gone.push(x.id));
  const sink: PeerSink = { frame: () => {}, pong: () => {}, closed: (code) => closed.push(code), protocolError: () => {} };
  c.sink = sink;
  return { c, closed, gone };
}

const res = () => new FakeResponse();
const asRes = (r: FakeResponse) => r as unknown as ServerResponse;
const tick = () => new Promise((r) => process.nextTick(r));

describe('HttpConnection (a carrier connection as a PeerTransport)', () => {
  test('HT-9 frames written in one tick go out in one write, in order, one Envelope per FRAME record', async () => {
    const { c } = conn();
    const r = res();
    c.openReceive(asRes(r), 'stream', 0);
    expect(r.writes).toHaveLength(1); // the KEEPALIVE
    for (let i = 1; i <= 5; i++) c.write(new Uint8Array([i, i]));
    expect(r.writes).toHaveLength(1);
    await tick();
    expect(r.writes).toHaveLength(2);
    const frames = r.records().filter((x) => x.kind === RecordKind.FRAME);
    expect(frames.map((f) => (f.kind === RecordKind.FRAME ? f.envelope[0] : 0))).toEqual([1, 2, 3, 4, 5]);
    c.terminate();
  });

  test('HT-16 bufferedAmount counts frames until a receive acknowledges them; write callbacks run then', async () => {
    const { c } = conn();
    const flushed: number[] = [];
    c.write(new Uint8Array(100));
    c.write(new Uint8Array(50), () => flushed.push(2));
    expect(c.bufferedAmount).toBe(150); // queued, no receive open
    const r1 = res();
    c.openReceive(asRes(r1), 'stream', 0);
    expect(c.bufferedAmount).toBe(150); // written, not acknowledged
    expect(r1.writableEnded).toBe(true); // a write waits for a drain: the stream ends so the client acks (HT-16)
    expect(flushed).toEqual([]);
    const r2 = res();
    c.openReceive(asRes(r2), 'stream', 1);
    expect(c.bufferedAmount).toBe(50);
    expect(flushed).toEqual([]);
    c.openReceive(asRes(res()), 'stream', 2);
    expect(c.bufferedAmount).toBe(0);
    expect(flushed).toEqual([2]);
    c.terminate();
  });

  test('HT-16 a client that never acknowledges cannot grow the connection past its bound: it is cut (1006)', async () => {
    const { c, closed } = conn({ maxRetainedBytes: 1000 });
    const r = res();
    c.openReceive(asRes(r), 'stream', 0);
    for (let i = 0; i < 20; i++) c.write(new Uint8Array(100));
    expect(c.isGone).toBe(true);
    expect(r.destroyed).toBe(true);
    await tick();
    expect(closed).toEqual([1006]);
  });

  test('HT-11 terminate cuts the open receive without a CLOSE record, after what was batched', async () => {
    const { c, closed, gone } = conn();
    const r = res();
    c.openReceive(asRes(r), 'stream', 0);
    c.write(new Uint8Array([7]));
    c.terminate();
    expect(r.destroyed).toBe(true);
    const kinds = r.records().map((x) => x.kind);
    expect(kinds).toEqual([RecordKind.KEEPALIVE, RecordKind.FRAME]);
    expect(gone).toEqual(['id']);
    await tick();
    expect(closed).toEqual([1006]);
  });

  test('HT-10 CC-10 a close with no receive open waits for one; none within the close timeout → gone without it', async () => {
    const { c, closed } = conn({ closeTimeoutMs: 50 });
    c.close('SERVICE_RESTART', 'bye');
    expect(c.isOpen).toBe(false);
    await vi.waitFor(() => expect(closed).toEqual([codeOf('SERVICE_RESTART')]), { timeout: 2000 });
    expect(c.isGone).toBe(true);
  });

  test('HT-10 a close after frames carries them first, then the CLOSE record, then the response ends', async () => {
    const { c, closed } = conn();
    c.write(new Uint8Array([1]));
    c.close('NORMAL', 'done');
    c.write(new Uint8Array([2])); // after the close: dropped, as on a closing WebSocket
    const r = res();
    c.openReceive(asRes(r), 'poll', 0);
    const recs = r.records();
    expect(recs.map((x) => x.kind)).toEqual([RecordKind.FRAME, RecordKind.CLOSE]);
    expect(recs[1]).toMatchObject({ code: 1000, reason: 'done' });
    expect(r.writableEnded).toBe(true);
    await tick();
    expect(closed).toEqual([1000]);
  });

  test('HT-8 HT-10 CC-10 a close behind more frames than one response carries: the rest and the CLOSE record come on the next receive, within the close timeout', async () => {
    const { c, closed } = conn({ streamMaxBytes: 250, closeTimeoutMs: 100 });
    for (let i = 0; i < 4; i++) c.write(new Uint8Array(100));
    c.close('NORMAL', '');
    const r1 = res();
    c.openReceive(asRes(r1), 'stream', 0);
    expect(r1.records().filter((x) => x.kind === RecordKind.FRAME)).toHaveLength(2);
    expect(r1.writableEnded).toBe(true);
    const r2 = res();
    c.openReceive(asRes(r2), 'stream', 2);
    expect(r2.records().map((x) => x.kind)).toEqual([RecordKind.KEEPALIVE, RecordKind.FRAME, RecordKind.FRAME, RecordKind.CLOSE]);
    await tick();
    expect(closed).toEqual([1000]);

    const other = conn({ streamMaxBytes: 250, closeTimeoutMs: 50 });
    for (let i = 0; i < 4; i++) other.c.write(new Uint8Array(100));
    other.c.close('NORMAL', '');
    other.c.openReceive(asRes(res()), 'stream', 0);
    await vi.waitFor(() => expect(other.closed).toEqual([1000]), { timeout: 2000 }); // no second receive: gone after the close timeout
  });

  test('HT-12 no receive open for the gap: the connection is gone as 1006', async () => {
    const { c, closed } = conn({ receiveGapMs: 30 });
    await vi.waitFor(() => expect(closed).toEqual([1006]), { timeout: 2000 });
    expect(c.isGone).toBe(true);
  });

  test('HT-9 HT-7 the burst writer (one slab buffer per burst, corked) writes the bytes of KEEPALIVE then frameRecord of each frame, over any bursts and Acks', async () => {
    // issue 16 deliverable 3: the fast path (headers written in place into a slab) equals the slow path
    // (frameRecord per frame, concatenated), including bursts past the slab's bound.
    const frame = fc.oneof(fc.uint8Array({ maxLength: 2000 }), fc.integer({ min: 30_000, max: 40_000 }).map((n) => new Uint8Array(n).fill(n & 0xff)));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(frame, { maxLength: 8 }), { maxLength: 6 }), fc.array(fc.boolean(), { maxLength: 6 }), async (bursts, reopen) => {
        const { c } = conn({ maxRetainedBytes: 1 << 30, streamMaxBytes: 1 << 30 });
        let corks = 0;
        const withSocket = (x: FakeResponse): FakeResponse => Object.assign(x, { socket: { cork: () => void corks++, uncork: () => void corks-- } });
        let r = res();
        const responses = [withSocket(r)];
        c.openReceive(asRes(r), 'stream', 0);
        const want: Uint8Array[][] = [[KEEPALIVE_RECORD]];
        let sent = 0;
        for (const [i, burst] of bursts.entries()) {
          for (const f of burst) c.write(f);
          await tick();
          want[want.length - 1]?.push(...burst.map(frameRecord));
          sent += burst.length;
          if (reopen[i] === true) {
            r = withSocket(res());
            responses.push(r);
            c.openReceive(asRes(r), 'stream', sent); // acknowledges all: nothing is written twice
            want.push([KEEPALIVE_RECORD]);
          }
        }
        expect(corks).toBe(0);
        const bytes = (parts: Uint8Array[]) => Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
        expect(responses.map((x) => bytes(x.writes).toString('hex'))).toEqual(want.map((w) => bytes(w).toString('hex')));
        c.terminate();
      }),
      { numRuns: 60 },
    );
  });
});

