/**
 * The HTTP carrier transport (spec §22, issue 15): the same session over plain HTTP requests when a
 * WebSocket cannot pass. Same port, same path, same admission as an upgrade (HT-3: the shared checks
 * of server/admission.ts, then authenticate), CORS with the Origin pinned per connection (HT-5).
 * Requests are routed here by `Lifeline-Http: open | send | receive`; a connection is an
 * HttpConnection (http-connection.ts) the core sees as a PeerTransport. It decides nothing about
 * sessions.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { Header, PROTOCOL_TOKEN, type ReceiveMode } from '../../spec/protocol/http-carrier.js';
import { admit, checkShared, isOriginAllowed, type AdmissionState, type Refusal, type UpgradeContext } from '../admission.js';
import type { Clock } from '../clock.js';
import type { AcceptPeer } from '../transport.js';
import { corsFor, NO_CORS, text, type Cors } from './http-answer.js';
import { HttpConnection, type HttpConnectionOptions } from './http-connection.js';
import { handleSend, indexHeader, type SendLimits } from './http-send.js';

export interface HttpTransportOptions extends Omit<HttpConnectionOptions, 'timers'> {
  readonly maxSendBytes: number;
  /** HT-14: the body deadline of a send (the handshake timeout). */
  readonly bodyTimeoutMs: number;
  readonly timers: Clock;
  /** A socket carried a carrier request: not an upgrade waiting any more (HS-16 must not count it). */
  readonly carrierSocket: (socket: Duplex) => void;
}

const ALLOW_HEADERS = [Header.op, Header.protocol, Header.connection, Header.seq, Header.ack, Header.receive, 'Content-Type', 'Authorization'].join(', ');

/** A refusal (or a preflight's answer) with the CORS headers of the request. */
function refuse(res: ServerResponse, cors: Cors, status: number, headers?: Readonly<Record<string, string>>): void {
  text(res, status, headers === undefined ? cors.headers : { ...cors.headers, ...headers });
}

/** HT-3: the carrier's own 400 (the protocol token), after the shared 503, 429 and 403 of HS-7. */
function checkOpen(req: IncomingMessage, s: AdmissionState): Refusal | undefined {
  const shared = checkShared(req, s);
  if (shared) return shared;
  if (req.headers['lifeline-protocol'] !== PROTOCOL_TOKEN) return { status: 400, headers: {}, why: `${Header.protocol} is not ${PROTOCOL_TOKEN}` };
  return undefined;
}

export class HttpTransport {
  /** Live connections by capability (HT-4). */
  private readonly conns = new Map<string, HttpConnection>();
  /** What every send is held to (made once, not per request). */
  private readonly sendLimits: SendLimits;

  constructor(
    private readonly o: HttpTransportOptions,
    private readonly accept: AcceptPeer,
  ) {
    this.sendLimits = { maxPayloadBytes: o.maxPayloadBytes, maxSendBytes: o.maxSendBytes, bodyTimeoutMs: o.bodyTimeoutMs, timers: o.timers };
  }

  get size(): number {
    return this.conns.size;
  }

  /**
   * A request on the Lifeline path: the carrier's when it is a preflight or carries `Lifeline-Http`
   * (answered, true); anything else is left to the caller (false: 426, HS-1).
   */
  handle(req: IncomingMessage, res: ServerResponse, admission: UpgradeContext): boolean {
    const h = req.headers; // read once: Node builds the object on first access
    const op = h['lifeline-http'];
    if (req.method === 'OPTIONS') {
      this.preflight(req, res, admission);
      return true;
    }
    if (op === undefined) return false;
    const origin = h.origin;
    const isAllowed = isOriginAllowed(origin, admission);
    const cors = isAllowed ? corsFor(origin) : NO_CORS;
    if (req.method !== 'POST') {
      req.resume();
      refuse(res, cors, 405, { Allow: 'POST, OPTIONS' }); // HT-1: carrier requests are POST
      return true;
    }
    if (op === 'open') {
      void this.open(req, res, admission, cors);
      return true;
    }
    if (op !== 'send' && op !== 'receive') {
      req.resume();
      refuse(res, cors, 400); // HT-1: an unknown Lifeline-Http operation
      return true;
    }
    if (h['lifeline-protocol'] !== PROTOCOL_TOKEN) {
      req.resume();
      refuse(res, cors, 400); // HT-3: Lifeline-Protocol is not lifeline.v1
      return true;
    }
    const id = h['lifeline-connection'];
    if (typeof id !== 'string' || id === '') {
      req.resume();
      refuse(res, cors, 400); // HT-4: Lifeline-Connection missing
      return true;
    }
    const c = this.conns.get(id);
    if (c === undefined || c.isGone) {
      req.resume();
      refuse(res, cors, 404); // HT-4: no such connection; the client treats it as closed 1006
      return true;
    }
    if (origin !== c.origin || !isAllowed) {
      req.resume();
      text(res, 403, {}); // HT-5: the Origin of open is pinned (CSRF)
      return true;
    }
    this.o.carrierSocket(req.socket); // HS-16: a carrier socket, not an upgrade waiting
    if (op === 'send') handleSend(req, res, c, this.sendLimits, cors);
    else this.receive(req, res, c, cors);
    return true;
  }

