/**
 * The HTTP carrier of a server-mode peer (spec §22), written from the spec: `open` with the same
 * admission as an upgrade, serial `send` POSTs of FRAME records numbered by Lifeline-Seq, and one
 * `receive` at a time whose Lifeline-Ack counts the FRAME records received whole, re-requested at
 * once when a response ends. A CLOSE record is the server's close; a receive that is cut, refused or
 * answered 404 is a connection that ended without one (1006), as a dropped TCP connection is on a
 * WebSocket. What only a WebSocket has (pings, text and raw frames) makes the case N/A.
 */
import type { Agent, ClientRequest, IncomingMessage } from 'node:http';
import { SUBPROTOCOL } from '../../spec/protocol/defaults.js';
import { closeRecord, frameRecord, Header, RecordDecoder, RecordKind } from '../../spec/protocol/http-carrier.js';
import { NotApplicable } from '../framework/failure.js';
import type { Transcript } from '../framework/transcript.js';
import type { WsFrameSpec } from '../wire.js';
import { carrierAgent, carrierExchange, carrierRequest, carrierUrl, headerOf, ReceiveReader } from './carrier.js';
import { Peer, type PeerOptions, type Refusal } from './peer-base.js';
import type { WebSocket } from 'ws';

/** §17: httpReceiveGapMs when the target declares none (HT-12). */
export const HTTP_RECEIVE_GAP_DEFAULT_MS = 10_000;

/** How long a closing peer waits for the server to end the connection after its CLOSE record went out (CC-10 is the server's). */
const CLOSE_WAIT_MS = 3000;

/** The Lifeline-Protocol value for a peer's `protocols` (undefined: none sent). */
function protocolHeader(protocols: readonly string[] | undefined): string | undefined {
  if (protocols === undefined || protocols.includes(SUBPROTOCOL)) return SUBPROTOCOL;
  return protocols.length === 0 ? undefined : protocols.join(', ');
}

