import fc from 'fast-check';
import { SimulatedClock } from 'xstate';
import { describe, expect, test } from 'vitest';
import { ResumeOutcome, ResumeReason } from '../gen/lifeline/v1/envelope_pb.js';
import { InboundCursor } from '../spec/protocol/inbound-cursor.js';
import { createClient } from './create-client.js';
import { QueueFullError } from './errors.js';
import { advanceClock, env, fakeNetwork, flushMicrotasks, type FakeSocket } from '../test/support/client.js';

type Cmd =
  | { t: 'send'; n: number }
  | { t: 'deliver'; n: number } // the server reads n more frames of the current socket
  | { t: 'ack' } // the server acks what it processed
  | { t: 'drop' } // the connection dies: unread frames are lost
  | { t: 'reconnect'; isNew: boolean }; // the server answers RESUMED, or NEW (it lost the session)

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  fc.integer({ min: 1, max: 4 }).map((n): Cmd => ({ t: 'send', n })),
  fc.integer({ min: 1, max: 6 }).map((n): Cmd => ({ t: 'deliver', n })),
  fc.constant<Cmd>({ t: 'ack' }),
  fc.constant<Cmd>({ t: 'drop' }),
  fc.boolean().map((isNew): Cmd => ({ t: 'reconnect', isNew })),
);

describe('client sequencing model', () => {
  test('SEQ-2 SEQ-3 SEQ-7 SEQ-8 SEQ-9 BP-1 BP-13 across sends, acks, drops and resumes the application gets every accepted message once, in order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(cmdArb, { maxLength: 60 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 2, max: 12 }), async (cmds, window, limit) => {
        const net = fakeNetwork();
        const clock = new SimulatedClock();
        const client = createClient({ url: 'ws://127.0.0.1:1/x', transport: net.transport, clock, random: () => 0.5, reconnectBaseMs: 10, reconnectCapMs: 10, reconnectMaxAttempts: 1000, queueLimitMessages: limit, ackDelayMs: 5 });
        // The server side: one session whose cursor survives RESUMED and is lost on NEW.
        let cursor = new InboundCursor();
        let read = 0; // frames of the current socket the server has read
        let sock: FakeSocket | undefined;
        let produced = 0;
        const accepted: string[] = [];
        const acked = new Set<string>();
        const app: { id: string; payload: string }[] = [];
        let inFlightMax = 0;
        const rejections: Promise<unknown>[] = [];

        const connect = async (outcome: ResumeOutcome) => {
          await flushMicrotasks();
          sock = net.last;
          read = 0;
          sock.open();
          sock.welcome({ sessionId: 'S', outcome, reason: outcome === ResumeOutcome.NEW ? ResumeReason.UNKNOWN_SESSION : ResumeReason.REPLAYED, lastClientSeq: cursor.last, receiveWindow: window, fromSeq: 1n });
        };
        await connect(ResumeOutcome.NEW);

        for (const c of cmds) {
          switch (c.t) {
            case 'send':
              for (let i = 0; i < c.n; i++) {
                const p = `m${++produced}`;
                const isFull = client.stats().queued + client.stats().inFlight >= limit;
                const r = client.send(p, { messageId: p }).then(() => 'ok' as const, (err: unknown) => err);
                if (isFull) rejections.push(r); // BP-13: must fail visibly
                else {
                  accepted.push(p);
                  void r.then((v) => v === 'ok' && acked.add(p));
                }
              }
              break;
            case 'deliver': {
              if (!sock || sock.closedWith || sock.isServerClosed) break; // unread frames died with the link
              const frames = sock.sent;
              for (let i = 0; i < c.n && read < frames.length; i++) {
                const f = frames[read++];
                if (f?.body.case !== 'message') continue;
                const m = f.body.value;
                const arrival = cursor.classify(m.seq);
                expect(arrival).not.toBe('gap'); // SEQ-2: no gap on one ordered link
                if (arrival === 'next') {
                  cursor.advance(m.seq);
                  app.push({ id: m.messageId, payload: new TextDecoder().decode(m.payload) });
                }
              }
              break;
            }
            case 'ack':
              if (sock && !sock.closedWith && !sock.isServerClosed && cursor.last > 0n) sock.deliver(env.ack(cursor.last));
              break;
            case 'drop':
              if (sock && !sock.closedWith && client.state === 'connected') sock.serverClose(1006);
              break;
            case 'reconnect':
              if (client.state !== 'reconnecting') break;
              advanceClock(clock, client.reconnectInfo.delayMs);
              if (c.isNew) cursor = new InboundCursor(); // the server lost the session
              await connect(c.isNew ? ResumeOutcome.NEW : ResumeOutcome.RESUMED);
              break;
          }
          inFlightMax = Math.max(inFlightMax, client.stats().inFlight);
          await flushMicrotasks();
        }
        // Heal: reconnect if needed, deliver everything, ack.
        if (client.state === 'reconnecting') {
          advanceClock(clock, client.reconnectInfo.delayMs);
          await connect(ResumeOutcome.RESUMED);
        }
        for (let guard = 0; guard < 1000 && client.stats().queued + client.stats().inFlight > 0; guard++) {
          const s = sock as FakeSocket;
          while (read < s.sent.length) {
            const f = s.sent[read++];
            if (f?.body.case !== 'message') continue;
            if (cursor.classify(f.body.value.seq) === 'next') {
              cursor.advance(f.body.value.seq);
              app.push({ id: f.body.value.messageId, payload: new TextDecoder().decode(f.body.value.payload) });
            }
          }
          s.deliver(env.ack(cursor.last));
          await flushMicrotasks();
        }
        await flushMicrotasks();
        // SEQ-8: across a NEW session a resend may repeat an id; the application dedupes by it.
        const seen = new Set<string>();
        const once = app.filter((r) => (seen.has(r.id) ? false : (seen.add(r.id), true))).map((r) => r.payload);
        expect(once).toEqual(accepted); // nothing lost, nothing reordered
        expect([...acked].sort()).toEqual([...accepted].sort()); // every accepted send resolved (SEQ-7)
        expect(inFlightMax).toBeLessThanOrEqual(window); // BP-1
        for (const r of await Promise.all(rejections)) expect(r).toBeInstanceOf(QueueFullError);
        client.close();
      }),
      { numRuns: 150 },
    );
  }, 60_000);
});
