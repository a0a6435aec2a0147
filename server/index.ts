/**
 * The Lifeline reference server: public API (`lifeline/server`).
 *
 * @module lifeline/server
 */
export { createServer, LifelineServer } from './server.js';
export type {
  ChannelState,
  ClientMessage,
  DrainOptions,
  LifelineSession,
  MaybePromise,
  PolicyName,
  Principal,
  PublishMessage,
  PublishPatch,
  ResumeResultName,
  ServerEvents,
  ServerStats,
  SessionStats,
  SessionView,
  SweepStats,
} from './types.js';
export type { LifelineServerOptions } from './options.js';
export type { ListenOptions } from './listen.js';
export { lifelineHttpServerOptions, policyByName } from './options.js';
export { createTicketIssuer, ticketAuthenticator, type TicketIssuer, type TicketIssuerOptions } from './tickets.js';
export { MemorySessionStore, type MemorySessionStoreOptions } from './stores/memory-session-store.js';
export { SessionExistsError, StaleFenceError, type ClaimLost, type EndReason, type Health, type MaybePromise as StoreMaybePromise, type RecordDelta, type SessionStore } from './stores/session-store.js';
export type { MachineRecord, OwnerClaim, PlainData, ReplayFrame, SessionRecord, SubscriptionRecord } from './stores/session-record.js';
export { decodeRecord, encodeRecord, RecordCodecError } from './stores/record-codec.js';
export { comparePositions, MemoryBroker, TRIMMED, type Broker, type DeliverLocally, type Publication } from './stores/broker.js';
export { staticHandler, type StaticMount } from './http.js';
export type { Clock } from './clock.js';
