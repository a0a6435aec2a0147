/**
 * Several nodes on one shared store and broker (spec §21): resume on the other node, takeover across
 * nodes, cross-node fan-out order, client message dedupe across nodes, drain to the other node. Each
 * needs `multi-node` (node B named by server.peer or --peer); node A is the URL under test.
 */
import fc from 'fast-check';
import { ResumeOutcome } from '../../../gen/lifeline/v1/envelope_pb.js';
import { CaseFailure, check, checkEqual } from '../../framework/failure.js';
import { checkProperty } from '../../framework/property.js';
import type { Hooks } from '../../server-mode/hooks.js';
import type { NodeHandle, ServerCaseContext } from '../../server-mode/harness.js';
import { envelope, type Peer } from '../../server-mode/peer.js';
import { bytesOf, checkClose, checkContiguous, messagesOf, roundTrip, serverCase, session, sleep, textOf, type ServerCase } from './util.js';

const outcomeName = (o: number | undefined) => ResumeOutcome[o ?? 0] ?? String(o);

/** Publish `texts` on `channel` through `hooks`, one call each, in order (each resolves once the broker took it). */
async function publishTexts(hooks: Hooks, channel: string, texts: readonly string[]): Promise<void> {
  for (const t of texts) await hooks.publish(channel, [{ payload: bytesOf(t) }]);
}

/** `seq:payload` of every Message of `channel` the peer received, in arrival order. */
const seqText = (peer: Peer, channel: string) => messagesOf(peer, channel).map((m) => `${m.seq}:${m.text}`);

/** A Hello on node B resuming `sessionId` from `lastServerSeq`: the peer and its Welcome, RESUMED or a failure naming what it got. */
async function resumeOnB(b: NodeHandle, sessionId: string, lastServerSeq: bigint, channels: string[]) {
  const peer = await b.peer();
  const welcome = await peer.handshake({ sessionId, lastServerSeq, channels });
  checkEqual(outcomeName(welcome.resume?.outcome), 'RESUMED', `Welcome.resume.outcome on node B for a session of node A (MN-3)`);
  checkEqual(welcome.sessionId, sessionId, 'session id on node B (MN-3)');
  return { peer, welcome };
}

/** Unique tags per property run, so runs of one case never see each other's channels or message ids. */
function tagger(ctx: ServerCaseContext): () => string {
  let run = 0;
  return () => `${ctx.caseId.replace(/[^a-z0-9]+/gi, '').slice(0, 12)}-${ctx.seed >>> 0}-${++run}`;
}

/** Client Message `seq` carrying `id` as message id and payload. */
const clientMessage = (seq: bigint, id: string) => envelope('message', { seq, messageId: id, payload: bytesOf(id) });

/** Every payload the application received from `sessions` on both nodes, counted. */
async function appCounts(ctx: ServerCaseContext, b: NodeHandle, sessions: readonly string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const hooks of [ctx.hooks, b.hooks]) {
    for (const id of sessions) {
      for (const p of await hooks.inbox(id)) counts.set(textOf(p), (counts.get(textOf(p)) ?? 0) + 1);
    }
  }
  return counts;
}

/** Wait until the application (both nodes) has each of `ids` at least once; a bounded poll of the inbox hooks. */
async function untilProcessed(ctx: ServerCaseContext, b: NodeHandle, sessions: readonly string[], ids: readonly string[], withinMs: number): Promise<Map<string, number>> {
  const t0 = performance.now();
  for (;;) {
    const counts = await appCounts(ctx, b, sessions);
    if (ids.every((id) => (counts.get(id) ?? 0) >= 1)) return counts;
    if (performance.now() - t0 > withinMs) throw new CaseFailure(`after ${withinMs} ms the application has not received ${ids.filter((id) => !counts.get(id)).join(', ')} (SEQ-10)`);
    await sleep(20);
  }
}

function checkOnce(counts: Map<string, number>, ids: readonly string[], rule: string): void {
  for (const id of ids) {
    const n = counts.get(id) ?? 0;
    check(n === 1, `the application (nodes A and B together) received message id ${id} ${n} times (${rule})`);
  }
}

