/**
 * In-process stand-ins for sockets, for the liveness scenario at 50,000
 * sessions: the machine's open-file limit (20,000 here) cannot hold 50,000 real
 * connections on each side, so the socket part is faked and everything above it
 * (Connection, frames, session machine, sweep) is the real server.
 *
 * Attaching a fake uses the server's private ws transport, `adopt()` (the same
 * call a real upgrade ends in): bench-only, and the one place the bench relies
 * on server/ internals rather than its public API.
 */
import { create } from '@bufbuild/protobuf';
import { EventEmitter } from 'node:events';
import { EnvelopeSchema, HeartbeatSchema, HelloSchema } from '../../gen/lifeline/v1/envelope_pb.js';
import { encode } from '../../spec/protocol/codec.js';
import { PROTOCOL_VERSION, SUBPROTOCOL } from '../../spec/protocol/defaults.js';
import type { LifelineServer } from './lifeline.js';

/** The subset of ws's WebSocket the server touches. */
export class FakeSocket extends EventEmitter {
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readyState = 1;
  bufferedAmount = 0;
  readonly protocol = SUBPROTOCOL;
  pings = 0;
  framesOut = 0;
  /** Pongs are answered by the peer simulation, in batches (see FakePeers). */
  onPing: ((s: FakeSocket) => void) | undefined;

  send(_data: Uint8Array, _opts?: unknown, cb?: (err?: Error) => void): void {
    this.framesOut++;
    if (cb) queueMicrotask(() => cb());
  }
  ping(): void {
    this.pings++;
    this.onPing?.(this);
  }
  pong(): void {}
  close(code?: number): void {
    if (this.readyState >= 2) return;
    this.readyState = 3;
    setImmediate(() => this.emit('close', code ?? 1005, Buffer.alloc(0)));
  }
  terminate(): void {
    this.close(1006);
  }
}

const helloBytes = Buffer.from(
  encode(create(EnvelopeSchema, { body: { case: 'hello', value: create(HelloSchema, { protocolVersion: PROTOCOL_VERSION, agent: 'fake' }) } })),
);

function heartbeatBytes(id: number): Buffer {
  return Buffer.from(encode(create(EnvelopeSchema, { body: { case: 'heartbeat', value: create(HeartbeatSchema, { id, sentAtMs: 1n }) } })));
}

/**
 * N fake peers attached to a real server: they answer pings with pongs (in
 * batches of `batch` per macrotask, as pongs arrive in separate reads) and send
 * application heartbeats spread over the interval (HB-5).
 */
export class FakePeers {
  readonly sockets: FakeSocket[] = [];
  private pending: FakeSocket[] = [];
  private isFlushing = false;
  private hbTimer: ReturnType<typeof setInterval> | undefined;
  private hbNext = 0;

  constructor(private readonly srv: LifelineServer, private readonly batch = 100) {}

  async attach(n: number): Promise<void> {
    const ws = (this.srv as unknown as { wsTransport: { adopt(ws: unknown, info: { principal: string; req: unknown; upgradeStartedAtMs: number }): unknown } }).wsTransport;
    for (let i = 0; i < n; i++) {
      const s = new FakeSocket();
      s.onPing = (x) => this.queuePong(x);
      ws.adopt(s, { principal: 'anonymous', req: { socket: { remoteAddress: '127.0.0.1' }, headers: {} }, upgradeStartedAtMs: Date.now() });
      s.emit('message', helloBytes, true);
      this.sockets.push(s);
      if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
    }
  }

  private queuePong(s: FakeSocket): void {
    this.pending.push(s);
    if (this.isFlushing) return;
    this.isFlushing = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    const now = this.pending.splice(0, this.batch);
    for (const s of now) if (s.readyState === 1) s.emit('pong', Buffer.alloc(0));
    if (this.pending.length > 0) setImmediate(() => this.flush());
    else this.isFlushing = false;
  }

  /** Each peer sends one Heartbeat per interval, spread over it in 100 steps. */
  startHeartbeats(intervalMs: number): void {
    const steps = 100;
    const bytes = heartbeatBytes(1);
    this.hbTimer = setInterval(() => {
      const per = Math.ceil(this.sockets.length / steps);
      for (let k = 0; k < per; k++) {
        const s = this.sockets[this.hbNext++ % this.sockets.length];
        if (s && s.readyState === 1) s.emit('message', bytes, true);
      }
    }, intervalMs / steps);
  }

  stop(): void {
    if (this.hbTimer) clearInterval(this.hbTimer);
  }

  get open(): number {
    return this.sockets.filter((s) => s.readyState === 1).length;
  }
}
