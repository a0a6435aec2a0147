/** Where Inbound's events go: the client's message delivery and its event emitter. */
import type { Message } from '../gen/lifeline/v1/envelope_pb.js';
import type { ClientEvent } from './events.js';
import type { ChannelView, DriftReasonName, InboundEvents } from './inbound.js';

/** The part of the client connection the sink calls. */
export interface InboundSinkTarget<S> {
  /** A server Message in order (Inbound's slow path). */
  deliver(m: Message): void;
  emit(e: ClientEvent<S>): void;
}

/**
 * An object with prototype methods, not an object of three closures per client (issue 16: held by
 * every idle client). Internal: nothing copies it.
 */
export class InboundSink<S> implements InboundEvents<S> {
  constructor(private readonly conn: InboundSinkTarget<S>) {}

  message(m: Message): void {
    this.conn.deliver(m);
  }
  channel(channel: string, view: ChannelView<S>, cause: 'snapshot' | 'patch'): void {
    this.conn.emit({ type: 'channel', channel, version: view.version, state: view.state, cause });
  }
  drift(channel: string, reason: DriftReasonName): void {
    this.conn.emit({ type: 'drift', channel, reason, from: 'client' });
  }
}
