import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { ProtocolError } from './errors.js';
import { OutboundLog, type OutboundLogOptions, type Sent } from './outbound-log.js';

/**
 * The OutboundLog as it was before issue 16's session 9 (a Sent object and a bigint seq per send,
 * one array of entries): the model the number-based log must agree with, call for call.
 */
// prettier-ignore
class ReferenceLog<T> {
  /** Sent, not yet acked, in seq order. A plain array: shift() on acks is amortised cheap for windows ≤ a few thousand. */
  private unacked: Sent<T>[] = [];
  private head = 0;
  private nextSeq = 1n;
  private ackedSeq = 0n;
  private unackedBytes = 0;
  window: number;

  constructor(opts: OutboundLogOptions) {
    this.window = Math.max(1, opts.window);
  }

  /** Seq the next sent message gets. */
  get next(): bigint {
    return this.nextSeq;
  }
  /** Highest seq sent so far (0 = none). */
  get lastSent(): bigint {
    return this.nextSeq - 1n;
  }
  /** Highest seq the peer acknowledged. */
  get acked(): bigint {
    return this.ackedSeq;
  }
  get inFlight(): number {
    return this.unacked.length - this.head;
  }
  get inFlightBytes(): number {
    return this.unackedBytes;
  }
  /** The window has room for one more (BP-1). */
  get hasRoom(): boolean {
    return this.inFlight < this.window;
  }

  /** Number an item and keep it until acked (SEQ-2, SEQ-7). The caller checks hasRoom. */
  send(item: T, bytes = 0): Sent<T> {
    const sent: Sent<T> = { seq: this.nextSeq, item, bytes };
    this.nextSeq += 1n;
        this.unacked.push(sent);
    this.unackedBytes += bytes;
    return sent;
  }

  /**
   * Apply a cumulative ack (SEQ-5). Returns the items it released. An ack beyond
   * what was sent is a protocol error (SEQ-6); an old ack is ignored.
   */
  ack(seq: bigint): Sent<T>[] {
    if (seq > this.lastSent) {
      throw new ProtocolError('PROTOCOL_ERROR', 'SEQ-6', `ack ${seq} beyond last sent ${this.lastSent}`);
    }
    if (seq <= this.ackedSeq) return []; // SEQ-6: stale ack
    this.ackedSeq = seq;
    const released: Sent<T>[] = [];
    while (this.head < this.unacked.length && (this.unacked[this.head] as Sent<T>).seq <= seq) {
      const s = this.unacked[this.head++] as Sent<T>;
      this.unackedBytes -= s.bytes;
      released.push(s);
    }
    // Compact once the dead prefix dominates, keeping shift-free acks O(1) amortised.
    if (this.head > 64 && this.head * 2 > this.unacked.length) {
      this.unacked = this.unacked.slice(this.head);
      this.head = 0;
    }
    return released;
  }

  /**
   * What to resend for a peer that processed everything up to `peerSeq` (RS-2,
   * SEQ-9): the unacked messages above it, in order. Returns undefined when the
   * peer is ahead of what was sent (RS-8) or when a message it needs was already
   * released, so the caller must fall back to a snapshot (RS-3, never partial).
   */
  replayAfter(peerSeq: bigint): Sent<T>[] | undefined {
    if (peerSeq > this.lastSent) return undefined;
    if (peerSeq < this.ackedSeq) return undefined;
    // Everything ≤ peerSeq is processed by the peer: count it as acked.
    this.ack(peerSeq);
    return this.unacked.slice(this.head);
  }

  /**
   * Replace every unacked item by `copy(item)`, in place: for a sender that will hold them a while
   * (a detached session, a full window), so a retained frame stops pinning whatever larger buffer
   * it was carved from (fast-codec's slabs). Seqs and byte counts are unchanged.
   */
  compact(copy: (item: T) => T): void {
    for (let i = this.head; i < this.unacked.length; i++) {
      const s = this.unacked[i] as Sent<T>;
      const item = copy(s.item);
      if (item !== s.item) this.unacked[i] = { seq: s.seq, item, bytes: s.bytes };
    }
  }

  /**
   * Continue a stream another process started (issue 12: a session revived from its stored record):
   * the next seq, the cumulative ack and the unacked items, in seq order above `acked`.
   */
  restore(next: bigint, acked: bigint, unacked: readonly Sent<T>[]): void {
    if (acked >= next || unacked.some((s, i) => s.seq <= acked || s.seq >= next || (i > 0 && s.seq <= (unacked[i - 1] as Sent<T>).seq))) {
      throw new RangeError(`restore: unacked seqs must lie in (${acked}, ${next}) in order (SEQ-2)`);
    }
    this.unacked = [...unacked];
    this.head = 0;
    this.nextSeq = next;
    this.ackedSeq = acked;
    this.unackedBytes = unacked.reduce((n, s) => n + s.bytes, 0);
  }

  /** All unacked items, oldest first (client resend after a NEW session, SEQ-9). */
  pending(): Sent<T>[] {
    return this.unacked.slice(this.head);
  }

  /**
   * Start a new seq space (a NEW session): drop the numbering and return the
   * unacked items so the caller can send them again as new messages (SEQ-9).
   */
  reset(): T[] {
    const items = this.pending().map((s) => s.item);
    this.unacked = [];
    this.head = 0;
    this.nextSeq = 1n;
    this.ackedSeq = 0n;
    this.unackedBytes = 0;
    return items;
  }
}

type Cmd =
  | { t: 'send'; bytes: number }
  | { t: 'ack'; seq: bigint }
  | { t: 'acknowledge'; seq: bigint }
  | { t: 'replayAfter'; seq: bigint }
  | { t: 'compact' }
  | { t: 'pending' }
  | { t: 'reset' }
  | { t: 'restore'; drop: number; keepEvery: number }
  | { t: 'window'; window: number }
  | { t: 'ackPart'; frac: number; isList: boolean };

