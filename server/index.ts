/**
 * The Lifeline reference server: public API (`lifeline/server`).
 *
 * @module lifeline/server
 */
export { createServer, LifelineServer } from './server.js';
export type { DrainOptions, ResumeResultName, ServerEvents, ServerStats } from './types.js';
export type { ListenOptions } from './listen.js';
export type {
  ChannelState,
  ClientMessage,
  LifelineServerOptions,
  LifelineSession,
  PolicyName,
  Principal,
  PublishMessage,
  PublishPatch,
  SessionView,
} from './options.js';
export { lifelineHttpServerOptions, policyByName } from './options.js';
export type { SessionStats } from './session.js';
export type { SweepStats } from './sweep.js';
export { createTicketIssuer, ticketAuthenticator, type TicketIssuer, type TicketIssuerOptions } from './tickets.js';
export { MemorySessionStore, type MemorySessionStoreOptions } from './stores/memory-session-store.js';
export { SessionExistsError, StaleFenceError, type EndReason, type MaybePromise as StoreMaybePromise, type SessionStore } from './stores/session-store.js';
export type { MachineRecord, OwnerClaim, PlainData, ReplayFrame, SessionRecord, SubscriptionRecord } from './stores/session-record.js';
export { decodeRecord, encodeRecord, RecordCodecError } from './stores/record-codec.js';
export { MemoryBroker, type Broker, type DeliverLocally, type Publication } from './stores/broker.js';
export { staticHandler, type StaticMount } from './http.js';
export type { Clock } from './clock.js';
