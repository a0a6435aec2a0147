/**
 * Client mode: the runner is the server. A scriptable Lifeline endpoint built
 * from `ws` and the codec: each case accepts or refuses upgrades, reads the
 * client's frames, sends whatever it wants (valid or not), closes with any
 * code, or goes silent (a half-open connection). Loopback only.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { Envelope, Hello } from '../../gen/lifeline/v1/envelope_pb.js';
import { decode, encode } from '../../spec/protocol/codec.js';
import { SUBPROTOCOL } from '../../spec/protocol/defaults.js';
import { waitingFor } from '../framework/activity.js';
import { CaseFailure } from '../framework/failure.js';
import { Waiters } from '../framework/waiters.js';
import type { Transcript } from '../framework/transcript.js';
import { envelope, type Body, type BodyOf } from '../server-mode/peer.js';
import { FakeHttpCarrier, type Refuse } from './fake-http.js';

export type { Refuse } from './fake-http.js';
import { welcomeEnvelope, type WelcomeInit } from './welcome.js';

export type { WelcomeInit } from './welcome.js';


export interface UpgradeRecord {
  readonly at: number;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly refused?: number;
}

export class FakeServer {
  readonly upgrades: UpgradeRecord[] = [];
  readonly conns: ServerConn[] = [];
  /** Refusals applied to the next upgrades, in order; empty = accept. */
  refusals: Refuse[] = [];
  /** Refuse every upgrade with this until cleared. */
  refuseAll: Refuse | undefined;
  /** Delays (ms) before answering the next upgrades, in order: a slow server or network (runner self-tests). */
  holdUpgrades: number[] = [];
  private readonly waits = new Waiters();
  private readonly wss = new WebSocketServer({ noServer: true, autoPong: true, maxPayload: 64 * 1024 * 1024, handleProtocols: (p) => (p.has(SUBPROTOCOL) ? SUBPROTOCOL : false) });
  private constructor(
    private readonly http: Server,
    readonly url: string,
    private readonly transcript: Transcript,
  ) {}

  /**
   * The HTTP carrier on the same URL (spec §22), once a case enables it; until then a carrier request
   * gets 426, as from a server without the carrier (a client's fallback goes back to WebSocket, HT-22).
   */
  carrier: FakeHttpCarrier | undefined;

  enableHttp(): FakeHttpCarrier {
    this.carrier ??= new FakeHttpCarrier(this.transcript, () => this.wake());
    return this.carrier;
  }

  /** Every connection attempt in order, WebSocket upgrades and HTTP opens, with its outcome. */
  attempts(): { readonly at: number; readonly transport: 'ws' | 'http'; readonly url: string; readonly status?: number }[] {
    const ws = this.upgrades.map((u) => ({ at: u.at, transport: 'ws' as const, url: u.url, ...(u.refused ? { status: u.refused } : {}) }));
    const http = (this.carrier?.opens() ?? []).map((o) => ({ at: o.at, transport: 'http' as const, url: o.url, ...(o.status !== undefined ? { status: o.status } : {}) }));
    return [...ws, ...http].sort((a, b) => a.at - b.at);
  }

  static async start(transcript: Transcript): Promise<FakeServer> {
    let server: FakeServer | undefined;
    const http = createServer((req, res) => {
      if (server?.carrier?.handle(req, res)) return;
      req.resume();
      res.writeHead(426, { upgrade: 'websocket' }).end();
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const port = (http.address() as AddressInfo).port;
    server = new FakeServer(http, `ws://127.0.0.1:${port}/lifeline`, transcript);
    const s = server;
    http.on('upgrade', (req, socket, head) => s.onUpgrade(req, socket as Socket, head));
    return s;
  }

  private wake(): void {
    this.waits.wake();
  }

  /** Re-check `cond` on every connection event; fail after timeoutMs. */
  async until<T>(cond: () => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
    return this.waits.until(cond, timeoutMs, what);
  }

  notify(): void {
    this.wake();
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const hold = this.holdUpgrades.shift();
    if (hold !== undefined && hold > 0) {
      this.transcript.event('server', `holds upgrade #${this.upgrades.length + 1} for ${hold} ms`);
      setTimeout(() => this.onUpgrade(req, socket, head), hold);
      return;
    }
    const refusal = this.refusals.shift() ?? this.refuseAll;
    this.upgrades.push({ at: performance.now(), url: req.url ?? '', headers: req.headers, ...(refusal ? { refused: refusal.status } : {}) });
    if (refusal) {
      this.transcript.event('server', `refuses upgrade #${this.upgrades.length} with HTTP ${refusal.status}`);
      const extra = Object.entries(refusal.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      socket.end(`HTTP/1.1 ${refusal.status} Refused\r\nConnection: close\r\nContent-Length: 0\r\n${extra}\r\n`);
      this.wake();
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new ServerConn(ws, `s${this.conns.length + 1}`, this.transcript, () => this.wake(), socket);
      this.conns.push(conn);
      this.transcript.event(conn.label, `accepted upgrade #${this.upgrades.length}`);
      this.wake();
    });
  }

  /** The n-th accepted connection (1-based), waiting for it. */
  async conn(n: number, timeoutMs: number): Promise<ServerConn> {
    return this.until(() => this.conns[n - 1], timeoutMs, `connection #${n} from the client`);
  }

  /** Accept the next connection, read its Hello and answer Welcome. */
  async acceptSession(n: number, timeoutMs: number, welcome: WelcomeInit = {}): Promise<{ conn: ServerConn; hello: Hello }> {
    const conn = await this.conn(n, timeoutMs);
    const hello = await conn.hello(timeoutMs);
    conn.welcome(welcome);
    return { conn, hello };
  }

  async stop(): Promise<void> {
    for (const c of this.conns) c.ws.terminate();
    this.carrier?.stop();
    this.wss.close();
    await new Promise<void>((r) => {
      this.http.close(() => r());
      this.http.closeAllConnections?.();
    });
  }
}

export interface ConnClosed {
  readonly code: number;
  readonly reason: string;
  readonly at: number;
  /** Closed by the runner (close()/terminate()), not by the client. */
  readonly byServer: boolean;
}

export class ServerConn {
  readonly frames: { env: Envelope; at: number }[] = [];
  readonly openedAt = performance.now();
  closed: ConnClosed | undefined;
  /** Bytes that did not decode (a client sending garbage). */
  readonly undecodable: Uint8Array[] = [];
  /** Answer client Heartbeats with HeartbeatAck (default true). */
  answerHeartbeats = true;
  /** Ack client messages at once, cumulatively (default true). */
  autoAck = true;
  /** When the runner last wrote a frame on this connection (HB-4 measures the client's silence from it). */
  lastSentAt = performance.now();
  /** Set by close()/terminate() so the close event says who closed. */
  private closingByServer = false;
  private nextSeq = 1n;
  private silent = false;

  constructor(
    readonly ws: WebSocket,
    readonly label: string,
    private readonly transcript: Transcript,
    private readonly wake: () => void,
    private readonly socket: Socket,
  ) {
    ws.on('message', (data, isBinary) => {
      if (this.silent) return;
      const bytes = new Uint8Array(data as Buffer);
      if (!isBinary) {
        transcript.event(label, `← text frame (${bytes.length} B)`);
        wake();
        return;
      }
      transcript.frame(label, '←', bytes);
      const r = decode(bytes, { from: 'client', maxPayloadBytes: Number.MAX_SAFE_INTEGER });
      if (!r.ok) this.undecodable.push(bytes);
      else {
        this.frames.push({ env: r.envelope, at: performance.now() });
        const b = r.envelope.body;
        if (b.case === 'heartbeat' && this.answerHeartbeats) this.send(envelope('heartbeatAck', { id: b.value.id, echoSentAtMs: b.value.sentAtMs }));
        if (b.case === 'message' && this.autoAck) this.send(envelope('ack', { seq: b.value.seq }));
      }
      wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString(), at: performance.now(), byServer: this.closingByServer };
      transcript.event(label, `closed ${code} ${reason.toString()}${this.closingByServer ? ' (by the runner)' : ' (by the client)'}`);
      wake();
    });
    ws.on('error', () => undefined);
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(env: Envelope): void {
    if (!this.open || this.silent) return;
    this.transcript.frame(this.label, '→', env);
    this.ws.send(encode(env));
    this.lastSentAt = performance.now();
  }

  sendBytes(bytes: Uint8Array): void {
    if (!this.open) return;
    this.transcript.frame(this.label, '→', bytes);
    this.ws.send(bytes, { binary: true });
    this.lastSentAt = performance.now();
  }

  sendText(text: string): void {
    this.transcript.event(this.label, `→ text frame ${JSON.stringify(text.slice(0, 40))}`);
    this.ws.send(text, { binary: false });
  }

  /** Wait for the client's Hello (the first frame, HS-8). */
  async hello(timeoutMs: number): Promise<Hello> {
    const first = await this.untilFrame(() => this.frames[0], timeoutMs, 'Hello');
    if (first.env.body.case !== 'hello') throw new CaseFailure(`${this.label}: the client's first frame is ${first.env.body.case}, not Hello (HS-8)`);
    return first.env.body.value;
  }

  welcome(fields: WelcomeInit = {}): void {
    this.send(welcomeEnvelope(fields));
  }

  /** Send a sequenced Message with the next server seq (or a given one). */
  message(payload: Uint8Array, opts: { seq?: bigint; channel?: string; messageId?: string } = {}): bigint {
    const seq = opts.seq ?? this.nextSeq;
    if (seq >= this.nextSeq) this.nextSeq = seq + 1n;
    this.send(envelope('message', { seq, payload, channel: opts.channel ?? '', messageId: opts.messageId ?? '' }));
    return seq;
  }

  setNextSeq(seq: bigint): void {
    this.nextSeq = seq;
  }

  bodies<K extends Body>(kind: K): BodyOf<K>[] {
    return this.frames.filter((f) => f.env.body.case === kind).map((f) => f.env.body.value as BodyOf<K>);
  }

  async untilFrame<T>(cond: () => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
    return waitingFor(`${this.label}: ${what} (up to ${Math.round(timeoutMs)} ms)`, this.pollFrame(cond, timeoutMs, what));
  }

  private async pollFrame<T>(cond: () => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const v = cond();
      if (v !== undefined && v !== false) return v;
      const left = deadline - performance.now();
      if (left <= 0) throw new CaseFailure(`${this.label}: ${what} did not arrive within ${Math.round(timeoutMs)} ms`);
      await new Promise<void>((r) => setTimeout(r, Math.min(left, 10)));
    }
  }

  close(code: number, reason = ''): void {
    this.closingByServer = true;
    this.transcript.event(this.label, `→ close ${code} ${reason}`);
    this.ws.close(code, reason);
  }

  /** Drop the TCP connection without a close frame. */
  terminate(): void {
    this.closingByServer = true;
    this.transcript.event(this.label, '→ drops the connection (no close frame)');
    this.ws.terminate();
  }

  /** Half-open: stop sending and answering anything, pongs included, keep the TCP connection. */
  goSilent(): void {
    this.transcript.event(this.label, 'goes silent (half-open)');
    this.silent = true;
    this.answerHeartbeats = false;
    this.socket.pause();
    (this.ws as unknown as { _autoPong: boolean })._autoPong = false;
  }

  async waitClosed(timeoutMs: number): Promise<ConnClosed> {
    return this.untilFrame(() => this.closed, timeoutMs, 'close');
  }
}
