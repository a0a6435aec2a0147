/**
 * The session rules as pure functions (issue 12, one decision path): sequencing of what a receiver
 * gets (SEQ-3, SEQ-4, SEQ-5, SEQ-6, SEQ-10, BP-14, BP-17) and liveness counting (HB-2, HB-3, HB-7,
 * HB-8). They are the normative pure forms of spec §7 and §8 (spec §7.10). Each one is written
 * once: the server session machine's guards call them, the server's hot paths (ingress.ts, the
 * sweep) call them, the InboundCursor and both receivers' ack timing call them. A test steps the
 * machine and checks that the hot path's composite decision is the transition the machine takes.
 *
 * Plain numbers and bigints in, a verdict out: no state, no clock, no allocation.
 */

/** How an arriving seq relates to what the receiver has accepted (SEQ-3, SEQ-4). */
export type Arrival = 'next' | 'duplicate' | 'gap';

/**
 * SEQ-3, SEQ-4: `seq` against the highest seq accepted contiguously. At or below it: a duplicate
 * (discarded, still acknowledged); exactly one above: the next; further: a gap (never processed).
 */
export function arrivalOf(seq: bigint, lastAccepted: bigint): Arrival {
  if (seq <= lastAccepted) return 'duplicate'; // SEQ-3
  if (seq === lastAccepted + 1n) return 'next';
  return 'gap'; // SEQ-4
}

/** SEQ-6: an Ack naming a seq that was never sent is a protocol error. */
export function isAckBeyondSent(ackSeq: bigint, lastSent: bigint): boolean {
  return ackSeq > lastSent;
}

/**
 * BP-17: a sender may have at most the window it was granted beyond the last seq acknowledged to it
 * (an Ack written, or Welcome.last_client_seq).
 */
export function isBeyondWindow(seq: bigint, lastAckSent: bigint, receiveWindow: number): boolean {
  return seq > lastAckSent + BigInt(receiveWindow);
}

/**
 * Where the server stands in the client's seq space when a Message arrives: what the rules of
 * `decideClientMessage` read besides the Message itself.
 */
export interface InboundPosition {
  /** Highest client seq accepted for processing, contiguously (SEQ-3, SEQ-4). */
  readonly lastAccepted: bigint;
  /** Highest client seq acknowledged to the client (BP-17). */
  readonly lastAckSent: bigint;
  /** The window the server granted in Welcome.receive_window (BP-17). */
  readonly receiveWindow: number;
}

/** What becomes of a client Message, named by the rule that decides it. */
export type MessageRule = 'BP-14' | 'BP-17' | 'SEQ-4' | 'SEQ-3' | 'SEQ-10';

/**
 * A client Message of an attached session, in the order of the session machine's guards
 * (`frame.message` on `attached`): over the message rate (BP-14), beyond the granted window (BP-17,
 * before the gap: a flood is contiguous), a gap (SEQ-4), a duplicate (SEQ-3), else deliver (SEQ-10).
 * `isOverRate` is the rate limiter's verdict for this Message (it takes a token, so the caller asks
 * it once).
 */
export function decideClientMessage(seq: bigint, isOverRate: boolean, lastAccepted: bigint, lastAckSent: bigint, receiveWindow: number): MessageRule {
  if (isOverRate) return 'BP-14';
  if (isBeyondWindow(seq, lastAckSent, receiveWindow)) return 'BP-17';
  const arrival = arrivalOf(seq, lastAccepted);
  if (arrival === 'gap') return 'SEQ-4';
  if (arrival === 'duplicate') return 'SEQ-3';
  return 'SEQ-10';
}

/**
 * SEQ-5: an Ack is due at once (not after the ack delay) when half the peer's window is processed
 * but unacknowledged. A window below 1 counts as 1.
 */
export function isAckDueNow(unacked: number, peerWindow: number): boolean {
  return unacked > 0 && unacked * 2 >= Math.max(1, peerWindow);
}

/** HB-3: at a tick, more pings unanswered than the missed max. */
export function isMissedTooMany(missed: number, missedMax: number): boolean {
  return missed > missedMax;
}

/**
 * HB-7: this tick makes the silence reach the client's interval × (missed max + 1), in base ticks;
 * `clientSteps` is the client's interval in base intervals (1 with a fixed interval, HB-11).
 */
export function isSilentTooLong(silentTicks: number, missedMax: number, clientSteps: number): boolean {
  return silentTicks + 1 > (missedMax + 1) * clientSteps;
}

/** What one tick of a fixed-interval sweep does to a session: drop it (HB-3, HB-7) or ping it (HB-1). */
export type FixedTick = 'HB-3' | 'HB-7' | 'ping';

/**
 * One visit of the sweep at a fixed interval (HB-10: heartbeat_interval_max = the interval), in the
 * order of the machine's `sweep.tick` guards: HB-3 first (terminate), then HB-7 (close), else ping
 * (HB-1), which raises both counts (the machine's `visit`). Every frame resets them (HB-8), a pong
 * resets the unanswered pings (HB-2).
 */
export function fixedIntervalTick(missed: number, silentTicks: number, missedMax: number): FixedTick {
  if (isMissedTooMany(missed, missedMax)) return 'HB-3';
  if (isSilentTooLong(silentTicks, missedMax, 1)) return 'HB-7';
  return 'ping';
}
