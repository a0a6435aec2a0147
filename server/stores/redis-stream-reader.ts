/**
 * RedisBroker's reader (issue 14): one dedicated connection per node, a loop of XREAD BLOCK over the
 * stream of every channel this node joined, each from the last id it delivered. So a node receives
 * each publication once, in the stream's order:
 *
 * - an id at or below the last delivered one of its channel is dropped (a redelivery, MN-2);
 * - after a disconnect the loop reads on from the last ids: nothing is lost while the streams still
 *   hold those entries; it first asks each stream (XINFO STREAM, Redis 7) whether entries after its
 *   last id were trimmed meanwhile, and reports such a gap (GapListener) with the count when Redis's
 *   counters give it. It asks the same when one read came back full (this node fell behind).
 * - a channel joined while the loop blocks is read at once: the broker's command connection sends
 *   CLIENT UNBLOCK to this connection, and the loop reads again with the new set.
 *
 * A check and the read after it are two commands: entries trimmed between them (this node a whole
 * maxLen behind, and more published in that one round trip) are not reported. Said here, rare.
 */
import type { Redis } from 'ioredis';
import { comparePositions, type GapListener, type Publication } from './broker.js';
import { decodePublication } from './publication-codec.js';
import { isTrimmedAfter, streamInfo } from './redis-stream-info.js';

/** Where a channel's reading starts: the stream's last id when this node joined (see RedisBroker.join). */
export interface JoinPoint {
  readonly id: string;
  /** The stream's entries-added counter at that id (Redis 7), to count the entries a gap lost. */
  readonly added: number | undefined;
}

export interface ReaderHooks {
  deliver(p: Publication): number;
  /** Called after each delivery with its local count (RedisBroker resolves its publish promises). */
  delivered(channel: string, id: string, count: number): void;
  gap: GapListener;
  /** A delivery or a read failed in a way the loop survives; reported, never swallowed. */
  error(err: unknown): void;
}

export interface ReaderOptions {
  readonly prefix: string;
  readonly blockMs: number;
  /** Entries per stream per read (XREAD COUNT). */
  readonly batch: number;
}

interface ChannelState {
  readonly key: string;
  /** Last id delivered (or the join point). */
  last: string;
  /** entries-added at the join point, and entries after it delivered or counted lost since. */
  readonly added: number | undefined;
  consumed: number;
}

interface Read {
  readonly clientId: number;
  isKicked: boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class StreamReader {
  private readonly channels = new Map<string, ChannelState>();
  private readonly keyToChannel = new Map<string, string>();
  /** Channels whose history must be checked for a gap before the next read. */
  private readonly toCheck = new Set<string>();
  private inFlight: Read | undefined;
  private clientId: number | undefined;
  private isStopped = false;
  private wake: (() => void) | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly conn: Redis,
    /** The broker's command connection, for CLIENT UNBLOCK while `conn` blocks. */
    private readonly cmd: Redis,
    private readonly o: ReaderOptions,
    private readonly hooks: ReaderHooks,
  ) {
    conn.on('close', () => {
      this.clientId = undefined;
      // whatever happened while away: check every stream before reading on
      for (const ch of this.channels.keys()) this.toCheck.add(ch);
      this.poke();
    });
    conn.on('ready', () => this.poke());
  }

  start(): void {
    this.running ??= this.run().catch((err: unknown) => this.hooks.error(err));
  }

  /** Read `channel` from `from` on (its join point). */
  add(channel: string, from: JoinPoint): void {
    const key = `${this.o.prefix}ch:${channel}`;
    this.channels.set(channel, { key, last: from.id, added: from.added, consumed: 0 });
    this.keyToChannel.set(key, channel);
    this.restartRead();
  }

  /** The last id delivered on `channel`, or its join point; undefined until the join point is known. */
  lastOf(channel: string): string | undefined {
    return this.channels.get(channel)?.last;
  }

  remove(channel: string): void {
    const st = this.channels.get(channel);
    if (!st) return;
    this.channels.delete(channel);
    this.keyToChannel.delete(st.key);
    this.toCheck.delete(channel);
    // no hurry: entries of a left channel that still arrive are dropped in handle()
  }

  /** The last id delivered on `channel` (or its join point); undefined when not being read. */
  position(channel: string): string | undefined {
    return this.channels.get(channel)?.last;
  }

