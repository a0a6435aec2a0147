/**
 * Deliberately broken variants of the reference client, each breaking one rule.
 * The adapter (conformance/adapters/reference-client.ts) applies the one named
 * by LIFELINE_CLIENT_MUTANT: a client option, or a wrapper around the client's
 * Transport that rewrites frames in or out. Never a copy of client code.
 */
import type { ClientOptions } from '../../client/create-client.js';
import type { NodeTransportOptions } from '../../client/node.js';
import type { Transport } from '../../client/transport.js';
import type { FetchLike } from '../../client/transports/http-fetch.js';
import type { Envelope } from '../../gen/lifeline/v1/envelope_pb.js';
import { decode, encode } from '../../spec/protocol/codec.js';
import { envelope } from '../server-mode/peer.js';
import { httpClientMutations } from './http-client-mutants.js';

export interface ClientMutant {
  readonly id: string;
  readonly side: 'client';
  readonly rule: string;
  readonly description: string;
  readonly cases: readonly string[];
}

/** What a mutant changes in the adapter's client. */
export interface ClientMutation {
  readonly options?: Partial<ClientOptions<Uint8Array>>;
  readonly wrap?: (t: Transport) => Transport;
  /** Options of the Node transport (its close grace, CC-10). */
  readonly transportOptions?: NodeTransportOptions;
  /** A wrapper around the client's HTTP carrier transport (spec §22.7). */
  readonly wrapHttp?: (t: Transport) => Transport;
  /** A wrapper around the fetch the HTTP carrier uses (its requests, HT-26 … HT-29). */
  readonly wrapFetch?: (f: FetchLike) => FetchLike;
}

type Rewrite = (env: Envelope, state: Record<string, unknown>) => Envelope[] | 'pass';

/** A Transport that rewrites decoded frames going in (server → client) or out, and close codes. */
function rewriting(rules: { incoming?: Rewrite; outgoing?: Rewrite; observedClose?: (code: number) => number; sentClose?: (code: number) => number }): (t: Transport) => Transport {
  return (inner) => (url, handlers, opts) => {
    const state: Record<string, unknown> = {};
    const apply = (rw: Rewrite | undefined, bytes: Uint8Array, deliver: (b: Uint8Array) => void) => {
      if (!rw) return deliver(bytes);
      const r = decode(bytes, { maxPayloadBytes: Number.MAX_SAFE_INTEGER });
      if (!r.ok) return deliver(bytes);
      const out = rw(r.envelope, state);
      if (out === 'pass') return deliver(bytes);
      for (const e of out) deliver(encode(e));
    };
    const sock = inner(
      url,
      {
        ...handlers,
        onBinary: (bytes) => apply(rules.incoming, bytes, (b) => handlers.onBinary(b)),
        onClose: (code, reason) => handlers.onClose(rules.observedClose ? rules.observedClose(code) : code, reason),
      },
      opts,
    );
    return {
      send: (bytes) => apply(rules.outgoing, bytes, (b) => sock.send(b)),
      close: (code, reason) => sock.close(rules.sentClose ? rules.sentClose(code) : code, reason),
      get bufferedAmount() {
        return sock.bufferedAmount;
      },
    };
  };
}

/**
 * A client that waits for the close handshake of a connection it gave up (HB-12), as one would that
 * awaits the socket's close event: after it closes a socket, its next socket opens only when ws's
 * own close timeout (30 s) would have let the old one go.
 */
function waitingForCloseHandshake(inner: Transport): Transport {
  let closedAt: number | undefined;
  return (url, handlers, opts) => {
    const waitMs = closedAt === undefined ? 0 : Math.max(0, closedAt + 30_000 - Date.now());
    let sock: ReturnType<Transport> | undefined;
    let isCancelled = false;
    const timer = setTimeout(() => {
      if (!isCancelled) sock = inner(url, handlers, opts);
    }, waitMs);
    return {
      send: (bytes) => sock?.send(bytes),
      close: (code, reason) => {
        closedAt = Date.now();
        isCancelled = true;
        clearTimeout(timer);
        sock?.close(code, reason);
      },
      get bufferedAmount() {
        return sock?.bufferedAmount ?? 0;
      },
    };
  };
}

