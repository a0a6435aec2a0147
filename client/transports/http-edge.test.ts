/**
 * The client's HTTP transport (§22) on a fake carrier: a `fetch` the test answers request by
 * request, for what a real server rarely does on cue: cut streams, 404, a buffering proxy, refused
 * opens, failed sends.
 */
import { describe, expect, test, vi } from 'vitest';
import { codeOf } from '../../spec/protocol/close-codes.js';
import { closeRecord, frameRecord, Header, KEEPALIVE_RECORD, RecordDecoder, RecordKind } from '../../spec/protocol/http-carrier.js';
import type { TransportHandlers } from '../transport.js';
import { httpTransport, type FetchInit, type FetchLike, type FetchResponse } from './http.js';

interface FakeRequest {
  readonly op: string;
  readonly headers: Record<string, string>;
  readonly body: Uint8Array | undefined;
  readonly signal: AbortSignal | undefined;
  respond(res: FetchResponse): void;
  fail(): void;
}

/** A response whose body the test writes. */
function streamed(status = 200, headers: Record<string, string> = {}) {
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (ctrl = c) });
  const h = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const res: FetchResponse = { status, headers: { get: (n) => h.get(n.toLowerCase()) ?? null }, body, arrayBuffer: async () => new ArrayBuffer(0) };
  return {
    res,
    push: (b: Uint8Array) => ctrl.enqueue(b),
    end: () => ctrl.close(),
    cut: () => ctrl.error(new TypeError('terminated')),
  };
}

function answer(status: number, headers: Record<string, string> = {}): FetchResponse {
  const s = streamed(status, headers);
  s.end();
  return s.res;
}

class FakeCarrier {
  readonly requests: FakeRequest[] = [];
  private taken = 0;

  readonly fetch: FetchLike = (_url: string, init: FetchInit) =>
    new Promise<FetchResponse>((resolve, reject) => {
      const req: FakeRequest = {
        op: init.headers[Header.op] ?? '',
        headers: init.headers,
        body: init.body,
        signal: init.signal,
        respond: resolve,
        fail: () => reject(new TypeError('fetch failed')),
      };
      init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      this.requests.push(req);
    });

  /** The next request not yet taken, in order. */
  async next(op?: string): Promise<FakeRequest> {
    return vi.waitFor(
      () => {
        const r = this.requests[this.taken];
        if (!r) throw new Error(`no request yet (waiting for ${op ?? 'any'})`);
        if (op !== undefined && r.op !== op) throw new Error(`expected ${op}, got ${r.op}`);
        this.taken++;
        return r;
      },
      { timeout: 3000, interval: 2 },
    );
  }
}

function recorder() {
  const log: string[] = [];
  const frames: string[] = [];
  const handlers: TransportHandlers = {
    onOpen: () => log.push('open'),
    onBinary: (b) => frames.push(new TextDecoder().decode(b)),
    onText: () => log.push('text'),
    onClose: (code, reason) => log.push(`close ${code} ${reason}`),
    onRefused: (status, after) => log.push(`refused ${status} ${after}`),
  };
  return { log, frames, handlers };
}

const enc = (s: string) => new TextEncoder().encode(s);

/** Open a transport on the fake carrier and answer its open with connection id C1. */
async function opened(opts: { bufferingDetectMs?: number; headers?: () => Record<string, string> } = {}) {
  const carrier = new FakeCarrier();
  const r = recorder();
  const sock = httpTransport(carrier.fetch, { bufferingDetectMs: opts.bufferingDetectMs ?? 5000, ...(opts.headers && { headers: opts.headers }) })('ws://h/lifeline?t=1', r.handlers, { token: undefined });
  const open = await carrier.next('open');
  open.respond(answer(200, { [Header.connection]: 'C1' }));
  await vi.waitFor(() => expect(r.log).toContain('open'));
  return { carrier, sock, ...r };
}

