/**
 * A loopback TCP proxy that injects network faults between a client and a server (Node, tests only):
 * the in-process stand-in for Toxiproxy or `tc` that half-open, slow-network and drop tests need.
 *
 * - pass: forward both ways.
 * - blackhole: stop forwarding both ways WITHOUT FIN or RST, the half-open case (a Wi-Fi handoff, an
 *   iptables DROP). Sockets stop being read, so bytes pile up in the kernel as in a real partition;
 *   closes are held back too. pass() afterwards resumes, in order, as TCP would after retransmits.
 * - latency: every chunk is delayed by `ms` (order kept).
 * - bandwidth: each direction is limited to `bytesPerSecond` (token bucket, chunks are split).
 * - dropConnections(): reset every open connection (RST on both sides).
 */
import net from 'node:net';

export interface FaultProxyOptions {
  /** Where to forward to. */
  readonly targetPort: number;
  readonly targetHost?: string;
  /** Listen port (default 0: any free port), always on 127.0.0.1. */
  readonly port?: number;
}

export interface FaultState {
  readonly isBlackholed: boolean;
  readonly latencyMs: number;
  /** Bytes per second per direction; undefined = unlimited. */
  readonly bytesPerSecond: number | undefined;
}

interface Chunk {
  data: Buffer;
  dueAt: number;
}

/** One direction of one connection: reads `from`, writes `to`, applying the current faults. */
class Lane {
  private readonly queue: Chunk[] = [];
  private timer: NodeJS.Timeout | undefined;
  private tokens = 0;
  private tokensAt = performance.now();
  private isEnded = false;
  private isWaitingDrain = false;

  constructor(
    private readonly from: net.Socket,
    private readonly to: net.Socket,
    private readonly faults: () => FaultState,
  ) {
    from.on('data', (data: Buffer) => {
      this.queue.push({ data, dueAt: performance.now() + this.faults().latencyMs });
      this.pump();
    });
    from.on('end', () => {
      this.isEnded = true;
      this.pump();
    });
  }

  /** Re-evaluate after a fault change. */
  pump(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const f = this.faults();
    if (f.isBlackholed) {
      this.from.pause(); // nothing read, nothing written, nothing closed: half-open
      return;
    }
    while (this.queue.length > 0) {
      if (this.isWaitingDrain) return;
      const head = this.queue[0] as Chunk;
      const now = performance.now();
      if (head.dueAt > now) {
        this.arm(head.dueAt - now);
        break;
      }
      let data = head.data;
      if (f.bytesPerSecond !== undefined) {
        // A burst of 50 ms worth at most: an idle link does not bank a second of credit.
        const burst = Math.max(1500, f.bytesPerSecond * 0.05);
        this.tokens = Math.min(burst, this.tokens + ((now - this.tokensAt) * f.bytesPerSecond) / 1000);
        this.tokensAt = now;
        const allowed = Math.floor(this.tokens);
        if (allowed <= 0) {
          this.arm(Math.max(1, (1000 / f.bytesPerSecond) * Math.min(data.length, 1024)));
          break;
        }
        if (data.length > allowed) {
          head.data = data.subarray(allowed);
          data = data.subarray(0, allowed);
        } else {
          this.queue.shift();
        }
        this.tokens -= data.length;
      } else {
        this.queue.shift();
      }
      if (this.to.destroyed) return;
      if (!this.to.write(data)) {
        this.isWaitingDrain = true;
        this.to.once('drain', () => {
          this.isWaitingDrain = false;
          this.pump();
        });
      }
    }
    // Backpressure: stop reading while chunks wait, so a slow lane slows the sender.
    if (this.queue.length > 64 || this.isWaitingDrain) this.from.pause();
    else this.from.resume();
    if (this.queue.length === 0 && this.isEnded && !this.to.destroyed) this.to.end();
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, Math.max(1, Math.ceil(ms)));
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

class Link {
  readonly lanes: Lane[];
  private isClosed = false;
  /** A close seen while blackholed, delivered when the path comes back. */
  private heldClose: (() => void) | undefined;

