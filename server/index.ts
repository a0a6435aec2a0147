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
export { MemoryFanOut, MemorySessionStore, type FanOut, type SessionStore } from './stores.js';
export { staticHandler, type StaticMount } from './http.js';
export type { Clock } from './clock.js';
