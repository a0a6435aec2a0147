/**
 * The HTTP carrier (spec §22, issue 15): how Envelopes cross HTTP when a WebSocket cannot. Both ends
 * use this module, so the framing is written once (CONVENTIONS: one implementation of each rule).
 *
 * A body is a sequence of records: `[kind u8][length u32 big-endian][payload]`.
 * - FRAME: the payload is one Envelope, exactly the bytes a WebSocket binary frame would carry (WIRE-1).
 * - CLOSE: the payload is a close code (u16 big-endian) and a UTF-8 reason (≤ 123 bytes, CC-1): the
 *   HTTP form of a WebSocket close frame.
 * - KEEPALIVE: no payload; the server writes one at the start of every streamed response so the
 *   client can tell a proxy that buffers the stream (it then polls, HT-8).
 *
 * Binary records, not SSE with base64: no 33 % inflation and no base64 pass on either end,
 * headers (the connection capability never goes in a URL, HT-4) and POST are available to `fetch`,
 * and every current browser streams a fetch response body. Browser-safe: no Node API here.
 */
import { SUBPROTOCOL } from './defaults.js';

/** Record kinds (HT-2). */
export const RecordKind = { FRAME: 1, CLOSE: 2, KEEPALIVE: 3 } as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

/** Bytes before a record's payload: kind (1) and length (4). */
export const RECORD_HEADER_BYTES = 5;

/** The media type of every request and response body of the carrier (HT-1). */
export const CONTENT_TYPE = 'application/vnd.lifeline.v1+records';

/** Request and response headers of the carrier (HT-1 … HT-9); HTTP header names are case-insensitive. */
export const Header = {
  /** The operation: `open`, `send` or `receive` (HT-1). */
  op: 'Lifeline-Http',
  /** The protocol token, the same as the WebSocket subprotocol (HT-3, HS-3). */
  protocol: 'Lifeline-Protocol',
  /** The connection capability the open response gives and every later request carries (HT-4). */
  connection: 'Lifeline-Connection',
  /** send: the carrier index of the body's first FRAME (frames this connection sent before it) (HT-6). */
  seq: 'Lifeline-Seq',
  /** receive: how many FRAME records of this connection the client has received whole (HT-7). */
  ack: 'Lifeline-Ack',
  /** receive: `stream` (the response stays open) or `poll` (it ends after its first records) (HT-8). */
  receive: 'Lifeline-Receive',
} as const;

export type HttpOp = 'open' | 'send' | 'receive';
export type ReceiveMode = 'stream' | 'poll';

/** The value of the protocol header (HT-3). */
export const PROTOCOL_TOKEN = SUBPROTOCOL;

/** Largest CLOSE reason in bytes, as a WebSocket close frame carries (CC-1). */
export const MAX_CLOSE_REASON_BYTES = 123;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

function header(kind: RecordKind, length: number): Uint8Array {
  const h = new Uint8Array(RECORD_HEADER_BYTES);
  h[0] = kind;
  new DataView(h.buffer).setUint32(1, length, false);
  return h;
}

/** The record header of one FRAME of `length` bytes (write it, then the Envelope bytes: no copy). */
export function frameHeader(length: number): Uint8Array {
  return header(RecordKind.FRAME, length);
}

/** One FRAME record, header and Envelope in one buffer. */
export function frameRecord(envelope: Uint8Array): Uint8Array {
  const r = new Uint8Array(RECORD_HEADER_BYTES + envelope.byteLength);
  r.set(header(RecordKind.FRAME, envelope.byteLength), 0);
  r.set(envelope, RECORD_HEADER_BYTES);
  return r;
}

/** A CLOSE record; the reason is cut at a character boundary to MAX_CLOSE_REASON_BYTES. */
export function closeRecord(code: number, reason: string): Uint8Array {
  let r = encoder.encode(reason);
  if (r.byteLength > MAX_CLOSE_REASON_BYTES) {
    let end = MAX_CLOSE_REASON_BYTES;
    while (end > 0 && ((r[end] ?? 0) & 0xc0) === 0x80) end--; // not inside a UTF-8 sequence
    r = r.subarray(0, end);
  }
  const out = new Uint8Array(RECORD_HEADER_BYTES + 2 + r.byteLength);
  out.set(header(RecordKind.CLOSE, 2 + r.byteLength), 0);
  new DataView(out.buffer).setUint16(RECORD_HEADER_BYTES, code, false);
  out.set(r, RECORD_HEADER_BYTES + 2);
  return out;
}

/** The KEEPALIVE record (no payload). */
export const KEEPALIVE_RECORD: Uint8Array = header(RecordKind.KEEPALIVE, 0);

/** A record as the decoder yields it. */
export type CarrierRecord =
  | { readonly kind: typeof RecordKind.FRAME; readonly envelope: Uint8Array }
  | { readonly kind: typeof RecordKind.CLOSE; readonly code: number; readonly reason: string }
  | { readonly kind: typeof RecordKind.KEEPALIVE };

