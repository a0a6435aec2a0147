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
  /** Give this to createClient({ transport }) (or to another wrapper). */
  readonly transport: Transport;
  /**
   * Another transport under the same fault (the HTTP carrier beside the WebSocket, issue 15):
   * "drop silently" hits whichever socket the session uses, over either.
   */
  wrap(inner: Transport): Transport;
  /** Blackhole the socket in use now, both ways, without closing it. False when there is none. */
  dropSilently(): boolean;
  /** Frames swallowed so far (both directions). */
  readonly swallowed: { readonly sent: number; readonly received: number };
  /** True while the socket in use is blackholed (until the client replaces it). */
  readonly isDropping: boolean;
}

interface SocketState {
  isBlackholed: boolean;
  /** It carried a frame out: a session's socket, not a WebSocket probe (opened and closed 1000 before any Hello, §22.7). */
  hasSent: boolean;
}

export function faultTransport(inner: Transport): FaultTransport {
  /** Sockets the client has not given up on, oldest first. */
  const live: SocketState[] = [];
  const swallowed = { sent: 0, received: 0 };
  const forget = (state: SocketState) => {
    const i = live.indexOf(state);
    if (i >= 0) live.splice(i, 1);
  };
  /** The socket in use: the newest that carried a frame out, else the newest (a Hello not yet sent). */
  const inUse = (): SocketState | undefined => {
    for (let i = live.length - 1; i >= 0; i--) if (live[i]?.hasSent) return live[i];
    return live.at(-1);
  };

  const wrap = (under: Transport): Transport => (url, handlers, opts) => {
    const state: SocketState = { isBlackholed: false, hasSent: false };
    live.push(state);
    const socket: TransportSocket = under(url, {
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
        if (state.isBlackholed) return;
        forget(state);
        handlers.onClose(code, reason);
      },
      onRefused: (status, retryAfterMs) => {
        if (state.isBlackholed) return;
        forget(state);
        handlers.onRefused(status, retryAfterMs);
      },
    }, opts);
    return {
      send: (bytes) => {
        state.hasSent = true;
        if (state.isBlackholed) swallowed.sent++;
        else socket.send(bytes);
      },
      // The client gave up on this socket: release it for real, so the browser frees it.
      close: (code, reason) => {
        forget(state);
        socket.close(code, reason);
      },
      get bufferedAmount() {
        return socket.bufferedAmount;
      },
    };
  };

  return {
    transport: wrap(inner),
    wrap,
    dropSilently() {
      const s = inUse();
      if (!s) return false;
      s.isBlackholed = true;
      return true;
    },
    get swallowed() {
      return { ...swallowed };
    },
    get isDropping() {
      return inUse()?.isBlackholed ?? false;
    },
  };
}