  constructor(
    readonly client: net.Socket,
    readonly upstream: net.Socket,
    private readonly faults: () => FaultState,
    private readonly onGone: (l: Link) => void,
  ) {
    this.lanes = [new Lane(client, upstream, faults), new Lane(upstream, client, faults)];
    const closeBoth = (hadError: boolean) => {
      if (this.isClosed) return;
      const act = () => {
        this.isClosed = true;
        for (const l of this.lanes) l.stop();
        // An error (RST) is passed on as a reset; a clean close was already passed on as 'end'.
        if (hadError) {
          client.resetAndDestroy();
          upstream.resetAndDestroy();
        } else {
          client.destroySoon();
          upstream.destroySoon();
        }
        this.onGone(this);
      };
      if (this.faults().isBlackholed) this.heldClose = act;
      else act();
    };
    client.on('error', () => {});
    upstream.on('error', () => {});
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
  }

  refresh(): void {
    for (const l of this.lanes) l.pump();
    if (!this.faults().isBlackholed && this.heldClose) {
      const act = this.heldClose;
      this.heldClose = undefined;
      act();
    }
  }

  reset(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const l of this.lanes) l.stop();
    this.client.resetAndDestroy();
    this.upstream.resetAndDestroy();
    this.onGone(this);
  }
}

export class FaultProxy {
  private readonly links = new Set<Link>();
  private faults: FaultState = { isBlackholed: false, latencyMs: 0, bytesPerSecond: undefined };
  private accepted = 0;

  private constructor(private readonly server: net.Server, readonly port: number) {}

  static async start(o: FaultProxyOptions): Promise<FaultProxy> {
    const server = net.createServer();
    let proxy: FaultProxy | undefined;
    server.on('connection', (client) => proxy?.accept(client, o));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port ?? 0, '127.0.0.1', () => resolve());
    });
    const port = (server.address() as net.AddressInfo).port;
    proxy = new FaultProxy(server, port);
    return proxy;
  }

  /** ws://127.0.0.1:port + path. */
  url(path = '/lifeline'): string {
    return `ws://127.0.0.1:${this.port}${path}`;
  }
  /** Connections currently open through the proxy. */
  get openConnections(): number {
    return this.links.size;
  }
  /** Connections accepted since start. */
  get acceptedConnections(): number {
    return this.accepted;
  }
  get state(): FaultState {
    return this.faults;
  }

  /** Forward normally (ends a blackhole; keeps latency and bandwidth unless reset). */
  pass(): void {
    this.set({ isBlackholed: false, latencyMs: 0, bytesPerSecond: undefined });
  }
  /** Stop forwarding both ways without FIN or RST (half-open). New connections hang too. */
  blackhole(): void {
    this.set({ ...this.faults, isBlackholed: true });
  }
  /** End a blackhole, keeping latency and bandwidth. */
  unblackhole(): void {
    this.set({ ...this.faults, isBlackholed: false });
  }
  latency(ms: number): void {
    this.set({ ...this.faults, latencyMs: Math.max(0, ms) });
  }
  bandwidth(bytesPerSecond: number | undefined): void {
    this.set({ ...this.faults, bytesPerSecond: bytesPerSecond === undefined ? undefined : Math.max(1, bytesPerSecond) });
  }
  /** Reset every open connection (RST both ways); new ones are accepted as usual. */
  dropConnections(): void {
    for (const l of [...this.links]) l.reset();
  }

  async close(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private set(f: FaultState): void {
    this.faults = f;
    for (const l of this.links) l.refresh();
  }

  private accept(client: net.Socket, o: FaultProxyOptions): void {
    this.accepted++;
    client.setNoDelay(true);
    const upstream = net.connect({ port: o.targetPort, host: o.targetHost ?? '127.0.0.1' });
    upstream.setNoDelay(true);
    const link = new Link(client, upstream, () => this.faults, (l) => this.links.delete(l));
    this.links.add(link);
    link.refresh();
  }
}

/** Start a proxy in front of `targetPort` on loopback. */
export function startFaultProxy(o: FaultProxyOptions): Promise<FaultProxy> {
  return FaultProxy.start(o);
}