/** Why a body is not a valid sequence of records (the receiver closes PROTOCOL_ERROR, or 1009 for size). */
export class CarrierError extends Error {
  constructor(
    message: string,
    /** True when the record was refused for its size (WIRE-4: MESSAGE_TOO_BIG), false for a malformed body. */
    readonly isTooBig: boolean,
  ) {
    super(message);
    this.name = 'CarrierError';
  }
}

/**
 * What a decoder hands each record to (`RecordDecoder.feed`): one call per record, in order, with
 * no record object and no array per chunk (issue 15: the server's send path decodes every frame of
 * every POST here). A FRAME's `envelope` is a view of the chunk (or of the joined bytes when the
 * record spanned chunks): valid as long as the caller's chunk is.
 */
export interface RecordVisitor {
  frame(envelope: Uint8Array): void;
  close(code: number, reason: string): void;
  keepalive(): void;
}

/** A record's payload length: u32 big-endian after its kind byte (read without a DataView per record). */
function lengthAt(buf: Uint8Array, at: number): number {
  return (((buf[at + 1] as number) << 24) | ((buf[at + 2] as number) << 16) | ((buf[at + 3] as number) << 8) | (buf[at + 4] as number)) >>> 0;
}

/** A view of `length` bytes of `buf` from `start` (a constructor call: half the cost of `subarray`). */
function viewOf(buf: Uint8Array, start: number, length: number): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset + start, length);
}

/**
 * Incremental decoder of a record stream: feed it chunks as they arrive, in order, and it returns the
 * records they complete. A record's declared length is checked against `maxPayloadBytes` before its
 * payload is buffered (WIRE-4), so a hostile length costs nothing.
 */
export class RecordDecoder {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** Bytes the held record needs in all (header and payload), once its header is known; else 0. */
  private needed = 0;

  constructor(private readonly maxPayloadBytes: number) {}

  /** Bytes held for a record not yet complete. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** The records `chunk` completes; throws CarrierError on a malformed or oversized record. */
  push(chunk: Uint8Array): CarrierRecord[] {
    const out: CarrierRecord[] = [];
    // One decoding loop (feed) for both forms: push only collects what feed hands on.
    this.feed(chunk, {
      frame: (envelope) => void out.push({ kind: RecordKind.FRAME, envelope }),
      close: (code, reason) => void out.push({ kind: RecordKind.CLOSE, code, reason }),
      keepalive: () => void out.push({ kind: RecordKind.KEEPALIVE }),
    });
    return out;
  }

  /**
   * The records `chunk` completes, handed to `v` one by one as they are decoded; throws CarrierError
   * on a malformed or oversized record (the records before it in the chunk were handed on already).
   */
  feed(chunk: Uint8Array, v: RecordVisitor): void {
    if (chunk.byteLength === 0) return;
    if (this.needed > this.pendingBytes + chunk.byteLength) {
      // Still inside a large record: hold the chunk without copying what is held (no O(n²) joins).
      this.pending.push(chunk.slice());
      this.pendingBytes += chunk.byteLength;
      return;
    }
    this.needed = 0;
    let buf: Uint8Array;
    if (this.pendingBytes === 0) buf = chunk;
    else {
      buf = new Uint8Array(this.pendingBytes + chunk.byteLength);
      let at = 0;
      for (const p of this.pending) {
        buf.set(p, at);
        at += p.byteLength;
      }
      buf.set(chunk, at);
      this.pending = [];
      this.pendingBytes = 0;
    }
    const size = buf.byteLength;
    let at = 0;
    while (size - at >= RECORD_HEADER_BYTES) {
      const kind = buf[at] as number;
      const length = lengthAt(buf, at);
      if (kind === RecordKind.FRAME) {
        if (length > this.maxPayloadBytes) throw new CarrierError(`frame of ${length} bytes over the limit of ${this.maxPayloadBytes}`, true);
      } else if (kind === RecordKind.CLOSE) {
        if (length < 2 || length > 2 + MAX_CLOSE_REASON_BYTES) throw new CarrierError(`close record of ${length} bytes`, false);
      } else if (kind === RecordKind.KEEPALIVE) {
        if (length !== 0) throw new CarrierError(`keepalive record of ${length} bytes`, false);
      } else {
        throw new CarrierError(`unknown record kind ${kind}`, false);
      }
      if (size - at - RECORD_HEADER_BYTES < length) {
        this.needed = RECORD_HEADER_BYTES + length;
        break;
      }
      const start = at + RECORD_HEADER_BYTES;
      at = start + length;
      if (kind === RecordKind.FRAME) v.frame(viewOf(buf, start, length));
      else if (kind === RecordKind.CLOSE) {
        const code = ((buf[start] as number) << 8) | (buf[start + 1] as number);
        v.close(code, decoder.decode(buf.subarray(start + 2, at)));
      } else v.keepalive();
    }
    if (at < size) {
      // Keep the tail (a copy: the caller may reuse its chunk).
      const rest = buf.slice(at);
      this.pending.push(rest);
      this.pendingBytes += rest.byteLength;
    }
  }

  /** The stream ended: throws when it ended inside a record (a cut response or body). */
  end(): void {
    if (this.pendingBytes !== 0) throw new CarrierError(`body ended inside a record (${this.pendingBytes} bytes left)`, false);
  }
}