/**
 * A client that takes the advice of the code it sent itself (CC-2): on a text frame it closes 1003,
 * then sees that same 1003 as if the server had sent it, whose advice is none.
 */
function followingOwnTextFrameClose(inner: Transport): Transport {
  return (url, handlers, opts) => {
    const sock = inner(url, {
      ...handlers,
      onText: () => {
        sock.close(1003, 'WIRE-1: text frame');
        handlers.onClose(1003, 'WIRE-1: text frame');
      },
    }, opts);
    return sock;
  };
}

/** A Transport that drops incoming binary frames for which `isDropped(bytes)` holds, before the client decodes them. */
function droppingIncoming(isDropped: (bytes: Uint8Array) => boolean): (t: Transport) => Transport {
  return (inner) => (url, handlers, opts) => inner(url, { ...handlers, onBinary: (bytes) => (isDropped(bytes) ? undefined : handlers.onBinary(bytes)) }, opts);
}

/** The highest seq of the client's own Messages that went out (SEQ-6 mutants track it). */
const sentTop = (st: Record<string, unknown>) => (st.sentTop as bigint | undefined) ?? 0n;

const drop = (kind: NonNullable<Envelope['body']['case']>): Rewrite => (env) => (env.body.case === kind ? [] : 'pass');

const welcomeWith = (fields: Record<string, unknown>): Rewrite => (env) => (env.body.case === 'welcome' ? [envelope('welcome', { ...env.body.value, ...fields })] : 'pass');

