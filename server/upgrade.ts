/**
 * Accepting a peer from a transport (server/transport.ts) once it passed admission, and the end of
 * its connection: the session span, the Connection, the actor in `handshaking` (HS-7); and the
 * transport's events routed to the ingress (frames), liveness (pongs) and the owning actor (close,
 * protocol errors). Any transport plugs in here through `accept`; nothing in it is ws-specific.
 */
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { WsCloseCodeName } from '../spec/protocol/close-codes.js';
import type { Clock } from './clock.js';
import { Connection, type ConnectionEnv, type PeerEvents } from './connection.js';
import { endingOf } from './host.js';
import type { PendingUpgrades } from './http-phase.js';
import { onFrame } from './ingress.js';
import { onPong } from './liveness.js';
import type { LifelineMetrics } from './observability/metrics.js';
import { serializeRequest } from './observability/logger.js';
import { startSessionSpan } from './observability/tracing.js';
import type { SessionRegistry } from './registry.js';
import type { PeerInfo, PeerSink, PeerTransport } from './transport.js';

export interface AcceptorDeps {
  readonly registry: SessionRegistry;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: LifelineMetrics | undefined;
  readonly tracer: Tracer | undefined;
  /** HTTP requests not yet upgraded (HS-16): an accepted peer leaves them. */
  readonly pending: PendingUpgrades;
  isClosed(): boolean;
  /**
   * CC-11: the transport closed a peer for a protocol error. Through the server's public method at
   * call time, because a conformance mutant replaces that method on the server object.
   */
  protocolError(conn: Connection, closeName: WsCloseCodeName, reason: string): void;
  /** The last connection closed (a drain waits for it, DR-5). */
  onConnsEmpty(): void;
}

export class PeerAcceptor {
  /** What every connection shares: what peers tell the core (every transport, server/transport.ts), the clock, the logger. */
  private readonly env: ConnectionEnv;

  constructor(private readonly d: AcceptorDeps) {
    const reg = d.registry;
    const events: PeerEvents = {
      frame: (conn, bytes, isBinary) => onFrame(reg, conn, bytes, isBinary),
      pong: (conn) => onPong(reg, conn),
      closed: (conn, code) => this.onClose(conn, code),
      protocolError: (conn, closeName, reason) => d.protocolError(conn, closeName, reason),
    };
    this.env = { events, clock: d.clock, logger: d.log };
  }

  /**
   * A peer passed admission on some transport: one actor in `handshaking`, no session state yet
   * (HS-7). Returns the sink for the peer's events; undefined when the server is closing.
   */
  accept(peer: PeerTransport, info: PeerInfo): PeerSink | undefined {
    const { req, principal } = info;
    this.d.pending.release(req.socket); // a peer now, no longer an HTTP request: the handshake timeout bounds it (HS-10, HS-16)
    if (this.d.isClosed()) {
      peer.terminate();
      return undefined;
    }
    // SEC-3: only a well-formed traceparent becomes the span's parent (tracing.ts).
    const span = startSessionSpan(req.headers, { upgradeStartedAtMs: info.upgradeStartedAtMs, ...(this.d.tracer ? { tracer: this.d.tracer } : {}) });
    span.upgraded();
    const conn = new Connection(peer, this.env, principal, span);
    // SEC-2: the request through the sanitizer (no cookie, no ticket, no Authorization value).
    // Built only when it is written: the sanitized request was ~0.6 % of a connect at the default level (issue 16).
    if (this.d.log.isLevelEnabled('debug')) conn.log.debug({ upgrade: serializeRequest(req), principal, transport: peer.kind }, 'upgrade accepted');
    this.d.registry.admit(conn);
    return conn;
  }

  /** The transport closed: account for it, and tell the owning actor unless its session already let go. */
  private onClose(conn: Connection, code: number): void {
    const reg = this.d.registry;
    conn.isClosed = true;
    reg.conns.delete(conn);
    reg.sweep.delete(conn);
    // The code we sent, else what the peer's close frame said (1005/1006 when there was none).
    const effective = conn.closeCode ?? code;
    this.d.metrics?.connectionClosed(effective, (this.d.clock.now() - conn.openedAt) / 1000);
    conn.span?.end(effective);
    conn.log.debug({ code: effective, byPeer: conn.closeCode === undefined }, 'socket closed');
    if (!conn.isEnded) {
      const host = reg.hostOfConn(conn);
      if (host) endingOf(host).peerCloseCode = code;
      reg.forward(conn, { type: 'socket.closed', code });
    }
    if (reg.conns.size === 0) this.d.onConnsEmpty();
  }
}
