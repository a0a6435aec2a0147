import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import { Connection, type PeerEvents } from './connection.js';
import type { PeerTransport } from './transport.js';
import { clockAt } from '../test/support/clock.js';

/** A transport that records what the connection asks of it (no socket). */
function fakeTransport(o: { hasPing?: boolean } = {}) {
  const calls: string[] = [];
  const flushes: (() => void)[] = [];
  const t: PeerTransport & { isOpen: boolean; bufferedAmount: number } = {
    kind: 'ws',
    isOpen: true,
    bufferedAmount: 0,
    write(bytes: Uint8Array, onFlushed?: () => void) {
      calls.push(`write ${bytes.byteLength}`);
      if (onFlushed) flushes.push(onFlushed);
    },
    close: (name: string, reason: string) => void calls.push(`close ${name} ${reason}`),
    terminate: () => void calls.push('terminate'),
    ...(o.hasPing === false ? {} : { ping: () => void calls.push('ping') }),
  };
  return { t, calls, flushes };
}

const noEvents: PeerEvents = { frame() {}, pong() {}, closed() {}, protocolError() {} };

/** A Connection on a fake transport, with a clock the test moves. */
function connection(o: { hasPing?: boolean; events?: PeerEvents } = {}) {
  let now = 0;
  const fake = fakeTransport(o);
  const conn = new Connection(fake.t, { events: o.events ?? noEvents, clock: clockAt(() => now), logger: pino({ level: 'silent' }) }, 'p');
  const rtt = (ms: number, toleranceMs = 0) => {
    conn.ping();
    now += ms;
    return conn.measurePong(toleranceMs);
  };
  return { conn, rtt, ...fake };
}

describe('connection RTT (spec §8.6, §8.8)', () => {
  test('HB-11 SRTT and RTTVAR as RFC 6298; a sample above SRTT + 4·RTTVAR is a spike; stability is RTTVAR ≤ SRTT / 4', () => {
    const { conn, rtt } = connection();
    expect(conn.isRttStable()).toBe(false); // no evidence yet
    expect(rtt(80)).toEqual({ sampleMs: 80, isSpike: false });
    expect(conn.rttMs).toBe(80);
    expect(conn.rttVarMs).toBe(40);
    rtt(120);
    rtt(40);
    // The spec's example: 80, 120, 40 → SRTT 79.375 (≈ 79.4), RTTVAR 41.25.
    expect(conn.rttMs).toBeCloseTo(79.375, 6);
    expect(conn.rttVarMs).toBeCloseTo(41.25, 6);
    expect(conn.isRttStable()).toBe(false);
    for (let i = 0; i < 40; i++) rtt(80);
    expect(conn.isRttStable()).toBe(true);
    const spike = rtt(80 + 4 * (conn.rttVarMs ?? 0) + 30);
    expect(spike?.isSpike).toBe(true);
  });

  test('HB-11 variation within the tolerance is never a spike nor instability', () => {
    const { conn, rtt } = connection();
    rtt(1);
    rtt(3);
    rtt(1);
    expect(conn.isRttStable()).toBe(false);
    expect(conn.isRttStable(5)).toBe(true);
    expect(rtt(9, 10)?.isSpike).toBe(false);
    expect(rtt(40, 10)?.isSpike).toBe(true);
  });

  test('a pong that answers no ping is no sample', () => {
    const { conn } = connection();
    expect(conn.measurePong()).toBeUndefined();
    expect(conn.rttMs).toBeUndefined();
  });
});

describe('connection writes', () => {
  test('WIRE-12 a frame over the client\'s 1 MiB limit is never written: the write throws and the transport sees nothing', () => {
    const { conn, calls } = connection();
    expect(() => conn.write(new Uint8Array(1024 * 1024 + 1), Infinity)).toThrow(/WIRE-12/);
    conn.write(new Uint8Array(1024 * 1024), Infinity);
    expect(calls).toEqual([`write ${1024 * 1024}`]);
  });

  test('BP-4 a write above the high-water mark waits for the transport\'s flush, then the pump runs again', () => {
    const { conn, t, flushes } = connection();
    let drained = 0;
    conn.whenDrained({ drained: () => drained++ });
    conn.write(new Uint8Array(10), 100); // below: no flush callback asked for
    expect(flushes).toHaveLength(0);
    t.bufferedAmount = 95;
    conn.write(new Uint8Array(10), 100);
    conn.write(new Uint8Array(10), 100);
    expect(conn.isAwaitingDrain).toBe(true);
    flushes[0]?.();
    expect(drained).toBe(0); // one write still unflushed
    flushes[1]?.();
    expect(drained).toBe(1);
    expect(conn.isAwaitingDrain).toBe(false);
  });

  test('nothing is written once the session stopped using the transport, or the transport is not open', () => {
    const a = connection();
    a.t.isOpen = false;
    a.conn.write(new Uint8Array(1), Infinity);
    a.conn.ping();
    const b = connection();
    b.conn.forget();
    b.conn.write(new Uint8Array(1), Infinity);
    expect([...a.calls, ...b.calls]).toEqual([]);
  });
});

describe('connection over the transport seam (issue 12)', () => {
  test('CC-1 close goes to the transport by registry name and records the code sent; terminate closes, then destroys', () => {
    const { conn, calls } = connection();
    conn.terminate('HEARTBEAT_TIMEOUT', 'HB-3');
    expect(conn.isEnded).toBe(true);
    expect(conn.closeCode).toBe(4200);
    expect(calls).toEqual(['close HEARTBEAT_TIMEOUT HB-3', 'terminate']);
    conn.close('GOING_AWAY');
    expect(conn.closeCode).toBe(4200); // the first close is the one sent
  });

  test('HB-1 HB-2 a transport without a protocol ping sends none and leaves no ping outstanding (HB-7 alone applies)', () => {
    const { conn, calls } = connection({ hasPing: false });
    conn.missedPings++; // as the sweep does before pinging (HB-2)
    conn.ping();
    expect(conn.missedPings).toBe(0);
    expect(conn.measurePong()).toBeUndefined();
    expect(calls).toEqual([]);
  });

  test('the peer\'s events reach the server\'s handlers with their connection', () => {
    const seen: unknown[] = [];
    const events: PeerEvents = {
      frame: (c, bytes, isBinary) => seen.push(['frame', c, bytes.byteLength, isBinary]),
      pong: (c) => seen.push(['pong', c]),
      closed: (c, code) => seen.push(['closed', c, code]),
      protocolError: (c, name, reason) => seen.push(['protocolError', c, name, reason]),
    };
    const { conn } = connection({ events });
    conn.frame(new Uint8Array(3), true);
    conn.pong();
    conn.protocolError('MESSAGE_TOO_BIG', 'CC-11');
    conn.closed(1006);
    expect(seen).toEqual([
      ['frame', conn, 3, true],
      ['pong', conn],
      ['protocolError', conn, 'MESSAGE_TOO_BIG', 'CC-11'],
      ['closed', conn, 1006],
    ]);
  });
});
