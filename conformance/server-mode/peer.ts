/**
 * A raw Lifeline client for server mode over either carrier: the WebSocket (ws-peer.ts) or the HTTP
 * carrier of spec §22 (http-peer.ts). Cases see one `Peer`, whatever carries its frames.
 */
import type { Transcript } from '../framework/transcript.js';
import { openHttpPeer } from './http-peer.js';
import { Peer, type PeerOptions, type Refusal } from './peer-base.js';
import { openWsPeer } from './ws-peer.js';

export { envelope, Peer, type Body, type BodyOf, type Closed, type PeerOptions, type Received, type Refusal, type Transport } from './peer-base.js';

/** Connect over `opts.transport` (default ws); resolves with the open peer or the HTTP refusal. */
export async function openPeer(url: string, label: string, transcript: Transcript, opts: PeerOptions = {}): Promise<Peer | Refusal> {
  return opts.transport === 'http' ? openHttpPeer(url, label, transcript, opts) : openWsPeer(url, label, transcript, opts);
}

export function isRefusal(p: Peer | Refusal): p is Refusal {
  return !(p instanceof Peer);
}
