/**
 * HTTP carrier mutants (spec §22): a correct reference server behind a carrier proxy
 * (carrier-proxy.ts) that breaks one rule of the carrier, never a copy of server code. Each is
 * aimed at the HT-* case of its rule; `npx tsx conformance/mutants/run.ts ht-` runs them.
 */
import { decode, encode } from '../../spec/protocol/codec.js';
import { defaults } from '../../spec/protocol/defaults.js';
import { RecordKind, type CarrierRecord } from '../../spec/protocol/http-carrier.js';
import type { LifelineServer } from '../../server/server.js';
import type { PeerTransport } from '../../server/transport.js';
import { referenceServerConfig } from '../config.js';
import { envelope } from '../server-mode/peer.js';
import { rewriteBody, type CarrierConn, type CarrierRequest } from './carrier-proxy.js';
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

/** The seq of a FRAME record's Message, if it carries one. */
function messageSeq(r: CarrierRecord): bigint | undefined {
  if (r.kind !== RecordKind.FRAME) return undefined;
  const d = decode(r.envelope, { from: 'server', maxPayloadBytes: Number.MAX_SAFE_INTEGER });
  return d.ok && d.envelope.body.case === 'message' ? d.envelope.body.value.seq : undefined;
}

/**
 * Message FRAME records of each connection in pairs: the first of a pair is held back until the
 * second has gone out (odd seqs held), or both go in one FRAME record (two Envelopes concatenated,
 * which Protobuf reads as one: the first is lost). What a writer that batches carelessly would do.
 */
function pairUp(merge: boolean): (r: CarrierRecord, conn: CarrierConn | undefined) => CarrierRecord[] {
  const held = new WeakMap<object, Uint8Array>();
  return (r, conn) => {
    const seq = messageSeq(r);
    if (seq === undefined || conn === undefined || r.kind !== RecordKind.FRAME) return [r];
    const first = held.get(conn);
    if (first === undefined && seq % 2n === 1n) {
      held.set(conn, r.envelope);
      return [];
    }
    if (first === undefined) return [r];
    held.delete(conn);
    if (merge) return [{ kind: RecordKind.FRAME, envelope: new Uint8Array(Buffer.concat([first, r.envelope])) }];
    return [r, { kind: RecordKind.FRAME, envelope: first }];
  };
}

/** The send cap of the reference target (HT-13), as the server computes it from its options. */
const REFERENCE_SEND_CAP = referenceServerConfig.httpMaxSendBytes ?? Math.max(defaults.httpMaxSendBytes, referenceServerConfig.maxPayloadBytes + 5);

/**
 * The live server's HTTP connections get a protocol ping that sends nothing and counts itself: past
 * missed_max + 1 pings with no pong (over HTTP none can come) the connection is terminated, whatever
 * frames arrived. A carrier that reuses the WebSocket's ping accounting, which HT-17 forbids. (The
 * core's own count is reset by every frame, HB-8, so only the carrier can hold such a count.)
 */
function pingHttpConnections(s: LifelineServer): void {
  type Accept = (peer: PeerTransport, info: unknown) => unknown;
  const t = (s as unknown as { httpTransport?: { accept: Accept } }).httpTransport;
  if (!t) return;
  const accept = t.accept;
  t.accept = (peer, info) => {
    let unanswered = 0;
    (peer as { ping?: () => void }).ping = () => {
      if (++unanswered > referenceServerConfig.heartbeatMissedMax + 1) peer.terminate();
    };
    return accept(peer, info);
  };
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
  mutant({
    id: 'ht-9-frames-swapped',
    rule: 'HT-9',
    description: 'two Messages written one after the other go out in the other order (the odd seq held back behind the next)',
    cases: ['HT-9/frames-in-seq-order'],
    carrierProxy: { record: pairUp(false) },
  }),
  mutant({
    id: 'ht-9-two-envelopes-one-record',
    rule: 'HT-9',
    description: 'two Messages share one FRAME record (their Envelopes concatenated): a reader gets one Envelope, the second, and a gap',
    cases: ['HT-9/frames-in-seq-order'],
    carrierProxy: { record: pairUp(true) },
  }),
  mutant({
    id: 'ht-13-content-length-ignored',
    rule: 'HT-13',
    description: 'the declared Content-Length is not looked at: a send declaring more than httpMaxSendBytes is read until its body grows past the cap, so one whose body is withheld waits for the body deadline',
    cases: ['HT-13/send-over-cap-413'],
    carrierProxy: {
      streamBody: (chunk) => chunk,
      request: (r) => {
        if (r.op === 'send') delete r.headers['content-length'];
        return undefined;
      },
    },
  }),
  mutant({
    id: 'ht-13-growing-body-not-counted',
    rule: 'HT-13',
    description: 'a send body is not counted while read (only a declared Content-Length is checked): a chunked body that grows past the cap is read on; here the server waits at the cap for the rest (what it sees of it)',
    cases: ['HT-13/send-over-cap-413'],
    carrierProxy: {
      // the server is shown the body up to a little below the cap, never past it: it never sees the cap crossed
      streamBody: (chunk, forwarded) => chunk.subarray(0, Math.max(0, Math.min(chunk.byteLength, REFERENCE_SEND_CAP - 256 * 1024 - forwarded))),
    },
  }),
  mutant({
    id: 'ht-14-no-send-deadline',
    rule: 'HT-14',
    description: 'a send body has no deadline of its own: the body timer and Node\'s request timeout are 20 s and 60 s while the declared handshake timeout is 1 s (server options)',
    cases: ['HT-14/stalled-send-408'],
    override: (o) => ({ ...o, handshakeTimeoutMs: 20_000, requestTimeoutMs: 60_000 }),
  }),
  mutant({
    id: 'ht-16-high-water-not-applied',
    rule: 'HT-16',
    description: 'the buffered amount of an HTTP connection is held to a 64 MiB mark while 64 KiB is declared: a client that never acknowledges is written everything (server option)',
    cases: ['HT-16/unacked-receive-pauses-queue'],
    override: (o) => ({ ...o, bufferedAmountHighWaterBytes: 64 * 1024 * 1024 }),
  }),
  mutant({
    id: 'ht-16-written-frames-not-counted',
    rule: 'HT-16',
    description: 'frames written to a receive count as acknowledged: the buffered amount holds only what waits for a receive, so a client that reads and never acknowledges is written everything',
    cases: ['HT-16/unacked-receive-pauses-queue'],
    carrierProxy: {
      request: (r) => {
        if (r.op === 'receive' && r.conn) r.headers['lifeline-ack'] = String(r.conn.framesDown);
        return undefined;
      },
    },
  }),
  mutant({
    id: 'ht-17-pings-counted-over-http',
    rule: 'HT-17',
    description: 'HTTP connections are pinged as WebSockets are and the unanswered pings counted by the carrier (a patch on the live server): a client over HTTP that sends its Heartbeats is dropped after missed_max + 1 intervals',
    cases: ['HT-17/no-ping-counted'],
    patch: pingHttpConnections,
  }),
  mutant({
    id: 'ht-11-receive-left-open',
    rule: 'HT-11',
    description: 'at the drain deadline the open receive is neither closed with a record nor cut: the client keeps waiting on a connection the server has forgotten',
    cases: ['HT-11+DR-5/drain-deadline-ends-receive'],
    carrierProxy: { keepReceivesOpen: true, record: (x) => (x.kind === RecordKind.CLOSE ? [] : [x]) },
  }),
];
