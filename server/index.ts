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
export { ReplayCapError, SessionExistsError, StaleFenceError, type ClaimLost, type EndReason, type Health, type LeaseState, type MaybePromise as StoreMaybePromise, type RecordDelta, type ReleaseRequested, type SessionStore } from './stores/session-store.js';
export type { MachineRecord, OwnerClaim, PlainData, ReplayFrame, SessionRecord, SubscriptionRecord } from './stores/session-record.js';
export { decodeRecord, encodeRecord, RecordCodecError } from './stores/record-codec.js';
export { BrokerUnavailableError, comparePositions, MemoryBroker, TRIMMED, type Broker, type DeliverLocally, type GapListener, type Publication } from './stores/broker.js';
// Several nodes in one process (tests, a demo): one in-memory "Redis". Redis itself is `lifeline/server/redis` (no ioredis here).
export { HubBroker, MemoryHub, type MemoryHubOptions } from './stores/memory-hub.js';
export { staticHandler, type StaticMount } from './http.js';
export type { Clock } from './clock.js';
