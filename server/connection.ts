/**
 * The core's attachment to one peer, whatever its transport (issue 12, finding 6): writes with the
 * drain signal (BP-4), closes by registry name, pings and RTT, the fixed-interval liveness counters,
 * the log and span. Outbound calls go to its PeerTransport; inbound, it is the PeerSink the core gives
 * the transport, and passes each event on with itself to the server's handlers. It decides nothing;
 * the session machine (through server/machine-host.ts) says when to do what.
 */
import { codeOf, type WsCloseCodeName } from '../spec/protocol/close-codes.js';
import type { Clock } from './clock.js';
import { isSpanContextValid } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { assertFrameFits } from './frame-limit.js';
import { SessionLog } from './observability/logger.js';
import type { SessionSpan } from './observability/tracing.js';
import type { SessionActor } from './session-actor.js';
import { sessionIdPrefix } from './telemetry.js';
import type { PeerSink, PeerTransport } from './transport.js';

/** Smoothing of RTT samples, as TCP's SRTT and RTTVAR (RFC 6298: α = 1/8, β = 1/4; spec §8.6). */
const RTT_ALPHA = 0.125;
const RTT_BETA = 0.25;

/**
 * The server's handlers of peer events, one object per server: a connection passes itself along, so
 * a peer costs no closures (memory per idle session, issue 7).
 */
export interface PeerEvents {
  frame(conn: Connection, bytes: Uint8Array, isBinary: boolean): void;
  pong(conn: Connection): void;
  closed(conn: Connection, code: number): void;
  protocolError(conn: Connection, closeName: WsCloseCodeName, reason: string): void;
}

/**
 * What every connection of one server shares: one object, not a field of each per connection
 * (issue 16, memory per idle session: 8 B a field).
 */
export interface ConnectionEnv {
  /** The server's handlers of peer events. */
  readonly events: PeerEvents;
  readonly clock: Clock;
  /** The server's logger; a connection's records are its child (SessionLog). */
  readonly logger: Logger;
}

/** Bits of Connection's `state`. */
const ENDED = 1;
const CLOSED = 2;
const SWEPT = 4;

/** Told when the writes above the high-water mark have flushed (BP-4): the session itself, no closure per session. */
export interface DrainListener {
  drained(): void;
}

let nextConnectionId = 1;

export class Connection implements PeerSink {
  readonly id = nextConnectionId++;
  /** isEnded, isClosed and isSwept, one bit each: one field, not three. */
  private state = 0;
  /**
   * SRTT and RTTVAR in whole µs (rttMs, rttVarMs). A small integer is kept in the field itself; a
   * fractional ms value was a 16 B heap number per field for every session once pinged (issue 16).
   */
  private srttUs: number | undefined = undefined;
  private rttVarUs: number | undefined = undefined;
  private pingSentAt: number | undefined;
  /**
   * Fixed-interval liveness counted here, not in the machine (issue 7): pings sent since the last
   * pong or frame (HB-2, HB-3), sweep ticks since the last frame (HB-7, HB-8).
   */
  missedPings = 0;
  silentTicks = 0;
  /** Writes whose completion must re-run the pump (BP-4). */
  private drainWaits = 0;
  private onDrain: DrainListener | undefined;
  /** The close code we sent, or the peer's when it closed first. */
  closeCode: number | undefined;
  /** The session's id once Welcome names it (nameSession); records show its prefix only (§16.3). */
  private sessionId: string | undefined = undefined;
  /** Made on the first record: an idle connection holds no logger object (issue 16, memory per idle session). */
  private sessionLog: SessionLog | undefined = undefined;
  /** When the transport opened (clock ms), for the connection duration. */
  readonly openedAt: number;
  /** The session machine that owns this connection (its handshake's, then its session's: RS-2); the registry sets it. */
  owner: SessionActor | undefined = undefined;

  constructor(
    readonly transport: PeerTransport,
    private readonly env: ConnectionEnv,
    readonly principal: string,
    /** This connection's span (SEC-3), ended with its close code; its records carry its trace id. */
    public span: SessionSpan | undefined = undefined,
  ) {
    // Whole ms: a small integer is stored in the field itself, a fractional one as a 16 B heap number (memory per idle session).
    this.openedAt = Math.floor(env.clock.now());
  }

  /** The session (or handshake) stopped using this transport: nothing more is written or forwarded. */
  get isEnded(): boolean {
    return (this.state & ENDED) !== 0;
  }
  /** The transport itself closed. */
  get isClosed(): boolean {
    return (this.state & CLOSED) !== 0;
  }
  set isClosed(v: boolean) {
    this.state = v ? this.state | CLOSED : this.state & ~CLOSED;
  }
  /** A member of the liveness sweep (liveness.ts SweptConnections sets it). */
  get isSwept(): boolean {
    return (this.state & SWEPT) !== 0;
  }
  set isSwept(v: boolean) {
    this.state = v ? this.state | SWEPT : this.state & ~SWEPT;
  }

  /** Smoothed RTT from ping → pong, in ms (undefined until the first pong). */
  get rttMs(): number | undefined {
    return this.srttUs === undefined ? undefined : this.srttUs / 1000;
  }
  /** RTT variation (RFC 6298 RTTVAR), in ms. */
  get rttVarMs(): number | undefined {
    return this.rttVarUs === undefined ? undefined : this.rttVarUs / 1000;
  }