  async stop(): Promise<void> {
    this.isStopped = true;
    this.poke();
    await this.running;
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Until poke(): a channel added, the connection ready, or stop. */
  private idle(maxMs?: number): Promise<void> {
    return new Promise((resolve) => {
      const t = maxMs === undefined ? undefined : setTimeout(resolve, maxMs);
      this.wake = () => {
        if (t) clearTimeout(t);
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.isStopped) {
      if (this.conn.status !== 'ready') {
        await this.idle(1_000);
        continue;
      }
      try {
        this.clientId ??= await this.conn.client('ID');
        if (this.toCheck.size > 0) await this.checkGaps();
        if (this.channels.size === 0) {
          await this.idle();
          continue;
        }
        await this.readOnce(this.clientId);
        failures = 0;
      } catch (err) {
        if (this.isStopped) break;
        // a connection error: 'close' marked every stream for a check; the loop waits for 'ready'.
        // A reply error (a key that is not a stream?): report it and back off, never spin.
        if (err instanceof Error && err.name === 'ReplyError') this.hooks.error(err);
        await this.idle(Math.min(10 * 2 ** failures++, 1_000));
      }
    }
  }

  private async readOnce(clientId: number): Promise<void> {
    const reading = [...this.channels.values()];
    const read: Read = { clientId, isKicked: false };
    this.inFlight = read;
    let reply: unknown;
    try {
      reply = await this.conn.callBuffer('XREAD', 'COUNT', this.o.batch, 'BLOCK', this.o.blockMs, 'STREAMS', ...reading.map((s) => s.key), ...reading.map((s) => s.last));
    } finally {
      this.inFlight = undefined;
    }
    if (Array.isArray(reply)) this.handle(reply as Array<[Buffer, Array<[Buffer, Buffer[]]>]>);
  }

  private handle(reply: Array<[Buffer, Array<[Buffer, Buffer[]]>]>): void {
    for (const [keyBuf, entries] of reply) {
      const channel = this.keyToChannel.get(keyBuf.toString('utf8'));
      const st = channel === undefined ? undefined : this.channels.get(channel);
      if (channel === undefined || !st) continue; // left meanwhile
      for (const [idBuf, fields] of entries) {
        if (this.channels.get(channel) !== st) break; // left from inside a delivery
        const id = idBuf.toString('latin1');
        if (comparePositions(id, st.last) <= 0) continue; // MN-2: a redelivery, never twice
        st.last = id;
        st.consumed++;
        let count = 0;
        try {
          const p = decodePublication(channel, id, fields);
          if (p) count = this.hooks.deliver(p);
        } catch (err) {
          this.hooks.error(err);
        }
        this.hooks.delivered(channel, id, count);
      }
      // a full batch: this node is behind, and the stream may have trimmed past it
      if (entries.length >= this.o.batch) this.toCheck.add(channel);
    }
  }

  /** Ask each stream in toCheck whether entries after this node's last id were trimmed. */
  private async checkGaps(): Promise<void> {
    const names = [...this.toCheck].filter((ch) => this.channels.has(ch));
    const pipe = this.conn.pipeline();
    for (const ch of names) pipe.call('XINFO', 'STREAM', (this.channels.get(ch) as ChannelState).key);
    const results = (await pipe.exec()) ?? [];
    this.toCheck.clear();
    names.forEach((ch, i) => {
      const st = this.channels.get(ch);
      const [err, raw] = results[i] ?? [null, undefined];
      if (!st || err) return; // no such key: nothing held, nothing to lose (or the stream was removed)
      const info = streamInfo(raw);
      if (!isTrimmedAfter(info, st.last)) return;
      let lost: number | undefined;
      if (st.added !== undefined && info.added !== undefined) {
        // exact: this node knows the ordinal of its last entry (join point + entries since), and
        // trimming takes the oldest first, so every entry still held follows st.last
        lost = info.added - (st.added + st.consumed) - info.length;
        if (lost <= 0) return; // st.last was the newest entry trimmed: nothing after it lost
      }
      st.consumed += lost ?? 0;
      this.hooks.gap(ch, lost);
    });
  }

  /** A channel was added: a blocked read must end so the next one covers it. */
  private restartRead(): void {
    this.poke();
    const read = this.inFlight;
    if (!read || read.isKicked) return;
    read.isKicked = true;
    void this.kick(read);
  }

  /**
   * CLIENT UNBLOCK from the command connection. The read may not have reached Redis yet (two
   * connections, no order between them): then UNBLOCK answers 0 and is tried again shortly.
   */
  private async kick(read: Read): Promise<void> {
    for (let delayMs = 1; this.inFlight === read && !this.isStopped; delayMs = Math.min(delayMs * 2, 50)) {
      try {
        if ((await this.cmd.client('UNBLOCK', read.clientId)) === 1) return;
      } catch {
        return; // the command connection is away too: the read ends after blockMs at worst
      }
      await sleep(delayMs);
    }
  }
}
