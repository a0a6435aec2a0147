/**
 * What a LifelineClient tells its application: the event types, and the emitter behind `on()` and
 * `onEvent()`. Browser-safe.
 */
import { ResumeOutcome, ResumeReason, type Welcome } from '../gen/lifeline/v1/envelope_pb.js';
import type { ClientStateName, TransportKind } from '../spec/machines/client-connection.machine.js';
import type { SendError } from './errors.js';
import type { DriftReasonName } from './inbound.js';

/** How a Welcome continued the session (RS-5). */
export type ResumeOutcomeName = 'new' | 'resumed' | 'snapshot';

/** What the last Welcome said, as the client's `welcome` event and `ready()` give it. */
export interface WelcomeInfo {
  readonly sessionId: string;
  readonly outcome: ResumeOutcomeName;
  /** ResumeReason name, e.g. UNKNOWN_SESSION, REPLAYED (RS-5). */
  readonly reason: string;
  readonly fromSeq: bigint;
  readonly replayed: number;
  readonly heartbeatIntervalMs: number;
  readonly receiveWindow: number;
  /** The carrier this Welcome came over (HT-20): a WebSocket or the HTTP transport. */
  readonly transport: TransportKind;
}

/** One application message from the server (SEQ-1), processed in order and at most once. */
export interface InboundMessage {
  readonly seq: bigint;
  readonly channel: string;
  readonly key: string;
  readonly messageId: string;
  readonly payload: Uint8Array;
  readonly droppedBefore: number;
}

/** Every event a client emits; `type` names it. `S` is the channel state type of the reducer. */
export type ClientEvent<S> =
  /** The RC-1 state changed. */
  | { readonly type: 'state'; readonly state: ClientStateName; readonly previous: ClientStateName; readonly transport: TransportKind }
  /** A Welcome arrived: the connection is (again) in service (HS-9, RS-5). */
  | ({ readonly type: 'welcome' } & WelcomeInfo)
  /** An application message (SEQ-10). */
  | ({ readonly type: 'message' } & InboundMessage)
  /** A channel's state changed by a Snapshot or a StatePatch (SD-1, SD-4). */
  | { readonly type: 'channel'; readonly channel: string; readonly version: bigint; readonly state: S; readonly cause: 'snapshot' | 'patch' }
  /** A channel (or the session, channel '') drifted and a Snapshot was asked for (SD-2, SD-6). */
  | { readonly type: 'drift'; readonly channel: string; readonly reason: DriftReasonName | 'server'; readonly from: 'client' | 'server' }
  /** A HeartbeatAck measured the round trip (HB-9). */
  | { readonly type: 'rtt'; readonly rttMs: number; readonly smoothedRttMs: number }
  /** The server is draining this connection (DR-6). */
  | { readonly type: 'drain'; readonly reconnectAfterMs: number; readonly deadlineMs: number; readonly target: string }
  /** A connection ended: the code the client sent (byClient) or observed. */
  | { readonly type: 'closed'; readonly code: number; readonly reason: string; readonly byClient: boolean }
  /** The upgrade was answered with an HTTP status (HS-1 … HS-6). */
  | { readonly type: 'refused'; readonly status: number; readonly retryAfterMs: number | undefined }
  /** A message given to `post()` could not be delivered (BP-13, WIRE-4, RC-6, RC-9). */
  | { readonly type: 'sendFailed'; readonly messageId: string; readonly error: SendError }
  /** Something went wrong that the client handled: a server's protocol violation, a platform error. */
  | { readonly type: 'error'; readonly error: Error };

/** The names of the client's events. */
export type ClientEventType = ClientEvent<unknown>['type'];

/** The event of one type. */
export type ClientEventOf<S, K extends ClientEventType> = Extract<ClientEvent<S>, { type: K }>;

type Listener<S> = (e: ClientEvent<S>) => void;

interface Entry<S> {
  /** undefined: every event. */
  readonly type: ClientEventType | undefined;
  readonly fn: Listener<S>;
}

/**
 * The client's listeners, called in the order they were added. The list is copied on change, not on
 * emit (emit runs per inbound message): a listener added or removed while emitting takes effect from
 * the next event.
 */
export class ClientEmitter<S> {
  private entries: readonly Entry<S>[] = [];

  /** Listen to one event type; returns the function that stops listening. */
  on<K extends ClientEventType>(type: K, fn: (e: ClientEventOf<S, K>) => void): () => void {
    // Only events of type K reach it (emit checks the type).
    return this.add({ type, fn: fn as unknown as Listener<S> });
  }

  /** Listen to every event; returns the function that stops listening. */
  onEvent(fn: Listener<S>): () => void {
    return this.add({ type: undefined, fn });
  }

  /** Someone listens: an event without listeners need not be built (issue 16). */
  get hasListeners(): boolean {
    return this.entries.length > 0;
  }

  emit(e: ClientEvent<S>): void {
    for (const l of this.entries) {
      if (l.type !== undefined && l.type !== e.type) continue;
      try {
        l.fn(e);
      } catch {
        // A listener's failure is the application's; it must not break the connection.
      }
    }
  }

  private add(entry: Entry<S>): () => void {
    this.entries = [...this.entries, entry];
    return () => {
      this.entries = this.entries.filter((x) => x !== entry);
    };
  }
}

const RESUME_OUTCOME: Record<number, ResumeOutcomeName> = {
  [ResumeOutcome.NEW]: 'new',
  [ResumeOutcome.RESUMED]: 'resumed',
  [ResumeOutcome.SNAPSHOT]: 'snapshot',
};

/** The application's view of a Welcome. */
export function welcomeInfo(w: Welcome, transport: TransportKind): WelcomeInfo {
  return {
    sessionId: w.sessionId,
    outcome: RESUME_OUTCOME[w.resume?.outcome ?? ResumeOutcome.NEW] ?? 'new',
    reason: ResumeReason[w.resume?.reason ?? ResumeReason.UNSPECIFIED] ?? 'UNSPECIFIED',
    fromSeq: w.resume?.fromSeq ?? 0n,
    replayed: w.resume?.replayed ?? 0,
    heartbeatIntervalMs: w.heartbeatIntervalMs,
    receiveWindow: w.receiveWindow,
    transport,
  };
}
