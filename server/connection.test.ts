import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import type { WebSocket } from 'ws';
import { Connection } from './connection.js';
import { clockAt } from '../test/support/clock.js';

/** A Connection on a fake socket, with a clock the test moves. */
function connection() {
  let now = 0;
  const ws = { readyState: 1, OPEN: 1, CONNECTING: 0, bufferedAmount: 0, ping() {}, send() {}, close() {}, terminate() {} } as unknown as WebSocket;
  const conn = new Connection(ws, 'p', '127.0.0.1', clockAt(() => now), pino({ level: 'silent' }));
  const rtt = (ms: number, toleranceMs = 0) => {
    conn.ping();
    now += ms;
    return conn.pong(toleranceMs);
  };
  return { conn, rtt };
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
    expect(conn.pong()).toBeUndefined();
    expect(conn.rttMs).toBeUndefined();
  });
});

describe('connection writes', () => {
  test('WIRE-12 a frame over the client\'s 1 MiB limit is never written: the write throws and the socket sees nothing', () => {
    const sent: number[] = [];
    const ws = { readyState: 1, OPEN: 1, CONNECTING: 0, bufferedAmount: 0, ping() {}, send: (b: Uint8Array) => void sent.push(b.byteLength), close() {}, terminate() {} } as unknown as WebSocket;
    const conn = new Connection(ws, 'p', '127.0.0.1', clockAt(() => 0), pino({ level: 'silent' }));
    expect(() => conn.write(new Uint8Array(1024 * 1024 + 1), Infinity)).toThrow(/WIRE-12/);
    conn.write(new Uint8Array(1024 * 1024), Infinity);
    expect(sent).toEqual([1024 * 1024]);
  });
});
