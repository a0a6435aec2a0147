/**
 * The Node entry: the reference client over `ws`. Node sees what browsers hide: the HTTP status and
 * Retry-After of a refused upgrade (HS-4 … HS-6, RC-8), and it may send credentials as upgrade headers.
 * Everything of `lifeline/client` is exported here too.
 *
 * @module lifeline/client/node
 */
import WebSocket from 'ws';
import { SUBPROTOCOL, defaults } from '../spec/protocol/defaults.js';
import { createClient, type ClientOptions, type LifelineClient } from './create-client.js';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Transport, TransportHandlers, TransportSocket } from './transport.js';
import { withTransports } from './options-copy.js';
import { httpTransport } from './transports/http.js';
import { nodeHttpFetch } from './transports/node-fetch.js';
import { HeldFrames } from './transports/ws-frames.js';
import { isSenderIdle, mayFrameHere, socketOf, type Corkable } from './transports/ws-internals.js';
import { FastReceiveWebSocket } from './transports/ws-receive.js';

export interface NodeTransportOptions {
  /** Upgrade headers for an attempt, e.g. `{ authorization: 'Bearer ' + token }`. */
  readonly headers?: (token: string | undefined) => Record<string, string>;
  /** Largest frame accepted, enforced by ws before buffering (WIRE-4). */
  readonly maxPayloadBytes?: number;
  /** After a close the client started, cut the TCP connection if the peer has not answered by then. */
  readonly closeGraceMs?: number;
  /**
   * Offer permessage-deflate (RFC 7692, spec §3.5) on the upgrade; default false: the reference
   * client offers it only when asked. Off, the upgrade is shorter and the client holds no zlib
   * context (the reference server refuses the extension anyway). On, a server that accepts it may
   * send compressed frames, and the WIRE-4 limit (`maxPayloadBytes`) applies to their inflated
   * size while inflating, ending in close 1009 (WIRE-9: ws enforces it, client/deflate-bomb.test.ts).
   */
  readonly offerPermessageDeflate?: boolean;
}