const mutations: Record<string, { rule: string; description: string; cases: string[]; mutation: ClientMutation }> = {
  'rc-2-no-jitter': {
    rule: 'RC-2',
    description: 'the jitter source always returns 0.999…: every delay is the ceiling',
    cases: ['RC-2/backoff-bounds-and-jitter'],
    mutation: { options: { random: () => 0.9999 } },
  },
  'cc-2-ignores-close-advice': {
    rule: 'CC-2',
    description: 'every observed close code is taken as GOING_AWAY (1001): terminal codes are retried',
    cases: ['CC-2/after-4000-version-unsupported', 'CC-2/after-4002-session-taken-over'],
    mutation: { wrap: rewriting({ observedClose: () => 1001 }) },
  },
  'bp-13-unbounded-queue': {
    rule: 'BP-13',
    description: 'an outbound queue limit of a billion while 8 is declared',
    cases: ['BP-13/queue-overflow-reported'],
    mutation: { options: { queueLimitMessages: 1e9 } },
  },
  'ch-4-rejects-subscribed': {
    rule: 'CH-4',
    description: 'the client announces subscribed but takes Subscribed for a body a server may not send (as a v1 client would): PROTOCOL_ERROR',
    cases: ['CH-4/client-accepts-subscribed'],
    mutation: { wrap: rewriting({ incoming: (env) => (env.body.case === 'subscribed' ? [envelope('subscribe', { channels: env.body.value.channels })] : 'pass') }) },
  },
  'hb-5-no-heartbeats': {
    rule: 'HB-5',
    description: 'application Heartbeats never leave the client',
    cases: ['HB-5/heartbeat-each-interval'],
    mutation: { wrap: rewriting({ outgoing: drop('heartbeat') }) },
  },
  'hb-6-skips-heartbeat-acks': {
    rule: 'HB-6',
    description: 'the client never answers a server Heartbeat',
    cases: ['HB-6/answers-server-heartbeat'],
    mutation: { wrap: rewriting({ outgoing: drop('heartbeatAck') }) },
  },
  'seq-3-no-dedupe': {
    rule: 'SEQ-3',
    description: 'repeated server seqs are renumbered past the last one, so the client delivers them again',
    cases: ['SEQ-3/duplicates-discarded'],
    mutation: {
      wrap: rewriting({
        incoming: (env, st) => {
          if (env.body.case !== 'message') return 'pass';
          const max = (st.max as bigint | undefined) ?? 0n;
          const seq = env.body.value.seq <= max ? max + 1n : env.body.value.seq;
          st.max = seq;
          return [envelope('message', { ...env.body.value, seq })];
        },
      }),
    },
  },
  'seq-9-resends-out-of-order': {
    rule: 'SEQ-9',
    description: 'after a resume the first two resent messages go out swapped',
    cases: ['SEQ-9/ordered-replay-of-unacked'],
    mutation: {
      wrap: rewriting({
        incoming: (env, st) => {
          if (env.body.case === 'welcome' && env.body.value.resume?.outcome === 2) st.swap = 'armed';
          return 'pass';
        },
        outgoing: (env, st) => {
          if (env.body.case !== 'message' || !st.swap) return 'pass';
          if (st.swap === 'armed') {
            st.swap = env;
            return [];
          }
          const held = st.swap as Envelope;
          st.swap = undefined;
          return [env, held];
        },
      }),
    },
  },
  'seq-11-trusts-last-client-seq': {
    rule: 'SEQ-11',
    description: 'a Welcome.last_client_seq beyond what was sent is read as 0, so the client resends everything instead of closing 1002',
    cases: ['SEQ-11/last-client-seq-beyond-sent'],
    mutation: { wrap: rewriting({ incoming: (env) => (env.body.case === 'welcome' && env.body.value.lastClientSeq > 2n ? [envelope('welcome', { ...env.body.value, lastClientSeq: 0n })] : 'pass') }) },
  },
  'sd-9-no-drift-repeat': {
    rule: 'SD-9',
    description: 'StateDrift never leaves the client after a RESUMED Welcome: a report lost with the old socket is never repeated',
    cases: ['SD-9/drift-resent-after-resumed'],
    mutation: {
      wrap: rewriting({
        incoming: (env, st) => {
          if (env.body.case === 'welcome' && env.body.value.resume?.outcome === 2) st.resumed = true;
          return 'pass';
        },
        outgoing: (env, st) => (env.body.case === 'stateDrift' && st.resumed ? [] : 'pass'),
      }),
    },
  },
  'seq-12-ignores-welcome-ack-delay': {
    rule: 'SEQ-12',
    description: 'Welcome.client_ack_delay_ms is dropped on the way in: the client acks at its own delay',
    cases: ['SEQ-12/acks-coalesced-to-welcome-delay'],
    mutation: { wrap: rewriting({ incoming: welcomeWith({ clientAckDelayMs: 0 }) }) },
  },
  'hb-12-waits-for-close-handshake': {
    rule: 'HB-12',
    description: 'after giving a connection up, the next socket opens only when the dead one\'s close handshake could have timed out (30 s)',
    cases: ['HB-12/reconnect-without-close-handshake'],
    mutation: { wrap: waitingForCloseHandshake },
  },
  'hs-10-ignores-handshake-timeout': {
    rule: 'HS-10',
    description: 'a handshake timeout of ten minutes while 300 ms is declared',
    cases: ['HS-10/client-handshake-timeout-4201'],
    mutation: { options: { handshakeTimeoutMs: 600_000 } },
  },
  'rc-9-close-going-away': {
    rule: 'RC-9',
    description: 'close() sends GOING_AWAY (1001) instead of NORMAL (1000)',
    cases: ['RC-9/close-sends-normal'],
    mutation: { wrap: rewriting({ sentClose: (code) => (code === 1000 ? 1001 : code) }) },
  },
  'hb-4-never-times-out': {
    rule: 'HB-4',
    description: 'the client reads heartbeat_missed_max as 10 000: a silent server is never given up',
    cases: ['HB-4/heartbeat-timeout-4200'],
    mutation: { wrap: rewriting({ incoming: welcomeWith({ heartbeatMissedMax: 10_000 }) }) },
  },
  'dr-6-ignores-drain-notice': {
    rule: 'DR-6',
    description: 'DrainNotice frames are dropped: the client waits for the close',
    cases: ['DR-6/drain-notice-delay'],
    mutation: { wrap: rewriting({ incoming: drop('drainNotice') }) },
  },
  'sd-2-hides-seq-gap': {
    rule: 'SD-2',
    description: 'a seq gap is papered over by renumbering: no StateDrift, the frames after the gap are delivered',
    cases: ['SD-2/seq-gap-resync'],
    mutation: {
      wrap: rewriting({
        incoming: (env, st) => {
          if (env.body.case !== 'message') return 'pass';
          const next = ((st.last as bigint | undefined) ?? 0n) + 1n;
          st.last = next;
          return [envelope('message', { ...env.body.value, seq: next })];
        },
      }),
    },
  },
  'wire-4-sends-oversized': {
    rule: 'WIRE-4',
    description: 'the client reads max_payload_bytes as 64 MiB and sends what the server refuses',
    cases: ['WIRE-4/client-rejects-oversized-send'],
    mutation: { wrap: rewriting({ incoming: welcomeWith({ maxPayloadBytes: 64 * 1024 * 1024 }) }) },
  },
  // --- issue 18: one mutant per new or tightened client case ---
  'rc-2-exponent-off-by-one': {
    rule: 'RC-2',
    description: 'each window is twice the declared one (base 200 ms while 100 is declared): the exponent is one too high',
    cases: ['RC-2/backoff-bounds-and-jitter', 'RC-4/attempts-reset-on-welcome', 'CC-7/after-1001-going-away', 'CC-4/abnormal-drop-backoff'],
    mutation: { options: { reconnectBaseMs: 200 } },
  },
  'rc-2-no-cap': {
    rule: 'RC-2',
    description: 'no cap: the window keeps doubling past the declared 800 ms',
    cases: ['RC-2/backoff-bounds-and-jitter'],
    mutation: { options: { reconnectCapMs: 1e9 } },
  },
  'hb-4-watchdog-two-intervals-late': {
    rule: 'HB-4',
    description: 'the watchdog gives a silent server two intervals more (reads heartbeat_missed_max as 2 more)',
    cases: ['HB-4/heartbeat-timeout-4200'],
    mutation: { wrap: rewriting({ incoming: (env) => (env.body.case === 'welcome' ? [envelope('welcome', { ...env.body.value, heartbeatMissedMax: env.body.value.heartbeatMissedMax + 2 })] : 'pass') }) },
  },
  'hb-4-watchdog-early': {
    rule: 'HB-4',
    description: 'the watchdog gives up one interval early (reads heartbeat_missed_max as 1 less)',
    cases: ['HB-4/heartbeat-timeout-4200'],
    mutation: { wrap: rewriting({ incoming: (env) => (env.body.case === 'welcome' ? [envelope('welcome', { ...env.body.value, heartbeatMissedMax: Math.max(0, env.body.value.heartbeatMissedMax - 1) })] : 'pass') }) },
  },
  'seq-3-client-no-ack-for-duplicate': {
    rule: 'SEQ-3',
    description: 'a duplicate server message is discarded but never acknowledged (an Ack that does not advance never leaves)',
    cases: ['SEQ-3/duplicates-discarded'],
    mutation: {
      wrap: rewriting({
        outgoing: (env, st) => {
          if (env.body.case !== 'ack') return 'pass';
          const top = (st.acked as bigint | undefined) ?? 0n;
          if (env.body.value.seq <= top) return [];
          st.acked = env.body.value.seq;
          return 'pass';
        },
      }),
    },
  },
  'seq-6-ignores-ack-beyond': {
    rule: 'SEQ-6',
    description: 'an Ack beyond the highest seq the client sent is dropped instead of closed with 1002',
    cases: ['SEQ-6/client-ack-beyond-sent-1002'],
    mutation: {
      wrap: rewriting({
        outgoing: (env, st) => {
          if (env.body.case === 'message' && env.body.value.seq > sentTop(st)) st.sentTop = env.body.value.seq;
          return 'pass';
        },
        incoming: (env, st) => (env.body.case === 'ack' && env.body.value.seq > sentTop(st) ? [] : 'pass'),
      }),
    },
  },
  'wire-3-ignores-empty-envelope': {
    rule: 'WIRE-3',
    description: 'an Envelope with no body is ignored instead of closed with 1002',
    cases: ['WIRE-3/client-closes-empty-envelope'],
    mutation: {
      wrap: droppingIncoming((bytes) => {
        const r = decode(bytes, { maxPayloadBytes: Number.MAX_SAFE_INTEGER });
        return !r.ok && r.error.closeName === 'PROTOCOL_ERROR' && (bytes.byteLength === 0 || bytes[0] === 0xc2);
      }),
    },
  },
  'dr-6-ignores-target': {
    rule: 'DR-6',
    description: 'the target of a DrainNotice is dropped: the client comes back to the draining endpoint',
    cases: ['DR-6/drain-notice-target'],
    mutation: { wrap: rewriting({ incoming: (env) => (env.body.case === 'drainNotice' && env.body.value.target ? [envelope('drainNotice', { ...env.body.value, target: '' })] : 'pass') }) },
  },
  'cc-10-never-destroys': {
    rule: 'CC-10',
    description: 'after its close frame the client waits a minute for the server\'s (ws\'s own 30 s close timeout ends it first)',
    cases: ['CC-10/client-destroys-unanswered-close'],
    mutation: { transportOptions: { closeGraceMs: 60_000 } },
  },
  'bp-1-ignores-window': {
    rule: 'BP-1',
    description: 'the client reads receive_window as 1000: it floods a server that allows 2',
    cases: ['BP-1/client-respects-window'],
    mutation: { wrap: rewriting({ incoming: welcomeWith({ receiveWindow: 1000 }) }) },
  },
};

