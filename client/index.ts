/** The Lifeline reference client: public API (`lifeline/client`), browser-safe. */
export { createClient, LifelineClient } from './create-client.js';
export type { ClientEvent, ClientEventOf, ClientEventType, ClientOptions, ClientStats, InboundMessage, MaybePromise, ResumeOutcomeName, TokenContext, WelcomeInfo } from './create-client.js';
export {
  ClientClosedError,
  ClientFailedError,
  InvalidMessageError,
  PayloadTooLargeError,
  QueueFullError,
  SendError,
  SubscribeError,
  type SendErrorKind,
  type SubscribeErrorKind,
} from './errors.js';
export type { SendOptions } from './outbound.js';
export type { ChannelView, DriftReasonName } from './inbound.js';
export { bytesReducer, type ChannelReducer } from './reducer.js';
export { systemClock, type ClientClock } from './clock.js';
export { webSocketTransport, type Transport, type TransportHandlers, type TransportSocket, type WebSocketConstructorLike, type WebSocketLike } from './transport.js';
export type { ClientStateName, TransportKind } from '../spec/machines/client-connection.machine.js';
export { httpTransport, carrierUrl, type BodyListener, type FetchInit, type FetchLike, type FetchResponse, type HttpTransportOptions } from './transports/http.js';