/** Retry-After as seconds or an HTTP date, in ms; undefined when absent or unreadable. */
export function parseRetryAfterMs(value: string | string[] | undefined, nowMs = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** Where a ws socket finds its NodeSocket: the listeners are shared by every socket (issue 16). */
const OWNER = Symbol('lifeline.nodeSocket');
/** A ws socket with its NodeSocket (ws's internals are read only through transports/ws-internals.ts). */
type OwnedWs = WebSocket & { [OWNER]?: NodeSocket };

/**
 * One socket of the Node transport. The ws listeners are module functions that find this object
 * through the socket (`this` is the emitter), not five closures per socket: with the write batch
 * folded in and the transport's methods on the prototype, an idle client holds one object here
 * instead of a dozen (bench/probes/client-heap.md).
 *
 * Write batching (issue 7, issue 16): the frames a socket is sent during one tick (the replies an
 * inbound chunk causes, Acks, HeartbeatAcks, a loop of sends) are framed and masked here into one
 * buffer and written once when the current callback returns (transports/ws-frames.ts), not one
 * ws.send() each. Every frame stays its own WebSocket frame with one Envelope (WIRE-1); nothing
 * waits for a timer. Where ws must frame (an extension was negotiated, or its sender queues), the
 * socket is corked for the tick instead and ws.send() used, after what is held, so order stays.
 */
class NodeSocket implements TransportSocket {
  private isDone = false;
  /** The net.Socket corked for this tick (ws.send() path). */
  private held: Corkable | undefined;
  /** Frames of this tick framed here (the common path); undefined until the first. */
  private frames: HeldFrames | undefined;
  /** In `batches`, to be released at the end of the tick. */
  private isListed = false;
  /** No extension negotiated and a net.Socket under ws: frames may be built here (set on open). */
  private mayFrame = false;

  constructor(
    private readonly ws: OwnedWs,
    private readonly handlers: TransportHandlers,
    private readonly closeGraceMs: number,
  ) {
    ws[OWNER] = this;
    ws.on('open', onWsOpen);
    ws.on('message', onWsMessage);
    ws.on('unexpected-response', onWsUnexpectedResponse);
    ws.on('close', onWsClose);
    ws.on('error', ignore); // 'close' follows every error
  }

  send(bytes: Uint8Array): void {
    const ws = this.ws;
    if (this.mayFrame && ws.readyState === WebSocket.OPEN && isSenderIdle(ws)) {
      (this.frames ??= new HeldFrames()).add(bytes);
      this.list();
      return;
    }
    this.flush(); // what is held goes first
    this.hold();
    ws.send(bytes);
  }

  close(code: number, reason: string): void {
    const ws = this.ws;
    this.flush(); // held frames precede the Close frame (RFC 6455 §5.5.1: nothing after it)
    this.done();
    if (ws.readyState === WebSocket.CONNECTING) {
      ws.terminate();
      return;
    }
    ws.close(code, reason);
    // A half-open peer never answers the close handshake (HB-4): do not hold the socket for
    // ws's own 30 s closing timeout.
    const t = setTimeout(() => ws.terminate(), this.closeGraceMs);
    t.unref();
    ws.once('close', () => clearTimeout(t));
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount + (this.frames?.bytes ?? 0);
  }

  opened(): void {
    if (this.isDone) return;
    // permessage-deflate (or any extension) is ws's business: it may compress, and queue while it does.
    this.mayFrame = mayFrameHere(this.ws);
    this.handlers.onOpen();
  }

  message(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.isDone) return;
    if (!this.mayFrame) this.hold();
    if (!isBinary) {
      this.handlers.onText();
      return;
    }
    const buf = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? Buffer.from(data) : data;
    this.handlers.onBinary(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
  }

  refused(res: IncomingMessage): void {
    if (this.isDone) return;
    const status = res.statusCode ?? 0;
    const retryAfterMs = parseRetryAfterMs(res.headers['retry-after']);
    this.done();
    res.resume();
    this.ws.terminate();
    this.handlers.onRefused(status, retryAfterMs);
  }

  closed(code: number, reason: Buffer): void {
    if (this.isDone) return;
    this.done();
    this.handlers.onClose(code, reason.toString('utf8'));
  }

  private done(): void {
    this.isDone = true;
    this.frames = undefined; // a closed socket writes nothing more
    const ws = this.ws;
    ws.removeAllListeners();
    ws.on('error', ignore); // late errors of a socket we no longer follow
  }

  private hold(): void {
    if (this.held !== undefined) return;
    // ws keeps its net.Socket in `_socket` (stable across ws 7 and 8); without one, do nothing.
    const sock = socketOf(this.ws);
    if (sock === undefined) return;
    this.held = sock;
    sock.cork();
    this.list();
  }

  private list(): void {
    if (this.isListed) return;
    this.isListed = true;
    if (batches.push(this) === 1) process.nextTick(releaseAll);
  }

  /** Write the frames held for this tick, if the socket is still open (ws.send() drops them after a close too). */
  private flush(): void {
    const f = this.frames;
    if (f === undefined || f.bytes === 0) return;
    const sock = socketOf(this.ws);
    if (this.ws.readyState !== WebSocket.OPEN || sock === undefined || sock.destroyed) {
      f.frames = [];
      f.bytes = 0;
      return;
    }
    sock.write(f.take());
  }

  release(): void {
    this.isListed = false;
    this.flush();
    const sock = this.held;
    this.held = undefined;
    sock?.uncork();
  }
}

function ignore(): void {}
function onWsOpen(this: OwnedWs): void {
  this[OWNER]?.opened();
}
function onWsMessage(this: OwnedWs, data: WebSocket.RawData, isBinary: boolean): void {
  this[OWNER]?.message(data, isBinary);
}
function onWsUnexpectedResponse(this: OwnedWs, _req: ClientRequest, res: IncomingMessage): void {
  this[OWNER]?.refused(res);
}
function onWsClose(this: OwnedWs, code: number, reason: Buffer): void {
  this[OWNER]?.closed(code, reason);
}

let batches: NodeSocket[] = [];

function releaseAll(): void {
  const list = batches;
  batches = [];
  for (const b of list) b.release();
}

export function nodeTransport(o: NodeTransportOptions = {}): Transport {
  const maxPayload = o.maxPayloadBytes ?? defaults.maxPayloadBytes;
  const closeGraceMs = o.closeGraceMs ?? 1000;
  // WIRE-9 when offered: ws's maxPayload bounds the inflated size of a compressed message too.
  const perMessageDeflate = o.offerPermessageDeflate === true;
  return (url, handlers, { token }) => {
    const ws = new FastReceiveWebSocket(url, [SUBPROTOCOL], { headers: o.headers?.(token) ?? {}, maxPayload, perMessageDeflate });
    return new NodeSocket(ws, handlers, closeGraceMs);
  };
}

/** The WebSocket transport of clients without headers, frame limit, close grace or deflate offer of their own: shared, like the HTTP one. */
let sharedWs: Transport | undefined;

export type NodeClientOptions<S> = Omit<ClientOptions<S>, 'WebSocket' | 'transport'> & NodeTransportOptions;

/** The HTTP transport of clients without headers or a frame limit of their own: shared, it holds nothing per client. */
let sharedHttp: Transport | undefined;

/**
 * The reference client for Node: ws, with the HTTP carrier (node:http, client/transports/node-fetch.ts) to fall back to when
 * WebSockets are blocked (§22.7). `headers` go on the upgrade and on the HTTP `open` alike.
 */
export function createNodeClient<S = Uint8Array>(options: NodeClientOptions<S>): LifelineClient<S> {
  const { headers, closeGraceMs, offerPermessageDeflate } = options;
  const transport =
    headers === undefined && closeGraceMs === undefined && options.maxPayloadBytes === undefined && offerPermessageDeflate !== true
      ? (sharedWs ??= nodeTransport())
      : nodeTransport({
          ...(headers && { headers }),
          ...(closeGraceMs !== undefined && { closeGraceMs }),
          ...(options.maxPayloadBytes !== undefined && { maxPayloadBytes: options.maxPayloadBytes }),
          ...(offerPermessageDeflate === true && { offerPermessageDeflate }),
        });
  const http =
    options.httpTransport ??
    (headers === undefined && options.maxPayloadBytes === undefined
      ? (sharedHttp ??= httpTransport(nodeHttpFetch()))
      : httpTransport(nodeHttpFetch(), { ...(headers && { headers }), ...(options.maxPayloadBytes !== undefined && { maxPayloadBytes: options.maxPayloadBytes }) }));
  // A copy with the transports, not a rest destructuring: that one was ~5 % of a client's
  // construction (issue 16); nor a spread (options-copy.ts). The Node-only options left in are
  // read by nobody past this point.
  return createClient<S>(withTransports<S, NodeClientOptions<S>>(options, transport, http));
}

export * from './index.js';
