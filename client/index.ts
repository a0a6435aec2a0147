/** The Lifeline reference client: public API (`lifeline/client`), browser-safe. */
export { createClient, LifelineClient } from './create-client.js';
export type { ClientEvent, ClientOptions, ClientStats, InboundMessage, ResumeOutcomeName, TokenContext, WelcomeInfo } from './create-client.js';
export { ClientClosedError, ClientFailedError, PayloadTooLargeError, QueueFullError, SendError, type SendErrorKind } from './errors.js';
export type { SendOptions } from './outbound.js';
export type { ChannelView, DriftReasonName } from './inbound.js';
export { bytesReducer, type ChannelReducer } from './reducer.js';
export { systemClock, type ClientClock } from './clock.js';
export { webSocketTransport, type Transport, type TransportHandlers, type TransportSocket, type WebSocketConstructorLike, type WebSocketLike } from './transport.js';
export type { ClientStateName } from '../spec/machines/client-connection.machine.js';
