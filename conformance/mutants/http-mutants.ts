/**
 * HTTP carrier mutants (spec §22): a correct reference server behind a carrier proxy
 * (carrier-proxy.ts) that breaks one rule of the carrier, never a copy of server code. Each is
 * aimed at the HT-* case of its rule; `npx tsx conformance/mutants/run.ts ht-` runs them.
 */
import { decode, encode } from '../../spec/protocol/codec.js';
import { RecordKind, type CarrierRecord } from '../../spec/protocol/http-carrier.js';
import { envelope } from '../server-mode/peer.js';
import { rewriteBody, type CarrierRequest } from './carrier-proxy.js';
import type { ServerMutant } from './server-mutants.js';

const mutant = (m: Omit<ServerMutant, 'side'>): ServerMutant => ({ ...m, side: 'server' });

/** Every FRAME record of a send body with its Envelope rewritten by `f`. */
function rewriteFrames(r: CarrierRequest, f: (bytes: Uint8Array) => Uint8Array): void {
  r.body = rewriteBody(r.body, (x: CarrierRecord) => (x.kind === RecordKind.FRAME ? [{ kind: RecordKind.FRAME, envelope: f(x.envelope) }] : [x]));
}

/** A Hello without its session id: what a carrier that does not resume hands the core. */
function forgetSession(bytes: Uint8Array): Uint8Array {
  const d = decode(bytes, { from: 'client', maxPayloadBytes: Number.MAX_SAFE_INTEGER });
  if (!d.ok || d.envelope.body.case !== 'hello' || d.envelope.body.value.sessionId === '') return bytes;
  return encode(envelope('hello', { ...d.envelope.body.value, sessionId: '', lastServerSeq: 0n }));
}

/** A body without the records of a kind v1 does not define (what a lenient parser would hand on). */
function withoutUnknownKinds(body: Uint8Array): Uint8Array {
  const keep: Uint8Array[] = [];
  for (let at = 0; at + 5 <= body.byteLength; ) {
    const len = new DataView(body.buffer, body.byteOffset + at + 1, 4).getUint32(0, false);
    const kind = body[at] ?? 0;
    if (kind >= RecordKind.FRAME && kind <= RecordKind.KEEPALIVE) keep.push(body.subarray(at, at + 5 + len));
    at += 5 + len;
  }
  return new Uint8Array(Buffer.concat(keep));
}

