/**
 * The demo page's "Drop silently" fault: a Transport wrapper that can make the current socket a
 * black hole. A page cannot blackhole TCP, so frames vanish at the transport seam instead: nothing
 * the client sends leaves, nothing the server sends (close frames included) is delivered, and the
 * socket is not closed. That is the half-open case the client's dead-peer timer exists for (HB-4):
 * it closes HEARTBEAT_TIMEOUT and resumes on a fresh, healthy socket.
 *
 * Browser-safe and pure apart from the wrapped transport, so it is unit-tested in Node.
 */
import type { Transport, TransportSocket } from '../client/index.js';

export interface FaultTransport {
  /** Give this to createClient({ transport }). */
  readonly transport: Transport;
  /** Blackhole the socket in use now, both ways, without closing it. False when there is none. */
  dropSilently(): boolean;
  /** Frames swallowed so far (both directions). */
  readonly swallowed: { readonly sent: number; readonly received: number };
  /** True while the newest socket is blackholed (until the client replaces it). */
  readonly isDropping: boolean;
}

export function faultTransport(inner: Transport): FaultTransport {
  let current: { isBlackholed: boolean } | undefined;
  const swallowed = { sent: 0, received: 0 };

  const transport: Transport = (url, handlers, opts) => {
    const state = { isBlackholed: false };
    current = state;
    const socket: TransportSocket = inner(url, {
      onOpen: () => {
        if (!state.isBlackholed) handlers.onOpen();
      },
      onBinary: (bytes) => {
        if (state.isBlackholed) swallowed.received++;
        else handlers.onBinary(bytes);
      },
      onText: () => {
        if (state.isBlackholed) swallowed.received++;
        else handlers.onText();
      },
      // A black hole delivers no close either: only the client's own liveness timer can end it (HB-4).
      onClose: (code, reason) => {
        if (!state.isBlackholed) handlers.onClose(code, reason);
      },
      onRefused: (status, retryAfterMs) => {
        if (!state.isBlackholed) handlers.onRefused(status, retryAfterMs);
      },
    }, opts);
    return {
      send: (bytes) => {
        if (state.isBlackholed) swallowed.sent++;
        else socket.send(bytes);
      },
      // The client gave up on this socket: release it for real, so the browser frees it.
      close: (code, reason) => socket.close(code, reason),
      get bufferedAmount() {
        return socket.bufferedAmount;
      },
    };
  };

  return {
    transport,
    dropSilently() {
      if (!current) return false;
      current.isBlackholed = true;
      return true;
    },
    get swallowed() {
      return { ...swallowed };
    },
    get isDropping() {
      return current?.isBlackholed ?? false;
    },
  };
}
