/**
 * HT-23: the WebSocket probe of a client connected over HTTP. It opens a WebSocket beside the HTTP
 * connection; once that opens, it closes it NORMAL before any Hello (the server allocates nothing for
 * it, HS-7) and tells the machine, which switches (HT-25).
 */
import { codeOf } from '../spec/protocol/close-codes.js';
import type { ClientMachineActor } from './machine-runner.js';
import type { Transport, TransportSocket } from './transport.js';

/** Who holds the probe: its one open probe, and the machine told how it went. */
export interface ProbeOwner {
  probe: TransportSocket | undefined;
  readonly actor: ClientMachineActor;
}

/** Open a probe to `url` over `transport` (the WebSocket one), replacing any probe `owner` holds. */
export function openProbe(owner: ProbeOwner, transport: Transport, url: string, token: string | undefined): void {
  dropProbe(owner);
  let probe: TransportSocket | undefined;
  const settle = (type: 'probe.opened' | 'probe.failed') => {
    if (probe === undefined || probe !== owner.probe) return;
    owner.probe = undefined;
    if (type === 'probe.opened') probe.close(codeOf('NORMAL'), 'HT-23: probe');
    owner.actor.send({ type });
  };
  try {
    probe = transport(url, {
      onOpen: () => settle('probe.opened'),
      onBinary: () => {},
      onText: () => {},
      onClose: () => settle('probe.failed'),
      onRefused: () => settle('probe.failed'),
    }, { token });
    owner.probe = probe;
  } catch {
    queueMicrotask(() => owner.actor.send({ type: 'probe.failed' }));
  }
}

/** Close `owner`'s probe, if any: the machine no longer waits for it. */
export function dropProbe(owner: ProbeOwner): void {
  const p = owner.probe;
  owner.probe = undefined;
  p?.close(codeOf('NORMAL'), 'HT-23: probe abandoned');
}
