/**
 * A send request of the HTTP carrier (spec §22.3, HT-6): FRAME records handed to the core in order,
 * each carrier index exactly once (a retried POST skips what arrived), an optional final CLOSE
 * record (the client's close, HT-10). Refused with a status, never a crash: a gap or a second send
 * in flight 409, a body over its bounds 413 (refused from Content-Length when declared), a malformed
 * body 400, a body that never ends 408 after the handshake timeout (HT-14).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WsCloseCodeName } from '../../spec/protocol/close-codes.js';
import { CarrierError, CONTENT_TYPE, RecordDecoder, RecordKind } from '../../spec/protocol/http-carrier.js';
import type { Clock } from '../clock.js';
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

/** A non-negative integer header (a carrier index or Ack), else undefined. */
export function indexHeader(v: string | string[] | undefined): number | undefined {
  if (typeof v !== 'string' || !/^\d{1,15}$/.test(v.trim())) return undefined;
  return Number(v.trim());
}

function contentTypeOf(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** Tell the core the transport refused what the peer sent (CC-11); it closes the connection with `name`. */
function refuseToCore(c: HttpConnection, name: WsCloseCodeName, reason: string): void {
  if (c.isOpen) c.sink?.protocolError(name, reason);
}

export function handleSend(req: IncomingMessage, res: ServerResponse, c: HttpConnection, l: SendLimits, answer: Answer): void {
  if (c.isSending) {
    req.resume();
    return answer(409, 'a send is already in flight on this connection'); // HT-6
  }
  const seq = indexHeader(req.headers['lifeline-seq']);
  if (seq === undefined) {
    req.resume();
    return answer(400, 'Lifeline-Seq missing or not an index');
  }
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > l.maxSendBytes) {
    // HT-13: refused from the header, before a byte of the body is read.
    answer(413, 'send body over httpMaxSendBytes', { Connection: 'close' });
    res.once('finish', () => req.socket.destroy());
    return;
  }
  if (declared !== '0' && contentTypeOf(req) !== CONTENT_TYPE) {
    req.resume();
    return answer(400, `Content-Type must be ${CONTENT_TYPE}`);
  }
  if (seq > c.received) {
    req.resume();
    refuseToCore(c, 'PROTOCOL_ERROR', `HT-6: send starts at frame ${seq}, ${c.received} received`);
    return answer(409, 'gap in the carrier index'); // HT-6
  }
  c.isSending = true;
  const decoder = new RecordDecoder(l.maxPayloadBytes);
  let index = seq;
  let bytes = 0;
  let sawClose = false;
  let isDone = false;
  const finish = (status: number, why: string, mustCut = false): void => {
    if (isDone) return;
    isDone = true;
    c.isSending = false;
    l.timers.clearTimeout(deadline);
    req.off('data', onData);
    if (mustCut) {
      // The rest of the body is not read: the socket cannot carry another request.
      answer(status, why, { Connection: 'close' });
      res.once('finish', () => req.socket.destroy());
      if (res.writableEnded && res.writableFinished) req.socket.destroy();
    } else answer(status, why);
  };
  const deadline = l.timers.setTimeout(() => finish(408, 'send body not complete within the handshake timeout', true), l.bodyTimeoutMs); // HT-14
  const onData = (chunk: Buffer): void => {
    if (isDone) return;
    bytes += chunk.byteLength;
    if (bytes > l.maxSendBytes) return finish(413, 'send body over httpMaxSendBytes', true); // HT-13
    let records;
    try {
      records = decoder.push(chunk);
    } catch (err) {
      const e = err as CarrierError;
      // WIRE-4 as a WebSocket's maxPayload: closed MESSAGE_TOO_BIG, the request 413 (HT-13); else malformed (HT-2).
      refuseToCore(c, e.isTooBig ? 'MESSAGE_TOO_BIG' : 'PROTOCOL_ERROR', `HT-2: ${e.message}`);
      return finish(e.isTooBig ? 413 : 400, e.message, true);
    }
    for (const r of records) {
      if (sawClose) {
        refuseToCore(c, 'PROTOCOL_ERROR', 'HT-10: a record after CLOSE');
        return finish(400, 'a record after CLOSE', true);
      }
      if (r.kind === RecordKind.FRAME) {
        if (index === c.received) {
          c.received++;
          if (c.isOpen) c.sink?.frame(r.envelope, true); // HT-6: in order, once
        }
        index++; // below `received`: a retried POST's frame, skipped
      } else if (r.kind === RecordKind.CLOSE) {
        sawClose = true;
        c.closedByPeer(r.code, r.reason); // HT-10
      }
    }
  };
  req.on('data', onData);
  req.on('end', () => {
    try {
      decoder.end();
    } catch (err) {
      refuseToCore(c, 'PROTOCOL_ERROR', `HT-2: ${(err as Error).message}`);
      return finish(400, (err as Error).message);
    }
    finish(204, '');
  });
  req.on('close', () => {
    // The client went away mid-body: what arrived whole was applied; a retry skips it (HT-6).
    if (!isDone) {
      isDone = true;
      c.isSending = false;
      l.timers.clearTimeout(deadline);
    }
  });
}
