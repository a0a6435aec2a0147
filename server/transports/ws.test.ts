import { EventEmitter } from 'node:events';
import { describe, expect, test } from 'vitest';
import type { WebSocket } from 'ws';
import type { Clock } from '../../spec/protocol/clock.js';
import type { WsCloseCodeName } from '../../spec/protocol/close-codes.js';
import type { PeerInfo, PeerSink } from '../transport.js';
import { adoptWebSocket, type WsPeer } from './ws.js';

/** The part of ws's WebSocket the transport touches, recording the calls. */
class FakeWs extends EventEmitter {
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readyState = 1;
  bufferedAmount = 0;
  readonly calls: string[] = [];
  send(data: Uint8Array, _opts: unknown, cb?: () => void): void {
    this.calls.push(`send ${data.byteLength}${cb ? ' +cb' : ''}`);
  }
  ping(): void {
    this.calls.push('ping');
  }
  close(code: number, reason: string): void {
    this.calls.push(`close ${code} ${reason}`);
    this.readyState = 2;
  }
  terminate(): void {
    this.calls.push('terminate');
    this.readyState = 3;
  }
}

/** Timers the test fires by hand. */
function manualClock() {
  let now = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let next = 1;
  const clock: Clock = {
    now: () => now,
    setTimeout: (fn, ms) => {
      timers.set(next, { at: now + ms, fn });
      return next++;
    },
    clearTimeout: (h) => void timers.delete(h as number),
  };
  const advance = (ms: number) => {
    now += ms;
    for (const [h, t] of [...timers]) {
      if (t.at > now) continue;
      timers.delete(h);
      t.fn();
    }
  };
  return { clock, advance, pending: () => timers.size };
}

function recordingSink() {
  const seen: unknown[] = [];
  const sink: PeerSink = {
    frame: (bytes, isBinary) => seen.push(['frame', [...bytes], isBinary]),
    pong: () => seen.push(['pong']),
    closed: (code) => seen.push(['closed', code]),
    protocolError: (name: WsCloseCodeName, reason) => seen.push(['protocolError', name, reason]),
  };
  return { sink, seen };
}

const info = { principal: 'p', req: {}, upgradeStartedAtMs: 0 } as unknown as PeerInfo;

function adopt(closeTimeoutMs = 100) {
  const ws = new FakeWs();
  const time = manualClock();
  const { sink, seen } = recordingSink();
  const peer = adoptWebSocket(ws as unknown as WebSocket, info, () => sink, { maxPayloadBytes: 1024, closeTimeoutMs, timers: time.clock }) as WsPeer;
  return { ws, peer, seen, ...time };
}

describe('the ws transport (server/transports/ws.ts)', () => {
  test('WIRE-1 HB-2 CC-11 ws events reach the sink: frames as bytes, text marked, pongs, ws\'s own protocol errors, the close', () => {
    const { ws, seen } = adopt();
    ws.emit('message', Buffer.from([1, 2]), true);
    ws.emit('message', [Buffer.from([3]), Buffer.from([4])], true); // fragments, as ws may deliver them
    ws.emit('message', Buffer.from('hi'), false);
    ws.emit('pong', Buffer.alloc(0));
    ws.emit('error', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })); // not a protocol error: nothing
    ws.emit('error', Object.assign(new Error('Invalid WebSocket frame: RSV1 must be clear'), { code: 'WS_ERR_UNEXPECTED_RSV_1' }));
    ws.emit('close', 1002, Buffer.alloc(0));
    expect(seen).toEqual([
      ['frame', [1, 2], true],
      ['frame', [3, 4], true],
      ['frame', [104, 105], false],
      ['pong'],
      ['protocolError', 'PROTOCOL_ERROR', 'CC-11: Invalid WebSocket frame: RSV1 must be clear'],
      ['closed', 1002],
    ]);
  });

  test('BP-4 HB-1 writes are binary frames, with the flush callback only when asked; ping is a ws ping', () => {
    const { ws, peer } = adopt();
    peer.write(new Uint8Array(3));
    peer.write(new Uint8Array(4), () => {});
    peer.ping();
    expect(ws.calls).toEqual(['send 3', 'send 4 +cb', 'ping']);
    expect(peer.isOpen).toBe(true);
    ws.bufferedAmount = 42;
    expect(peer.bufferedAmount).toBe(42);
  });

  test('CC-1 CC-10 close sends the registry code and a clamped reason, and destroys a peer that never answers', () => {
    const { ws, peer, advance } = adopt(100);
    peer.close('HEARTBEAT_TIMEOUT', 'x'.repeat(200));
    expect(ws.calls).toEqual([`close 4200 ${'x'.repeat(123)}`]);
    expect(peer.isOpen).toBe(false);
    advance(99);
    expect(ws.calls).toHaveLength(1);
    advance(1);
    expect(ws.calls.at(-1)).toBe('terminate'); // CC-10
  });

  test('CC-10 a peer that answers the close in time is not destroyed: the timer ends with the socket', () => {
    const { ws, peer, advance, pending } = adopt(100);
    peer.close('GOING_AWAY', '');
    expect(ws.calls).toEqual(['close 1001 GOING_AWAY']); // the name is the reason when none is given
    ws.readyState = 3;
    ws.emit('close', 1001, Buffer.alloc(0));
    expect(pending()).toBe(0);
    advance(1000);
    expect(ws.calls).toEqual(['close 1001 GOING_AWAY']);
  });

  test('CC-11 a socket ws is already closing gets no second close frame, only the close timer', () => {
    const { ws, peer, advance } = adopt(100);
    ws.readyState = 2; // ws sent its own close frame for a protocol error
    peer.close('PROTOCOL_ERROR', 'CC-11');
    expect(ws.calls).toEqual([]);
    advance(100);
    expect(ws.calls).toEqual(['terminate']);
  });

  test('HB-3 DR-5 terminate destroys at once; a peer the core refuses gets no event handlers', () => {
    const { ws, peer } = adopt();
    peer.terminate();
    expect(ws.calls).toEqual(['terminate']);
    const refused = new FakeWs();
    expect(adoptWebSocket(refused as unknown as WebSocket, info, () => undefined, { maxPayloadBytes: 1, closeTimeoutMs: 1, timers: manualClock().clock })).toBeUndefined();
    expect(refused.listenerCount('message')).toBe(0);
  });
});