describe('HTTP transport on a fake carrier', () => {
  test('HT-29 HT-1 HT-3 open carries the protocol token and the upgrade\'s headers; later requests carry the capability in a header only', async () => {
    const { carrier } = await opened({ headers: () => ({ authorization: 'Bearer T' }) });
    const open = carrier.requests[0] as FakeRequest;
    expect(open.headers[Header.protocol]).toBe('lifeline.v1');
    expect(open.headers[Header.connection]).toBeUndefined();
    expect(open.headers.authorization).toBe('Bearer T');
    const recv = await carrier.next('receive');
    expect(recv.headers[Header.connection]).toBe('C1');
    expect(recv.headers.authorization).toBeUndefined();
    expect(recv.headers[Header.ack]).toBe('0');
    expect(recv.headers[Header.receive]).toBe('stream');
  });

  test('HT-3 a refused open reports its status and Retry-After; a network error is a close 1006', async () => {
    for (const [status, retry, expected] of [
      [503, '7', 'refused 503 7000'],
      [429, undefined, 'refused 429 undefined'],
      [401, undefined, 'refused 401 undefined'],
      [426, undefined, 'refused 426 undefined'],
    ] as const) {
      const carrier = new FakeCarrier();
      const r = recorder();
      httpTransport(carrier.fetch)('ws://h/l', r.handlers, { token: undefined });
      (await carrier.next('open')).respond(answer(status, retry === undefined ? {} : { 'retry-after': retry }));
      await vi.waitFor(() => expect(r.log).toEqual([expected]));
    }
    const carrier = new FakeCarrier();
    const r = recorder();
    httpTransport(carrier.fetch)('ws://h/l', r.handlers, { token: undefined });
    (await carrier.next('open')).fail();
    await vi.waitFor(() => expect(r.log).toEqual([`close ${codeOf('ABNORMAL')} HT-26: open failed`]));
  });

  test('HT-7 HT-26 a stream cut inside a record is asked again with the Ack of whole frames: nothing lost, nothing twice', async () => {
    const { carrier, frames, log } = await opened();
    const first = streamed();
    (await carrier.next('receive')).respond(first.res);
    first.push(KEEPALIVE_RECORD);
    const a = frameRecord(enc('a'));
    const b = frameRecord(enc('bb'));
    first.push(new Uint8Array([...a, ...b.subarray(0, 3)])); // b cut after 3 bytes
    await vi.waitFor(() => expect(frames).toEqual(['a']));
    first.cut();
    const again = await carrier.next('receive');
    expect(again.headers[Header.ack]).toBe('1');
    const second = streamed();
    again.respond(second.res);
    second.push(new Uint8Array([...KEEPALIVE_RECORD, ...b, ...frameRecord(enc('c'))]));
    await vi.waitFor(() => expect(frames).toEqual(['a', 'bb', 'c']));
    second.end(); // the server ends streams now and then (HT-8): asked again at once
    expect((await carrier.next('receive')).headers[Header.ack]).toBe('3');
    expect(log).toEqual(['open']);
  });

  test('HT-26 two receive failures in a row with no frame between end the connection 1006', async () => {
    const { carrier, log } = await opened();
    (await carrier.next('receive')).fail();
    (await carrier.next('receive')).fail();
    await vi.waitFor(() => expect(log).toEqual(['open', `close ${codeOf('ABNORMAL')} HT-26: receive failed twice`]));
  });

  test('HT-26 a 404 (the connection is gone) ends it at once with 1006', async () => {
    const { carrier, log } = await opened();
    (await carrier.next('receive')).respond(answer(404));
    await vi.waitFor(() => expect(log).toEqual(['open', `close ${codeOf('ABNORMAL')} HT-26: connection gone (404)`]));
  });

  test('HT-10 a CLOSE record is the server\'s close: its code and reason', async () => {
    const { carrier, log } = await opened();
    const s = streamed();
    (await carrier.next('receive')).respond(s.res);
    s.push(new Uint8Array([...KEEPALIVE_RECORD, ...closeRecord(codeOf('SERVICE_RESTART'), 'drain')]));
    await vi.waitFor(() => expect(log).toEqual(['open', `close ${codeOf('SERVICE_RESTART')} drain`]));
  });

  test('HT-27 HT-8 no KEEPALIVE within the detection time: the client polls for the rest of the connection', async () => {
    const { carrier, frames } = await opened({ bufferingDetectMs: 30 });
    const held = await carrier.next('receive');
    expect(held.headers[Header.receive]).toBe('stream');
    held.respond(streamed().res); // a proxy that holds the body back
    const poll = await carrier.next('receive');
    expect(poll.headers[Header.receive]).toBe('poll');
    expect(held.signal?.aborted).toBe(true);
    const p = streamed();
    poll.respond(p.res);
    p.push(frameRecord(enc('x')));
    p.end();
    await vi.waitFor(() => expect(frames).toEqual(['x']));
    const next = await carrier.next('receive');
    expect(next.headers[Header.receive]).toBe('poll');
    expect(next.headers[Header.ack]).toBe('1');
  });

  test('HT-28 HT-6 HT-26 sends are serial, batched per tick, numbered by Lifeline-Seq; a failed send is retried once with the same seq and body', async () => {
    const { carrier, sock, log } = await opened();
    await carrier.next('receive');
    sock.send(enc('1'));
    sock.send(enc('2'));
    const s1 = await carrier.next('send');
    expect(s1.headers[Header.seq]).toBe('0');
    expect(s1.headers['content-type']).toBe('application/vnd.lifeline.v1+records');
    const recs = new RecordDecoder(1 << 20).push(s1.body as Uint8Array);
    expect(recs.map((r) => (r.kind === RecordKind.FRAME ? new TextDecoder().decode(r.envelope) : r.kind))).toEqual(['1', '2']);
    sock.send(enc('3')); // waits: one send in flight (HT-9)
    expect(sock.bufferedAmount).toBeGreaterThan(0);
    s1.fail();
    const retry = await carrier.next('send');
    expect(retry.headers[Header.seq]).toBe('0');
    expect(retry.body).toEqual(s1.body);
    retry.respond(answer(204));
    const s2 = await carrier.next('send');
    expect(s2.headers[Header.seq]).toBe('2');
    s2.fail();
    (await carrier.next('send')).fail();
    await vi.waitFor(() => expect(log).toEqual(['open', `close ${codeOf('ABNORMAL')} HT-26: send failed twice`]));
  });

  test('HT-28 HT-10 close() sends the queued frames and a CLOSE record once the send in flight settled, and reports nothing more', async () => {
    const { carrier, sock, log } = await opened();
    const recv = await carrier.next('receive');
    sock.send(enc('a'));
    const s1 = await carrier.next('send');
    sock.send(enc('b'));
    sock.close(codeOf('NORMAL'), 'bye');
    expect(recv.signal?.aborted).toBe(true);
    s1.respond(answer(204));
    const last = await carrier.next('send');
    expect(last.headers[Header.seq]).toBe('1');
    const recs = new RecordDecoder(1 << 20).push(last.body as Uint8Array);
    expect(recs).toEqual([
      { kind: RecordKind.FRAME, envelope: enc('b') },
      { kind: RecordKind.CLOSE, code: codeOf('NORMAL'), reason: 'bye' },
    ]);
    last.respond(answer(204));
    await new Promise((r) => setTimeout(r, 20));
    expect(log).toEqual(['open']);
    expect(carrier.requests.filter((r) => r.op === 'receive')).toHaveLength(1);
  });

  test('HT-1 an open answered 200 without a connection is not a carrier: close 1006', async () => {
    const carrier = new FakeCarrier();
    const r = recorder();
    httpTransport(carrier.fetch)('wss://h/l', r.handlers, { token: undefined });
    (await carrier.next('open')).respond(answer(200));
    await vi.waitFor(() => expect(r.log).toEqual([`close ${codeOf('ABNORMAL')} HT-1: open answered without a connection`]));
  });
});
