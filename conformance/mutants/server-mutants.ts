/**
 * Deliberately broken variants of the reference server, each breaking one
 * rule: by an option the reference server has (configuration), by a small
 * change to the live server object, or by a frame-rewriting proxy in front of
 * a correct server. Never a copy of server code.
 */
import { ResumeOutcome, ResumeReason, type Envelope } from '../../gen/lifeline/v1/envelope_pb.js';
import { codeOf } from '../../spec/protocol/close-codes.js';
import { MemoryBroker, type Publication } from '../../server/stores/broker.js';
import { encode } from '../../spec/protocol/codec.js';
import { envelope } from '../server-mode/peer.js';
import type { ClusterOptions } from '../targets/reference-cluster.js';
import type { ServerOverride, ServerPatch } from '../targets/reference-server.js';
import type { CarrierRules } from './carrier-proxy.js';
import type { ProxyRules } from './frame-proxy.js';

export interface ServerMutant {
  readonly id: string;
  readonly side: 'server';
  /** The spec id it breaks. */
  readonly rule: string;
  readonly description: string;
  /** Cases aimed at the rule (ids or globs): at least one must fail. */
  readonly cases: readonly string[];
  readonly override?: ServerOverride;
  readonly patch?: ServerPatch;
  readonly proxy?: ProxyRules;
  /** An HTTP carrier proxy in front of the server (spec §22, carrier-proxy.ts). */
  readonly carrierProxy?: CarrierRules;
  /** Run against two reference nodes on one store and hub (spec §21), node A and/or B broken so. */
  readonly cluster?: ClusterOptions;
}

const mutant = (m: Omit<ServerMutant, 'side'>): ServerMutant => ({ ...m, side: 'server' });

/** Rewrite the seq of a sequenced body. */
function withSeq(env: Envelope, seq: bigint): Envelope {
  const b = env.body;
  if (b.case === 'message' || b.case === 'statePatch' || b.case === 'snapshot') return envelope(b.case, { ...b.value, seq });
  return env;
}

function seqOf(env: Envelope): bigint | undefined {
  const b = env.body;
  return b.case === 'message' || b.case === 'statePatch' || b.case === 'snapshot' ? b.value.seq : undefined;
}

/**
 * A broker whose channel subscription takes effect a second after join() returns, one the server
 * does not wait for: the server confirms a Subscribe before it is in effect (CH-4), and a publish
 * meanwhile reaches no one on this node.
 */
class LateJoinBroker extends MemoryBroker {
  private readonly active = new Set<string>();
  override join(channel: string): void {
    setTimeout(() => this.active.add(channel), 1000).unref();
  }
  override leave(channel: string): void {
    this.active.delete(channel);
  }
  override publish(p: Publication): Promise<number> {
    return this.active.has(p.channel) ? super.publish(p) : Promise.resolve(0);
  }
}