export const httpMutants: readonly ServerMutant[] = [
  mutant({
    id: 'ht-3-open-skips-protocol-check',
    rule: 'HT-3',
    description: 'an HTTP open without (or with a wrong) Lifeline-Protocol is admitted: the carrier skips the check an upgrade makes',
    cases: ['HT-3/open-refused-as-upgrade'],
    carrierProxy: {
      request: (r) => {
        if (r.op === 'open') r.headers['lifeline-protocol'] = 'lifeline.v1';
        return undefined;
      },
    },
  }),
  mutant({
    id: 'ht-19-open-while-draining',
    rule: 'HT-19',
    description: 'a draining server answers an HTTP open 200 (a connection that never gets a Welcome) instead of 503',
    cases: ['HT-19/open-503-while-draining'],
    carrierProxy: {
      head: (h) => {
        if (h.op === 'open' && h.status === 503) {
          h.status = 200;
          h.headers['lifeline-connection'] = 'AAAAAAAAAAAAAAAAAAAAAA';
        }
      },
    },
  }),
  mutant({
    id: 'ht-4-unknown-connection-200',
    rule: 'HT-4',
    description: 'a send or receive on a connection the server does not know is answered as if it did (204, an empty 200) instead of 404',
    cases: ['HT-4/unknown-connection-404'],
    carrierProxy: {
      head: (h) => {
        if (h.status === 404) h.status = h.op === 'send' ? 204 : 200;
      },
    },
  }),
  mutant({
    id: 'ht-6-retry-applied-again',
    rule: 'HT-6',
    description: 'a send retried with the same Lifeline-Seq is applied again: the carrier numbers bodies as they arrive instead of skipping what it has',
    cases: ['HT-6/retried-send-applied-once'],
    carrierProxy: {
      request: (r) => {
        const seq = Number(r.headers['lifeline-seq']);
        if (r.op === 'send' && r.conn && seq < r.conn.framesUp) r.headers['lifeline-seq'] = String(r.conn.framesUp);
        return undefined;
      },
    },
  }),
  mutant({
    id: 'ht-6-gap-accepted',
    rule: 'HT-6',
    description: 'a send whose Lifeline-Seq skips frames is taken as the next one (204): the lost frames are never noticed',
    cases: ['HT-6/send-gap-409-1002'],
    carrierProxy: {
      request: (r) => {
        const seq = Number(r.headers['lifeline-seq']);
        if (r.op === 'send' && r.conn && seq > r.conn.framesUp) r.headers['lifeline-seq'] = String(r.conn.framesUp);
        return undefined;
      },
    },
  }),
  mutant({
    id: 'ht-7-forgets-written-frames',
    rule: 'HT-7',
    description: 'the server forgets a frame once written to a response: a receive after a cut starts after the last frame written, whatever its Lifeline-Ack',
    cases: ['HT-7/receive-replays-from-ack'],
    carrierProxy: {
      request: (r) => {
        if (r.op === 'receive' && r.conn) r.headers['lifeline-ack'] = String(r.conn.framesDown);
        return undefined;
      },
    },
  }),
  mutant({
    id: 'ht-10-close-without-record',
    rule: 'HT-10',
    description: 'the server ends the receive without the CLOSE record: the close code (1002) never reaches the client',
    cases: ['HT-10/close-record-carries-code'],
    carrierProxy: { record: (x) => (x.kind === RecordKind.CLOSE ? [] : [x]) },
  }),
  mutant({
    id: 'ht-8-stream-without-keepalive',
    rule: 'HT-8',
    description: 'a stream response does not begin with a KEEPALIVE record: a client cannot tell a buffering proxy',
    cases: ['HT-8/stream-starts-with-keepalive'],
    carrierProxy: { record: (x) => (x.kind === RecordKind.KEEPALIVE ? [] : [x]) },
  }),
  mutant({
    id: 'ht-8-poll-held-as-stream',
    rule: 'HT-8',
    description: 'a poll receive is served as a stream: it does not end after its first records, so a client behind a buffering proxy gets nothing',
    cases: ['HT-8/poll-ends-after-first-records'],
    carrierProxy: {
      request: (r) => {
        if (r.op === 'receive') r.headers['lifeline-receive'] = 'stream';
        return undefined;
      },
    },
  }),
  mutant({
    id: 'ht-5-any-preflight',
    rule: 'HT-5',
    description: 'every preflight is answered 204 and no Origin is refused after open: the allowlist guards upgrades only',
    cases: ['HT-5/preflight-and-pinned-origin'],
    carrierProxy: {
      head: (h) => {
        if (h.status === 403) h.status = h.op === '' ? 204 : 200;
      },
    },
  }),
  mutant({
    id: 'ht-2-unknown-records-skipped',
    rule: 'HT-2',
    description: 'a record of an unknown kind in a send body is skipped instead of refused (400, PROTOCOL_ERROR)',
    cases: ['HT-2/malformed-records-400-1002'],
    carrierProxy: {
      request: (r) => {
        if (r.op === 'send') r.body = withoutUnknownKinds(r.body);
        return undefined;
      },
    },
  }),
  mutant({
    id: 'ht-12-receive-gap-ignored',
    rule: 'HT-12',
    description: 'a receive gap of ten minutes while 500 ms is declared: a connection opened and abandoned lives on',
    cases: ['HT-12/receive-gap-ends-connection'],
    override: (o) => ({ ...o, httpReceiveGapMs: 600_000 }),
  }),
  mutant({
    id: 'ht-18-http-does-not-resume',
    rule: 'HT-18',
    description: 'a Hello over HTTP never resumes: the carrier hands the core a Hello without its session id, so a session from a WebSocket starts NEW',
    cases: ['HT-18/resume-ws-to-http'],
    carrierProxy: {
      request: (r) => {
        if (r.op === 'send') rewriteFrames(r, forgetSession);
        return undefined;
      },
    },
  }),
  mutant({
    id: 'ht-18-switch-close-ends-session',
    rule: 'HT-18',
    description: "the client's CLOSE record is taken as NORMAL (1000) whatever its code: a 1001 transport switch ends the session, the resume over a WebSocket gets NEW",
    cases: ['HT-18/resume-http-to-ws'],
    carrierProxy: {
      request: (r) => {
        if (r.op === 'send') r.body = rewriteBody(r.body, (x) => (x.kind === RecordKind.CLOSE ? [{ ...x, code: 1000 }] : [x]));
        return undefined;
      },
    },
  }),
];