// Issue 18 (spec 1.1 answers): one mutant per new case in conformance/cases/client/spec-answers.ts.
Object.assign(mutations, {
  'cc-2-follows-own-1003-advice': {
    rule: 'CC-2',
    description: 'after closing 1003 for a text frame the client follows 1003\'s advice (none) and stays failed',
    cases: ['CC-2/client-detected-fault-backs-off'],
    mutation: { wrap: followingOwnTextFrameClose },
  },
  'seq-11-accepts-new-with-client-seqs': {
    rule: 'SEQ-11',
    description: 'a NEW Welcome\'s last_client_seq is read as 0: a claim of client seqs in a new session goes unnoticed',
    cases: ['SEQ-11/new-welcome-claims-client-seqs'],
    mutation: {
      wrap: rewriting({
        incoming: (env) =>
          env.body.case === 'welcome' && (env.body.value.resume?.outcome ?? 1) === 1 && env.body.value.lastClientSeq > 0n
            ? [envelope('welcome', { ...env.body.value, lastClientSeq: 0n })]
            : 'pass',
      }),
    },
  },
  'dr-6-stops-heartbeats-while-waiting': {
    rule: 'DR-6',
    description: 'after a DrainNotice the client sends no more heartbeats while it waits for its slot (as one that left connected)',
    cases: ['DR-6/connected-until-slot'],
    mutation: {
      wrap: rewriting({
        incoming: (env, state) => {
          if (env.body.case === 'drainNotice') state.isWaiting = true;
          return 'pass';
        },
        outgoing: (env, state) => (state.isWaiting === true && env.body.case === 'heartbeat' ? [] : 'pass'),
      }),
    },
  },
  'sd-1-patch-needs-snapshot': {
    rule: 'SD-1',
    description: 'patches of a channel the client has no Snapshot of are dropped on the way in (as if it waited for a Snapshot)',
    cases: ['SD-1/patch-without-snapshot-is-drift'],
    mutation: {
      wrap: rewriting({
        incoming: (env, state) => {
          const seen = (state.snapshotted ??= new Set<string>()) as Set<string>;
          if (env.body.case === 'snapshot') seen.add(env.body.value.channel);
          return env.body.case === 'statePatch' && !seen.has(env.body.value.channel) ? [] : 'pass';
        },
      }),
    },
  },
  'hs-10-token-fetch-unbounded': {
    rule: 'HS-10',
    description: 'no handshake deadline bounds the token fetch: an unanswered tokenRequest holds the client in connecting',
    cases: ['HS-10/token-fetch-within-handshake-timeout'],
    mutation: { options: { handshakeTimeoutMs: 600_000 } },
  },
  ...httpClientMutations,
} satisfies typeof mutations);

export const clientMutants: readonly ClientMutant[] = Object.entries(mutations).map(([id, m]) => ({ id, side: 'client', rule: m.rule, description: m.description, cases: m.cases }));

/** The mutation the adapter applies for LIFELINE_CLIENT_MUTANT; none for an unknown or empty id. */
export function clientMutation(id: string | undefined): ClientMutation {
  return (id && mutations[id]?.mutation) || {};
}