export const serverMutants: readonly ServerMutant[] = [
  mutant({
    id: 'ch-4-never-confirms',
    rule: 'CH-4',
    description: 'a Subscribe is never answered with Subscribed although the client announced subscribed',
    cases: ['CH-4/subscribe-confirmed-before-publish'],
    proxy: { down: (env) => (env.body.case === 'subscribed' ? [] : 'pass') },
  }),
  mutant({
    id: 'ch-4-confirms-before-effect',
    rule: 'CH-4',
    description: 'Subscribed is written while the subscription is not yet in effect (the broker joins a second later)',
    cases: ['CH-4/subscribe-confirmed-before-publish'],
    override: (o) => ({ ...o, broker: new LateJoinBroker() }),
  }),
  mutant({
    id: 'wire-10-subscribed-unasked',
    rule: 'WIRE-10',
    description: 'Subscribed is sent to a client that did not announce subscribed (and Welcome hides it)',
    cases: ['WIRE-10/no-subscribed-unless-announced'],
    proxy: {
      up: (env) => (env.body.case === 'hello' ? [envelope('hello', { ...env.body.value, capabilities: [...env.body.value.capabilities, 'subscribed'] })] : 'pass'),
      down: (env) => (env.body.case === 'welcome' ? [envelope('welcome', { ...env.body.value, capabilities: [] })] : 'pass'),
    },
  }),
  mutant({
    id: 'hb-1-never-pings',
    rule: 'HB-1',
    description: 'the liveness sweep never runs: no pings, no zombie detection',
    cases: ['HB-1+HB-2/pings-every-interval'],
    patch: (s) => s.sweep.stop(),
  }),
  mutant({
    id: 'hb-3-never-drops-zombie',
    rule: 'HB-3',
    description: 'heartbeat_missed_max of 10 000 while 2 is declared: a zombie lives on',
    cases: ['HB-3/drops-zombie'],
    override: (o) => ({ ...o, heartbeatMissedMax: 10_000 }),
  }),
  mutant({
    id: 'hs-10-ignores-handshake-timeout',
    rule: 'HS-10',
    description: 'a handshake timeout of ten minutes while 300 ms is declared',
    cases: ['HS-10/handshake-timeout-4201'],
    override: (o) => ({ ...o, handshakeTimeoutMs: 600_000 }),
  }),
  mutant({
    id: 'hs-2-accepts-bad-origin',
    rule: 'HS-2',
    description: 'no Origin allowlist although one is declared',
    cases: ['HS-2/bad-origin-403'],
    override: ({ allowedOrigins: _drop, ...o }) => o,
  }),
  mutant({
    id: 'hs-12-accepts-any-token',
    rule: 'HS-12',
    description: 'every Hello token is accepted',
    cases: ['HS-12/bad-hello-token-4101'],
    override: (o) => ({ ...o, authenticateHello: () => 'conformance' }),
  }),
  mutant({
    id: 'rs-1-never-expires-sessions',
    rule: 'RS-6',
    description: 'a resume TTL of an hour while 600 ms is declared: expired sessions resume',
    cases: ['RS-6/expired-session'],
    override: (o) => ({ ...o, resumeTtlMs: 3_600_000 }),
  }),
  mutant({
    id: 'bp-3-unbounded-queue',
    rule: 'BP-3',
    description: 'a queue limit of a million while 8 is declared',
    cases: ['BP-6/drop-oldest-keeps-newest'],
    override: (o) => ({ ...o, queueLimitMessages: 1_000_000 }),
  }),
  mutant({
    id: 'bp-4-no-high-water',
    rule: 'BP-4',
    description: 'a high-water mark of a terabyte: everything in the window is written to a client that reads nothing',
    cases: ['BP-4/high-water-holds-writes'],
    override: (o) => ({ ...o, bufferedAmountHighWaterBytes: 2 ** 40 }),
  }),
  mutant({
    id: 'bp-2-ignores-policy',
    rule: 'BP-2',
    description: 'the server ignores Hello.preferred_policy although it declares every policy',
    cases: ['BP-7/drop-newest-keeps-oldest'],
    override: (o) => ({ ...o, acceptPreferredPolicy: false }),
  }),
  mutant({
    id: 'bp-14-no-rate-limit',
    rule: 'BP-14',
    description: 'no per-session message rate limit although one is declared',
    cases: ['BP-14/message-rate-4203'],
    override: (o) => ({ ...o, messageRatePerSecond: Number.POSITIVE_INFINITY }), // absent would be the default (issue 13)
  }),
  mutant({
    id: 'seq-2-reuses-seq',
    rule: 'SEQ-2',
    description: 'every third sequenced message repeats the previous seq',
    cases: ['SEQ-2/numbered-from-one'],
    proxy: {
      down: (env, c) => {
        const seq = seqOf(env);
        if (seq === undefined) return 'pass';
        const n = ((c.state.n as number | undefined) ?? 0) + 1;
        c.state.n = n;
        return n % 3 === 0 ? [withSeq(env, seq - 1n)] : 'pass';
      },
    },
  }),
  mutant({
    id: 'seq-2-skips-seq',
    rule: 'SEQ-2',
    description: 'seqs jump by two after the second sequenced message',
    cases: ['SEQ-2/numbered-from-one'],
    proxy: { down: (env) => ((seqOf(env) ?? 0n) >= 3n ? [withSeq(env, (seqOf(env) as bigint) + 1n)] : 'pass') },
  }),
  mutant({
    id: 'hs-14-new-with-client-seq',
    rule: 'HS-14',
    description: 'a NEW Welcome claims last_client_seq 3',
    cases: ['HS-14/new-welcome-last-client-seq-zero'],
    proxy: { down: (env) => (env.body.case === 'welcome' && (env.body.value.resume?.outcome ?? 1) === 1 ? [envelope('welcome', { ...env.body.value, lastClientSeq: 3n })] : 'pass') },
  }),
  mutant({
    id: 'sd-11-channel-snapshot-first',
    rule: 'SD-11',
    description: 'the session Snapshot of a resync goes out after the channel Snapshots (swapped with the next one)',
    cases: ['SD-11/session-snapshot-first'],
    proxy: {
      down: (env, c) => {
        const b = env.body;
        if (b.case !== 'snapshot' || b.value.reason !== 3) return 'pass';
        if (b.value.channel === '' && !c.state.held) {
          c.state.held = env;
          return [];
        }
        const held = c.state.held as Envelope | undefined;
        if (!held) return 'pass';
        c.state.held = undefined;
        return [env, held];
      },
    },
  }),
  mutant({
    id: 'bp-15-resumes-after-loss',
    rule: 'BP-15',
    description: 'a resume after a DISCONNECT overflow while detached is announced RESUMED/REPLAYED, as if nothing was lost',
    cases: ['BP-15/detached-overflow-never-resumed'],
    proxy: {
      down: (env) =>
        env.body.case === 'welcome' && env.body.value.resume?.reason === ResumeReason.REPLAY_WINDOW_EXCEEDED
          ? [envelope('welcome', { ...env.body.value, resume: { ...env.body.value.resume, outcome: ResumeOutcome.RESUMED, reason: ResumeReason.REPLAYED } })]
          : 'pass',
    },
  }),
  mutant({
    id: 'sec-7-no-channel-bound',
    rule: 'SEC-7',
    description: 'a channel bound of a million while 16 is declared',
    cases: ['SEC-7/too-many-channels-1008'],
    override: (o) => ({ ...o, maxChannelsPerSession: 1_000_000 }),
  }),
  mutant({
    id: 'seq-7-ignores-acks',
    rule: 'SEQ-7',
    description: 'client Acks never reach the session: nothing is released, the window stays shut',
    cases: ['SEQ-7/released-after-ack'],
    proxy: { up: (env) => (env.body.case === 'ack' ? [] : 'pass') },
  }),
  mutant({
    id: 'rs-2-replays-twice',
    rule: 'RS-2',
    description: 'after a RESUMED Welcome each replayed message is sent twice',
    cases: ['RS-2/replay-after-silent-drop'],
    proxy: {
      down: (env, c) => {
        if (env.body.case === 'welcome') c.state.replaying = env.body.value.resume?.replayed ?? 0;
        const left = (c.state.replaying as number | undefined) ?? 0;
        if (seqOf(env) !== undefined && left > 0) {
          c.state.replaying = left - 1;
          return [env, env];
        }
        return 'pass';
      },
    },
  }),
  mutant({
    id: 'rs-2-replays-out-of-order',
    rule: 'RS-2',
    description: 'the first two replayed messages are swapped',
    cases: ['RS-2/replay-after-silent-drop'],
    proxy: {
      down: (env, c) => {
        if (env.body.case === 'welcome' && (env.body.value.resume?.replayed ?? 0) >= 2) c.state.hold = 'armed';
        if (seqOf(env) === undefined) return 'pass';
        if (c.state.hold === 'armed') {
          c.state.hold = env;
          return [];
        }
        if (c.state.hold && typeof c.state.hold === 'object') {
          const held = c.state.hold as Envelope;
          c.state.hold = undefined;
          return [env, held];
        }
        return 'pass';
      },
    },
  }),
  mutant({
    id: 'bp-11-wrong-slow-consumer-code',
    rule: 'BP-11',
    description: 'a slow consumer is closed with POLICY_VIOLATION (1008) instead of SLOW_CONSUMER (4202)',
    cases: ['BP-11/disconnect-slow-consumer-4202'],
    proxy: { closeCode: (code) => (code === codeOf('SLOW_CONSUMER') ? codeOf('POLICY_VIOLATION') : code) },
  }),
  mutant({
    id: 'dr-2-no-drain-notice',
    rule: 'DR-2',
    description: 'DrainNotice frames never reach the client',
    cases: ['DR-2+DR-4/notice-then-1012'],
    proxy: { down: (env) => (env.body.case === 'drainNotice' ? [] : 'pass') },
  }),
  mutant({
    id: 'dr-3-no-spread',
    rule: 'DR-3',
    description: 'every client is told to reconnect after 0 ms',
    cases: ['DR-3/reconnect-after-spread'],
    proxy: { down: (env) => (env.body.case === 'drainNotice' ? [envelope('drainNotice', { ...env.body.value, reconnectAfterMs: 0 })] : 'pass') },
  }),
  mutant({
    id: 'bp-8-coalesce-stale-value',
    rule: 'BP-8',
    description: 'coalescing keeps the first value of a key instead of the latest',
    cases: ['BP-8/coalesce-latest-per-key'],
    proxy: {
      down: (env, c) => {
        if (env.body.case !== 'message' || env.body.value.key === '') return 'pass';
        const first = (c.state.first ??= {}) as Record<string, Uint8Array>;
        const key = env.body.value.key;
        if (!first[key]) {
          first[key] = env.body.value.payload;
          return 'pass';
        }
        return [envelope('message', { ...env.body.value, payload: first[key] })];
      },
    },
  }),
  mutant({
    id: 'hb-6-wrong-echo',
    rule: 'HB-6',
    description: 'HeartbeatAck echoes sent_at_ms as 0',
    cases: ['HB-6+BP-12/heartbeat-ack-not-held'],
    proxy: { down: (env) => (env.body.case === 'heartbeatAck' ? [envelope('heartbeatAck', { ...env.body.value, echoSentAtMs: 0n })] : 'pass') },
  }),
  mutant({
    id: 'wire-1-accepts-text',
    rule: 'WIRE-1',
    description: 'text frames are silently ignored instead of closed with 1003',
    cases: ['WIRE-1/text-frame-1003'],
    proxy: { forwardText: false },
  }),
  mutant({
    id: 'hs-5-no-upgrade-rate-limit',
    rule: 'HS-5',
    description: 'the per-IP upgrade rate limit asked for by reset is ignored',
    cases: ['HS-5/upgrade-rate-429'],
    override: ({ upgradeBurst: _b, ...o }) => ({ ...o, upgradeRatePerSecond: Number.POSITIVE_INFINITY }),
  }),
  mutant({
    id: 'cc-8-no-session-limit',
    rule: 'CC-8',
    description: 'the session limit asked for by reset is ignored',
    cases: ['CC-8/session-limit-1013'],
    override: (o) => ({ ...o, maxSessions: Number.POSITIVE_INFINITY }),
  }),
  mutant({
    id: 'cc-5-failure-closed-normal',
    rule: 'CC-5',
    description: 'an application failure closes the session with NORMAL (1000) instead of INTERNAL_ERROR (1011)',
    cases: ['CC-5/application-failure-1011'],
    proxy: { closeCode: (code) => (code === codeOf('INTERNAL_ERROR') ? codeOf('NORMAL') : code) },
  }),
  mutant({
    id: 'sec-5-expiry-as-forbidden',
    rule: 'SEC-5',
    description: 'an expired credential is closed with FORBIDDEN (4001, terminal) instead of TOKEN_EXPIRED (4100)',
    cases: ['SEC-5/expired-credential-4100'],
    proxy: { closeCode: (code) => (code === codeOf('TOKEN_EXPIRED') ? codeOf('FORBIDDEN') : code) },
  }),
  mutant({
    id: 'sd-5-ignores-drift-on-stateless',
    rule: 'SD-5',
    description: 'a drift on a channel without state goes unanswered (its version-0 Snapshot never reaches the client)',
    cases: ['SD-5/drift-on-stateless-channel'],
    proxy: { down: (env) => (env.body.case === 'snapshot' && env.body.value.channel !== '' && env.body.value.version === 0n && env.body.value.state.length === 0 ? [] : 'pass') },
  }),
  mutant({
    id: 'hs-13-headers-rescue-used-ticket',
    rule: 'HS-13',
    description: 'a ticket that fails falls back to the request\'s headers, so a replayed ticket with valid headers passes',
    cases: ['HS-13/used-ticket-not-rescued-by-headers'],
    override: (o) => ({
      ...o,
      authenticate: async (req) =>
        (await o.authenticate?.(req)) ?? (await o.authenticate?.({ headers: req.headers, url: (req.url ?? '/').split('?')[0] } as typeof req)),
    }),
  }),
  mutant({
    id: 'bp-5-zero-window-unbounded',
    rule: 'BP-5',
    description: 'a Hello window of 0 is read as 1000 (a server-side default of its own) instead of 256',
    cases: ['BP-5/window-zero-means-256'],
    proxy: { up: (env) => (env.body.case === 'hello' && env.body.value.receiveWindow === 0 ? [envelope('hello', { ...env.body.value, receiveWindow: 1000 })] : 'pass') },
  }),
  mutant({
    id: 'bp-8-coalesced-not-counted',
    rule: 'BP-8',
    description: 'values replaced by coalescing are not counted: dropped_before stays 0 on the wire',
    cases: ['BP-8/coalesce-below-the-limit'],
    proxy: { down: (env) => (env.body.case === 'message' && env.body.value.droppedBefore > 0 ? [envelope('message', { ...env.body.value, droppedBefore: 0 })] : 'pass') },
  }),
  mutant({
    id: 'dr-4-handshaking-closed-as-timeout',
    rule: 'DR-4',
    description: 'a drain closes a connection still before its Hello with HANDSHAKE_TIMEOUT (4201) instead of SERVICE_RESTART (1012)',
    cases: ['DR-4/handshaking-socket-closed-1012'],
    proxy: { closeCode: (code) => (code === codeOf('SERVICE_RESTART') ? codeOf('HANDSHAKE_TIMEOUT') : code) },
  }),
  mutant({
    id: 'seq-6-accepts-ack-beyond',
    rule: 'SEQ-6',
    description: 'an Ack beyond anything sent is clamped and accepted instead of closed with 1002',
    cases: ['SEQ-6/ack-beyond-sent-1002'],
    proxy: { up: (env) => (env.body.case === 'ack' && env.body.value.seq >= 1000n ? [] : 'pass') },
  }),
  // --- issue 18: one mutant per new or tightened case, each off by the smallest step the case must see ---
  mutant({
    id: 'hb-3-drops-a-tick-early',
    rule: 'HB-3',
    description: 'drops a silent peer after missed_max pings (one tick early): runs with 1, announces the declared 2',
    cases: ['HB-3/drops-zombie'],
    override: (o) => ({ ...o, heartbeatMissedMax: 1 }),
    proxy: { down: (env) => (env.body.case === 'welcome' ? [envelope('welcome', { ...env.body.value, heartbeatMissedMax: 2 })] : 'pass') },
  }),
  mutant({
    id: 'hb-3-drops-a-tick-late',
    rule: 'HB-3',
    description: 'drops a silent peer one tick late (after missed_max + 2 pings): runs with 3, announces the declared 2',
    cases: ['HB-3/drops-zombie'],
    override: (o) => ({ ...o, heartbeatMissedMax: 3 }),
    proxy: { down: (env) => (env.body.case === 'welcome' ? [envelope('welcome', { ...env.body.value, heartbeatMissedMax: 2 })] : 'pass') },
  }),
  mutant({
    id: 'hs-2-prefix-origin-match',
    rule: 'HS-2',
    description: 'the allowlist matches any Origin that starts with an allowed one (http://allowed.test.evil.invalid passes)',
    cases: ['HS-2+SEC-1/origin-exact-match'],
    proxy: { upgradeHeaders: (h) => (h.origin?.startsWith('http://allowed.test') ? { ...h, origin: 'http://allowed.test' } : h) },
  }),
  mutant({
    id: 'cc-9-echoes-rejected-token',
    rule: 'CC-9',
    description: 'the 4101 that rejects a Hello token names the token in its reason',
    cases: ['CC-9/rejected-token-not-echoed'],
    proxy: {
      up: (env, c) => {
        if (env.body.case === 'hello') c.state.token = env.body.value.token;
        return 'pass';
      },
      closeReason: (code, reason, c) => (code === codeOf('UNAUTHORIZED') ? `bad token ${String(c.state.token ?? '')}` : reason),
    },
  }),
  mutant({
    id: 'seq-3-no-ack-for-duplicate',
    rule: 'SEQ-3',
    description: 'a duplicate client message is discarded but never acknowledged (an Ack that does not advance is not sent)',
    cases: ['SEQ-3/client-duplicate-discarded'],
    proxy: {
      down: (env, c) => {
        if (env.body.case !== 'ack') return 'pass';
        const top = (c.state.acked as bigint | undefined) ?? 0n;
        if (env.body.value.seq <= top) return [];
        c.state.acked = env.body.value.seq;
        return 'pass';
      },
    },
  }),
  mutant({
    id: 'seq-6-off-by-one',
    rule: 'SEQ-6',
    description: 'an Ack of one more than the highest seq sent is taken as an Ack of the highest (off by one)',
    cases: ['SEQ-6/ack-one-beyond-sent-1002'],
    proxy: {
      down: (env, c) => {
        const seq = seqOf(env);
        if (seq !== undefined && seq > ((c.state.top as bigint | undefined) ?? 0n)) c.state.top = seq;
        return 'pass';
      },
      up: (env, c) => {
        const top = (c.state.top as bigint | undefined) ?? 0n;
        return env.body.case === 'ack' && top > 0n && env.body.value.seq === top + 1n ? [envelope('ack', { seq: top })] : 'pass';
      },
    },
  }),
  mutant({
    id: 'seq-10-acks-on-arrival',
    rule: 'SEQ-10',
    description: 'each client message is acknowledged on arrival, before the application has it',
    cases: ['SEQ-10/ack-only-what-the-application-has'],
    proxy: {
      up: (env, c) => {
        if (env.body.case === 'message') c.sendDown(encode(envelope('ack', { seq: env.body.value.seq })));
        return 'pass';
      },
    },
  }),
  mutant({
    id: 'ch-2-keeps-queued-items',
    rule: 'CH-2',
    description: 'Unsubscribe leaves the channel\'s queued, unnumbered items in the queue: they go out when the window reopens',
    cases: ['CH-2/unsubscribe-drops-queued'],
    // observably the same: the Unsubscribe takes effect only after the next Ack has released the window
    proxy: {
      up: (env, c) => {
        if (env.body.case === 'unsubscribe') {
          c.state.held = env;
          return [];
        }
        const held = c.state.held as Envelope | undefined;
        if (env.body.case === 'ack' && held) {
          c.state.held = undefined;
          return [env, held];
        }
        return 'pass';
      },
    },
  }),
  mutant({
    id: 'sd-5-no-channel-resend',
    rule: 'SD-5',
    description: 'an empty-channel StateDrift gets the session Snapshot but no Snapshot of the channels',
    cases: ['SD-5/drift-answered-with-snapshot'],
    proxy: {
      down: (env, c) => {
        const b = env.body;
        if (b.case !== 'snapshot' || b.value.reason !== 3) return 'pass';
        if (b.value.channel === '') {
          c.state.resync = true;
          return 'pass';
        }
        return c.state.resync ? [] : 'pass';
      },
    },
  }),
  mutant({
    id: 'dr-5-closes-before-announced-deadline',
    rule: 'DR-5',
    description: 'the DrainNotice announces a deadline three times later than the one the server keeps',
    cases: ['DR-5/deadline-destroys'],
    proxy: { down: (env) => (env.body.case === 'drainNotice' ? [envelope('drainNotice', { ...env.body.value, deadlineMs: env.body.value.deadlineMs * 3 })] : 'pass') },
  }),
  mutant({
    id: 'wire-10-unannounced-body',
    rule: 'WIRE-10',
    description: 'after Welcome the server sends a body from a later version (field 40) to a peer that announced no capability',
    cases: ['WIRE-10/only-v1-bodies'],
    proxy: {
      down: (env, c) => {
        if (env.body.case === 'welcome') setTimeout(() => c.sendDown(new Uint8Array([0xc2, 0x02, 0x02, 0x08, 0x01])), 5); // field 40, a message { 1: 1 }
        return 'pass';
      },
    },
  }),
  mutant({
    id: 'wire-11-uint64-as-double',
    rule: 'WIRE-11',
    description: 'uint64 fields pass through a double: HeartbeatAck.echo_sent_at_ms loses the low bits above 2⁵³',
    cases: ['WIRE-11/uint64-exact'],
    proxy: { down: (env) => (env.body.case === 'heartbeatAck' ? [envelope('heartbeatAck', { ...env.body.value, echoSentAtMs: BigInt.asUintN(64, BigInt(Number(env.body.value.echoSentAtMs))) })] : 'pass') },
  }),
  mutant({
    id: 'wire-12-oversized-frame',
    rule: 'WIRE-12',
    description: 'a message goes out in a frame over the client\'s 1 MiB default limit',
    cases: ['WIRE-12/no-frame-over-client-limit'],
    proxy: { down: (env) => (env.body.case === 'message' && new TextDecoder().decode(env.body.value.payload) === 'after0' ? [envelope('message', { ...env.body.value, payload: new Uint8Array(1024 * 1024 + 1) })] : 'pass') },
  }),
  mutant({
    id: 'cc-10-waits-for-close-handshake',
    rule: 'CC-10',
    description: 'after its close frame the server waits for the peer\'s for ws\'s own 30 s before destroying (a proxy that relays the close)',
    cases: ['CC-10/unanswered-close-destroyed'],
    proxy: {},
  }),
  // Issue 13: hostile peers (CC-11, BP-16, BP-17).
  mutant({
    id: 'cc-11-ws-close-keeps-session',
    rule: 'CC-11',
    description: 'closes raised by ws itself (1007, 1002, 1009) never reach the session machine: the session stays resumable',
    cases: ['CC-11/ws-layer-errors-reset'],
    patch: (s) => {
      s.onSocketError = () => undefined;
    },
  }),
  mutant({
    id: 'rs-4-snapshot-drops-queue',
    rule: 'RS-4',
    description: 'a SNAPSHOT resume also discards the outbound queue: Messages never numbered are lost with the replay buffer',
    cases: ['RS-4/snapshot-resume-keeps-queued'],
    proxy: {
      down: (env, c) => {
        if (env.body.case === 'welcome') c.state.isSnapshotResume = env.body.value.resume?.outcome === ResumeOutcome.SNAPSHOT;
        return env.body.case === 'message' && c.state.isSnapshotResume === true ? [] : 'pass';
      },
    },
  }),
  mutant({
    id: 'rs-11-no-detached-limit',
    rule: 'RS-11',
    description: 'the bound on detached sessions asked for by reset is ignored: every detached session is kept until its TTL',
    cases: ['RS-11/oldest-detached-evicted'],
    override: (o) => ({ ...o, maxDetachedSessions: Number.POSITIVE_INFINITY }),
  }),
  mutant({
    id: 'bp-16-no-control-rate',
    rule: 'BP-16',
    description: 'no control-body rate limit although one is declared: a Heartbeat flood is answered forever',
    cases: ['BP-16/control-flood-1008'],
    override: (o) => ({ ...o, controlRatePerSecond: Number.POSITIVE_INFINITY }),
  }),
  mutant({
    id: 'bp-17-window-not-enforced',
    rule: 'BP-17',
    description: 'Welcome announces a window of 64 while the server enforces a million',
    cases: ['BP-17/window-overrun-1002'],
    override: (o) => ({ ...o, receiveWindow: 1_000_000 }),
    proxy: { down: (env) => (env.body.case === 'welcome' ? [envelope('welcome', { ...env.body.value, receiveWindow: 64 })] : 'pass') },
  }),
];


