/**
 * The client's HTTP transport (spec §22, issue 15): one TransportSocket over the HTTP carrier, for
 * networks that block WebSockets. Browser-safe: only `fetch`, streams, AbortController and timers.
 * All framing goes through spec/protocol/http-carrier.ts.
 *
 * One HTTP connection is the HTTP equivalent of one WebSocket: an `open` request (admission, HT-1),
 * then at most two requests at a time (HT-28): one `receive` (the server's frames, streamed, or polled
 * behind a buffering proxy, HT-8, HT-27) and one `send` (the client's frames, serial, HT-6). A request that
 * fails at the network level is retried once, the same way (a cut is not a close, HT-26); only a 404,
 * a CLOSE record, a protocol answer (409, 413) or a second consecutive failure ends the connection.
 */
import { codeOf } from '../../spec/protocol/close-codes.js';
import { defaults } from '../../spec/protocol/defaults.js';
import {
  CONTENT_TYPE,
  CarrierError,
  Header,
  PROTOCOL_TOKEN,
  RECORD_HEADER_BYTES,
  RecordDecoder,
  RecordKind,
  closeRecord,
  type HttpOp,
  type ReceiveMode,
} from '../../spec/protocol/http-carrier.js';
import type { Transport, TransportHandlers, TransportSocket } from '../transport.js';
import { carrierUrl, globalFetch, retryAfterMs, type FetchInit, type FetchLike, type FetchResponse } from './http-fetch.js';

export { carrierUrl, type BodyListener, type FetchInit, type FetchLike, type FetchResponse } from './http-fetch.js';

export interface HttpTransportOptions {
  /**
   * Headers of the `open` request for an attempt (Node: e.g. `{ authorization: 'Bearer ' + token }`,
   * as the ws transport puts them on the upgrade). Browsers use cookies and the URL's query (a
   * ticket, HS-13) instead; the token always goes in Hello.token too.
   */
  readonly headers?: (token: string | undefined) => Record<string, string>;
  /** Largest frame accepted from the server (WIRE-4), checked before it is buffered. */
  readonly maxPayloadBytes?: number;
  /** A stream receive with no KEEPALIVE within this is behind a buffering proxy: poll (HT-27). Default 1500 ms. */
  readonly bufferingDetectMs?: number;
  /** Largest send body; more queued frames wait for the next send (the server's httpMaxSendBytes is 4 MiB). */
  readonly maxSendBytes?: number;
}

/** Default wait for the stream's first KEEPALIVE before falling back to poll (HT-27). */
export const BUFFERING_DETECT_MS = defaults.httpBufferingDetectMs;
const MAX_SEND_BYTES = 1024 * 1024;
/** How long the close's best-effort send may take (the ws transport's close grace is 1 s; HTTP gets more). */
const CLOSE_SEND_MS = 5000;

/** Why a request did not complete: the network (retry once) or an HTTP status. */
class RequestFailed extends Error {
  constructor(readonly status: number | undefined) {
    super(status === undefined ? 'network error' : `HTTP ${status}`);
  }
}

/**
 * A Transport over the HTTP carrier. `fetchImpl` defaults to the global fetch, looked up when the
 * first connection opens (so a client that never falls back never touches it).
 */
export function httpTransport(fetchImpl?: FetchLike, options: HttpTransportOptions = {}): Transport {
  return (url, handlers, { token }) => {
    const f = fetchImpl ?? globalFetch();
    return new HttpSocket(f, carrierUrl(url), handlers, options, options.headers?.(token) ?? {}); // HT-29
  };
}

type Phase = 'opening' | 'open' | 'done';

