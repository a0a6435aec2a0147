/**
 * The socket seam. The client talks to one small interface; a browser `WebSocket` (or anything with
 * its shape, `ws` included) is wrapped here, and client/node.ts adds what only Node can see (the HTTP
 * status of a refused upgrade, upgrade headers, terminate()).
 */
import { SUBPROTOCOL } from '../spec/protocol/defaults.js';

export interface TransportHandlers {
  onOpen(): void;
  /** One binary frame. */
  onBinary(bytes: Uint8Array): void;
  /** A text frame: never valid in Lifeline (WIRE-1). */
  onText(): void;
  onClose(code: number, reason: string): void;
  /** The upgrade was answered with an HTTP status (Node only). Retry-After converted to ms. */
  onRefused(status: number, retryAfterMs: number | undefined): void;
  /**
   * Optional: the transport is about to put its queued frames into one request (the HTTP carrier,
   * HT-28), and frames sent from within this call go in it too. The client sends an Ack it owes now
   * (SEQ-5 allows acknowledging sooner) so that it rides with the messages instead of costing a
   * request of its own when its delay ends.
   */
  onSendBatch?(): void;
}

export interface TransportSocket {
  send(bytes: Uint8Array): void;
  /** Start a close handshake and stop reporting events; the transport may cut a peer that never answers. */
  close(code: number, reason: string): void;
  readonly bufferedAmount: number;
}

export interface TransportOpenOptions {
  /** The token of this attempt (RC-5); a Node transport may put it in a header, browsers cannot. */
  readonly token: string | undefined;
}

export type Transport = (url: string, handlers: TransportHandlers, opts: TransportOpenOptions) => TransportSocket;

/** The part of the browser WebSocket API the client uses (`ws` implements it too). */
export interface WebSocketLike {
  binaryType: string;
  readonly protocol: string;
  readonly bufferedAmount: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructorLike = new (url: string, protocols?: string | string[]) => WebSocketLike;

/**
 * A Transport over a browser-style WebSocket constructor. Browsers hide the HTTP status of a refused
 * upgrade: it is observed as 1006 and answered with backoff (CC-4).
 */
export function webSocketTransport(WebSocketImpl: WebSocketConstructorLike): Transport {
  return (url, handlers) => {
    const ws = new WebSocketImpl(url, [SUBPROTOCOL]); // HS-3
    ws.binaryType = 'arraybuffer';
    let isDone = false;
    const finish = (code: number, reason: string) => {
      if (isDone) return;
      isDone = true;
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      handlers.onClose(code, reason);
    };
    ws.onopen = () => handlers.onOpen();
    ws.onmessage = (ev) => {
      const d = ev.data;
      if (d instanceof ArrayBuffer) handlers.onBinary(new Uint8Array(d));
      else if (ArrayBuffer.isView(d)) handlers.onBinary(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      else handlers.onText();
    };
    ws.onclose = (ev) => finish(ev.code, ev.reason);
    ws.onerror = () => {}; // a close event always follows
    return {
      send: (bytes) => ws.send(bytes),
      close: (code, reason) => {
        try {
          // Browsers let a page send only 1000 and 3000–4999; for the registry's other codes
          // (GOING_AWAY, PROTOCOL_ERROR, …) the close goes out without a code and the server
          // observes 1005, whose advice (backoff, session kept) matches GOING_AWAY's.
          if (code === 1000 || (code >= 3000 && code <= 4999)) ws.close(code, reason);
          else ws.close();
        } catch {
          // Closing a socket that is still connecting or already closing can throw in some engines.
        }
        // The caller is done with this socket: a half-open peer may never complete the handshake (HB-4).
        isDone = true;
        ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      },
      get bufferedAmount() {
        return ws.bufferedAmount;
      },
    };
  };
}

/** The global WebSocket constructor, for a client given neither a transport nor options.WebSocket. */
export function globalWebSocket(): WebSocketConstructorLike {
  const ws = (globalThis as { WebSocket?: WebSocketConstructorLike }).WebSocket;
  if (!ws) throw new TypeError('no global WebSocket: pass options.WebSocket or use client/node.ts');
  return ws;
}