/** `open` (HT-1); resolves with the open peer or the HTTP refusal (the status an upgrade would get). */
export async function openHttpPeer(wsUrl: string, label: string, transcript: Transcript, opts: PeerOptions = {}): Promise<HttpPeer | Refusal> {
  if (opts.autoPong === false) throw new NotApplicable('withheld WebSocket pongs: the HTTP carrier has no protocol-level ping (spec §22.6)');
  const url = carrierUrl(wsUrl);
  const agent = carrierAgent(url);
  const base: Record<string, string | undefined> = { [Header.protocol]: protocolHeader(opts.protocols), ...(opts.origin ? { origin: opts.origin } : {}) };
  let a;
  try {
    a = await carrierExchange(url, { op: 'open', agent, headers: { ...(opts.headers ?? {}), ...base } });
  } catch (err) {
    agent.destroy();
    throw new Error(`${label}: cannot open an HTTP connection at ${url}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const id = headerOf(a.headers, Header.connection);
  if (a.status !== 200 || id === '') {
    agent.destroy();
    transcript.event(label, `HTTP open refused: HTTP ${a.status}${a.status === 200 ? ' without Lifeline-Connection' : ''}`);
    return { status: a.status, headers: a.headers };
  }
  transcript.event(label, 'HTTP connection open');
  return new HttpPeer(url, id, agent, base, label, transcript, opts);
}

interface Outgoing {
  readonly record: Uint8Array;
  readonly isFrame: boolean;
}

export class HttpPeer extends Peer {
  readonly transport = 'http' as const;
  /** FRAME records received whole: the next receive's Lifeline-Ack (HT-7). */
  framesReceived = 0;
  /** FRAME records handed to a send so far: the next send's Lifeline-Seq (HT-6). */
  framesSent = 0;
  /** KEEPALIVE records received (HT-8). */
  keepalives = 0;
  /** Receive responses that began (200) and ended (a stream's bound, a poll's first records). */
  receivesEnded = 0;
  /** Status of every send that was not 204, in order. */
  readonly sendRefusals: number[] = [];
  private outbox: Outgoing[] = [];
  private sending = false;
  private closeSent: { code: number; reason: string } | undefined;
  private gone = false;
  private paused = false;
  private receiving: { req?: ClientRequest; res?: IncomingMessage } | undefined;
  private rotateTimer: NodeJS.Timeout | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private readonly manual: ReceiveReader[] = [];

  constructor(
    readonly url: string,
    /** The connection capability (Lifeline-Connection). */
    readonly connection: string,
    private readonly agent: Agent,
    /** Lifeline-Protocol and Origin: on every request of the connection (HT-5). */
    private readonly base: Readonly<Record<string, string | undefined>>,
    label: string,
    transcript: Transcript,
    opts: PeerOptions,
  ) {
    super(label, transcript, opts);
    if (opts.receive !== 'manual') this.receive();
  }

  /**
   * A receive the case drives (receive: 'manual'): its records do not reach `frames`. The case reads
   * the ReceiveReader, and may cut it or start the next one with any Ack.
   */
  startReceive(ack: number, mode: 'stream' | 'poll' = 'stream'): ReceiveReader {
    this.transcript.event(this.label, `receive (Lifeline-Ack ${ack}, ${mode})`);
    const r = new ReceiveReader(this.url, { op: 'receive', agent: this.agent, headers: this.headers({ [Header.ack]: String(ack), [Header.receive]: mode }) });
    this.manual.push(r);
    return r;
  }

  /** Take `n` carrier indexes for frames the case sends itself (rawSend); returns the first. */
  reserve(n: number): number {
    const first = this.framesSent;
    this.framesSent += n;
    return first;
  }

  /** One send the case builds (a retry, a gap): Lifeline-Seq and body as given, the answer's status. */
  async rawSend(seq: number, body: Uint8Array, what: string): Promise<number> {
    // its own TCP connection: a CLOSE record on the receive ends this peer's agent, not this answer
    const a = await carrierExchange(this.url, { op: 'send', headers: this.headers({ [Header.seq]: String(seq) }), body });
    this.transcript.event(this.label, `→ send Lifeline-Seq ${seq} (${what}): HTTP ${a.status}`);
    return a.status;
  }

  /** Nothing queued or in flight upstream. */
  async settled(timeoutMs = 2000): Promise<void> {
    await this.until(() => (!this.sending && this.outbox.length === 0) || this.gone, timeoutMs, 'its sends answered');
  }

  get open(): boolean {
    return !this.closed && !this.closeSent && !this.gone;
  }

  get pings(): number {
    throw new NotApplicable('WebSocket pings: the HTTP carrier has no protocol-level ping (spec §22.6)');
  }

  get ws(): WebSocket {
    throw new NotApplicable('the case inspects the WebSocket itself (subprotocol, extensions, pings): not the HTTP carrier');
  }

  sendText(): void {
    throw new NotApplicable('a text frame: the HTTP carrier carries binary FRAME records only (spec §22.2)');
  }

  sendRawFrame(_f: WsFrameSpec, what: string): void {
    throw new NotApplicable(`a hand-built WebSocket frame (${what}): not the HTTP carrier`);
  }

  sendFragmented(): void {
    throw new NotApplicable('WebSocket fragmentation: not the HTTP carrier');
  }

  /** The headers of a request on this connection. */
  headers(extra: Readonly<Record<string, string>>): Record<string, string | undefined> {
    return { ...this.base, [Header.connection]: this.connection, ...extra };
  }

  protected write(bytes: Uint8Array): void {
    this.outbox.push({ record: frameRecord(bytes), isFrame: true });
    this.pump();
  }

  /** One send at a time (HT-6): what was queued meanwhile goes in the next body, in order. */
  private pump(): void {
    if (this.sending || this.gone || this.outbox.length === 0) return;
    const batch = this.outbox;
    this.outbox = [];
    const seq = this.framesSent;
    this.framesSent += batch.filter((o) => o.isFrame).length;
    const body = Buffer.concat(batch.map((o) => o.record));
    this.sending = true;
    carrierExchange(this.url, { op: 'send', agent: this.agent, headers: this.headers({ [Header.seq]: String(seq) }), body: new Uint8Array(body) }).then(
      (a) => {
        this.sending = false;
        this.wake();
        if (a.status === 204) return batch.some((o) => !o.isFrame) ? this.armCloseWait() : this.pump();
        this.sendRefusals.push(a.status);
        this.transcript.event(this.label, `send (Lifeline-Seq ${seq}) answered HTTP ${a.status}`);
        this.wake();
        // 404: the connection is gone (§22.4): the client treats it as closed 1006
        if (a.status === 404) this.drop(`send answered HTTP 404`);
      },
      (err: unknown) => {
        this.sending = false;
        if (!this.gone) this.drop(`send failed: ${err instanceof Error ? err.message : String(err)}`);
      },
    );
  }

  /** One receive (HT-7): the retained frames from our Ack on, then live ones, until the response ends. */
  private receive(): void {
    if (this.gone || this.closed) return;
    const ack = this.framesReceived;
    const mode = this.opts.receive === 'poll' ? 'poll' : 'stream';
    const mine: { req?: ClientRequest; res?: IncomingMessage } = {};
    this.receiving = mine;
    // a receive replaced by a newer one (rotate) is abandoned: its end, cut or error mean nothing
    const current = () => this.receiving === mine && !this.gone;
    carrierRequest(this.url, { op: 'receive', agent: this.agent, headers: this.headers({ [Header.ack]: String(ack), [Header.receive]: mode }) }).then(
      ({ req, res }) => {
        mine.req = req;
        mine.res = res;
        if (!current()) {
          req.destroy();
          return;
        }
        if (res.statusCode !== 200) {
          res.resume();
          this.drop(`receive (Lifeline-Ack ${ack}) answered HTTP ${res.statusCode}`);
          return;
        }
        if (this.paused) res.pause();
        const decoder = new RecordDecoder(Number.MAX_SAFE_INTEGER);
        let closeRecordSeen = false;
        res.on('data', (chunk: Buffer) => {
          if (!current()) return;
          let records;
          try {
            records = decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          } catch (err) {
            this.drop(`receive body is not records: ${err instanceof Error ? err.message : String(err)}`);
            return;
          }
          for (const r of records) {
            if (r.kind === RecordKind.FRAME) {
              this.framesReceived++;
              this.received(r.envelope.slice());
            } else if (r.kind === RecordKind.KEEPALIVE) {
              this.keepalives++;
              this.wake();
            } else {
              closeRecordSeen = true;
              this.finish();
              this.ended(r.code, r.reason, false);
            }
            if (!current()) return;
          }
        });
        res.on('end', () => {
          if (closeRecordSeen || !current()) return;
          if (decoder.bufferedBytes > 0) return this.drop(`receive ended inside a record (${decoder.bufferedBytes} B)`);
          this.receivesEnded++;
          this.receive(); // a stream reached its bound or a poll its records: at once, with the new Ack (§22.5)
        });
        res.on('error', () => undefined);
        res.on('close', () => {
          if (!res.complete && !closeRecordSeen && current()) this.drop('receive response cut');
        });
      },
      (err: unknown) => {
        if (current()) this.drop(`receive failed: ${err instanceof Error ? err.message : String(err)}`);
      },
    );
  }

  /**
   * While paused, a new receive with the same Ack every third of the server's receive gap: the
   * server keeps the connection (HT-12) and ends the older response (HT-8), whose unread frames come
   * again on this one (HT-7). A slow consumer over HTTP: connected, reading nothing, acking nothing.
   */
  private rotate(): void {
    if (!this.paused || this.gone || this.opts.receive === 'manual') return;
    const old = this.receiving;
    this.receive();
    old?.req?.destroy();
  }

  /** The connection ended without a CLOSE record from the server: 1006, as a dropped TCP connection. */
  private drop(why: string): void {
    if (this.gone) return;
    this.transcript.event(this.label, why);
    this.finish();
    // after our CLOSE record the server may end the connection without one of its own: our close stands
    if (this.closeSent && !why.startsWith('no end')) this.ended(this.closeSent.code, this.closeSent.reason, false);
    else this.ended(1006, why, true);
  }

  /** Stop every request of this connection. */
  private finish(): void {
    this.gone = true;
    clearTimeout(this.closeTimer);
    clearInterval(this.rotateTimer);
    this.stopHeartbeats();
    this.receiving?.req?.destroy();
    this.receiving = undefined;
    for (const r of this.manual) r.cut();
    this.agent.destroy();
  }

  private armCloseWait(): void {
    clearTimeout(this.closeTimer);
    this.closeTimer = setTimeout(() => this.drop(`no end of the connection ${CLOSE_WAIT_MS} ms after the CLOSE record went out`), CLOSE_WAIT_MS);
    this.closeTimer.unref();
  }

  /** Stop reading the receive response: the server's writes pile up (slow consumer). */
  pauseReading(): void {
    this.transcript.event(this.label, 'stops reading');
    this.paused = true;
    this.receiving?.res?.pause();
    clearInterval(this.rotateTimer);
    this.rotateTimer = setInterval(() => this.rotate(), Math.max(10, Math.floor((this.opts.receiveGapMs ?? HTTP_RECEIVE_GAP_DEFAULT_MS) / 3)));
    this.rotateTimer.unref();
  }

  resumeReading(): void {
    this.transcript.event(this.label, 'reads again');
    this.paused = false;
    clearInterval(this.rotateTimer);
    this.receiving?.res?.resume();
  }

  /** Disappear without a CLOSE record: every request destroyed, none made again. */
  vanish(): void {
    this.transcript.event(this.label, 'vanishes (HTTP requests destroyed, no CLOSE record)');
    this.finish();
    this.ended(1006, '', true);
  }

  /** The client's close (§22.4): a CLOSE record after the queued frames; the connection ends when the server ends it. */
  close(code = 1000, reason = ''): void {
    if (!this.open) return;
    this.stopHeartbeats();
    this.transcript.event(this.label, `→ CLOSE ${code} ${reason}`);
    this.closeSent = { code, reason };
    this.outbox.push({ record: closeRecord(code, reason), isFrame: false });
    this.pump();
  }

  destroy(): void {
    this.finish();
    if (!this.closed) this.closed = { code: 1006, reason: '', at: performance.now(), abnormal: true };
  }
}
