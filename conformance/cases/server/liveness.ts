/**
 * Liveness (spec §8): pings each interval, zombies dropped within the bound,
 * wedged clients dropped, live and slow peers kept, HeartbeatAck fields.
 */
import { BackpressurePolicy } from '../../../gen/lifeline/v1/envelope_pb.js';
import { check, checkEqual } from '../../framework/failure.js';
import { envelope } from '../../server-mode/peer.js';
import { checkWithin } from '../timing.js';
import { expectClose, publishN, roundTrip, serverCase, sleep, type ServerCase } from './util.js';

export const livenessCases: ServerCase[] = [
  serverCase({
    id: 'HB-1+HB-2/pings-every-interval',
    spec: ['HB-1', 'HB-2'],
    level: 'MUST',
    description: 'the server pings a connected socket about once per heartbeat interval',
    async run(ctx) {
      const p = await ctx.peer();
      await p.handshake();
      const interval = ctx.server.heartbeatIntervalMs;
      const start = p.pings;
      const span = interval * 6;
      await sleep(span);
      const got = p.pings - start;
      ctx.note(`${got} pings in ${span} ms at a declared interval of ${interval} ms`);
      check(got >= 3, `only ${got} pings in ${span} ms (interval ${interval} ms)`);
      check(got <= 12, `${got} pings in ${span} ms: far more than one per interval`);
    },
  }),
  serverCase({
    id: 'HB-3/drops-zombie',
    spec: ['HB-3', 'HB-2'],
    level: 'MUST',
    description: 'a peer that answers no ping and sends nothing after its last frame gets exactly missed_max + 1 pings, then is dropped at the next tick: no sooner than interval × (missed + 1), within one more interval + slack',
    async run(ctx) {
      const p = await ctx.peer({ autoPong: false, heartbeatMs: 0 });
      await p.handshake();
      // the declared values: a server that announces a huge missed_max and never drops must still fail here
      const interval = ctx.server.heartbeatIntervalMs;
      const missed = ctx.server.heartbeatMissedMax;
      // stamp each ping as it arrives: one parsed from the same TCP chunk as the ack below fires before
      // any awaiting code resumes, so a count read after the await would already include it
      const pingTimes: number[] = [];
      p.ws.on('ping', () => pingTimes.push(performance.now()));
      // the last frame: the server clears its count on it (HB-2, HB-8); pings after its ack were raised after it
      p.send(envelope('heartbeat', { id: 0x3eef, sentAtMs: 1n }));
      const mark = await p.until(() => p.frames.find((f) => f.env.body.case === 'heartbeatAck' && f.env.body.value.id === 0x3eef), 2000, 'HeartbeatAck of the last frame');
      const bound = interval * (missed + 2) + ctx.slackMs;
      const closed = await expectClose(p, ['HEARTBEAT_TIMEOUT'], bound + 1000, { allowAbnormal: true });
      const pings = pingTimes.filter((t) => t > mark.at && t <= closed.at).length;
      ctx.note(`${pings} pings after the last frame, then ${closed.abnormal ? 'dropped without a close frame' : `closed ${closed.code}`} (interval ${interval} ms, missed_max ${missed})`);
      // The server machine (spec §18.6, normative) checks the count on each tick before raising it:
      // `missed > missed_max` closes, else raise and ping (HB-1, HB-2). So missed_max + 1 pings go out
      // unanswered and the tick after the last of them closes. Fewer = dropped early, more = late.
      // (§8.2's pseudo-code raises first and would send one ping fewer; the machine wins, §18.6.)
      check(pings === missed + 1, `${pings} unanswered pings before the close, expected heartbeat_missed_max + 1 = ${missed + 1} (HB-2, HB-3: ${pings <= missed ? 'dropped a tick early' : 'dropped late'})`);
      // the first tick after the last frame comes within one interval, the close missed_max + 1 ticks later
      checkWithin(ctx, 'dropped after its last frame', closed.at - mark.at, { min: interval * (missed + 1) - 5, max: bound }, 'HB-3');
    },
  }),
  serverCase({
    id: 'HB-7/drops-wedged-client',
    spec: ['HB-7'],
    level: 'MUST',
    description: 'a peer that answers pings but sends no application Heartbeat is closed with 4200 within the bound',
    async run(ctx) {
      const p = await ctx.peer({ heartbeatMs: 0 });
      await p.handshake();
      await expectClose(p, ['HEARTBEAT_TIMEOUT'], ctx.deadBoundMs);
    },
  }),
  serverCase({
    id: 'HB-8/frames-are-proof-of-life',
    spec: ['HB-8', 'HB-3'],
    level: 'MUST',
    description: 'a peer that never answers pings but sends a Heartbeat every interval is kept',
    async run(ctx) {
      const p = await ctx.peer({ autoPong: false });
      await p.handshake();
      await sleep(ctx.deadBoundMs * 2);
      check(!p.closed, `closed ${p.closed?.code} ${p.closed?.reason} although it sent a frame every interval (HB-8)`);
      await roundTrip(p);
    },
  }),
  serverCase({
    id: 'HB-3/slow-peer-kept',
    spec: ['HB-3', 'HB-7'],
    level: 'MUST',
    description: 'a live peer that answers each ping half an interval late and sends Heartbeats with jitter is never dropped',
    async run(ctx) {
      const interval = ctx.server.heartbeatIntervalMs;
      const p = await ctx.peer({ autoPong: false, heartbeatMs: 0 });
      p.ws.on('ping', () => setTimeout(() => p.open && p.ws.pong(), interval / 2));
      await p.handshake();
      const end = performance.now() + ctx.deadBoundMs * 2;
      let id = 1;
      while (performance.now() < end && !p.closed) {
        p.send(envelope('heartbeat', { id: id++, sentAtMs: 1n }));
        await sleep(interval * (0.5 + ctx.random() * 0.7));
      }
      check(!p.closed, `a live, slow peer was closed (${p.closed?.code} ${p.closed?.reason})`);
    },
  }),
  serverCase({
    id: 'HB-6+BP-12/heartbeat-ack-not-held',
    spec: ['HB-6', 'BP-12'],
    level: 'MUST',
    requires: ['publish'],
    description: 'a Heartbeat gets a HeartbeatAck with the same id and sent_at_ms at once, even with the window full and messages queued',
    async run(ctx) {
      const ch = ctx.channel();
      const p = await ctx.peer();
      await p.handshake({ channels: [ch], receiveWindow: 1, preferredPolicy: BackpressurePolicy.DROP_OLDEST });
      await publishN(ctx, ch, 4);
      await p.until(() => p.sequenced().length >= 1, 2000, 'the first message');
      const before = performance.now();
      p.send(envelope('heartbeat', { id: 31337, sentAtMs: 1_234_567_890_123n, rttMs: 5 }));
      const ack = await p.until(() => p.bodies('heartbeatAck').find((a) => a.id === 31337), 1000 + ctx.slackMs, 'HeartbeatAck 31337');
      checkEqual(ack.echoSentAtMs, 1_234_567_890_123n, 'HeartbeatAck.echo_sent_at_ms');
      check(p.sequenced().length === 1, `window of 1 exceeded: ${p.sequenced().length} unacked sequenced messages (BP-1)`);
      ctx.note(`ack after ${Math.round(performance.now() - before)} ms`);
    },
  }),
];
