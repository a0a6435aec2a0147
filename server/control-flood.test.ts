import { afterEach, describe, expect, test, vi } from 'vitest';
import { rawEnvelope, wsFrame } from '../conformance/wire.js';
import { codeOf } from '../spec/protocol/close-codes.js';
import type { RawClient } from '../testkit/raw-client.js';
import type { LifelineServer } from './server.js';
import { heapAfterGcMiB } from '../test/support/memory.js';
import { Harness } from '../test/support/server.js';
import { sessionBehind } from './session-handle.js';

const h = new Harness();
afterEach(() => h.cleanup());

/** Close codes the server sent, from its own events (a peer that does not read never sees them). */
function closesOf(srv: LifelineServer): number[] {
  const codes: number[] = [];
  srv.on('sessionClosed', (_s, info) => codes.push(info.code));
  return codes;
}

/** Write Heartbeats straight to the TCP socket, as fast as it takes them, until `stop()` says so. */
async function flood(c: RawClient, stop: () => boolean, maxFrames: number): Promise<number> {
  const frame = wsFrame({ opcode: 2, payload: rawEnvelope('heartbeat', [{ no: 1, varint: 7 }]) });
  const batch = Buffer.concat(Array.from({ length: 200 }, () => frame));
  let sent = 0;
  while (!stop() && sent < maxFrames && !c.socket.destroyed) {
    if (c.socket.writableLength < 256 * 1024) {
      c.socket.write(batch);
      sent += 200;
    }
    await new Promise((r) => setImmediate(r));
  }
  return sent;
}

describe('control bodies are bounded (BP-16)', () => {
  test('BP-16 flood: a peer that stops reading and floods Heartbeats is closed 1008, the server heap stays bounded', async () => {
    const srv = await h.server(); // the default control rate: 200/s, burst 1000
    const codes = closesOf(srv);
    const bystander = await h.session(srv);
    const a = await h.session(srv);
    const before = heapAfterGcMiB();
    a.pause(); // reads nothing: every reply stays with the server or in TCP buffers
    const sent = await flood(a, () => codes.length > 0, 200_000);
    await vi.waitFor(() => expect(codes).toEqual([codeOf('POLICY_VIOLATION')]), { timeout: 10_000 });
    const grown = heapAfterGcMiB() - before;
    // Issue 13 measured +130 to +215 MB for this flood; the bound is generous, the number is not a timing.
    expect(grown).toBeLessThan(32);
    expect(sent).toBeGreaterThan(1000); // the burst was exceeded, not merely reached
    bystander.heartbeat();
    await bystander.waitForBody('heartbeatAck', 5000); // SEC-4: the other session is served
  });

  test('BP-16 past the high-water mark only the newest HeartbeatAck is held: the peer gets fewer acks than Heartbeats, the last one answered', async () => {
    const big = 64 * 1024;
    const srv = await h.server({
      controlRatePerSecond: Number.POSITIVE_INFINITY, // coalescing alone, without the rate limit
      bufferedAmountHighWaterBytes: 4096,
      replayWindowBytes: 64 * 1024 * 1024,
      queueLimitBytes: 64 * 1024 * 1024,
    });
    const a = await h.session(srv, { channels: ['big'] });
    a.pause();
    // Fill the TCP buffers (megabytes on loopback) and the server's own past its mark with
    // sequenced messages, which BP-4 then holds in the queue.
    for (let i = 0; i < 200; i++) await srv.publish('big', { payload: new Uint8Array(big) });
    const conn = sessionBehind(srv.sessions()[0]!) as unknown as { heldReplyCount: number; conn: { bufferedAmount: number; isAwaitingDrain: boolean } };
    await vi.waitFor(() => expect(conn.conn.isAwaitingDrain).toBe(true), { timeout: 5000 });
    const n = 5000;
    const batch = Buffer.concat(Array.from({ length: n }, (_, i) => wsFrame({ opcode: 2, payload: rawEnvelope('heartbeat', [{ no: 1, varint: i + 1 }]) })));
    a.socket.write(batch);
    await vi.waitFor(() => expect(conn.heldReplyCount).toBe(1), { timeout: 5000 });
    await new Promise((r) => setTimeout(r, 100)); // every Heartbeat handled: still one reply held
    expect(conn.heldReplyCount).toBe(1);
    a.resume();
    await a.waitForBody('heartbeatAck', 15_000, (ack) => ack.id === n); // the newest, once the socket drains
    expect(a.bodies('heartbeatAck').length).toBeLessThan(10); // not 5,000 replies buffered
  });

  test('BP-16 a peer over the control rate is closed 1008 and its session ends; one within it never is', async () => {
    const srv = await h.server({ controlRatePerSecond: 50, controlBurst: 20 });
    const codes = closesOf(srv);
    const ok = await h.session(srv);
    for (let i = 0; i < 15; i++) ok.heartbeat();
    await ok.waitForCount('heartbeatAck', 15, 5000);
    const bad = await h.session(srv);
    const id = bad.bodies('welcome')[0]?.sessionId as string;
    for (let i = 0; i < 40; i++) bad.heartbeat();
    expect((await bad.waitForClose(5000)).code).toBe(codeOf('POLICY_VIOLATION'));
    expect(srv.session(id)).toBeUndefined(); // 1008 resets (RS-1)
    expect(codes).toEqual([codeOf('POLICY_VIOLATION')]);
    expect(ok.isOpen).toBe(true);
  });
});
