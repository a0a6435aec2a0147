/**
 * The transport seam (issue 12, finding 6): the server core's view of one peer, whatever carries its
 * frames. The core (connection.ts, ingress.ts, the session machine) talks to a `PeerTransport` and
 * hears the peer through a `PeerSink`; everything `ws` lives behind it in server/transports/ws.ts,
 * as graphql-ws keeps `makeServer` apart from `use/ws.ts`. A second transport (the HTTP fallback of a
 * later issue) implements these two interfaces, reuses admission (server/admission.ts), and hands
 * each new peer to the core's `AcceptPeer`; the core does not change.
 *
 * The client has the same seam the other way round (client/transport.ts).
 */
import type { IncomingMessage } from 'node:http';
import type { WsCloseCodeName } from '../spec/protocol/close-codes.js';

/** Which transport carries a peer (for logs and metrics; the core never branches on it). */
export type TransportKind = 'ws' | 'http';

/** Outbound: what the core asks of one peer's transport. */
export interface PeerTransport {
  readonly kind: TransportKind;
  /** Frames written now reach the peer (not closing, not closed). */
  readonly isOpen: boolean;
  /** Bytes written but not yet handed to the network (BP-4 reads it against the high-water mark). */
  readonly bufferedAmount: number;
  /**
   * Write one binary frame holding one Envelope (WIRE-1). `onFlushed` runs once these bytes have left
   * the transport's buffer: the drain signal that re-runs a paused pump (BP-4).
   */
  write(bytes: Uint8Array, onFlushed?: () => void): void;
  /**
   * Close with a registry name (CC-1; the transport clamps the reason to what its close carries). The
   * transport owns its close timeout: a peer that never completes the close is destroyed (CC-10).
   */
  close(name: WsCloseCodeName, reason: string): void;
  /** Flush what is batched, then destroy at once without waiting for the peer (HB-3, DR-5). */
  terminate(): void;
  /**
   * A protocol-level ping whose answer comes back as `PeerSink.pong` (HB-1). Optional: a transport
   * without one (an HTTP fallback) relies on the application Heartbeat, so HB-7 silence alone proves
   * the peer dead (spec §8.2).
   */
  ping?(): void;
}

/** Inbound: what a transport tells the core about its peer. The core gives one sink per peer. */
export interface PeerSink {
  /** One frame from the peer, whole; `isBinary` false is a text frame (WIRE-1 refuses it). */
  frame(bytes: Uint8Array, isBinary: boolean): void;
  /** The answer to `PeerTransport.ping` (HB-2). */
  pong(): void;
  /** The transport is gone; `code` is the peer's close code, 1005 or 1006 when it sent none. */
  closed(code: number): void;
  /**
   * The transport itself refused something the peer sent and is closing with `closeName`: the core
   * ends the session by the registry's reset rule, as if its codec had caught it (CC-11).
   */
  protocolError(closeName: WsCloseCodeName, reason: string): void;
}

/** What the core learns about a new peer from the request that opened it (after admission). */
export interface PeerInfo {
  /** From admission (HS-4): the authenticated principal, or 'anonymous'. */
  readonly principal: string;
  /** The request that opened the peer (the address for logs, traceparent for the span, SEC-3). */
  readonly req: IncomingMessage;
  /** Epoch ms when the request reached the server: the session span starts there. */
  readonly upgradeStartedAtMs: number;
}

/**
 * The core's entry for a transport: a new peer passed admission. Returns the sink for its events, or
 * undefined when the core refuses it (the server is closing; the peer has then been terminated).
 */
export type AcceptPeer = (peer: PeerTransport, info: PeerInfo) => PeerSink | undefined;
