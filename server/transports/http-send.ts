/**
 * A send request of the HTTP carrier (spec §22.3, HT-6): FRAME records handed to the core in order,
 * each carrier index exactly once (a retried POST skips what arrived), an optional final CLOSE
 * record (the client's close, HT-10). Refused with a status, never a crash: a gap or a second send
 * in flight 409, a body over its bounds 413 (refused from Content-Length when declared), a malformed
 * body 400, a body that never ends 408 after the handshake timeout (HT-14).
 *
 * Cost per request (issue 15: every POST of the echo bench comes here): one state object that is
 * also the decoder's visitor and the listeners' target, module-level listener functions (no closure
 * per request or per record), records decoded straight from each body chunk (RecordDecoder.feed),
 * and the 204 written with a precomputed header list.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WsCloseCodeName } from '../../spec/protocol/close-codes.js';
import { CarrierError, CONTENT_TYPE, RecordDecoder, type RecordVisitor } from '../../spec/protocol/http-carrier.js';
import type { Clock, TimerHandle } from '../clock.js';
import { noContent, text, type Cors } from './http-answer.js';
import type { HttpConnection } from './http-connection.js';

export interface SendLimits {
  readonly maxPayloadBytes: number;
  readonly maxSendBytes: number;
  /** HT-14: the whole body arrives within this, else 408 (the handshake timeout). */
  readonly bodyTimeoutMs: number;
  readonly timers: Clock;
}

/** A status answer of the carrier (text body, the CORS headers of the request). */
export type Answer = (status: number, why: string, headers?: Readonly<Record<string, string>>) => void;

const DIGITS = /^\d{1,15}$/;

/** A non-negative integer header (a carrier index or Ack), else undefined. */
export function indexHeader(v: string | string[] | undefined): number | undefined {
  if (typeof v !== 'string') return undefined;
  if (DIGITS.test(v)) return Number(v); // the usual form: no trim, no second test
  const t = v.trim();
  return DIGITS.test(t) ? Number(t) : undefined;
}

/** Whether the request's Content-Type is the carrier's (HT-1); the exact header value needs no parsing. */
function isCarrierType(v: string | undefined): boolean {
  if (v === CONTENT_TYPE) return true;
  return (v ?? '').split(';')[0]?.trim().toLowerCase() === CONTENT_TYPE;
}

/** Tell the core the transport refused what the peer sent (CC-11); it closes the connection with `name`. */
function refuseToCore(c: HttpConnection, name: WsCloseCodeName, reason: string): void {
  if (c.isOpen) c.sink?.protocolError(name, reason);
}

const kSend = Symbol('lifeline.send');
type SendRequest = IncomingMessage & { [kSend]?: SendBody };

function onData(this: SendRequest, chunk: Buffer): void {
  this[kSend]?.data(chunk);
}

function onEnd(this: SendRequest): void {
  this[kSend]?.end();
}

function onClose(this: SendRequest): void {
  this[kSend]?.closed();
}

/** One send body being read: the decoder's visitor (frames to the core by carrier index, HT-6). */
class SendBody implements RecordVisitor {
  private readonly decoder: RecordDecoder;
  /** The carrier index of the next FRAME of this body. */
  private index: number;
  private bytes = 0;
  private sawClose = false;
  private isDone = false;
  /** A record after CLOSE (HT-10): stop handing on, refuse once the chunk is decoded. */
  private isAfterClose = false;
  private readonly deadline: TimerHandle;

  constructor(
    private readonly req: SendRequest,
    private readonly res: ServerResponse,
    private readonly c: HttpConnection,
    private readonly l: SendLimits,
    private readonly cors: Cors,
    seq: number,
  ) {
    this.decoder = new RecordDecoder(l.maxPayloadBytes);
    this.index = seq;
    c.isSending = true;
    this.deadline = l.timers.setTimeout(() => this.finish(408, 'send body not complete within the handshake timeout', true), l.bodyTimeoutMs); // HT-14
    req[kSend] = this;
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
  }

  frame(envelope: Uint8Array): void {
    if (this.sawClose) {
      this.isAfterClose = true;
      return;
    }
    const c = this.c;
    if (this.index === c.received) {
      c.received++;
      if (c.isOpen) c.sink?.frame(envelope, true); // HT-6: in order, once
    }
    this.index++; // below `received`: a retried POST's frame, skipped
  }

