/**
 * One HTTP carrier connection (spec §22, issue 15) as a PeerTransport of kind 'http': the HTTP
 * equivalent of one WebSocket, living across many requests. Downstream it keeps the frames the core
 * wrote until the client acknowledges them on a later receive (HT-7), writes them to the open receive
 * response one burst per tick (HT-9), and carries the server's close as a CLOSE record (HT-10).
 * Upstream it hands the frames of send bodies to the core's sink, each exactly once, by carrier index
 * (HT-6; the parsing is in http-send.ts). It decides nothing about sessions.
 */
import type { ServerResponse } from 'node:http';
import { clampCloseReason, codeOf, type WsCloseCodeName } from '../../spec/protocol/close-codes.js';
import { closeRecord, KEEPALIVE_RECORD, RECORD_HEADER_BYTES, RecordKind, type ReceiveMode } from '../../spec/protocol/http-carrier.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { PeerSink, PeerTransport } from '../transport.js';
import { NO_CORS, type Cors } from './http-answer.js';

export interface HttpConnectionOptions {
  /** WIRE-4: the largest Envelope a send body may carry. */
  readonly maxPayloadBytes: number;
  /** CC-10: how long a close waits for a receive to carry its CLOSE record. */
  readonly closeTimeoutMs: number;
  /** HT-8: a stream response ends after carrying this many bytes, or after this long. */
  readonly streamMaxBytes: number;
  readonly streamMaxMs: number;
  /** HT-8: an empty poll response ends after this long. */
  readonly pollHoldMs: number;
  /** HT-12: no receive open this long → the transport is dead (1006). */
  readonly receiveGapMs: number;
  /**
   * HT-16: unacknowledged bytes past which the client is not reading as it must (the core pauses at
   * the BP-4 high-water mark long before): the connection is cut as a dead transport.
   */
  readonly maxRetainedBytes: number;
  readonly timers: Clock;
}

/** The open receive response. */
interface Receive {
  readonly res: ServerResponse;
  readonly mode: ReceiveMode;
  /** Bytes written to this response. */
  carried: number;
  timer: TimerHandle | undefined;
}

/** Connections whose new frames go out at the end of this tick (HT-9: one res.write per burst). */
let toFlush: HttpConnection[] = [];

function flushBursts(): void {
  const list = toFlush;
  toFlush = [];
  for (const c of list) c.flushBurst();
}

/** Why a receive request is refused (HT-7): the route answers 409 and the connection closes PROTOCOL_ERROR. */
export type ReceiveRefusal = 'ack-ahead' | 'ack-behind';

export class HttpConnection implements PeerTransport {
  readonly kind = 'http';
  sink: PeerSink | undefined;
  /** FRAME records received from the client so far: the carrier index of the next one (HT-6). */
  received = 0;
  /** A send request is being read (HT-6: one at a time). */
  isSending = false;
  /** Open → closing (a CLOSE record waits for a receive) → gone (every request 404). */
  private state: 'open' | 'closing' | 'gone' = 'open';
  private closeCode = 1006;
  private closeReason = '';
  /** Frames written by the core and not yet acknowledged; retained[head] has carrier index `acked`. */
  private retained: Uint8Array[] = [];
  private head = 0;
  private acked = 0;
  /** Frames written to some response (a later receive's Ack may not exceed it, HT-7). */
  private delivered = 0;
  /** The next carrier index the open receive writes. */
  private cursor = 0;
  private retainedBytes = 0;
  /** Write callbacks (BP-4): run once the client acknowledged the frame at `index`. */
  private waits: { index: number; cb: () => void }[] = [];
  private receive: Receive | undefined;
  private isQueued = false;
  /** The gap timer (HT-12) while no receive is open, or the close timer (CC-10) while closing. */
  private idleTimer: TimerHandle | undefined;

  constructor(
    /** The capability (HT-4); only in headers, never logged. */
    readonly id: string,
    /** The Origin of the open request: every later request must carry the same (HT-5). */
    readonly origin: string | undefined,
    private readonly o: HttpConnectionOptions,
    /** The connection is gone: later requests get 404. */
    private readonly onGone: (c: HttpConnection) => void,
  ) {
    this.armIdle();
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  get isGone(): boolean {
    return this.state === 'gone';
  }

  /** HT-16: bytes queued for a receive plus bytes written to responses and not yet acknowledged. */
  get bufferedAmount(): number {
    return this.retainedBytes;
  }

  private get total(): number {
    return this.acked + this.retained.length - this.head;
  }

  write(bytes: Uint8Array, onFlushed?: () => void): void {
    if (this.state !== 'open') return;
    this.retained.push(bytes);
    this.retainedBytes += bytes.byteLength;
    if (onFlushed) this.waits.push({ index: this.total - 1, cb: onFlushed });
    if (this.retainedBytes > this.o.maxRetainedBytes) {
      this.terminate(); // HT-16: a client that never acknowledges cannot grow this without bound
      return;
    }
    this.queueBurst();
  }

  close(name: WsCloseCodeName, reason: string): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.closeCode = codeOf(name); // CC-1
    this.closeReason = clampCloseReason(reason || name);
    this.clearIdle();
    if (this.receive) this.flushBurst();
    if (this.receive === undefined) this.armIdle();
  }