  /** HT-5: a CORS preflight from an allowed Origin. */
  private preflight(req: IncomingMessage, res: ServerResponse, admission: UpgradeContext): void {
    req.resume();
    const origin = req.headers.origin;
    if (origin === undefined) return text(res, 204, { Allow: 'POST, OPTIONS' });
    if (!isOriginAllowed(origin, admission)) return text(res, 403, {}); // HT-5
    text(res, 204, {
      ...corsFor(origin).headers,
      'Access-Control-Allow-Methods': 'POST',
      'Access-Control-Allow-Headers': ALLOW_HEADERS,
      'Access-Control-Max-Age': '600',
    });
  }

  /** HT-3: open = an upgrade's admission, then a connection the core accepts as a peer. */
  private async open(req: IncomingMessage, res: ServerResponse, c: UpgradeContext, cors: Cors): Promise<void> {
    const upgradeStartedAtMs = Date.now();
    req.resume(); // an open has no body
    const principal = await admit(
      req,
      c,
      checkOpen,
      {
        refuse: (r) => text(res, r.status, { ...cors.headers, ...r.headers }),
        get isAnswered() {
          return res.headersSent || res.destroyed;
        },
      },
      'http open',
    );
    if (principal === undefined) return;
    const id = randomBytes(16).toString('base64url'); // HT-4: 128-bit capability, 22 characters
    const conn = new HttpConnection(id, req.headers.origin, this.o, (gone) => this.conns.delete(gone.id));
    const sink = this.accept(conn, { principal, req, upgradeStartedAtMs });
    if (sink === undefined) {
      // the server is closing: the core terminated the connection
      text(res, 503, { ...cors.headers, 'Retry-After': String(c.retryAfterSeconds) });
      return;
    }
    conn.sink = sink;
    this.conns.set(id, conn);
    this.o.carrierSocket(req.socket);
    res.writeHead(200, { ...cors.headers, [Header.connection]: id, 'Cache-Control': 'no-store', 'Content-Length': '0' }); // HT-3
    res.end();
  }

  private receive(req: IncomingMessage, res: ServerResponse, c: HttpConnection, cors: Cors): void {
    req.resume();
    const h = req.headers;
    const ack = indexHeader(h['lifeline-ack']);
    const modeHeader = h['lifeline-receive'] ?? 'stream';
    if (ack === undefined || (modeHeader !== 'stream' && modeHeader !== 'poll')) {
      text(res, 400, cors.headers); // HT-7: Lifeline-Ack or Lifeline-Receive malformed
      return;
    }
    const refused = c.openReceive(res, modeHeader as ReceiveMode, ack, cors);
    if (refused !== undefined) {
      text(res, 409, cors.headers); // HT-7
      if (c.isOpen) c.sink?.protocolError('PROTOCOL_ERROR', `HT-7: Ack ${ack} is ${refused === 'ack-ahead' ? 'past what was sent' : 'below an earlier Ack'}`);
    }
  }

  /** Server close: every connection still here is gone (their close records went out or timed out). */
  close(): void {
    for (const c of [...this.conns.values()]) c.terminate();
    this.conns.clear();
  }
}