  close(code: number, reason: string): void {
    if (this.sawClose) {
      this.isAfterClose = true;
      return;
    }
    this.sawClose = true;
    this.c.closedByPeer(code, reason); // HT-10
  }

  keepalive(): void {
    if (this.sawClose) this.isAfterClose = true;
    // A KEEPALIVE upstream carries nothing: skipped, as before (it is a downstream record).
  }

  data(chunk: Buffer): void {
    if (this.isDone) return;
    this.bytes += chunk.byteLength;
    if (this.bytes > this.l.maxSendBytes) return this.finish(413, 'send body over httpMaxSendBytes', true); // HT-13
    try {
      this.decoder.feed(chunk, this);
    } catch (err) {
      const e = err as CarrierError;
      // WIRE-4 as a WebSocket's maxPayload: closed MESSAGE_TOO_BIG, the request 413 (HT-13); else malformed (HT-2).
      refuseToCore(this.c, e.isTooBig ? 'MESSAGE_TOO_BIG' : 'PROTOCOL_ERROR', `HT-2: ${e.message}`);
      return this.finish(e.isTooBig ? 413 : 400, e.message, true);
    }
    if (this.isAfterClose) {
      refuseToCore(this.c, 'PROTOCOL_ERROR', 'HT-10: a record after CLOSE');
      return this.finish(400, 'a record after CLOSE', true);
    }
  }

  end(): void {
    if (this.isDone) return;
    try {
      this.decoder.end();
    } catch (err) {
      refuseToCore(this.c, 'PROTOCOL_ERROR', `HT-2: ${(err as Error).message}`);
      return this.finish(400, (err as Error).message);
    }
    this.finish(204, '');
  }

  /** The client went away mid-body: what arrived whole was applied; a retry skips it (HT-6). */
  closed(): void {
    if (this.isDone) return;
    this.settle();
  }

  private settle(): void {
    this.isDone = true;
    this.c.isSending = false;
    this.l.timers.clearTimeout(this.deadline);
    this.req.off('data', onData);
  }

  /** Answer once: 204, or `status` (`_why` names it for the reader; no detail goes to the peer). */
  private finish(status: number, _why: string, mustCut = false): void {
    if (this.isDone) return;
    this.settle();
    if (status === 204) return noContent(this.res, this.cors); // HT-6
    const { req, res } = this;
    const cors = this.cors.headers;
    if (mustCut) {
      // The rest of the body is not read: the socket cannot carry another request.
      text(res, status, { ...cors, Connection: 'close' });
      res.once('finish', () => req.socket.destroy());
      if (res.writableEnded && res.writableFinished) req.socket.destroy();
    } else text(res, status, cors);
  }
}

export function handleSend(req: IncomingMessage, res: ServerResponse, c: HttpConnection, l: SendLimits, cors: Cors): void {
  const answer: Answer = (status, _why, headers = {}) => text(res, status, { ...cors.headers, ...headers });
  if (c.isSending) {
    req.resume();
    return answer(409, 'a send is already in flight on this connection'); // HT-6
  }
  const h = req.headers;
  const seq = indexHeader(h['lifeline-seq']);
  if (seq === undefined) {
    req.resume();
    return answer(400, 'Lifeline-Seq missing or not an index');
  }
  const declared = h['content-length'];
  if (declared !== undefined && Number(declared) > l.maxSendBytes) {
    // HT-13: refused from the header, before a byte of the body is read.
    answer(413, 'send body over httpMaxSendBytes', { Connection: 'close' });
    res.once('finish', () => req.socket.destroy());
    return;
  }
  if (declared !== '0' && !isCarrierType(h['content-type'])) {
    req.resume();
    return answer(400, `Content-Type must be ${CONTENT_TYPE}`);
  }
  if (seq > c.received) {
    req.resume();
    refuseToCore(c, 'PROTOCOL_ERROR', `HT-6: send starts at frame ${seq}, ${c.received} received`);
    return answer(409, 'gap in the carrier index'); // HT-6
  }
  new SendBody(req, res, c, l, cors, seq);
}