  /** Records carry this connection's ids (conn, trace, then session once Welcome names it). */
  get log(): SessionLog {
    const sessionId = this.sessionId === undefined ? undefined : sessionIdPrefix(this.sessionId);
    const ctx = this.span?.spanContext;
    const traceId = ctx !== undefined && isSpanContextValid(ctx) ? ctx.traceId : undefined; // SEC-3: records lead to the trace
    return (this.sessionLog ??= new SessionLog(this.env.logger, { connId: this.id, traceId, sessionId }));
  }

  /** Welcome named this connection's session (its full id, held by the session anyway): records carry its prefix from now on. */
  nameSession(id: string): void {
    this.sessionId = id;
    this.sessionLog = undefined; // the next record makes a logger with it
  }

  get bufferedAmount(): number {
    return this.transport.bufferedAmount;
  }

  // ---- PeerSink: the transport's events, passed on to the server with this connection ----

  frame(bytes: Uint8Array, isBinary: boolean): void {
    this.env.events.frame(this, bytes, isBinary);
  }
  pong(): void {
    this.env.events.pong(this);
  }
  closed(code: number): void {
    this.env.events.closed(this, code);
  }
  protocolError(closeName: WsCloseCodeName, reason: string): void {
    this.env.events.protocolError(this, closeName, reason);
  }

  /**
   * Write one frame. A write that leaves the transport above `highWater` carries a
   * callback, so the pump runs again once the transport has flushed it (BP-4).
   */
  write(bytes: Uint8Array, highWater: number): void {
    const t = this.transport;
    if (this.isEnded || !t.isOpen) return;
    assertFrameFits(bytes); // WIRE-12: the caller fails this session (CC-5); nothing oversized is sent
    if (t.bufferedAmount + bytes.byteLength > highWater) {
      this.drainWaits++;
      t.write(bytes, () => {
        this.drainWaits--;
        if (this.drainWaits === 0 && this.onDrain) this.onDrain.drained();
      });
    } else {
      t.write(bytes);
    }
  }

  /** A write above the high-water mark has not flushed yet: `whenDrained` will fire. */
  get isAwaitingDrain(): boolean {
    return this.drainWaits > 0;
  }

  /** Tell `listener` when the writes above the high-water mark have flushed. */
  whenDrained(listener: DrainListener): void {
    this.onDrain = listener;
  }

  /**
   * A protocol ping (HB-1). A transport without one sends nothing, and no ping is outstanding: the
   * count of unanswered pings stays 0 (HB-2, HB-3), so only HB-7's silence ends such a peer (§8.2).
   */
  ping(): void {
    const t = this.transport;
    if (this.isEnded || !t.isOpen) return;
    if (t.ping === undefined) {
      this.missedPings = 0; // the sweep raised it before calling here (HB-2): nothing was sent
      return;
    }
    this.pingSentAt = this.env.clock.now();
    t.ping();
  }

  /**
   * A pong came back: the RTT sample in ms when it answers our last ping (else undefined), and
   * whether it is a spike, above SRTT + 4·RTTVAR (spec §8.8). `toleranceMs` is variation too small
   * to mean anything on this path (timer and scheduling noise): never a spike below it.
   */
  measurePong(toleranceMs = 0): { readonly sampleMs: number; readonly isSpike: boolean } | undefined {
    if (this.pingSentAt === undefined) return undefined;
    const sample = Math.max(0, this.env.clock.now() - this.pingSentAt);
    this.pingSentAt = undefined;
    const srtt = this.rttMs;
    const rttvar = this.rttVarMs;
    if (srtt === undefined || rttvar === undefined) {
      this.setRtt(sample, sample / 2);
      return { sampleMs: sample, isSpike: false };
    }
    const isSpike = sample > srtt + Math.max(4 * rttvar, toleranceMs);
    this.setRtt(srtt + RTT_ALPHA * (sample - srtt), (1 - RTT_BETA) * rttvar + RTT_BETA * Math.abs(srtt - sample));
    return { sampleMs: sample, isSpike };
  }

  private setRtt(srttMs: number, rttVarMs: number): void {
    this.srttUs = Math.round(srttMs * 1000);
    this.rttVarUs = Math.round(rttVarMs * 1000);
  }

  /** The RTT varies little: RTTVAR ≤ SRTT / 4, or within `toleranceMs` (spec §8.8). False without samples. */
  isRttStable(toleranceMs = 0): boolean {
    const srtt = this.rttMs;
    const rttvar = this.rttVarMs;
    if (srtt === undefined || rttvar === undefined) return false;
    return rttvar <= Math.max(srtt / 4, toleranceMs);
  }

  /**
   * Close with a registry code (CC-1); the session stops using the transport at once. The transport
   * destroys a peer that never completes the close (CC-10).
   */
  close(name: WsCloseCodeName, reason = ''): void {
    this.state |= ENDED;
    if (this.closeCode === undefined) this.closeCode = codeOf(name);
    this.transport.close(name, reason);
  }

  /** Close best-effort, then destroy the transport without waiting (HB-3, DR-5). */
  terminate(name: WsCloseCodeName, reason = ''): void {
    this.close(name, reason);
    this.transport.terminate();
  }

  /** The session no longer uses this transport (the peer closed it). */
  forget(): void {
    this.state |= ENDED;
  }
}
