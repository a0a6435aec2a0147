/**
 * Mutants of the reference client's HTTP carrier and transport switching (spec §22.7, HT-21 …
 * HT-29): a client option, a wrapper around one of its transports, or a wrapper around the fetch its
 * HTTP transport uses (what its requests look like on the wire). Never a copy of client code. Each is
 * aimed at the client-mode case of its rule (conformance/cases/client/http-switch.ts).
 */
import type { ClientOptions } from '../../client/create-client.js';
import type { Transport } from '../../client/transport.js';
import type { FetchInit, FetchLike, FetchResponse } from '../../client/transports/http-fetch.js';
import { decode, encode } from '../../spec/protocol/codec.js';
import { Header } from '../../spec/protocol/http-carrier.js';
import { envelope } from '../server-mode/peer.js';

/** What one of these changes in the adapter's client (a part of client-mutants.ts's ClientMutation, which spreads these in). */
interface HttpClientMutation {
  readonly options?: Partial<ClientOptions<Uint8Array>>;
  readonly wrap?: (t: Transport) => Transport;
  readonly wrapHttp?: (t: Transport) => Transport;
  readonly wrapFetch?: (f: FetchLike) => FetchLike;
}

type Mutations = Record<string, { rule: string; description: string; cases: string[]; mutation: HttpClientMutation }>;

const opOf = (init: FetchInit) => init.headers[Header.op];

/** A fetch that rewrites each request (its URL and headers) before it goes out. */
const rewritingFetch =
  (f: (url: string, init: FetchInit) => { url: string; init: FetchInit }) =>
  (inner: FetchLike): FetchLike =>
  (url, init) => {
    const r = f(url, init);
    return inner(r.url, r.init);
  };

/** An answer the wrapper makes up: 204, no body. */
const NO_CONTENT: FetchResponse = { status: 204, headers: { get: () => null }, body: null, arrayBuffer: () => Promise.resolve(new ArrayBuffer(0)) };

/** The refusals of the WebSocket transport reach the client as a close before open: the status is not seen. */
function refusalsAsNetworkErrors(inner: Transport): Transport {
  return (url, handlers, opts) => inner(url, { ...handlers, onRefused: () => handlers.onClose(1006, '') }, opts);
}

/** A busy answer to an HTTP open (429, 503) reaches the client as a 401. */
function busyOpenAsUnauthorized(inner: Transport): Transport {
  return (url, handlers, opts) => inner(url, { ...handlers, onRefused: (status, ra) => handlers.onRefused(status === 503 || status === 429 ? 401 : status, status === 503 || status === 429 ? undefined : ra) }, opts);
}

/** A probe (closed with a reason naming it) sends a Hello before its close. */
function probeSendsHello(inner: Transport): Transport {
  return (url, handlers, opts) => {
    const sock = inner(url, handlers, opts);
    return {
      send: (b) => sock.send(b),
      close: (code, reason) => {
        if (/probe/i.test(reason)) sock.send(encode(envelope('hello', { protocolVersion: 1, receiveWindow: 256 })));
        sock.close(code, reason);
      },
      get bufferedAmount() {
        return sock.bufferedAmount;
      },
    };
  };
}

/** Every Hello over the WebSocket without its session id and last_server_seq. */
function helloWithoutSession(inner: Transport): Transport {
  return (url, handlers, opts) => {
    const sock = inner(url, handlers, opts);
    return {
      send: (b) => {
        const d = decode(b, { from: 'client', maxPayloadBytes: Number.MAX_SAFE_INTEGER });
        sock.send(d.ok && d.envelope.body.case === 'hello' ? encode(envelope('hello', { ...d.envelope.body.value, sessionId: '', lastServerSeq: 0n })) : b);
      },
      close: (code, reason) => sock.close(code, reason),
      get bufferedAmount() {
        return sock.bufferedAmount;
      },
    };
  };
}

/** The HTTP transport's close goes out as NORMAL (1000) whatever it was. */
function closeAsNormal(inner: Transport): Transport {
  return (url, handlers, opts) => {
    const sock = inner(url, handlers, opts);
    return {
      send: (b) => sock.send(b),
      close: () => sock.close(1000, 'bye'),
      get bufferedAmount() {
        return sock.bufferedAmount;
      },
    };
  };
}

/** Receives after the first fail at once, without reaching the server: a cut ends the connection. */
function noReceiveAfterTheFirst(inner: FetchLike): FetchLike {
  let receives = 0;
  return (url, init) => (opOf(init) === 'receive' && ++receives > 1 ? Promise.reject(new TypeError('mutant: no second receive')) : inner(url, init));
}

