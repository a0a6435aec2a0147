/** The client connection machine's input, from the client's options. */
import type { ClientConnectionInput, TransportKind } from '../spec/machines/client-connection.machine.js';
import type { ClientOptions } from './options.js';

const BOTH_TRANSPORTS: readonly TransportKind[] = Object.freeze(['ws', 'http'] as const);
const WS_ONLY: readonly TransportKind[] = Object.freeze(['ws'] as const);

/**
 * The machine's input for a client with `options`. `hasHttpTransport`: an HTTP carrier is at hand
 * (HT-20); `silenceMs` reads the time since the last frame (HB-8).
 */
export function machineInputOf<S>(
  options: ClientOptions<S>,
  random: () => number,
  silenceMs: () => number,
  hasHttpTransport: boolean,
): ClientConnectionInput {
  // HT-20: both carriers when an HTTP transport is at hand; never one the client has no transport for.
  // The default lists are shared: an idle client holds no array of its own (issue 16).
  const transports =
    options.transports === undefined
      ? hasHttpTransport ? BOTH_TRANSPORTS : WS_ONLY
      : options.transports.filter((t) => t === 'ws' || hasHttpTransport);
  const input: { -readonly [K in keyof ClientConnectionInput]: ClientConnectionInput[K] } = {
    random,
    silenceMs,
    transports,
  };
  // Only the options given (the machine fills in the rest): plain assignments, not a conditional
  // spread per option (a runtime copy each) nor a keyed loop (a megamorphic load each), on every
  // client's construction (issue 16).
  if (options.reconnectBaseMs !== undefined) input.reconnectBaseMs = options.reconnectBaseMs;
  if (options.reconnectCapMs !== undefined) input.reconnectCapMs = options.reconnectCapMs;
  if (options.reconnectMaxAttempts !== undefined) input.reconnectMaxAttempts = options.reconnectMaxAttempts;
  if (options.suspendedRetryMs !== undefined) input.suspendedRetryMs = options.suspendedRetryMs;
  if (options.handshakeTimeoutMs !== undefined) input.handshakeTimeoutMs = options.handshakeTimeoutMs;
  if (options.httpFallbackAfter !== undefined) input.httpFallbackAfter = options.httpFallbackAfter;
  if (options.wsRetryMs !== undefined) input.wsRetryMs = options.wsRetryMs;
  if (options.wsRetryCapMs !== undefined) input.wsRetryCapMs = options.wsRetryCapMs;
  return input;
}