// Rare resets and restores (each starts the arrays afresh), so long streams reach the compaction of the released prefix.
// Seqs near what the log holds (small), and far beyond it (up to 2^64 - 1: an ack beyond, SEQ-6).
const seqArb = fc.oneof({ weight: 8, arbitrary: fc.bigInt({ min: 0n, max: 80n }) }, { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) });
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 40, arbitrary: fc.nat(2000).map((bytes): Cmd => ({ t: 'send', bytes })) },
  { weight: 4, arbitrary: seqArb.map((seq): Cmd => ({ t: 'ack', seq })) },
  { weight: 4, arbitrary: seqArb.map((seq): Cmd => ({ t: 'acknowledge', seq })) },
  { weight: 3, arbitrary: seqArb.map((seq): Cmd => ({ t: 'replayAfter', seq })) },
  { weight: 1, arbitrary: fc.constant<Cmd>({ t: 'compact' }) },
  { weight: 1, arbitrary: fc.constant<Cmd>({ t: 'pending' }) },
  { weight: 1, arbitrary: fc.constant<Cmd>({ t: 'reset' }) },
  { weight: 1, arbitrary: fc.record({ drop: fc.nat(5), keepEvery: fc.integer({ min: 1, max: 3 }) }).map((r): Cmd => ({ t: 'restore', ...r })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 300 }).map((window): Cmd => ({ t: 'window', window })) },
  // An ack of part of what is in flight: long streams with large windows, where the log compacts its released prefix.
  { weight: 16, arbitrary: fc.record({ frac: fc.double({ min: 0, max: 1, noNaN: true }), isList: fc.boolean() }).map((r): Cmd => ({ t: 'ackPart', ...r })) },
);

/** What a call returned or threw, comparable between the two logs. */
function outcome<R>(f: () => R): { ok: R } | { threw: string } {
  try {
    return { ok: f() };
  } catch (err) {
    return { threw: err instanceof ProtocolError ? `${err.name}:${err.message}` : String(err) };
  }
}

function state<T>(l: { next: bigint; lastSent: bigint; acked: bigint; inFlight: number; inFlightBytes: number; hasRoom: boolean; pending(): Sent<T>[] }) {
  return { next: l.next, lastSent: l.lastSent, acked: l.acked, inFlight: l.inFlight, inFlightBytes: l.inFlightBytes, hasRoom: l.hasRoom, pending: l.pending() };
}

describe('OutboundLog (numbers, parallel arrays) equals the Sent-per-send log it replaced', () => {
  test('SEQ-2 SEQ-6 SEQ-7 RS-2 any sends, acks, replays, compactions, resets and restores: same results, errors and state', () => {
    fc.assert(
      fc.property(fc.array(cmdArb, { maxLength: 600, size: 'max' }), fc.integer({ min: 1, max: 400 }), (cmds, window) => {
        const opts: OutboundLogOptions = { window };
        const log = new OutboundLog<string>(opts);
        const ref = new ReferenceLog<string>(opts);
        let n = 0;
        for (const c of cmds) {
          switch (c.t) {
            case 'send': {
              if (!ref.hasRoom) break; // the caller checks hasRoom
              const item = `m${++n}`;
              log.send(item, c.bytes);
              ref.send(item, c.bytes);
              break;
            }
            case 'ack':
              expect(outcome(() => log.ack(c.seq))).toEqual(outcome(() => ref.ack(c.seq)));
              break;
            case 'acknowledge':
              // The server's ack: the same state afterwards as ack(), nothing returned.
              expect(outcome(() => log.acknowledge(c.seq))).toEqual(outcome(() => void ref.ack(c.seq)));
              break;
            case 'replayAfter':
              expect(outcome(() => log.replayAfter(c.seq))).toEqual(outcome(() => ref.replayAfter(c.seq)));
              break;
            case 'compact':
              log.compact((s) => `${s}'`);
              ref.compact((s) => `${s}'`);
              break;
            case 'pending':
              break; // compared below, after every command
            case 'reset':
              expect(log.reset()).toEqual(ref.reset());
              break;
            case 'restore': {
              // A stored record of the reference's stream: some unacked entries dropped from the front, some skipped (gaps).
              const kept = ref.pending().slice(c.drop).filter((_, i) => i % c.keepEvery === 0);
              const acked = kept.length > 0 ? (kept[0] as Sent<string>).seq - 1n : ref.acked;
              expect(outcome(() => log.restore(ref.next, acked, kept))).toEqual(outcome(() => ref.restore(ref.next, acked, kept)));
              break;
            }
            case 'ackPart': {
              const seq = ref.acked + BigInt(Math.round(c.frac * Number(ref.lastSent - ref.acked)));
              if (c.isList) expect(log.ack(seq)).toEqual(ref.ack(seq));
              else {
                log.acknowledge(seq);
                ref.ack(seq);
              }
              break;
            }
            case 'window':
              log.window = c.window;
              ref.window = c.window;
              break;
          }
          expect(state(log)).toEqual(state(ref));
        }
      }),
      { numRuns: 300, endOnFailure: true }, // no shrinking: a failing run of hundreds of commands shrinks for minutes; the seed replays it
    );
  });

  test('restore refuses a stream past 2^53 - 1, where seqs would stop being exact', () => {
    const log = new OutboundLog<string>({ window: 8 });
    expect(() => log.restore(2n ** 53n + 5n, 2n ** 53n + 1n, [])).toThrow(RangeError);
  });
});
