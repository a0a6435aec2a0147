/**
 * CC-10 in both modes: the runner's side of a connection stops reading what
 * arrives, so the ws library never sees, and never answers, the peer's close
 * frame; the runner still learns when the peer destroys the TCP connection
 * (FIN or RST), which a paused socket would hide.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

export interface Deafened {
  /** performance.now() when the peer ended the TCP connection; undefined while it is open. */
  endedAt: number | undefined;
  /** Bytes that arrived after deafening (the close frame among them). */
  bytesIgnored: number;
}

export function deafen(ws: WebSocket, onEnd: () => void = () => undefined): Deafened {
  const socket = (ws as unknown as { _socket?: Socket })._socket;
  if (!socket) throw new Error('no socket to deafen');
  const state: Deafened = { endedAt: undefined, bytesIgnored: 0 };
  socket.removeAllListeners('data'); // ws's reader: without it no frame (close included) is parsed
  socket.on('data', (d: Buffer) => {
    state.bytesIgnored += d.byteLength;
  });
  const ended = () => {
    if (state.endedAt === undefined) {
      state.endedAt = performance.now();
      onEnd();
    }
  };
  socket.once('end', ended);
  socket.once('close', ended);
  socket.on('error', () => undefined);
  return state;
}
