/**
 * The WebSocket carrier of a server-mode peer: `ws` for the handshake and well-formed frames, raw
 * bytes under it for the frames `ws` refuses to build (text, fragmented, RSV bits, unmasked).
 */
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { SUBPROTOCOL } from '../../spec/protocol/defaults.js';
import type { Transcript } from '../framework/transcript.js';
import { wsFrame, type WsFrameSpec } from '../wire.js';
import { Peer, type PeerOptions, type Refusal } from './peer-base.js';

/** Upgrade; resolves with the open peer or the HTTP refusal. */
export async function openWsPeer(url: string, label: string, transcript: Transcript, opts: PeerOptions = {}): Promise<WsPeer | Refusal> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.origin) headers.origin = opts.origin;
  const ws = new WebSocket(url, [...(opts.protocols ?? [SUBPROTOCOL])], {
    headers,
    autoPong: opts.autoPong ?? true,
    // The runner must see oversized frames from the server too; it never limits what it reads.
    maxPayload: 256 * 1024 * 1024,
    handshakeTimeout: 5000,
    perMessageDeflate: opts.perMessageDeflate ?? true,
  });
  return new Promise<WsPeer | Refusal>((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      transcript.event(label, `upgrade refused: HTTP ${res.statusCode}`);
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => resolve(new WsPeer(ws, label, transcript, opts)));
    ws.once('error', (err) => reject(new Error(`${label}: cannot connect to ${url}: ${err.message}`)));
  });
}

export class WsPeer extends Peer {
  readonly transport = 'ws' as const;
  private pingCount = 0;

  constructor(
    private readonly socket: WebSocket,
    label: string,
    transcript: Transcript,
    opts: PeerOptions,
  ) {
    super(label, transcript, opts);
    socket.on('message', (data, isBinary) => {
      const bytes = toBytes(data);
      if (!isBinary) {
        if (bytes.byteLength > this.largestFrameBytes) this.largestFrameBytes = bytes.byteLength;
        this.textFrames++;
        transcript.event(label, `← text frame (${bytes.length} B)`);
        this.wake();
        return;
      }
      this.received(bytes);
    });
    socket.on('ping', () => {
      this.pingCount++;
      this.wake();
    });
    socket.on('close', (code, reason) => this.ended(code, reason.toString(), code === 1006));
    socket.on('error', () => {
      // surfaced through 'close'
    });
  }

  get ws(): WebSocket {
    return this.socket;
  }

  get pings(): number {
    return this.pingCount;
  }

  get open(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  protected write(bytes: Uint8Array): void {
    this.socket.send(bytes, { binary: true });
  }

  sendText(text: string): void {
    this.transcript.event(this.label, `→ text frame ${JSON.stringify(text.slice(0, 40))}`);
    this.socket.send(text, { binary: false });
  }

  /** One hand-built WebSocket frame written under ws (invalid UTF-8, RSV bits, unmasked: CC-11). */
  sendRawFrame(f: WsFrameSpec, what: string): void {
    this.transcript.event(this.label, `→ raw frame: ${what}`);
    this.rawSocket()?.write(wsFrame(f));
  }

  /** One message split over several WebSocket frames (continuation frames). */
  sendFragmented(bytes: Uint8Array, parts: number): void {
    this.transcript.event(this.label, `→ ${bytes.length} B in ${parts} fragments`);
    const size = Math.ceil(bytes.length / parts);
    for (let i = 0; i < parts; i++) {
      const chunk = bytes.subarray(i * size, Math.min(bytes.length, (i + 1) * size));
      this.socket.send(chunk, { binary: true, fin: i === parts - 1 });
    }
  }

  /** Stop reading from the TCP socket: the server's writes pile up (slow consumer). */
  pauseReading(): void {
    this.transcript.event(this.label, 'stops reading');
    this.rawSocket()?.pause();
  }

  resumeReading(): void {
    this.transcript.event(this.label, 'reads again');
    this.rawSocket()?.resume();
  }

  /** Disappear without a close frame: destroy the TCP socket (a silent disconnect). */
  vanish(): void {
    this.transcript.event(this.label, 'vanishes (TCP destroyed, no close frame)');
    this.stopHeartbeats();
    this.rawSocket()?.destroy();
    this.socket.terminate();
  }

  close(code = 1000, reason = ''): void {
    this.stopHeartbeats();
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.close(code, reason);
  }

  destroy(): void {
    this.stopHeartbeats();
    this.socket.terminate();
  }

  private rawSocket(): Socket | undefined {
    return (this.socket as unknown as { _socket?: Socket })._socket;
  }
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data as Buffer[]));
  return new Uint8Array(data as ArrayBuffer);
}
