/**
 * The WebSocket transport (issue 12, finding 6): everything `ws` behind the PeerTransport seam
 * (server/transport.ts). The upgrade after the shared admission (HS-1 … HS-7, HS-15 … HS-18 in
 * server/admission.ts), maxPayload (WIRE-4) and the subprotocol (HS-3), ws events turned into sink
 * calls, cork-per-burst write batching, ws's own protocol errors (CC-11), ping/pong (HB-1, HB-2) and
 * the close timeout (CC-10). It decides nothing about sessions.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData, type Server as WsServer } from 'ws';
import { clampCloseReason, codeOf, type WsCloseCodeName } from '../../spec/protocol/close-codes.js';
import type { Clock, TimerHandle } from '../../spec/protocol/clock.js';
import { SUBPROTOCOL } from '../../spec/protocol/defaults.js';
import { admitUpgrade, upgradeCompleted, type UpgradeContext } from '../admission.js';
import type { AcceptPeer, PeerInfo, PeerSink, PeerTransport } from '../transport.js';
import { heldBytes, holdFrame, writeHeld, type BatchedPeer, type HeldFrames } from './write-batch.js';
import { wsProtocolErrorName } from './ws-errors.js';
import { releaseChunkList } from './ws-internals.js';
import { receiveFast } from './ws-receive.js';

export interface WsTransportOptions {
  /** WIRE-4: ws refuses a larger frame before buffering it, and closes 1009 (CC-11). */
  readonly maxPayloadBytes: number;
  /** CC-10: how long a close frame we sent may wait for the peer's before the socket is destroyed. */
  readonly closeTimeoutMs: number;
  /** Where the close timer runs (timers that do not hold the process open). */
  readonly timers: Clock;
}

/** The peer of a ws socket, kept on the socket so its event handlers can be shared (no closures per socket). */
const kPeer = Symbol('lifeline.peer');
type PeerSocket = WebSocket & { [kPeer]?: WsPeer };

/** ws's send options for every Lifeline frame; one object, not one per write. */
const BINARY = { binary: true } as const;

/** One accepted WebSocket as a PeerTransport. */
export class WsPeer implements PeerTransport, BatchedPeer {
  /** On the prototype, not a field per peer (memory per idle session). */
  get kind(): 'ws' {
    return 'ws';
  }
  sink: PeerSink | undefined;
  private closeTimer: TimerHandle | undefined;
  /** Frames of this tick's burst, written on the next tick (write-batch.ts); undefined between bursts. */
  held: HeldFrames | undefined = undefined;

  constructor(
    /** The socket (tests reach its net.Socket; nothing else outside this file should). */
    readonly ws: WebSocket,
    private readonly o: WsTransportOptions,
  ) {}

