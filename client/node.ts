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
import type { Transport } from './transport.js';

export interface NodeTransportOptions {
  /** Upgrade headers for an attempt, e.g. `{ authorization: 'Bearer ' + token }`. */
  readonly headers?: (token: string | undefined) => Record<string, string>;
  /** Largest frame accepted, enforced by ws before buffering (WIRE-4). */
  readonly maxPayloadBytes?: number;
  /** After a close the client started, cut the TCP connection if the peer has not answered by then. */
  readonly closeGraceMs?: number;
}

/** Retry-After as seconds or an HTTP date, in ms; undefined when absent or unreadable. */
export function parseRetryAfterMs(value: string | string[] | undefined, nowMs = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** The part of net.Socket the write batching uses. */
interface Corkable {
  cork(): void;
  uncork(): void;
}

/**
 * Holds one socket's writes until the current callback returns (issue 7): the sends an inbound
 * chunk causes (the application's replies, Acks, HeartbeatAcks) leave in one writev instead of one
 * write each. Every frame stays its own WebSocket frame with one Envelope (WIRE-1); nothing waits
 * for a timer.
 */
class WriteBatch {
  private held: Corkable | undefined;
  constructor(private readonly ws: WebSocket) {}

  hold(): void {
    if (this.held !== undefined) return;
    // ws keeps its net.Socket in `_socket` (stable across ws 7 and 8); without one, do nothing.
    const sock = (this.ws as unknown as { _socket?: Corkable })._socket;
    if (sock === undefined || typeof sock.cork !== 'function') return;
    this.held = sock;
    sock.cork();
    if (batches.push(this) === 1) process.nextTick(releaseAll);
  }

  release(): void {
    const sock = this.held;
    this.held = undefined;
    sock?.uncork();
  }
}

let batches: WriteBatch[] = [];

function releaseAll(): void {
  const list = batches;
  batches = [];
  for (const b of list) b.release();
}

export function nodeTransport(o: NodeTransportOptions = {}): Transport {
  return (url, handlers, { token }) => {
    const ws = new WebSocket(url, [SUBPROTOCOL], {
      headers: o.headers?.(token) ?? {},
      maxPayload: o.maxPayloadBytes ?? defaults.maxPayloadBytes,
    });
    const batch = new WriteBatch(ws);
    let isDone = false;
    const done = () => {
      isDone = true;
      ws.removeAllListeners();
      ws.on('error', () => {}); // late errors of a socket we no longer follow
    };
    ws.on('open', () => !isDone && handlers.onOpen());
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      if (isDone) return;
      batch.hold();
      if (!isBinary) {
        handlers.onText();
        return;
      }
      const buf = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? Buffer.from(data) : data;
      handlers.onBinary(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
    });
    ws.on('unexpected-response', (_req, res) => {
      if (isDone) return;
      const status = res.statusCode ?? 0;
      const retryAfterMs = parseRetryAfterMs(res.headers['retry-after']);
      done();
      res.resume();
      ws.terminate();
      handlers.onRefused(status, retryAfterMs);
    });
    ws.on('close', (code: number, reason: Buffer) => {
      if (isDone) return;
      done();
      handlers.onClose(code, reason.toString('utf8'));
    });
    ws.on('error', () => {}); // 'close' follows every error
    return {
      send: (bytes) => ws.send(bytes),
      close: (code, reason) => {
        done();
        if (ws.readyState === WebSocket.CONNECTING) {
          ws.terminate();
          return;
        }
        ws.close(code, reason);
        // A half-open peer never answers the close handshake (HB-4): do not hold the socket for
        // ws's own 30 s closing timeout.
        const t = setTimeout(() => ws.terminate(), o.closeGraceMs ?? 1000);
        t.unref();
        ws.once('close', () => clearTimeout(t));
      },
      get bufferedAmount() {
        return ws.bufferedAmount;
      },
    };
  };
}

export type NodeClientOptions<S> = Omit<ClientOptions<S>, 'WebSocket' | 'transport'> & NodeTransportOptions;

/** The reference client for Node (ws transport). */
export function createNodeClient<S = Uint8Array>(options: NodeClientOptions<S>): LifelineClient<S> {
  const { headers, closeGraceMs, ...rest } = options;
  const transport = nodeTransport({
    ...(headers && { headers }),
    ...(closeGraceMs !== undefined && { closeGraceMs }),
    ...(options.maxPayloadBytes !== undefined && { maxPayloadBytes: options.maxPayloadBytes }),
  });
  return createClient<S>({ ...rest, transport });
}

export * from './index.js';
