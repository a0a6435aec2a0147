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
export { MemoryFanOut, MemorySessionStore, type FanOut, type SessionStore } from './stores.js';
export { staticHandler, type StaticMount } from './http.js';
export type { Clock } from './clock.js';