export const multiNodeCases: ServerCase[] = [
  serverCase({
    id: 'MN-3+MN-1+MN-2/resume-on-other-node',
    spec: ['MN-3', 'MN-1', 'MN-2', 'RS-2', 'RS-5'],
    level: 'MUST',
    requires: ['multi-node', 'resume', 'publish'],
    property: true,
    // a failing run waits out its bound, and shrinking replays it: room for that before the case's deadline
    timeoutMs: 60_000,
    description:
      'a session of node A drops silently; more is published through either node; a Hello on node B answers RESUMED and sends exactly the unprocessed frames with their seqs, then the missed publications, then live ones, none twice',
    async run(ctx) {
      const b = ctx.nodeB();
      const tag = tagger(ctx);
      const arb = fc.record({
        sent: fc.integer({ min: 1, max: 5 }),
        processedBack: fc.integer({ min: 0, max: 5 }),
        acked: fc.boolean(),
        missed: fc.array(fc.constantFrom<'A' | 'B'>('A', 'B'), { minLength: 1, maxLength: 4 }),
        live: fc.constantFrom<'A' | 'B'>('A', 'B'),
      });
      await checkProperty(ctx, arb, async ({ sent, processedBack, acked, missed, live }) => {
        const t = tag();
        const ch = ctx.channel(t);
        const hooksOf = (n: 'A' | 'B') => (n === 'A' ? ctx.hooks : b.hooks);
        const { peer: first, welcome } = await session(ctx, [ch]);
        const before = Array.from({ length: sent }, (_, i) => `s${i}`);
        await publishTexts(ctx.hooks, ch, before);
        await first.until(() => messagesOf(first, ch).length >= sent, 2000, `${sent} messages on node A`);
        checkContiguous(first);
        const last = BigInt(sent);
        // the client processed all but the last `processedBack` (seqs 1 … sent), and acked half of what it processed
        const lastProcessed = BigInt(Math.max(0, sent - processedBack));
        if (acked && lastProcessed > 0n) {
          first.send(envelope('ack', { seq: (lastProcessed + 1n) / 2n }));
          await roundTrip(first);
        }
        first.vanish();
        await first.waitClose(1000);
        const gone = missed.map((n, i) => `${n.toLowerCase()}${i}`);
        for (let i = 0; i < missed.length; i++) await publishTexts(hooksOf(missed[i] as 'A' | 'B'), ch, [gone[i] as string]);
        const { peer, welcome: w } = await resumeOnB(b, welcome.sessionId, lastProcessed, [ch]);
        checkEqual(w.resume?.fromSeq, lastProcessed + 1n, 'Welcome.resume.from_seq on node B (RS-5)');
        const replay = messagesOf(first, ch).filter((m) => m.seq > lastProcessed).map((m) => `${m.seq}:${m.text}`);
        const expected = [...replay, ...gone.map((g, i) => `${last + 1n + BigInt(i)}:${g}`)];
        // a short wait: what is missing is named by the comparison below, seq by seq
        await peer.until(() => messagesOf(peer, ch).length >= expected.length, 1000 + ctx.slackMs, 'the replay and the missed').catch(() => undefined);
        checkEqual(seqText(peer, ch).join(','), expected.join(','), `seq:payload on node B: the ${replay.length} unprocessed, then the ${gone.length} published while the session moved (MN-3, MN-2)`);
        // then live: one more publication through either node follows with the next seq
        await publishTexts(hooksOf(live), ch, ['live']);
        expected.push(`${last + 1n + BigInt(gone.length)}:live`);
        await peer.until(() => messagesOf(peer, ch).length >= expected.length, 1000 + ctx.slackMs, 'the live message on node B');
        await roundTrip(peer);
        checkEqual(seqText(peer, ch).join(','), expected.join(','), 'seq:payload on node B (MN-3, MN-2: the unprocessed, then the missed, then live, each once)');
        checkContiguous(peer, lastProcessed);
        const replayed = w.resume?.replayed ?? 0;
        check(replayed >= replay.length && replayed <= replay.length + gone.length, `Welcome.resume.replayed is ${replayed}; ${replay.length} were sent before the drop, ${gone.length} follow (RS-5)`);
        peer.close(1000);
      });
    },
  }),
  serverCase({
    id: 'MN-4/takeover-across-nodes-4002',
    spec: ['MN-4', 'RS-7'],
    level: 'MUST',
    requires: ['multi-node', 'resume', 'publish'],
    description: "resuming on node B a session whose socket is open on node A closes A's socket with SESSION_TAKEN_OVER (4002) within one heartbeat interval, and A's socket gets no sequenced body after the claim",
    async run(ctx) {
      const b = ctx.nodeB();
      const ch = ctx.channel();
      const { peer: a, welcome } = await session(ctx, [ch]);
      await publishTexts(ctx.hooks, ch, ['before']);
      await a.until(() => messagesOf(a, ch).length >= 1, 2000, 'a message on node A');
      // the client keeps its socket on A open (heartbeats answered): only the claim can close it
      const { peer: onB } = await resumeOnB(b, welcome.sessionId, 1n, [ch]);
      const welcomedAt = onB.frames[0]?.at ?? performance.now();
      const bound = ctx.server.heartbeatIntervalMs + ctx.slackMs;
      const closed = await a.until(() => a.closed, bound + 2000, `close of the socket on node A (MN-4: within ${bound} ms of the Welcome on B)`);
      checkClose(closed, ['SESSION_TAKEN_OVER']);
      const took = Math.round(closed.at - welcomedAt);
      ctx.note(`node A closed 4002 ${took} ms after node B's Welcome (bound ${bound} ms, margin ${bound - took} ms)`);
      check(took <= bound, `node A closed its socket ${took} ms after node B's Welcome, beyond one heartbeat interval + slack (${bound} ms, MN-4)`);
      await publishTexts(b.hooks, ch, ['after-b']);
      await publishTexts(ctx.hooks, ch, ['after-a']);
      await onB.until(() => messagesOf(onB, ch).length >= 2, 2000, 'the two later messages on node B');
      const late = a.frames.filter((f) => f.at > welcomedAt && (f.env.body.case === 'message' || f.env.body.case === 'statePatch' || f.env.body.case === 'snapshot'));
      checkEqual(late.length, 0, "sequenced bodies on node A's socket after node B's Welcome (MN-4)");
      checkEqual(seqText(onB, ch).join(','), '2:after-b,3:after-a', 'seq:payload on node B after the takeover');
    },
  }),
  serverCase({
    id: 'MN-9/fan-out-order-across-nodes',
    spec: ['MN-9', 'SEQ-2'],
    level: 'MUST',
    requires: ['multi-node', 'publish'],
    property: true,
    // a failing run waits out its bound, and shrinking replays it: room for that before the case's deadline
    timeoutMs: 60_000,
    description: "publications interleaved through node A's and node B's hooks reach subscribers on both nodes in one order, the publish order, gap-free",
    async run(ctx) {
      const b = ctx.nodeB();
      const tag = tagger(ctx);
      const arb = fc.record({
        via: fc.array(fc.constantFrom<'A' | 'B'>('A', 'B'), { minLength: 2, maxLength: 12 }),
        subsA: fc.integer({ min: 1, max: 2 }),
        subsB: fc.integer({ min: 1, max: 2 }),
      });
      await checkProperty(ctx, arb, async ({ via, subsA, subsB }) => {
        const ch = ctx.channel(tag());
        const peers: Peer[] = [];
        for (let i = 0; i < subsA; i++) peers.push((await session(ctx, [ch])).peer);
        for (let i = 0; i < subsB; i++) {
          const p = await b.peer();
          await p.handshake({ channels: [ch] });
          peers.push(p);
        }
        // publish i goes through the node via[i], each after the previous one resolved: that is the channel's order
        const texts = via.map((n, i) => `${n}${i}`);
        for (let i = 0; i < via.length; i++) await (via[i] === 'A' ? ctx.hooks : b.hooks).publish(ch, [{ payload: bytesOf(texts[i] as string) }]);
        const expected = texts.map((t, i) => `${i + 1}:${t}`).join(',');
        for (const p of peers) {
          await p.until(() => messagesOf(p, ch).length >= texts.length || undefined, 1000 + ctx.slackMs, `${texts.length} messages on ${p.label}`).catch(() => undefined);
          await roundTrip(p);
          checkEqual(seqText(p, ch).join(','), expected, `seq:payload on ${p.label} (MN-9: every node, the publish order, gap-free)`);
          p.close(1000);
        }
      });
    },
  }),
  serverCase({
    id: 'MN-5/message-dedupe-across-nodes',
    spec: ['MN-5', 'SEQ-8', 'MN-3'],
    level: 'MUST',
    requires: ['multi-node', 'resume', 'inbox'],
    property: true,
    // a failing run waits out its bound, and shrinking replays it: room for that before the case's deadline
    timeoutMs: 60_000,
    description:
      'client Messages with message ids processed on node A but never seen acked, resent on node B after the resume and again in a NEW session there, reach the application (both nodes) once and are acked',
    async run(ctx) {
      const b = ctx.nodeB();
      const tag = tagger(ctx);
      const arb = fc.record({ k: fc.integer({ min: 1, max: 4 }), waitProcessed: fc.integer({ min: 0, max: 4 }) });
      await checkProperty(ctx, arb, async ({ k, waitProcessed }) => {
        const t = tag();
        const ids = Array.from({ length: k }, (_, i) => `${t}-m${i + 1}`);
        const { peer: first, welcome } = await session(ctx, []);
        for (let i = 0; i < k; i++) first.send(clientMessage(BigInt(i + 1), ids[i] as string));
        // drop before the Ack: the client stops reading at once, so it never sees one, after the
        // application has (some of) them: the rest may or may not have reached it
        first.pauseReading();
        const seen = ids.slice(0, Math.min(waitProcessed, k));
        if (seen.length > 0) await untilProcessed(ctx, b, [welcome.sessionId], seen, 2000);
        first.vanish();
        const { peer: onB, welcome: w } = await resumeOnB(b, welcome.sessionId, 0n, []);
        check(w.lastClientSeq <= BigInt(k), `Welcome.last_client_seq ${w.lastClientSeq} > ${k} sent (SEQ-3)`);
        check(w.lastClientSeq >= BigInt(seen.length), `Welcome.last_client_seq ${w.lastClientSeq} < ${seen.length} the application already has: node B lost node A's inbound cursor (MN-1)`);
        // §7.7: the client resends what Welcome does not cover, with its seqs and ids
        for (let i = Number(w.lastClientSeq); i < k; i++) onB.send(clientMessage(BigInt(i + 1), ids[i] as string));
        if (w.lastClientSeq < BigInt(k)) await onB.until(() => onB.bodies('ack').some((a) => a.seq >= BigInt(k)) || undefined, 2000, `Ack of client seq ${k} on node B (after resending ${BigInt(k) - w.lastClientSeq})`);
        // a client that lost its session resends them all in a NEW one (SEQ-9): the ids were processed
        const fresh = await b.peer();
        const wf = await fresh.handshake({});
        checkEqual(outcomeName(wf.resume?.outcome), 'NEW', 'outcome of a Hello without session id');
        for (let i = 0; i < k; i++) fresh.send(clientMessage(BigInt(i + 1), ids[i] as string));
        await fresh.until(() => fresh.bodies('ack').some((a) => a.seq >= BigInt(k)) || undefined, 2000, `Ack of client seq ${k} in the NEW session on node B (SEQ-8: a duplicate is acked)`);
        const counts = await untilProcessed(ctx, b, [welcome.sessionId, wf.sessionId], ids, 2000);
        checkOnce(counts, ids, 'MN-5, SEQ-8');
        onB.close(1000);
        fresh.close(1000);
      });
    },
  }),
  serverCase({
    id: 'MN-11+MN-3/drain-to-other-node',
    spec: ['MN-11', 'MN-3', 'MN-2', 'MN-5', 'DR-4'],
    level: 'MUST',
    requires: ['multi-node', 'resume', 'publish', 'inbox', 'drain'],
    destructive: true,
    description:
      'node A drains while publications flow through node B; every client, at its reconnect_after_ms or at its close, resumes on node B with RESUMED: every publication once, in order, seqs gap-free, and its client messages once at the application',
    async run(ctx) {
      const b = ctx.nodeB();
      const d = ctx.server.drain ?? { deadlineMs: 600, spreadMs: 400 };
      const ch = ctx.channel();
      const n = 4;
      const clients: { peer: Peer; sessionId: string; ids: string[] }[] = [];
      for (let i = 0; i < n; i++) {
        const { peer, welcome } = await session(ctx, [ch]);
        clients.push({ peer, sessionId: welcome.sessionId, ids: [`drain-${ctx.seed >>> 0}-c${i}-1`, `drain-${ctx.seed >>> 0}-c${i}-2`] });
      }
      // each client sends two messages, unacked as far as it knows when A goes
      for (const c of clients) c.ids.forEach((id, j) => c.peer.send(clientMessage(BigInt(j + 1), id)));
      const texts = Array.from({ length: 12 }, (_, i) => `p${i}`);
      await publishTexts(b.hooks, ch, texts.slice(0, 3));
      await ctx.hooks.drain(d.deadlineMs, d.spreadMs);
      // publications keep coming through node B while A drains, about one per 40 ms
      const publishing = (async () => {
        for (const t of texts.slice(3)) {
          if (ctx.signal.aborted) return;
          await publishTexts(b.hooks, ch, [t]);
          await sleep(40);
        }
      })();
      publishing.catch(() => undefined); // awaited below; a case that fails first must not leave it unhandled
      // each client leaves A at its reconnect_after_ms (§13.4, GOING_AWAY) or at A's close, and resumes on B
      const moved = clients.map(async (c) => {
        const notice = await c.peer.until(() => c.peer.bodies('drainNotice')[0] ?? (c.peer.closed ? ({ closedFirst: true } as const) : undefined), d.deadlineMs + ctx.slackMs, 'DrainNotice or close');
        if (!('closedFirst' in notice)) await Promise.race([sleep(notice.reconnectAfterMs), c.peer.until(() => c.peer.closed, notice.reconnectAfterMs + ctx.slackMs, 'close').catch(() => undefined)]);
        if (!c.peer.closed) c.peer.close(1001, 'drain');
        await c.peer.waitClose(d.deadlineMs + ctx.slackMs);
        const got = messagesOf(c.peer, ch);
        // the highest seq processed contiguously (RS-10)
        let last = 0n;
        for (const s of c.peer.sequenced()) if (s.seq === last + 1n) last = s.seq;
        const { peer, welcome } = await resumeOnB(b, c.sessionId, last, [ch]);
        for (let j = Number(welcome.lastClientSeq); j < c.ids.length; j++) peer.send(clientMessage(BigInt(j + 1), c.ids[j] as string));
        return { c, peer, before: got.filter((m) => m.seq <= last), last };
      });
      const resumed = await Promise.all(moved);
      await publishing;
      for (const r of resumed) {
        const all = () => [...r.before, ...messagesOf(r.peer, ch)];
        await r.peer.until(() => all().length >= texts.length || undefined, 3000, `all ${texts.length} publications for ${r.c.peer.label} across nodes A and B`).catch(() => undefined);
        await roundTrip(r.peer);
        checkEqual(
          all().map((m) => m.text).join(','),
          texts.join(','),
          `${r.c.peer.label} → ${r.peer.label}: publications received on A then B (MN-2, MN-11: each once, in order)`,
        );
        checkContiguous(r.peer, r.last);
        const firstOnB = messagesOf(r.peer, ch)[0];
        if (firstOnB) checkEqual(firstOnB.seq, r.last + 1n, `${r.peer.label}: seq of the first message on node B`);
      }
      const ids = clients.flatMap((c) => c.ids);
      const counts = await untilProcessed(ctx, b, clients.map((c) => c.sessionId), ids, 3000);
      checkOnce(counts, ids, 'MN-11, MN-5');
    },
  }),
];
