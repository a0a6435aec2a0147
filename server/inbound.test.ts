/**
 * The server's delayed Ack (SEQ-5, SEQ-10) in ClientInbound, on a manual clock: the Ack due goes
 * within the ack delay, at once at half the window, and (issue 16) rides a write the socket makes
 * anyway once half the delay has passed, instead of being written alone by its timer.
 */
import { create } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { MessageSchema } from '../gen/lifeline/v1/envelope_pb.js';
import type { Clock } from '../spec/protocol/clock.js';
import { ClientInbound, type InboundHost } from './inbound.js';

/** Timers fire only when the test advances the time. */
class ManualClock implements Clock {
  t = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): number {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = end;
  }
}

function setup(ackDelayMs: number, receiveWindow: number) {
  const clock = new ManualClock();
  const acks: { seq: bigint; at: number }[] = [];
  let isWritePending = false;
  const host: InboundHost = {
    handleClientMessage: () => undefined,
    writeAck: (seq) => {
      acks.push({ seq, at: clock.t });
      return true;
    },
    inboundFailed: (err) => {
      throw err;
    },
    isWritePending: () => isWritePending,
  };
  const inbound = new ClientInbound(host, { opts: { ackDelayMs, receiveWindow }, clock });
  let seq = 0n;
  return {
    clock,
    acks,
    inbound,
    setPending: (v: boolean) => void (isWritePending = v),
    deliver: () => inbound.deliver(create(MessageSchema, { seq: ++seq })),
  };
}

describe('ClientInbound acks (SEQ-5)', () => {
  test('SEQ-5 an Ack rides a pending write once half the delay has passed; before that, or with nothing to ride, its timer writes it', () => {
    const s = setup(50, 256);
    s.setPending(true);
    s.deliver(); // arms the timer at t = 0
    s.clock.advance(24);
    s.deliver(); // a write is due, but under half the delay: no Ack yet
    expect(s.acks).toEqual([]);
    s.clock.advance(1);
    s.deliver(); // half the delay: it rides this burst's write
    expect(s.acks).toEqual([{ seq: 3n, at: 25 }]);
    s.setPending(false);
    s.deliver(); // arms a new timer at t = 25
    s.clock.advance(30);
    s.deliver(); // past half the delay, but nothing to ride: the timer's
    expect(s.acks).toHaveLength(1);
    s.clock.advance(20);
    expect(s.acks).toEqual([{ seq: 3n, at: 25 }, { seq: 5n, at: 75 }]);
  });

  test('SEQ-5 for any deliveries, pauses and pending writes: every processed message is acked within the delay, at most once per half delay unless half the window is unacked', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('deliver' as const), isPending: fc.boolean() }),
      fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 40 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 16 }), fc.array(step, { maxLength: 200 }), (delay, window, steps) => {
        const s = setup(delay, window);
        const processedAt = new Map<bigint, number>();
        let n = 0n;
        for (const st of steps) {
          if (st.kind === 'wait') s.clock.advance(st.ms);
          else {
            s.setPending(st.isPending);
            s.deliver();
            processedAt.set(++n, s.clock.t);
          }
        }
        s.clock.advance(delay); // the last timer fires
        // Cumulative, increasing, never beyond what was processed (SEQ-10).
        let last = 0n;
        for (const a of s.acks) {
          expect(a.seq).toBeGreaterThan(last);
          expect(a.seq).toBeLessThanOrEqual(n);
          last = a.seq;
        }
        expect(last).toBe(n);
        // Each message acked within the delay of being processed.
        for (const [seq, at] of processedAt) {
          const ack = s.acks.find((a) => a.seq >= seq);
          expect(ack).toBeDefined();
          expect((ack as { at: number }).at - at).toBeLessThanOrEqual(delay);
        }
        // Riding never acks more often than once per half delay, except at half the window (SEQ-5).
        for (let i = 1; i < s.acks.length; i++) {
          const a = s.acks[i] as { seq: bigint; at: number };
          const prev = s.acks[i - 1] as { seq: bigint; at: number };
          if (Number(a.seq - prev.seq) * 2 < window) expect(a.at - prev.at).toBeGreaterThanOrEqual(delay / 2);
        }
      }),
      { numRuns: 300 },
    );
  });
});
