/**
 * Test support for client tests (Node, tests only): a fake transport driven by the test, for
 * deterministic runs under XState's SimulatedClock, and a fake server built from `ws` and the codec
 * for runs over real loopback sockets.
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  AckSchema,
  DrainNoticeSchema,
  EnvelopeSchema,
  MessageSchema,
  ResumeOutcome,
  ResumeReason,
  ResumeResultSchema,
  SnapshotSchema,
  StatePatchSchema,
  SubscribedSchema,
  WelcomeSchema,
  type Envelope,
  type Hello,
} from '../../gen/lifeline/v1/envelope_pb.js';
import { decode, decodeOrThrow, encode } from '../../spec/protocol/codec.js';
import { SUBPROTOCOL } from '../../spec/protocol/defaults.js';
import type { Transport, TransportHandlers, TransportSocket } from '../../client/transport.js';

type Body = Envelope['body'];
type BodyCase = NonNullable<Body['case']>;
/** The value type of one body case. */
export type BodyOf<K extends BodyCase> = Extract<Body, { case: K }> extends { value: infer V } ? V : never;

export interface WelcomeInit {
  readonly sessionId?: string;
  readonly outcome?: ResumeOutcome;
  readonly reason?: ResumeReason;
  readonly fromSeq?: bigint;
  readonly replayed?: number;
  readonly lastClientSeq?: bigint;
  readonly receiveWindow?: number;
  readonly heartbeatIntervalMs?: number;
  readonly heartbeatMissedMax?: number;
  readonly maxPayloadBytes?: number;
  /** Welcome.capabilities, e.g. ['subscribed'] (CH-4). */
  readonly capabilities?: readonly string[];
}

export function welcomeEnvelope(w: WelcomeInit = {}): Envelope {
  const outcome = w.outcome ?? ResumeOutcome.NEW;
  const welcome = create(WelcomeSchema, {
    sessionId: w.sessionId ?? 'sess-1',
    heartbeatIntervalMs: w.heartbeatIntervalMs ?? 10_000,
    heartbeatMissedMax: w.heartbeatMissedMax ?? 2,
    maxPayloadBytes: w.maxPayloadBytes ?? 1024 * 1024,
    resumeTtlMs: 120_000,
    replayWindowMessages: 1024,
    receiveWindow: w.receiveWindow ?? 256,
    capabilities: [...(w.capabilities ?? [])],
    lastClientSeq: w.lastClientSeq ?? 0n,
    resume: create(ResumeResultSchema, {
      outcome,
      reason: w.reason ?? (outcome === ResumeOutcome.NEW ? ResumeReason.NOT_REQUESTED : ResumeReason.REPLAYED),
      fromSeq: w.fromSeq ?? 1n,
      replayed: w.replayed ?? 0,
    }),
  });
  return create(EnvelopeSchema, { body: { case: 'welcome', value: welcome } });
}

export const env = {
  message: (seq: bigint, payload: string | Uint8Array, o: { channel?: string; messageId?: string } = {}): Envelope =>
    create(EnvelopeSchema, {
      body: { case: 'message', value: create(MessageSchema, { seq, payload: typeof payload === 'string' ? new TextEncoder().encode(payload) : payload, channel: o.channel ?? '', messageId: o.messageId ?? '' }) },
    }),
  snapshot: (seq: bigint, channel: string, version: bigint, state: Uint8Array | string = new Uint8Array(), digest = 0): Envelope =>
    create(EnvelopeSchema, {
      body: { case: 'snapshot', value: create(SnapshotSchema, { seq, channel, version, state: typeof state === 'string' ? new TextEncoder().encode(state) : state, digest }) },
    }),
  patch: (seq: bigint, channel: string, baseVersion: bigint, version: bigint, delta: Uint8Array | string, digest = 0): Envelope =>
    create(EnvelopeSchema, {
      body: { case: 'statePatch', value: create(StatePatchSchema, { seq, channel, baseVersion, version, delta: typeof delta === 'string' ? new TextEncoder().encode(delta) : delta, digest }) },
    }),
  ack: (seq: bigint): Envelope => create(EnvelopeSchema, { body: { case: 'ack', value: create(AckSchema, { seq }) } }),
  subscribed: (channels: string[]): Envelope => create(EnvelopeSchema, { body: { case: 'subscribed', value: create(SubscribedSchema, { channels }) } }),
  drain: (reconnectAfterMs: number, deadlineMs = 10_000, target = ''): Envelope =>
    create(EnvelopeSchema, { body: { case: 'drainNotice', value: create(DrainNoticeSchema, { reconnectAfterMs, deadlineMs, target }) } }),
  of: (body: MessageInitShape<typeof EnvelopeSchema>['body']): Envelope => create(EnvelopeSchema, { body }),
};

