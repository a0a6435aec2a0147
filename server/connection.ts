/**
 * One accepted WebSocket: writes, closes, pings and RTT. It decides nothing; the
 * session machine (through server/machine-host.ts) says when to do what.
 */
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { clampCloseReason, codeOf, type WsCloseCodeName } from '../spec/protocol/close-codes.js';
import type { Clock } from './clock.js';
import type { SessionSpan } from './observability/tracing.js';

/** Smoothing of RTT samples, as TCP's SRTT (RFC 6298: α = 1/8). */
const RTT_ALPHA = 0.125;

let nextConnectionId = 1;

export class Connection {
  readonly id = nextConnectionId++;
  /** The session (or handshake) stopped using this socket: nothing more is written or forwarded. */
  isEnded = false;
  /** The socket itself closed. */
  isClosed = false;
  /** Smoothed RTT from ping → pong, in ms (undefined until the first pong). */
  rttMs: number | undefined;
  private pingSentAt: number | undefined;
  /** Writes whose completion must re-run the pump (BP-4). */
  private drainWaits = 0;
  private onDrain: (() => void) | undefined;
  /** The close code we sent, or the peer's when it closed first. */
  closeCode: number | undefined;
  /** When the WebSocket opened (clock ms), for the connection duration. */
  readonly openedAt: number;
  /** This connection's span (SEC-3), ended with its close code. */
  span: SessionSpan | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly principal: string,
    readonly address: string,
    private readonly clock: Clock,
    /** Records carry this connection's ids (conn, trace, then session). */
    public log: Logger,
  ) {
    this.openedAt = clock.now();
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  /**
   * Write one frame. A write that leaves the socket above `highWater` carries a
   * callback, so the pump runs again once the socket has flushed it (BP-4).
   */
  write(bytes: Uint8Array, highWater: number): void {
    if (this.isEnded || this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount + bytes.byteLength > highWater) {
      this.drainWaits++;
      this.ws.send(bytes, { binary: true }, () => {
        this.drainWaits--;
        if (this.drainWaits === 0 && this.onDrain) this.onDrain();
      });
    } else {
      this.ws.send(bytes, { binary: true });
    }
  }

  /** Run `fn` when the writes above the high-water mark have flushed. */
  whenDrained(fn: () => void): void {
    this.onDrain = fn;
  }

  ping(): void {
    if (this.isEnded || this.ws.readyState !== this.ws.OPEN) return;
    this.pingSentAt = this.clock.now();
    this.ws.ping();
  }

  /** A pong came back: the RTT sample in ms when it answers our last ping, else undefined. */
  pong(): number | undefined {
    if (this.pingSentAt === undefined) return undefined;
    const sample = Math.max(0, this.clock.now() - this.pingSentAt);
    this.pingSentAt = undefined;
    this.rttMs = this.rttMs === undefined ? sample : this.rttMs + RTT_ALPHA * (sample - this.rttMs);
    return sample;
  }

  /** Close with a registry code (CC-1); the session stops using the socket at once. */
  close(name: WsCloseCodeName, reason = ''): void {
    this.isEnded = true;
    if (this.closeCode === undefined) this.closeCode = codeOf(name);
    if (this.ws.readyState === this.ws.CONNECTING || this.ws.readyState === this.ws.OPEN) {
      this.ws.close(codeOf(name), clampCloseReason(reason || name));
    }
  }

  /** Close frame best-effort, then destroy the transport without waiting (HB-3, DR-5). */
  terminate(name: WsCloseCodeName, reason = ''): void {
    this.close(name, reason);
    this.ws.terminate();
  }

  /** The session no longer uses this socket (the peer closed it). */
  forget(): void {
    this.isEnded = true;
  }
}
