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
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { Header, PROTOCOL_TOKEN, type ReceiveMode } from '../../spec/protocol/http-carrier.js';
import { admit, checkShared, isOriginAllowed, type AdmissionState, type Refusal, type UpgradeContext } from '../admission.js';
import type { Clock } from '../clock.js';
import type { AcceptPeer } from '../transport.js';
import { HttpConnection, type HttpConnectionOptions } from './http-connection.js';
import { handleSend, indexHeader, type Answer } from './http-send.js';

export interface HttpTransportOptions extends Omit<HttpConnectionOptions, 'timers'> {
  readonly maxSendBytes: number;
  /** HT-14: the body deadline of a send (the handshake timeout). */
  readonly bodyTimeoutMs: number;
  readonly timers: Clock;
  /** A socket carried a carrier request: not an upgrade waiting any more (HS-16 must not count it). */
  readonly carrierSocket: (socket: Duplex) => void;
}

const ALLOW_HEADERS = [Header.op, Header.protocol, Header.connection, Header.seq, Header.ack, Header.receive, 'Content-Type', 'Authorization'].join(', ');
const EXPOSE_HEADERS = `${Header.connection}, Retry-After`;

/** HT-5: what every carrier response to an allowed Origin carries (none without an Origin). */
function corsFor(origin: string | undefined): Record<string, string> {
  if (origin === undefined) return {};
  return { 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true', 'Access-Control-Expose-Headers': EXPOSE_HEADERS, Vary: 'Origin' };
}

function text(res: ServerResponse, status: number, headers: Readonly<Record<string, string>>): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  if (status === 204) {
    res.writeHead(204, { 'Cache-Control': 'no-store', ...headers });
    res.end();
    return;
  }
  const body = `${status} ${STATUS_CODES[status] ?? ''}\n`;
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
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

  constructor(
    private readonly o: HttpTransportOptions,
    private readonly accept: AcceptPeer,
  ) {}

  get size(): number {
    return this.conns.size;
  }

  /**
   * A request on the Lifeline path: the carrier's when it is a preflight or carries `Lifeline-Http`
   * (answered, true); anything else is left to the caller (false: 426, HS-1).
   */
  handle(req: IncomingMessage, res: ServerResponse, admission: UpgradeContext): boolean {
    const op = req.headers['lifeline-http'];
    if (req.method === 'OPTIONS') {
      this.preflight(req, res, admission);
      return true;
    }
    if (op === undefined) return false;
    const origin = req.headers.origin;
    const cors = isOriginAllowed(origin, admission) ? corsFor(origin) : {};
    const answer: Answer = (status, _why, headers = {}) => text(res, status, { ...cors, ...headers });
    if (req.method !== 'POST') {
      req.resume();
      answer(405, 'carrier requests are POST', { Allow: 'POST, OPTIONS' }); // HT-1
      return true;
    }
    if (op === 'open') {
      void this.open(req, res, admission, cors);
      return true;
    }
    if (op !== 'send' && op !== 'receive') {
      req.resume();
      answer(400, 'unknown Lifeline-Http operation'); // HT-1
      return true;
    }
    if (req.headers['lifeline-protocol'] !== PROTOCOL_TOKEN) {
      req.resume();
      answer(400, `${Header.protocol} is not ${PROTOCOL_TOKEN}`); // HT-3
      return true;
    }
    const id = req.headers['lifeline-connection'];
    if (typeof id !== 'string' || id === '') {
      req.resume();
      answer(400, `${Header.connection} missing`); // HT-4
      return true;
    }
    const c = this.conns.get(id);
    if (c === undefined || c.isGone) {
      req.resume();
      answer(404, 'no such connection'); // HT-4: the client treats it as closed 1006
      return true;
    }
    if (origin !== c.origin || !isOriginAllowed(origin, admission)) {
      req.resume();
      text(res, 403, {}); // HT-5: the Origin of open is pinned (CSRF)
      return true;
    }
    this.o.carrierSocket(req.socket); // HS-16: a carrier socket, not an upgrade waiting
    if (op === 'send') handleSend(req, res, c, { maxPayloadBytes: this.o.maxPayloadBytes, maxSendBytes: this.o.maxSendBytes, bodyTimeoutMs: this.o.bodyTimeoutMs, timers: this.o.timers }, answer);
    else this.receive(req, res, c, cors, answer);
    return true;
  }

  /** HT-5: a CORS preflight from an allowed Origin. */
  private preflight(req: IncomingMessage, res: ServerResponse, admission: UpgradeContext): void {
    req.resume();
    const origin = req.headers.origin;
    if (origin === undefined) return text(res, 204, { Allow: 'POST, OPTIONS' });
    if (!isOriginAllowed(origin, admission)) return text(res, 403, {}); // HT-5
    text(res, 204, {
      ...corsFor(origin),
      'Access-Control-Allow-Methods': 'POST',
      'Access-Control-Allow-Headers': ALLOW_HEADERS,
      'Access-Control-Max-Age': '600',
    });
  }

  /** HT-3: open = an upgrade's admission, then a connection the core accepts as a peer. */
  private async open(req: IncomingMessage, res: ServerResponse, c: UpgradeContext, cors: Readonly<Record<string, string>>): Promise<void> {
    const upgradeStartedAtMs = Date.now();
    req.resume(); // an open has no body
    const principal = await admit(
      req,
      c,
      checkOpen,
      {
        refuse: (r) => text(res, r.status, { ...cors, ...r.headers }),
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
      text(res, 503, { ...cors, 'Retry-After': String(c.retryAfterSeconds) });
      return;
    }
    conn.sink = sink;
    this.conns.set(id, conn);
    this.o.carrierSocket(req.socket);
    res.writeHead(200, { ...cors, [Header.connection]: id, 'Cache-Control': 'no-store', 'Content-Length': '0' }); // HT-3
    res.end();
  }

  private receive(req: IncomingMessage, res: ServerResponse, c: HttpConnection, cors: Readonly<Record<string, string>>, answer: Answer): void {
    req.resume();
    const ack = indexHeader(req.headers['lifeline-ack']);
    const modeHeader = req.headers['lifeline-receive'] ?? 'stream';
    if (ack === undefined || (modeHeader !== 'stream' && modeHeader !== 'poll')) {
      answer(400, `${Header.ack} or ${Header.receive} malformed`); // HT-7
      return;
    }
    const refused = c.openReceive(res, modeHeader as ReceiveMode, ack, cors);
    if (refused !== undefined) {
      answer(409, refused); // HT-7
      if (c.isOpen) c.sink?.protocolError('PROTOCOL_ERROR', `HT-7: Ack ${ack} is ${refused === 'ack-ahead' ? 'past what was sent' : 'below an earlier Ack'}`);
    }
  }

  /** Server close: every connection still here is gone (their close records went out or timed out). */
  close(): void {
    for (const c of [...this.conns.values()]) c.terminate();
    this.conns.clear();
  }
}