  terminate(): void {
    if (this.state === 'gone') return;
    const r = this.receive;
    if (r && this.state === 'open') this.writeTo(r, false); // what is batched goes first (as ws flushes its cork)
    this.receive = undefined;
    if (r) {
      this.stopTimer(r);
      r.res.destroy(); // the client sees a network error: 1006 (HT-11)
    }
    this.closeCode = 1006;
    this.finish();
  }

  /** The client's CLOSE record (HT-10): echoed on an open receive, then the connection is gone. */
  closedByPeer(code: number, reason: string): void {
    if (this.state === 'gone') return;
    if (this.state === 'open') {
      this.state = 'closing';
      this.closeCode = code;
      this.closeReason = reason;
    }
    this.clearIdle();
    if (this.receive) this.flushBurst();
    else this.finish(); // nothing to echo it on: gone at once, as after a close handshake
  }

  /**
   * A receive request with the client's Ack (HT-7): forget what it acknowledged, then carry the
   * retained frames from there, then live ones. A newer receive ends an older one (HT-8).
   */
  openReceive(res: ServerResponse, mode: ReceiveMode, ack: number, cors: Cors = NO_CORS): ReceiveRefusal | undefined {
    if (ack > this.delivered) return 'ack-ahead'; // HT-7: frames never sent
    if (ack < this.acked) return 'ack-behind'; // HT-7: below an earlier Ack
    const old = this.receive;
    if (old) this.endReceive(old); // HT-8: the newer wins
    this.forgetBelow(ack);
    this.clearIdle();
    this.cursor = ack;
    res.writeHead(200, cors.receive as string[]); // HT-15
    const r: Receive = { res, mode, carried: 0, timer: undefined };
    this.receive = r;
    res.on('close', () => this.receiveClosed(r));
    r.timer = this.o.timers.setTimeout(() => this.endReceive(r), mode === 'stream' ? this.o.streamMaxMs : this.o.pollHoldMs);
    this.writeTo(r, mode === 'stream'); // HT-8: a stream starts with KEEPALIVE
    return undefined;
  }

  /** The frames of this tick (HT-9), then a pending CLOSE record. */
  flushBurst(): void {
    this.isQueued = false;
    const r = this.receive;
    if (r) this.writeTo(r, false);
  }

  private queueBurst(): void {
    if (this.isQueued || this.receive === undefined) return;
    this.isQueued = true;
    if (toFlush.push(this) === 1) process.nextTick(flushBursts);
  }

  /** Write what the receive has not carried yet, in one res.write; end it when its mode says so. */
  private writeTo(r: Receive, withKeepalive: boolean): void {
    const from = this.cursor;
    let to = this.total;
    let isClosing = this.state === 'closing';
    if (from >= to && !withKeepalive && !isClosing) return;
    let size = withKeepalive ? KEEPALIVE_RECORD.byteLength : 0;
    // HT-8: a response carries at most httpStreamMaxBytes (at least one frame); the rest goes on the next.
    const room = this.o.streamMaxBytes - r.carried;
    const base = this.head - this.acked;
    for (let i = from; i < to; i++) {
      const n = RECORD_HEADER_BYTES + (this.retained[base + i] as Uint8Array).byteLength;
      if (i > from && size + n > room) {
        to = i;
        isClosing = false; // the CLOSE record follows the frames before it (HT-10), on the next receive
        break;
      }
      size += n;
    }
    const close = isClosing ? closeRecord(this.closeCode, this.closeReason) : undefined; // HT-10
    if (close) size += close.byteLength;
    // One buffer for the burst, record headers written in place: no header object and no parts list per
    // frame (bench profile of issue 15: the per-frame header allocations were the carrier's own hot spot).
    const out = burstBuffer(size);
    let at = 0;
    if (withKeepalive) {
      out.set(KEEPALIVE_RECORD, at);
      at += KEEPALIVE_RECORD.byteLength;
    }
    for (let i = from; i < to; i++) {
      const f = this.retained[base + i] as Uint8Array;
      const n = f.byteLength;
      out[at] = RecordKind.FRAME;
      out[at + 1] = n >>> 24;
      out[at + 2] = (n >>> 16) & 0xff;
      out[at + 3] = (n >>> 8) & 0xff;
      out[at + 4] = n & 0xff;
      out.set(f, at + RECORD_HEADER_BYTES);
      at += RECORD_HEADER_BYTES + n;
    }
    if (close) out.set(close, at);
    this.cursor = to;
    if (to > this.delivered) this.delivered = to;
    r.carried += size;
    // HT-9: the burst goes out now, in one writev (chunk size, records, CRLF, and the response's end
    // when it ends here). Corked around the write, Node does not cork it itself and defer the uncork to
    // one more tick (this already runs at the end of the tick that wrote the frames); end() uncorks.
    const socket = r.res.socket;
    socket?.cork();
    r.res.write(out);
    if (isClosing) {
      this.endReceive(r);
      this.finish();
    } else if (to > from && (r.mode === 'poll' || r.carried >= this.o.streamMaxBytes || to < this.total || this.waits.length > 0)) {
      // HT-8: a poll ends with its first records; a stream at its byte bound. A write that waits for a
      // drain (BP-4) ends it too, so the client's next receive acknowledges at once.
      this.endReceive(r);
    }
    socket?.uncork();
  }