class HttpSocket implements TransportSocket {
  private phase: Phase = 'opening';
  /** The connection capability (HT-4); only ever in a header. */
  private id = '';
  /** Encoded Envelopes not yet in a send request. */
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  /** The send request in flight: its body and its frame count. */
  private inFlight: { readonly body: Uint8Array; readonly frames: number } | undefined;
  /** Carrier index of the next frame to send: frames the server answered 204 for (HT-6). */
  private sentFrames = 0;
  /** FRAME records received whole on this connection (HT-7). */
  private received = 0;
  private mode: ReceiveMode = 'stream';
  private receiveAbort: AbortController | undefined;
  private openAbort = new AbortController();
  /** The client's close, sent once the send in flight (if any) has settled (HT-10). */
  private closing: { readonly code: number; readonly reason: string } | undefined;
  private isFlushScheduled = false;
  /** Inside onSendBatch: what the client sends now goes in the body being made, no flush of its own. */
  private isTaking = false;
  private readonly maxPayloadBytes: number;
  private readonly detectMs: number;
  private readonly maxSendBytes: number;

  constructor(
    private readonly fetch: FetchLike,
    private readonly url: string,
    private readonly handlers: TransportHandlers,
    options: HttpTransportOptions,
    openHeaders: Record<string, string>,
  ) {
    this.maxPayloadBytes = options.maxPayloadBytes ?? defaults.maxPayloadBytes;
    this.detectMs = options.bufferingDetectMs ?? BUFFERING_DETECT_MS;
    this.maxSendBytes = options.maxSendBytes ?? MAX_SEND_BYTES;
    void this.open(openHeaders);
  }

  // ---- TransportSocket ----

  send(bytes: Uint8Array): void {
    if (this.phase === 'done' || this.closing) return;
    this.queue.push(bytes);
    this.queuedBytes += bytes.byteLength;
    if (!this.isTaking) this.scheduleFlush();
  }

  close(code: number, reason: string): void {
    if (this.phase === 'done' || this.closing) return;
    this.closing = { code, reason };
    this.receiveAbort?.abort();
    if (this.phase === 'opening') {
      // The open may still succeed server-side: its answer sends the close (see open()).
      return;
    }
    this.scheduleFlush();
  }

  get bufferedAmount(): number {
    return this.queuedBytes + (this.inFlight?.body.byteLength ?? 0);
  }

  // ---- open (HT-1) ----

  private async open(extra: Record<string, string>): Promise<void> {
    let res: FetchResponse;
    try {
      res = await this.fetch(this.url, this.init('open', { ...extra }, undefined, this.openAbort.signal));
    } catch {
      this.finish(codeOf('ABNORMAL'), 'HT-26: open failed');
      return;
    }
    discardBody(res);
    const id = res.headers.get(Header.connection);
    if (res.status !== 200) {
      if (this.closing) return this.end();
      this.refuse(res.status, retryAfterMs(res.headers.get('retry-after')));
      return;
    }
    if (id === null || id === '') {
      // A 200 without the capability: not a Lifeline carrier (or CORS hides the header).
      this.finish(codeOf('ABNORMAL'), 'HT-1: open answered without a connection');
      return;
    }
    this.id = id;
    if (this.closing) {
      this.phase = 'open';
      this.scheduleFlush(); // the close record the application asked for meanwhile
      return;
    }
    this.phase = 'open';
    this.handlers.onOpen();
    if (this.phase !== 'open') return;
    void this.receiveLoop();
    this.scheduleFlush();
  }

  // ---- send (HT-6) ----

