import { afterEach, describe, expect, test, vi } from 'vitest';
import { codeOf } from '../spec/protocol/close-codes.js';
import { heapAfterGcMiB } from '../test/support/memory.js';
import { Harness } from '../test/support/server.js';

const h = new Harness();
afterEach(() => h.cleanup());

const payload = new Uint8Array(64);

describe('the receive window the server granted is enforced (BP-17)', () => {
  test('BP-17 a client past the window while the application holds its messages is closed 1002 and the session ends', async () => {
    const srv = await h.server({ receiveWindow: 16, onMessage: () => new Promise<void>(() => {}) }); // never finishes: no ack (SEQ-10)
    const c = await h.session(srv);
    const id = c.bodies('welcome')[0]?.sessionId as string;
    for (let i = 0; i < 16; i++) c.message({ payload });
    c.heartbeat();
    await c.waitForBody('heartbeatAck', 5000); // 16 in flight: within the window, still served
    expect(c.isOpen).toBe(true);
    c.message({ payload }); // the 17th
    expect((await c.waitForClose(5000)).code).toBe(codeOf('PROTOCOL_ERROR'));
    expect(srv.session(id)).toBeUndefined(); // 1002 resets (RS-1)
  });

  test('BP-17 a conforming client is never closed: thousands of messages, acked at half the window', async () => {
    let got = 0;
    const srv = await h.server({ receiveWindow: 16, onMessage: () => void got++ });
    const c = await h.session(srv);
    for (let i = 0; i < 1000; i++) c.message({ payload });
    await vi.waitFor(() => expect(got).toBe(1000), { timeout: 10_000 });
    expect(c.isOpen).toBe(true);
  });

  test('BP-17 flood: 20,000 messages past a window of 256 from a peer that does not read: closed 1002, heap bounded', async () => {
    let got = 0;
    const srv = await h.server({ onMessage: () => ((got++, new Promise<void>(() => {}))) }); // an application that holds every message
    const codes: number[] = [];
    srv.on('sessionClosed', (_s, info) => codes.push(info.code));
    const c = await h.session(srv);
    const before = heapAfterGcMiB();
    c.pause();
    for (let i = 0; i < 20_000; i++) c.message({ payload });
    await vi.waitFor(() => expect(codes).toEqual([codeOf('PROTOCOL_ERROR')]), { timeout: 10_000 });
    // The application got the first message; the rest waited behind it, at most a window of them (256).
    expect(got).toBe(1);
    expect(heapAfterGcMiB() - before).toBeLessThan(32);
    expect(srv.stats().sessions).toBe(0);
  });
});
