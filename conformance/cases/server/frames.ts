/**
 * What the server writes (spec §4.3, §4.4, §14.5): only v1 bodies to a peer
 * that announced nothing more (WIRE-10), uint64 fields kept exact (WIRE-11), no
 * frame over the client's default limit (WIRE-12), and a close frame the peer
 * never answers ends with the transport destroyed (CC-10). The runner's peer
 * records each frame's size; CC-10 stops reading the socket without pausing it,
 * so the runner sees the TCP connection end.
 */
import { CaseFailure, check, checkEqual } from '../../framework/failure.js';
import { envelope } from '../../server-mode/peer.js';
import { deafen } from '../deafen.js';
import { checkWithin } from '../timing.js';
import { bytesOf, messagesOf, publishN, roundTrip, serverCase, session, sleep, type ServerCase } from './util.js';

/** WIRE-12: v1 has no field for the client's limit, so a server assumes the default, 1 MiB. */
const CLIENT_DEFAULT_LIMIT = 1024 * 1024;

/** The twelve v1 bodies (§4.1); anything else needs Hello.capabilities (WIRE-10). */
const V1_BODIES = new Set(['hello', 'welcome', 'message', 'ack', 'heartbeat', 'heartbeatAck', 'subscribe', 'unsubscribe', 'statePatch', 'snapshot', 'stateDrift', 'drainNotice']);

export const frameCases: ServerCase[] = [
  serverCase({
    id: 'WIRE-10/only-v1-bodies',
    spec: ['WIRE-10', 'WIRE-3'],
    level: 'MUST',
    requires: ['publish'],
    description: 'to a client that announced no capabilities, every frame of a busy session (Welcome, messages, acks, heartbeats, after a Subscribe) carries one of the twelve v1 bodies',
    async run(ctx) {
      const ch = ctx.channel();
      const { peer } = await session(ctx, [ch], { capabilities: [] });
      // a Subscribe too: its confirmation body came after v1 and goes only to a client that announced it
      peer.send(envelope('subscribe', { channels: [ctx.channel('later')] }));
      await publishN(ctx, ch, 5);
      peer.send(envelope('message', { seq: 1n, payload: bytesOf('hello server') }));
      await peer.until(() => messagesOf(peer, ch).length >= 5 && peer.bodies('ack').length > 0, 2000, '5 messages and an Ack');
      await sleep(ctx.server.heartbeatIntervalMs * 2);
      await roundTrip(peer);
      // a body added after v1 decodes here as an Envelope with no body: undecodable for a v1 peer
      check(peer.undecodable.length === 0, `${peer.undecodable.length} frame(s) a v1 client cannot decode (a body it never announced, WIRE-10): ${Buffer.from(peer.undecodable[0] ?? []).toString('hex').slice(0, 40)}`);
      const kinds = new Set(peer.frames.map((f) => f.env.body.case as string));
      for (const k of kinds) check(V1_BODIES.has(k), `a ${k} body sent to a peer that did not announce it (WIRE-10)`);
    },
  }),
  serverCase({
    id: 'WIRE-11/uint64-exact',
    spec: ['WIRE-11', 'HB-6'],
    level: 'MUST',
    description: 'uint64 values above 2⁵³ survive the server\'s decoder: a Heartbeat\'s sent_at_ms of 2⁶⁴ − 1 and of 2⁵³ + 1 come back exactly in HeartbeatAck.echo_sent_at_ms',
    async run(ctx) {
      const { peer } = await session(ctx, []);
      const values = [2n ** 53n + 1n, 2n ** 64n - 1n, 2n ** 60n + 12_345n];
      values.forEach((v, i) => peer.send(envelope('heartbeat', { id: 0x1100 + i, sentAtMs: v })));
      for (const [i, v] of values.entries()) {
        const ack = await peer.until(() => peer.bodies('heartbeatAck').find((a) => a.id === 0x1100 + i), 2000, `HeartbeatAck ${0x1100 + i}`);
        checkEqual(ack.echoSentAtMs, v, `echo_sent_at_ms of ${v} (WIRE-11: no precision lost)`);
      }
    },
  }),
  serverCase({
    id: 'WIRE-12/no-frame-over-client-limit',
    spec: ['WIRE-12', 'SEC-4'],
    level: 'MUST',
    requires: ['publish'],
    description: 'a message published with a payload over 1 MiB never reaches the client as a frame over 1 MiB (the server refuses it or leaves it out); the session and the messages after it are served',
    async run(ctx) {
      const ch = ctx.channel();
      const { peer } = await session(ctx, [ch]);
      await publishN(ctx, ch, 1, 'before');
      await peer.until(() => messagesOf(peer, ch).length >= 1, 2000, 'the first message');
      // refusing the publish (an error from the hook) is a correct answer too: the application learns at once
      const refusal = await ctx.hooks.publish(ch, [{ payload: new Uint8Array(CLIENT_DEFAULT_LIMIT + 1024).fill(0x61) }]).then(
        () => undefined,
        (err: unknown) => (err instanceof Error ? err.message : String(err)),
      );
      if (refusal) ctx.note(`the oversized publish was refused: ${refusal.slice(0, 120)}`);
      await publishN(ctx, ch, 1, 'after');
      await peer.until(() => messagesOf(peer, ch).some((m) => m.text === 'after0') || (peer.closed ? 'closed' : undefined), 3000, 'the message after the oversized one');
      await roundTrip(peer);
      ctx.note(`largest frame received: ${peer.largestFrameBytes} B`);
      check(peer.largestFrameBytes <= CLIENT_DEFAULT_LIMIT, `a ${peer.largestFrameBytes}-byte frame sent to a client whose limit the server cannot know (WIRE-12: at most ${CLIENT_DEFAULT_LIMIT})`);
    },
  }),
  serverCase({
    id: 'CC-10/unanswered-close-destroyed',
    spec: ['CC-10', 'WIRE-1'],
    level: 'MUST',
    description: 'a peer that never answers the server\'s close frame (it reads nothing more) has its TCP connection destroyed within the server\'s close timeout (declared, else the handshake timeout) + slack',
    async run(ctx) {
      const { peer } = await session(ctx, []);
      const closeTimeout = ctx.server.closeTimeoutMs ?? ctx.server.handshakeTimeoutMs;
      const d = deafen(peer.ws);
      const t0 = performance.now();
      peer.sendText('a text frame: closed with 1003, whose close frame this peer never reads');
      const bound = closeTimeout + ctx.slackMs;
      const deadline = performance.now() + bound + 2000;
      while (d.endedAt === undefined && performance.now() < deadline) await sleep(10);
      if (d.endedAt === undefined) throw new CaseFailure(`the TCP connection was still open ${Math.round(bound + 2000)} ms after the server's close (CC-10: close timeout ${closeTimeout} ms)`);
      check(d.bytesIgnored > 0, 'the server sent nothing (no close frame) before ending the connection');
      checkWithin(ctx, 'transport destroyed after the fault', d.endedAt - t0, { max: bound }, 'CC-10');
    },
  }),
];