  private scheduleFlush(): void {
    if (this.isFlushScheduled) return;
    this.isFlushScheduled = true;
    // Frames written in one tick go in one request (as the ws transport corks a burst).
    queueMicrotask(() => {
      this.isFlushScheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.phase !== 'open' || this.inFlight) return;
    const closing = this.closing;
    if (this.queue.length === 0 && !closing) return;
    if (!closing && this.handlers.onSendBatch) {
      // HT-28: an Ack the client owes rides in this request, not in one of its own when its delay ends.
      this.isTaking = true;
      try {
        this.handlers.onSendBatch();
      } finally {
        this.isTaking = false;
      }
      if (!this.isLive) return;
    }
    const { body, frames } = this.takeBody(closing);
    this.inFlight = { body, frames };
    if (closing) {
      // Best effort: one try, and the connection is ours no more (HT-28, HT-10). Bounded, so a dead
      // path does not hold the request (and its body) until the platform gives up on it.
      this.end();
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), CLOSE_SEND_MS);
      const post = (keepalive: boolean) => this.fetch(this.url, this.init('send', { [Header.seq]: String(this.sentFrames) }, body, abort.signal, keepalive));
      // keepalive lets the close outlive a page being unloaded (§15.9); some engines refuse it on a
      // request that needs a CORS preflight, and then it goes without.
      const isKeepalive = body.byteLength < 60_000;
      void post(isKeepalive)
        .catch((err: unknown) => {
          if (isKeepalive && !abort.signal.aborted) return post(false);
          throw err;
        })
        .then(discardBody, () => {})
        .finally(() => clearTimeout(timer));
      return;
    }
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.fetch(this.url, this.init('send', { [Header.seq]: String(this.sentFrames) }, body));
        discardBody(res);
        if (res.status === 204 || res.status === 200) break;
        this.failOnStatus(res.status);
        return;
      } catch {
        if (this.isEnded) return;
        // HT-26: once more, the same body with the same Lifeline-Seq (the server skips what it
        // already has); a second failure in a row ends the connection.
        if (attempt >= 1) {
          this.finish(codeOf('ABNORMAL'), 'HT-26: send failed twice');
          return;
        }
      }
    }
    if (this.isEnded) return;
    this.sentFrames += frames;
    this.inFlight = undefined;
    if (this.queue.length > 0 || this.closing) this.scheduleFlush();
  }

  /** The next send body: queued FRAME records up to maxSendBytes, then the CLOSE record if closing. */
  private takeBody(closing: { code: number; reason: string } | undefined): { body: Uint8Array; frames: number } {
    let n = 0;
    let size = 0;
    for (const f of this.queue) {
      const s = RECORD_HEADER_BYTES + f.byteLength;
      if (n > 0 && size + s > this.maxSendBytes && !closing) break;
      size += s;
      n++;
    }
    const tail = closing ? closeRecord(closing.code, closing.reason) : undefined;
    const body = new Uint8Array(size + (tail?.byteLength ?? 0));
    const view = new DataView(body.buffer);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const f = this.queue[i] as Uint8Array;
      // The record header written in place: no header buffer per frame (issue 15 bench profile).
      body[at] = RecordKind.FRAME;
      view.setUint32(at + 1, f.byteLength, false);
      body.set(f, at + RECORD_HEADER_BYTES);
      at += RECORD_HEADER_BYTES + f.byteLength;
    }
    if (tail) body.set(tail, at);
    this.queue = this.queue.slice(n);
    this.queuedBytes -= size - RECORD_HEADER_BYTES * n;
    return { body, frames: n };
  }

  // ---- receive (HT-7, HT-8) ----

  private async receiveLoop(): Promise<void> {
    let failures = 0;
    while (this.isLive) {
      const r = await this.receiveOnce();
      if (r === 'progress') failures = 0;
      else if (r === 'failed') {
        // HT-26: a cut or a network error is retried at once with the Ack; twice in a row ends it.
        if (++failures >= 2) {
          this.finish(codeOf('ABNORMAL'), 'HT-26: receive failed twice');
          return;
        }
      }
    }
  }

  /**
   * One receive request. 'progress': it carried frames, or ended as the server ends a response;
   * 'failed': a network error, a proxy's 5xx, or a cut before any frame; 'done': the connection ended.
   */
  private async receiveOnce(): Promise<'progress' | 'failed' | 'done'> {
    const abort = new AbortController();
    this.receiveAbort = abort;
    const mode = this.mode;
    let sawRecord = false;
    let sawFrame = false;
    let detect: ReturnType<typeof setTimeout> | undefined;
    /** Stops reading the body (where the abort does not reach it). */
    let stopBody: (() => void) | undefined;
    if (mode === 'stream') {
      // HT-27: a stream starts with a KEEPALIVE (HT-8); none in time means a proxy holds the body back
      // (a buffering proxy may hold the response headers too, so the wait starts with the request).
      // A timer that fires late found a busy event loop, not a proxy: the KEEPALIVE may be waiting to be
      // read behind it (1,000 clients in one process switched to poll for nothing under load, issue 15
      // bench). So a late timer waits again (at most 3 times), and an in-time one decides one timer turn
      // later, after the I/O that is already there has been read.
      const wait = (ms: number, lateChecks: number) => {
        const due = Date.now() + ms;
        detect = setTimeout(() => {
          if (sawRecord || !this.isLive) return;
          if (Date.now() - due > this.detectMs / 2 && lateChecks > 0) return wait(this.detectMs, lateChecks - 1);
          detect = setTimeout(() => {
            if (!sawRecord && this.isLive) {
              this.mode = 'poll';
              abort.abort();
              stopBody?.(); // ends a pending read where the abort does not reach the body
            }
          }, 0);
        }, ms);
      };
      wait(this.detectMs, 3);
    }
    try {
      const res = await this.fetch(this.url, this.init('receive', { [Header.ack]: String(this.received), [Header.receive]: mode }, undefined, abort.signal));
      if (res.status !== 200) {
        discardBody(res);
        this.failOnStatus(res.status);
        return this.phase === 'done' ? 'done' : 'failed';
      }
      const decoder = new RecordDecoder(this.maxPayloadBytes);
      const onChunk = (chunk: Uint8Array): boolean => {
        for (const rec of decoder.push(chunk)) {
          sawRecord = true;
          if (rec.kind === RecordKind.FRAME) {
            this.received++;
            sawFrame = true;
            this.handlers.onBinary(rec.envelope);
          } else if (rec.kind === RecordKind.CLOSE) {
            this.finish(rec.code, rec.reason); // HT-10: the server's close
          }
          if (!this.isLive) return false;
        }
        return true;
      };
      const isMore = () => this.isLive && !abort.signal.aborted;
      if (res.listen) {
        await listenBody(res.listen.bind(res), isMore, onChunk, (stop) => (stopBody = stop));
      } else if (res.body) {
        const reader = res.body.getReader();
        stopBody = () => void reader.cancel().catch(() => {});
        await readBody(reader, isMore, onChunk);
      } else {
        onChunk(new Uint8Array(await res.arrayBuffer()));
      }
      if (!this.isLive) return 'done';
      if (abort.signal.aborted) return 'progress'; // switched to poll: ask again at once
      decoder.end(); // a body that ends inside a record was cut: throw, and ask again from the Ack
      return 'progress';
    } catch (err) {
      if (!this.isLive) return 'done';
      if (err instanceof CarrierError && !isCut(err)) {
        this.violation(err.isTooBig ? codeOf('MESSAGE_TOO_BIG') : codeOf('PROTOCOL_ERROR'), `HT-2: ${err.message}`);
        return 'done';
      }
      if (abort.signal.aborted) return 'progress'; // the buffering detector moved us to poll
      return sawFrame ? 'progress' : 'failed';
    } finally {
      if (detect !== undefined) clearTimeout(detect);
      if (this.receiveAbort === abort) this.receiveAbort = undefined;
    }
  }

  // ---- plumbing ----

  /** Ended (a getter: the phase changes across awaits). */
  private get isEnded(): boolean {
    return this.phase === 'done';
  }

  /** Open, and neither closed by the client nor ended. */
  private get isLive(): boolean {
    return this.phase === 'open' && this.closing === undefined;
  }

  /**
   * The server sent what the carrier forbids (WIRE-4, HT-2): tell the server with a CLOSE record, as
   * `ws` closes a WebSocket 1009 or 1002 itself, and report that close.
   */
  private violation(code: number, reason: string): void {
    this.close(code, reason);
    this.handlers.onClose(code, reason);
  }

  private init(op: HttpOp, extra: Record<string, string>, body?: Uint8Array, signal?: AbortSignal, keepalive?: boolean): FetchInit {
    const headers: Record<string, string> = { [Header.op]: op, [Header.protocol]: PROTOCOL_TOKEN, ...extra };
    if (this.id !== '') headers[Header.connection] = this.id;
    if (body !== undefined) headers['content-type'] = CONTENT_TYPE;
    return {
      method: 'POST',
      headers,
      credentials: 'include',
      ...(body !== undefined && { body }),
      ...(signal !== undefined && { signal }),
      ...(keepalive === true && { keepalive }),
    };
  }

  /** A carrier answer that is not success: 404 = the connection is gone; else a protocol failure. */
  private failOnStatus(status: number): void {
    if (status === 404) this.finish(codeOf('ABNORMAL'), 'HT-26: connection gone (404)');
    else if (status === 409) this.finish(codeOf('PROTOCOL_ERROR'), 'HT-6: the server refused the request (409)');
    else if (status === 413) this.finish(codeOf('MESSAGE_TOO_BIG'), 'WIRE-4: the server refused the body (413)');
    else throw new RequestFailed(status); // a proxy's 5xx: retried once like a network error
  }

  private refuse(status: number, after: number | undefined): void {
    if (this.phase === 'done') return;
    this.end();
    this.handlers.onRefused(status, after);
  }

  /** The connection ended: report it once. */
  private finish(code: number, reason: string): void {
    if (this.phase === 'done') return;
    const isReported = this.closing === undefined;
    this.end();
    if (isReported) this.handlers.onClose(code, reason);
  }

  /** Stop every request of this connection and report nothing more. */
  private end(): void {
    this.phase = 'done';
    this.queue = [];
    this.queuedBytes = 0;
    this.receiveAbort?.abort();
    this.openAbort.abort();
  }
}

