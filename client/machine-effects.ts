/**
 * The client connection machine's effects (its action stubs and its getToken actor) as calls on the
 * connection that performs them: one switch for both drivers, ClientMachineRunner and the inspected
 * actor (live-machine.ts).
 */
import type {
  CloseSocketParams,
  GetTokenInput,
  OpenProbeParams,
  OpenSocketParams,
  SendHelloParams,
  TransportKind,
} from '../spec/machines/client-connection.machine.js';
import type { ClientOptions } from './options.js';

/** What performs the effects: the client connection. */
export interface EffectTarget {
  openSocket(target: string, token: string | undefined, kind: TransportKind): void;
  openProbe(target: string, token: string | undefined): void;
  sendHello(sessionId: string, token: string | undefined): void;
  acceptWelcome(): void;
  sendHeartbeat(): void;
  closeSocket(code: number, reason: string): void;
}

/** Run the machine's action `type` with its resolved params (closeProbe is the caller's, it cannot throw). */
export function runEffect(target: EffectTarget, type: string, params: unknown): void {
  switch (type) {
    case 'openSocket': {
      const p = params as OpenSocketParams;
      target.openSocket(p.target, p.token, p.transport);
      return;
    }
    case 'openProbe': {
      const p = params as OpenProbeParams;
      target.openProbe(p.target, p.token);
      return;
    }
    case 'sendHello': {
      const p = params as SendHelloParams;
      target.sendHello(p.sessionId, p.token);
      return;
    }
    case 'acceptWelcome':
      target.acceptWelcome();
      return;
    case 'sendHeartbeat':
      target.sendHeartbeat();
      return;
    case 'closeSocket': {
      const p = params as CloseSocketParams;
      target.closeSocket(p.code, p.reason);
      return;
    }
    default:
      throw new Error(`lifeline client: no effect for the machine's action ${type}`);
  }
}

/** The token of a client without getToken, for every attempt (RC-5). */
const NO_TOKEN: Promise<string | undefined> = Promise.resolve(undefined);

async function fetchTokenOf(getToken: NonNullable<ClientOptions<unknown>['getToken']>, input: GetTokenInput): Promise<string | undefined> {
  return await getToken({ forceRefresh: input.forceRefresh, sessionId: input.sessionId || undefined });
}

/** RC-5: the application's getToken for one attempt. */
export function tokenFor(getToken: ClientOptions<unknown>['getToken'], input: GetTokenInput): Promise<string | undefined> {
  // Without getToken, one shared settled promise: its then() runs a microtask later, as the
  // async function's did (issue 16: no promise of its own per connect).
  return getToken ? fetchTokenOf(getToken, input) : NO_TOKEN;
}