  private endReceive(r: Receive): void {
    this.stopTimer(r);
    if (this.receive === r) {
      this.receive = undefined;
      this.armIdle();
    }
    if (!r.res.writableEnded) r.res.end();
  }

  /** The response closed (ended, or cut by the client or a proxy): the gap timer runs (HT-12). */
  private receiveClosed(r: Receive): void {
    this.stopTimer(r);
    if (this.receive !== r) return;
    this.receive = undefined;
    this.armIdle();
  }

  private stopTimer(r: Receive): void {
    if (r.timer !== undefined) this.o.timers.clearTimeout(r.timer);
    r.timer = undefined;
  }

  /** HT-7: frames below the Ack reached the client; their write callbacks run (BP-4). */
  private forgetBelow(ack: number): void {
    while (this.acked < ack) {
      const f = this.retained[this.head] as Uint8Array;
      this.retained[this.head] = EMPTY;
      this.retainedBytes -= f.byteLength;
      this.head++;
      this.acked++;
    }
    if (this.head > 64 && this.head * 2 > this.retained.length) {
      this.retained = this.retained.slice(this.head);
      this.head = 0;
    }
    if (this.waits.length > 0 && (this.waits[0] as { index: number }).index < ack) {
      const due = this.waits.filter((w) => w.index < ack);
      this.waits = this.waits.filter((w) => w.index >= ack);
      for (const w of due) w.cb();
    }
  }

  /**
   * No receive is open. Open: HT-12, no receive for the gap → the transport died (1006), as a TCP
   * connection that broke. Closing: CC-10, the CLOSE record waits for a receive at most the close timeout.
   */
  private armIdle(): void {
    if (this.state === 'gone') return;
    this.clearIdle();
    if (this.state === 'closing') {
      this.idleTimer = this.o.timers.setTimeout(() => this.finish(), this.o.closeTimeoutMs); // CC-10
      return;
    }
    this.idleTimer = this.o.timers.setTimeout(() => {
      this.idleTimer = undefined;
      this.closeCode = 1006;
      this.finish();
    }, this.o.receiveGapMs);
  }

  private clearIdle(): void {
    if (this.idleTimer !== undefined) this.o.timers.clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** Gone: forget everything, then tell the core (after this call returns, as a socket's close event). */
  finish(): void {
    if (this.state === 'gone') return;
    this.state = 'gone';
    this.clearIdle();
    const r = this.receive;
    this.receive = undefined;
    if (r) this.endReceive(r);
    this.retained = [];
    this.head = 0;
    this.retainedBytes = 0;
    const waits = this.waits;
    this.waits = [];
    this.onGone(this);
    const code = this.closeCode;
    process.nextTick(() => {
      for (const w of waits) w.cb(); // as ws runs a closed socket's send callbacks
      this.sink?.closed(code);
    });
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Burst buffers are carved from a slab, bump-allocated and never reused (as fast-codec's allocFrame):
 * a burst over 4 KiB (a few 1 KiB echoes) would otherwise get its own ArrayBuffer from
 * Buffer.allocUnsafe, each a backing store to create and collect (issue 15, 1 KiB echo). A burst
 * keeps at most its slab alive until the socket wrote it.
 */
const SLAB_BYTES = 128 * 1024;
const SLAB_MAX_BURST = 32 * 1024;
let slab: Buffer = Buffer.allocUnsafeSlow(0);
let slabPos = 0;

/** `n` bytes for a burst, every one of them written before the burst goes out (so never zero-filled). */
function burstBuffer(n: number): Uint8Array {
  if (n > SLAB_MAX_BURST) return Buffer.allocUnsafeSlow(n);
  if (slabPos + n > slab.byteLength) {
    // allocUnsafeSlow: a slab of its own, not zero-filled (a zeroed 128 KiB was 1.8 % of the 1 KiB echo's server CPU)
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    slabPos = 0;
  }
  const out = new Uint8Array(slab.buffer, slab.byteOffset + slabPos, n);
  slabPos += n;
  return out;
}