/** Drop a response body the transport does not read (a send's or an open's), keeping the connection where the carrier can. */
function discardBody(res: FetchResponse): void {
  if (res.discard) res.discard();
  else void res.body?.cancel().catch(() => {});
}

/**
 * The body through the platform's stream reader: chunks to `onChunk` while `isMore()` and it returns true
 * (then the rest is cancelled); resolves at the end, rejects when the body is cut.
 */
async function readBody(reader: ReadableStreamDefaultReader<Uint8Array>, isMore: () => boolean, onChunk: (c: Uint8Array) => boolean): Promise<void> {
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      if (!isMore() || !onChunk(value)) {
        void reader.cancel().catch(() => {});
        return;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * The same through a carrier's `listen` (node-fetch.ts): no promise per chunk. `onStop` gets the
 * function that stops reading. Settles as `readBody` does.
 */
function listenBody(
  listen: NonNullable<FetchResponse['listen']>, isMore: () => boolean, onChunk: (c: Uint8Array) => boolean, onStop: (stop: () => void) => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let isStopped = false;
    const halt = (): void => {
      isStopped = true;
      stop();
      resolve();
    };
    const stop = listen({
      chunk: (c) => {
        if (isStopped) return;
        try {
          if (!isMore() || !onChunk(c)) halt();
        } catch (err) {
          // A malformed record (CarrierError): never out of the carrier's event handler.
          isStopped = true;
          stop();
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      },
      end: resolve,
      error: reject,
    });
    onStop(halt);
  });
}

/** A body that ended inside a record is a cut (retry from the Ack), not a malformed record. */
function isCut(err: CarrierError): boolean {
  return err.message.startsWith('body ended inside a record');
}