  get isOpen(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  /** BP-4: what the socket has not written yet, this tick's held burst included. */
  get bufferedAmount(): number {
    return this.ws.bufferedAmount + heldBytes(this);
  }

  write(bytes: Uint8Array, onFlushed?: () => void): void {
    // Every write of this callback leaves in one write on the next tick (issue 16): an inbound
    // burst's replies, and a fan-out tick that publishes several messages, write each socket once.
    if (holdFrame(this, bytes, onFlushed)) return;
    writeHeld(this); // ws sends this one itself: what the burst holds goes first
    if (onFlushed) this.ws.send(bytes, BINARY, onFlushed);
    else this.ws.send(bytes, BINARY);
  }

  ping(): void {
    this.ws.ping(); // HB-1
  }

  close(name: WsCloseCodeName, reason: string): void {
    const ws = this.ws;
    const state = ws.readyState;
    if (state !== ws.CONNECTING && state !== ws.OPEN && state !== ws.CLOSING) return;
    writeHeld(this); // the frames of this tick before the close frame (a DrainNotice, a reply)
    // CLOSING: ws sent its own close frame for a protocol error (CC-11); only the timer is ours.
    if (state !== ws.CLOSING) ws.close(codeOf(name), clampCloseReason(reason || name)); // CC-1
    // CC-10: a peer that never answers the close frame (half-open, not reading) is destroyed; ws's own
    // wait is 30 s.
    if (this.closeTimer === undefined) {
      this.closeTimer = this.o.timers.setTimeout(() => {
        if (ws.readyState !== ws.CLOSED) ws.terminate();
      }, this.o.closeTimeoutMs);
    }
  }

  terminate(): void {
    writeHeld(this); // a burst held by write batching would be dropped with the socket
    this.ws.terminate();
  }

  /** The socket closed: the close timer has nothing left to do. */
  ended(): void {
    if (this.closeTimer !== undefined) this.o.timers.clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
  }
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

// Shared handlers: `this` is the socket (EventEmitter calls listeners so), its peer is on it.
function onMessage(this: PeerSocket, data: RawData, isBinary: boolean): void {
  const sink = this[kPeer]?.sink;
  if (sink === undefined) return;
  sink.frame(toBytes(data), isBinary);
}

function onPong(this: PeerSocket): void {
  this[kPeer]?.sink?.pong(); // HB-2
}

function onError(this: PeerSocket, err: Error): void {
  // CC-11: ws closed this socket for a protocol error it caught itself; other errors (ECONNRESET,
  // EPIPE) are a transport that died, and the close event that follows says so (RS-1).
  const name = wsProtocolErrorName(err);
  if (name !== undefined) this[kPeer]?.sink?.protocolError(name, `CC-11: ${err.message}`);
}

function onClose(this: PeerSocket, code: number): void {
  const peer = this[kPeer];
  if (peer === undefined) return;
  peer.ended();
  peer.sink?.closed(code);
}

/**
 * The WebSocket class of the server's sockets: the four events the core needs are handled in emit()
 * itself, with the peer in a field set at construction. Four listeners would grow every socket's
 * `_events` (a dictionary, Object.create(null)) and the symbol property its property array (issue
 * 12, memory per idle session: about 100 B a socket). Listeners of anyone else still run, after ours.
 */
export class PeerWebSocket extends WebSocket {
  [kPeer]: WsPeer | undefined = undefined;

  /** ws's setup of an upgraded socket (not in ws's types), then the receive fast path on its Receiver (ws-receive.ts). */
  setSocket(socket: Duplex, head: Buffer, options: object): void {
    (WebSocket.prototype as unknown as { setSocket(s: Duplex, h: Buffer, o: object): void }).setSocket.call(this, socket, head, options);
    receiveFast(this);
  }

  // Fixed parameters, not a rest array: emit runs once per received frame. ws emits at most 2 arguments.
  override emit(event: string | symbol, a?: unknown, b?: unknown): boolean {
    const s = this as PeerSocket;
    if (s[kPeer] !== undefined) {
      switch (event) {
        case 'message':
          onMessage.call(s, a as RawData, b as boolean);
          releaseChunkList(this);
          break;
        case 'pong':
          onPong.call(s);
          releaseChunkList(this); // an idle peer's only frames are often pongs (HB-1, HB-2)
          break;
        case 'error':
          onError.call(s, a as Error);
          // An 'error' nobody listens to would throw out of ws's receiver: handled here.
          if (this.listenerCount('error') === 0) return true;
          break;
        case 'close':
          onClose.call(s, a as number);
          break;
      }
    }
    return arguments.length <= 1 ? super.emit(event) : arguments.length === 2 ? super.emit(event, a) : super.emit(event, a, b);
  }
}

/**
 * Hand an open WebSocket to the core as a peer and wire its events to the sink the core returns.
 * Exported for in-process stand-ins of sockets (the liveness bench at 50,000 sessions): those get
 * the shared handlers as listeners.
 */
export function adoptWebSocket(ws: WebSocket, info: PeerInfo, accept: AcceptPeer, o: WsTransportOptions): WsPeer | undefined {
  const peer = new WsPeer(ws, o);
  const sink = accept(peer, info);
  if (sink === undefined) return undefined; // refused: the core terminated it
  peer.sink = sink;
  const s = ws as PeerSocket;
  s[kPeer] = peer;
  if (ws instanceof PeerWebSocket) return peer; // its emit() calls the handlers
  s.on('message', onMessage);
  s.on('pong', onPong);
  s.on('error', onError);
  s.on('close', onClose);
  return peer;
}

/** The server's WebSocket endpoint: admission, then the upgrade, then a peer for the core. */
export class WsTransport {
  private readonly wss: WsServer<typeof PeerWebSocket>;

  constructor(
    private readonly o: WsTransportOptions,
    private readonly accept: AcceptPeer,
  ) {
    this.wss = new WebSocketServer<typeof PeerWebSocket>({
      WebSocket: PeerWebSocket, // events handled without listeners (above)
      noServer: true,
      maxPayload: o.maxPayloadBytes, // WIRE-4: enforced before buffering; ws closes 1009
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false), // HS-3
    });
  }

  /** An HTTP upgrade on the server: the shared admission first (HS-1 … HS-7), then the WebSocket. */
  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, admission: UpgradeContext): Promise<void> {
    const upgradeStartedAtMs = Date.now(); // epoch ms: the session span starts at the upgrade request
    const principal = await admitUpgrade(req, socket, admission);
    if (principal === undefined) return;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      upgradeCompleted(socket); // ws's own error listener is on the socket now
      this.adopt(ws, { principal, req, upgradeStartedAtMs });
    });
  }

  /** A WebSocket whose upgrade completed, handed to the core. */
  adopt(ws: WebSocket, info: PeerInfo): WsPeer | undefined {
    return adoptWebSocket(ws, info, this.accept, this.o);
  }

  close(): void {
    this.wss.close();
  }
}
