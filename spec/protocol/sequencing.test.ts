import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { InboundCursor } from './inbound-cursor.js';
import { OutboundLog } from './outbound-log.js';
import { ProtocolError } from './errors.js';

/**
 * A model of one direction of a session: a sender, a lossy-by-disconnect link and
 * a receiver that resumes. Commands interleave sends, acks, silent drops and resumes.
 */
type Cmd =
  | { t: 'send' }
  | { t: 'deliver'; n: number }
  | { t: 'ack' }
  | { t: 'drop' } // link dies: everything in transit is lost
  | { t: 'resume' };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.constant<Cmd>({ t: 'send' }),
  fc.integer({ min: 1, max: 5 }).map<Cmd>((n) => ({ t: 'deliver', n })),
  fc.constant<Cmd>({ t: 'ack' }),
  fc.constant<Cmd>({ t: 'drop' }),
  fc.constant<Cmd>({ t: 'resume' }),
);

describe('sequencing', () => {
  test('SEQ-2 SEQ-3 SEQ-7 RS-2 across sends, acks, silent drops and resumes the receiver processes 1..n once each, in order', () => {
    fc.assert(
      fc.property(fc.array(cmd, { maxLength: 200 }), fc.integer({ min: 1, max: 16 }), (cmds, window) => {
        const out = new OutboundLog<number>({ window });
        const inc = new InboundCursor();
        let link: bigint[] = [];
        const processed: bigint[] = [];
        let produced = 0;
        let connected = true; // a detached sender queues; it does not number or write (spec §7)
        for (const c of cmds) {
          switch (c.t) {
            case 'send':
              if (connected && out.hasRoom) {
                out.send(++produced);
                link.push(out.lastSent);
              }
              break;
            case 'deliver':
              for (let i = 0; i < c.n && link.length > 0; i++) {
                const seq = link.shift() as bigint;
                const a = inc.classify(seq);
                if (a === 'next') {
                  inc.advance(seq);
                  processed.push(seq);
                }
                expect(a).not.toBe('gap'); // one ordered link never gaps
              }
              break;
            case 'ack':
              if (connected) out.ack(inc.markAcked());
              break;
            case 'drop':
              link = [];
              connected = false;
              break;
            case 'resume': {
              link = [];
              connected = true;
              const replay = out.replayAfter(inc.last);
              expect(replay).toBeDefined(); // unacked ⊇ everything above the receiver's cursor
              link.push(...(replay ?? []).map((s) => s.seq));
              break;
            }
          }
          expect(out.inFlight).toBeLessThanOrEqual(window); // BP-1
        }
        expect(processed).toEqual(processed.map((_, i) => BigInt(i + 1)));
      }),
      { numRuns: 300 },
    );
  });

  test('SEQ-6 an ack beyond the last sent seq is a protocol error; an old ack is ignored', () => {
    const out = new OutboundLog<string>({ window: 8 });
    out.send('a');
    out.send('b');
    expect(out.ack(2n).map((s) => s.item)).toEqual(['a', 'b']);
    expect(out.ack(1n)).toEqual([]);
    expect(() => out.ack(3n)).toThrow(ProtocolError);
  });

  test('RS-8 replay for a peer ahead of the sender is impossible (snapshot path)', () => {
    const out = new OutboundLog<string>({ window: 8 });
    out.send('a');
    expect(out.replayAfter(5n)).toBeUndefined();
    expect(out.replayAfter(0n)?.map((s) => s.seq)).toEqual([1n]);
  });

  test('SEQ-4 SEQ-5 the cursor reports gaps and asks for an ack at half the window', () => {
    const c = new InboundCursor();
    expect(c.classify(2n)).toBe('gap');
    c.advance(1n);
    expect(c.ackDueNow(4)).toBe(false);
    c.advance(2n);
    expect(c.ackDueNow(4)).toBe(true);
    expect(c.markAcked()).toBe(2n);
    expect(c.classify(2n)).toBe('duplicate');
    c.rebase(10n);
    expect(c.classify(10n)).toBe('next');
  });
});