// ---- issue 13 (harden-b): admission answers (HS-17, HS-18) and exact Origin matching (SEC-9) ----
// (Imports of this section stay here, beside it, so parallel appends to this file do not collide.)
import type { IncomingMessage } from 'node:http';
import type { LifelineServer } from '../../server/server.js';

/** Before the server sees an upgrade, rewrite its request: a server whose check is broken this way. */
function beforeAdmission(rewrite: (req: IncomingMessage, s: LifelineServer) => void): ServerPatch {
  return (s) => {
    s.httpServer.prependListener('upgrade', (req: IncomingMessage) => rewrite(req, s));
  };
}

/** The first allowed origin a loose matcher would map `origin` to. */
function looselyAllowed(s: LifelineServer, origin: string | undefined, match: (origin: string, allowed: string) => boolean): string | undefined {
  if (origin === undefined) return undefined;
  return (s.originAllowlist() ?? []).find((a) => a !== origin && match(origin, a));
}

function originMutant(id: string, description: string, match: (origin: string, allowed: string) => boolean): ServerMutant {
  return mutant({
    id,
    rule: 'SEC-9',
    description,
    cases: ['SEC-9/origin-exact-match'],
    patch: beforeAdmission((req, s) => {
      const a = looselyAllowed(s, req.headers.origin, match);
      if (a !== undefined) req.headers.origin = a;
    }),
  });
}

