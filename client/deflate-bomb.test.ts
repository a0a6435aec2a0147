import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { WebSocketServer } from 'ws';
import { codeOf } from '../spec/protocol/close-codes.js';
import { SUBPROTOCOL } from '../spec/protocol/defaults.js';
import type { ClientEvent, LifelineClient } from './create-client.js';
import { createNodeClient } from './node.js';

let wss: WebSocketServer | undefined;
let client: LifelineClient | undefined;
afterEach(async () => {
  client?.close();
  client = undefined;
  await new Promise<void>((r) => (wss ? wss.close(() => r()) : r()));
  wss = undefined;
});

describe('permessage-deflate on the Node client', () => {
  /** A deflate-willing server; resolves with the upgrade's Sec-WebSocket-Extensions and what was negotiated. */
  async function offered(opts: { offerPermessageDeflate?: boolean }): Promise<{ header: string | undefined; negotiated: string }> {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true, handleProtocols: () => SUBPROTOCOL });
    await new Promise<void>((r) => wss?.once('listening', () => r()));
    const seen = new Promise<{ header: string | undefined; negotiated: string }>((resolve) => {
      wss?.once('connection', (ws, req) => resolve({ header: req.headers['sec-websocket-extensions'], negotiated: ws.extensions }));
    });
    client = createNodeClient({ url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/lifeline`, reconnectBaseMs: 60_000, ...opts });
    return seen;
  }

  test('by default the client does not offer permessage-deflate (spec §3.5: only when asked)', async () => {
    const r = await offered({});
    expect(r.header).toBeUndefined();
    expect(r.negotiated).toBe('');
  });

  test('WIRE-9 offerPermessageDeflate: true offers it, and a willing server negotiates it', async () => {
    const r = await offered({ offerPermessageDeflate: true });
    expect(r.header).toContain('permessage-deflate');
    expect(r.negotiated).toContain('permessage-deflate');
  });

  test('WIRE-9 WIRE-4 a server that negotiates deflate and sends a bomb is refused while inflating: close 1009, the client does not hold the inflated bytes', async () => {
    // 64 MiB of zeros deflate to about 64 KiB: a frame that is small on the wire and huge inflated.
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: { threshold: 0 }, handleProtocols: () => SUBPROTOCOL });
    await new Promise<void>((r) => wss?.once('listening', () => r()));
    const bomb = new Uint8Array(64 * 1024 * 1024); // allocated before the baseline: only the client's side is measured
    let negotiated = '';
    const peerClosed = new Promise<number>((resolve) => {
      wss?.on('connection', (ws) => {
        negotiated = ws.extensions;
        ws.once('message', () => ws.send(bomb, { binary: true, compress: true })); // after Hello
        ws.once('close', (code) => resolve(code));
      });
    });
    const events: ClientEvent<Uint8Array>[] = [];
    const mem = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const before = mem();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, mem())), 1);
    client = createNodeClient({ url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/lifeline`, reconnectBaseMs: 60_000, offerPermessageDeflate: true });
    client.onEvent((e) => events.push(e));
    await vi.waitFor(() => expect(events.some((e) => e.type === 'closed')).toBe(true), { timeout: 10_000 });
    expect(negotiated).toContain('permessage-deflate'); // the case WIRE-9 is about
    // The close frame the client sent says 1009; what the client itself reports may be 1006 when the
    // server, still busy sending, never completes the close handshake.
    expect(await peerClosed).toBe(codeOf('MESSAGE_TOO_BIG'));
    const closed = events.find((e) => e.type === 'closed');
    expect([codeOf('MESSAGE_TOO_BIG'), codeOf('ABNORMAL')]).toContain(closed?.type === 'closed' ? closed.code : undefined);
    expect(events.some((e) => e.type === 'message')).toBe(false);
    clearInterval(sampler);
    // Inflating stopped at the limit (1 MiB), far below the 64 MiB the frame would become.
    expect(peak - before).toBeLessThan(32 * 1024 * 1024);
  });
});
