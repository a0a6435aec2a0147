import { describe, expect, test } from 'vitest';
import { webSocketTransport, type WebSocketLike } from './transport.js';

/** A WebSocket that enforces what browsers enforce on close() (WHATWG: 1000 or 3000–4999). */
class BrowserLikeSocket implements WebSocketLike {
  static last: BrowserLikeSocket | undefined;
  binaryType = 'blob';
  protocol = 'lifeline.v1';
  bufferedAmount = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  closes: (number | undefined)[] = [];
  constructor(readonly url: string, readonly protocols?: string | string[]) {
    BrowserLikeSocket.last = this;
  }
  send(): void {}
  close(code?: number): void {
    if (code !== undefined && code !== 1000 && (code < 3000 || code > 4999)) throw new Error('InvalidAccessError');
    this.closes.push(code);
  }
}

const handlers = () => {
  const got: string[] = [];
  return {
    got,
    h: {
      onOpen: () => got.push('open'),
      onBinary: (b: Uint8Array) => got.push(`bin ${b.length}`),
      onText: () => got.push('text'),
      onClose: (code: number) => got.push(`close ${code}`),
      onRefused: (status: number) => got.push(`refused ${status}`),
    },
  };
};

describe('browser WebSocket transport', () => {
  test('HS-3 WIRE-1 offers lifeline.v1, reads binary frames as bytes and reports text frames', () => {
    const { got, h } = handlers();
    webSocketTransport(BrowserLikeSocket)('ws://x/lifeline', h, { token: undefined });
    const ws = BrowserLikeSocket.last as BrowserLikeSocket;
    expect(ws.protocols).toEqual(['lifeline.v1']);
    expect(ws.binaryType).toBe('arraybuffer');
    ws.onopen?.({});
    ws.onmessage?.({ data: new Uint8Array([1, 2, 3]).buffer });
    ws.onmessage?.({ data: 'hi' });
    ws.onclose?.({ code: 1006, reason: '' });
    ws.onclose?.({ code: 1006, reason: '' });
    expect(got).toEqual(['open', 'bin 3', 'text', 'close 1006']);
  });

  test('CC-1 CC-4 codes a page may not send go out as a close without a code; the others as given', () => {
    for (const [code, sent] of [[1000, 1000], [4200, 4200], [1001, undefined], [1002, undefined]] as const) {
      const { got, h } = handlers();
      const sock = webSocketTransport(BrowserLikeSocket)('ws://x/lifeline', h, { token: undefined });
      const ws = BrowserLikeSocket.last as BrowserLikeSocket;
      sock.close(code, 'r');
      expect(ws.closes).toEqual([sent]);
      ws.onclose?.({ code: 1005, reason: '' });
      expect(got).toEqual([]); // the caller already knows: no event after its own close
    }
  });
});