export const admissionMutants: readonly ServerMutant[] = [
  mutant({
    id: 'hs-17-wrong-version-400',
    rule: 'HS-17',
    description: 'an upgrade of another WebSocket version gets 400 (as a malformed request) instead of 426 with Sec-WebSocket-Version: 13',
    cases: ['HS-17/websocket-version-426'],
    patch: beforeAdmission((req) => {
      if (req.headers['sec-websocket-version'] !== '13') delete req.headers['sec-websocket-version'];
    }),
  }),
  mutant({
    id: 'hs-18-accepts-http10',
    rule: 'HS-18',
    description: 'an upgrade over HTTP/1.0 is treated as HTTP/1.1 and accepted with 101',
    cases: ['HS-18/http10-upgrade-400'],
    patch: beforeAdmission((req) => {
      req.httpVersionMajor = 1;
      req.httpVersionMinor = 1;
      req.httpVersion = '1.1';
    }),
  }),
  mutant({
    id: 'hs-15-node-default-timeouts',
    rule: 'HS-15',
    description: "Node's default header and request timeouts (60 s, 300 s) while a 500 ms bound is declared",
    cases: ['HS-15/header-trickle-cut'],
    override: (o) => ({ ...o, headersTimeoutMs: 60_000, requestTimeoutMs: 300_000 }),
  }),
  originMutant('sec-9-origin-prefix-match', 'an Origin that starts with an allowed origin is accepted', (o, a) => o.startsWith(a)),
  originMutant('sec-9-origin-suffix-match', 'an Origin whose host ends with an allowed host (same scheme) is accepted', (o, a) => {
    try {
      const [ou, au] = [new URL(o), new URL(a)];
      return ou.protocol === au.protocol && ou.port === au.port && ou.hostname.endsWith(au.hostname);
    } catch {
      return false;
    }
  }),
  originMutant('sec-9-origin-case-insensitive', 'Origins are compared case-insensitively', (o, a) => o.toLowerCase() === a.toLowerCase()),
];