/** Sends answered at once by the wrapper while the real request goes on: the next send goes out beside it. */
function sendsNotAwaited(inner: FetchLike): FetchLike {
  return (url, init) => {
    if (opOf(init) !== 'send') return inner(url, init);
    void inner(url, init).then(
      (r) => void r.body?.cancel().catch(() => undefined),
      () => undefined,
    );
    return Promise.resolve(NO_CONTENT);
  };
}

export const httpClientMutations: Mutations = {
  'ht-21-no-fallback': {
    rule: 'HT-21',
    description: 'httpFallbackAfter is a thousand while 2 is declared: a client behind a proxy that strips Upgrade never tries HTTP',
    cases: ['HT-21/fallback-after-refused-upgrades'],
    mutation: { options: { httpFallbackAfter: 1000 } },
  },
  'ht-21-admission-counts': {
    rule: 'HT-21',
    description: 'the status of a refused upgrade is not looked at: 401 and 503 count toward the fallback like a proxy refusal',
    cases: ['HT-21/admission-refusals-do-not-count'],
    mutation: { wrap: refusalsAsNetworkErrors },
  },
  'ht-22-busy-open-stays-on-http': {
    rule: 'HT-22',
    description: 'an HTTP open refused 503 is taken as any admission answer: the next attempt is over HTTP again',
    cases: ['HT-22/busy-or-missing-http-back-to-ws'],
    mutation: { wrapHttp: busyOpenAsUnauthorized },
  },
  'ht-23-probe-sends-hello': {
    rule: 'HT-23',
    description: 'a WebSocket probe that opened sends a Hello before its close',
    cases: ['HT-23+HT-25/probe-then-switch-resumes'],
    mutation: { wrap: probeSendsHello },
  },
  'ht-24-probe-wait-not-doubled': {
    rule: 'HT-24',
    description: 'wsRetryCapMs equals wsRetryMs: a failed probe does not double the wait',
    cases: ['HT-23+HT-25/probe-then-switch-resumes'],
    mutation: { options: { wsRetryCapMs: 400 } },
  },
  'ht-25-switch-without-session': {
    rule: 'HT-25',
    description: 'the Hello over the WebSocket after a switch carries no session id: the session over HTTP is not resumed',
    cases: ['HT-23+HT-25/probe-then-switch-resumes'],
    mutation: { wrap: helloWithoutSession },
  },
  'ht-25-switch-close-normal': {
    rule: 'HT-25',
    description: 'the HTTP connection given up for a WebSocket is closed 1000, not 1001 "transport switch"',
    cases: ['HT-23+HT-25/probe-then-switch-resumes'],
    mutation: { wrapHttp: closeAsNormal },
  },
  'ht-26-receive-from-zero': {
    rule: 'HT-26',
    description: 'every receive asks from the start (Lifeline-Ack 0): one repeated after a cut gets everything again',
    cases: ['HT-26/cut-receive-repeated-then-closed'],
    mutation: { wrapFetch: rewritingFetch((url, init) => ({ url, init: opOf(init) === 'receive' ? { ...init, headers: { ...init.headers, [Header.ack]: '0' } } : init })) },
  },
  'ht-26-cut-ends-connection': {
    rule: 'HT-26',
    description: 'a cut receive is the end of the connection: no receive after it reaches the server',
    cases: ['HT-26/cut-receive-repeated-then-closed'],
    mutation: { wrapFetch: noReceiveAfterTheFirst },
  },
  'ht-27-never-polls': {
    rule: 'HT-27',
    description: 'every receive asks for stream: behind a proxy that buffers, the client never sees a frame',
    cases: ['HT-27/buffered-stream-then-poll'],
    mutation: { wrapFetch: rewritingFetch((url, init) => ({ url, init: opOf(init) === 'receive' ? { ...init, headers: { ...init.headers, [Header.receive]: 'stream' } } : init })) },
  },
  'ht-28-two-sends-in-flight': {
    rule: 'HT-28',
    description: 'a send is not awaited: the next one goes out while it is still in flight',
    cases: ['HT-28/one-send-in-flight'],
    mutation: { wrapFetch: sendsNotAwaited },
  },
  'ht-29-id-in-url': {
    rule: 'HT-29',
    description: 'sends and receives name their connection in the URL too (?connection=…), where proxies log it',
    cases: ['HT-29/connection-id-header-only'],
    mutation: {
      wrapFetch: rewritingFetch((url, init) => {
        const id = init.headers[Header.connection];
        return { url: id ? `${url}${url.includes('?') ? '&' : '?'}connection=${encodeURIComponent(id)}` : url, init };
      }),
    },
  },
};