/** Bodies of a given case from a list of envelopes. */
export function bodies<K extends BodyCase>(list: readonly Envelope[], k: K): BodyOf<K>[] {
  return list.filter((e) => e.body.case === k).map((e) => e.body.value as unknown as BodyOf<K>);
}

// ---------------------------------------------------------------------------------------------
// Fake transport (no sockets): the test plays the server.

export class FakeSocket implements TransportSocket {
  /** Every frame the client wrote, decoded. */
  readonly sent: Envelope[] = [];
  closedWith: { code: number; reason: string } | undefined;
  bufferedAmount = 0;

  constructor(readonly url: string, private readonly h: TransportHandlers, readonly token: string | undefined) {}

  send(bytes: Uint8Array): void {
    if (this.closedWith) throw new Error('write after close');
    this.sent.push(decodeOrThrow(bytes, { from: 'client' }));
  }
  close(code: number, reason: string): void {
    this.closedWith = { code, reason };
  }

  // The server side:
  open(): void {
    this.h.onOpen();
  }
  deliver(e: Envelope): void {
    this.h.onBinary(encode(e));
  }
  deliverBytes(b: Uint8Array): void {
    this.h.onBinary(b);
  }
  deliverText(): void {
    this.h.onText();
  }
  /** The connection ended from the server's side (or the network): no more reads or writes. */
  isServerClosed = false;
  serverClose(code: number, reason = ''): void {
    this.isServerClosed = true;
    this.h.onClose(code, reason);
  }
  refuse(status: number, retryAfterMs?: number): void {
    this.h.onRefused(status, retryAfterMs);
  }
  welcome(w: WelcomeInit = {}): void {
    this.deliver(welcomeEnvelope(w));
  }
  get hello(): Hello | undefined {
    const first = this.sent[0];
    return first?.body.case === 'hello' ? first.body.value : undefined;
  }
  /** Bodies of one case the client sent. */
  of<K extends BodyCase>(k: K): BodyOf<K>[] {
    return bodies(this.sent, k);
  }
}

export function fakeNetwork() {
  const sockets: FakeSocket[] = [];
  const transport: Transport = (url, handlers, { token }) => {
    const s = new FakeSocket(url, handlers, token);
    sockets.push(s);
    return s;
  };
  return {
    transport,
    sockets,
    get last(): FakeSocket {
      const s = sockets.at(-1);
      if (!s) throw new Error('no socket opened yet');
      return s;
    },
  };
}

/** Let promise callbacks (getToken) run. */
export async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

// ---------------------------------------------------------------------------------------------
// Fake server over real loopback sockets.

export class FakeConn {
  readonly frames: Envelope[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket, readonly req: IncomingMessage) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return;
      const r = decode(new Uint8Array(data), { from: 'client' });
      if (r.ok) this.frames.push(r.envelope);
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  send(e: Envelope): void {
    this.ws.send(encode(e));
  }
  welcome(w: WelcomeInit = {}): void {
    this.send(welcomeEnvelope(w));
  }
  /** Wait until `pick` finds something in the frames received so far. */
  async waitFor<T>(pick: (frames: readonly Envelope[]) => T | undefined, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = pick(this.frames);
      if (v !== undefined) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('FakeConn.waitFor timed out');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
  async hello(): Promise<Hello> {
    return this.waitFor((f) => (f[0]?.body.case === 'hello' ? f[0].body.value : undefined));
  }
}

export interface FakeServerOptions {
  /** Answer the upgrade with an HTTP status instead (HS-1 … HS-6). */
  readonly refuse?: (req: IncomingMessage) => { status: number; headers?: Record<string, string> } | undefined;
}

export class FakeServer {
  readonly conns: FakeConn[] = [];
  private waiters: (() => void)[] = [];

  private constructor(private readonly wss: WebSocketServer, readonly url: string) {}

  static async start(o: FakeServerOptions = {}): Promise<FakeServer> {
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
      verifyClient: (info, cb) => {
        const r = o.refuse?.(info.req);
        if (r) cb(false, r.status, 'refused', r.headers);
        else cb(true);
      },
    });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const port = (wss.address() as AddressInfo).port;
    const server = new FakeServer(wss, `ws://127.0.0.1:${port}/lifeline`);
    wss.on('connection', (ws, req) => {
      server.conns.push(new FakeConn(ws, req));
      for (const w of server.waiters.splice(0)) w();
    });
    return server;
  }

  /** The n-th connection (0-based), once it exists. */
  async conn(n: number, timeoutMs = 5000): Promise<FakeConn> {
    const deadline = Date.now() + timeoutMs;
    while (this.conns.length <= n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no connection #${n}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.conns[n] as FakeConn;
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

/** Advance a SimulatedClock one timer deadline at a time (shared with the machine tests). */
export { advanceClock } from '../../spec/machines/simulated-time.js';
