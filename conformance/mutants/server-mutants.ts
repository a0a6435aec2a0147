/**
 * Deliberately broken variants of the reference server, each breaking one
 * rule: by an option the reference server has (configuration), by a small
 * change to the live server object, or by a frame-rewriting proxy in front of
 * a correct server. Never a copy of server code.
 */
import { ResumeOutcome, ResumeReason, type Envelope } from '../../gen/lifeline/v1/envelope_pb.js';
import { codeOf } from '../../spec/protocol/close-codes.js';
import { envelope } from '../server-mode/peer.js';
import type { ServerOverride, ServerPatch } from '../targets/reference-server.js';
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

export const serverMutants: readonly ServerMutant[] = [
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
    id: 'seq-6-accepts-ack-beyond',
    rule: 'SEQ-6',
    description: 'an Ack beyond anything sent is clamped and accepted instead of closed with 1002',
    cases: ['SEQ-6/ack-beyond-sent-1002'],
    proxy: { up: (env) => (env.body.case === 'ack' && env.body.value.seq >= 1000n ? [] : 'pass') },
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

