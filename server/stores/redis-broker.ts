/**
 * RedisBroker: publications across nodes on Redis Streams (issue 14, deliverable 2). One stream per
 * channel, `{prefix}ch:{channel}`, bounded by XADD MAXLEN ~ maxLen; an entry's id is the
 * publication's position. Two connections per node: the command connection (publish, join points,
 * since, CLIENT UNBLOCK) and the reader's (redis-stream-reader.ts: XREAD BLOCK over every joined
 * channel from its last id).
 *
 * Publish resolves when this node has the entry back from its own reader and queued it (the count
 * the Broker interface promises, exact, and the order MemoryBroker gives: after `await publish`, this
 * node's subscribers hold it), or at once with 0 when this node did not join the channel. It rejects
 * BrokerUnavailableError when Redis is away: never a silent drop, never a queue in the client.
 *
 * Join takes the stream's last id on the command connection and reads from there, so:
 * - every publish this node makes after join() is read (same connection, in order);
 * - a `since` this node asks after join() covers everything up to the join point: it waits until
 *   the join point is taken (its MULTI is written at once, ahead of the commands ioredis
 *   auto-pipelines, the join point's XINFO among them: without the wait Redis could run the range
 *   first, and a publication between the two would be in neither), so a session continued here
 *   (design §3, MN-2) misses nothing between its catch-up and the live reads;
 * - a publish from ANOTHER node that Redis executes between the join() call and the join point
 *   (about one round trip) is not delivered: the join window. A new subscriber has no claim on it;
 *   a continuing session gets it from `since` its stored position.
 */
import type { Redis } from 'ioredis';
import { BrokerUnavailableError, comparePositions, TRIMMED, type Broker, type DeliverLocally, type GapListener, type Publication } from './broker.js';
import { HealthFlag } from './health-flag.js';
import { redisClient } from './redis-connection.js';
import { decodePublication, encodePublication } from './publication-codec.js';
import { isTrimmedAfter, streamInfo } from './redis-stream-info.js';
import { StreamReader, type JoinPoint } from './redis-stream-reader.js';

export interface RedisBrokerOptions {
  /**
   * The command connection, or a URL to open one with lifelineRedisOptions (then closed by
   * close()). A given client should have those options too (`maxRetriesPerRequest: 0`,
   * `autoResendUnfulfilledCommands: false`); publish rejects while it is not ready either way. The
   * reader is always a duplicate() of it, opened and closed here.
   */
  readonly redis: Redis | string;
  /** Key prefix (default 'lifeline:'). */
  readonly prefix?: string;
  /** Entries a channel's stream keeps, about (XADD MAXLEN ~). Default 10 000. */
  readonly maxLen?: number;
  /** How long one XREAD blocks (default 2 000 ms); joins interrupt it, so this only bounds idle reads. */
  readonly blockMs?: number;
  /** Entries read per stream per XREAD (default 512). */
  readonly batch?: number;
  /** This node's id, for error messages. */
  readonly nodeId?: string;
  /** A delivery threw, or a read failed on a reply error (default: a process warning). */
  readonly onError?: (err: unknown) => void;
}

/** A Redis error meaning "not now" (connection, loading, failover) rather than a bad command. */
function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error) || err.name !== 'ReplyError') return true;
  return /^(LOADING|BUSY|MASTERDOWN|READONLY|TRYAGAIN|CLUSTERDOWN)\b/.test(err.message);
}

/** MN-2: the clock skew between a node and Redis that tail() allows for, ms. */
const TAIL_SKEW_MS = 1_000;

export class RedisBroker implements Broker {
  readonly health = new HealthFlag(false);
  readonly nodeId: string;
  private readonly cmd: Redis;
  private readonly reader: Redis;
  private readonly isOwnCmd: boolean;
  private readonly prefix: string;
  private readonly maxLen: number;
  private readonly streamReader: StreamReader;
  private readonly onError: (err: unknown) => void;
  private deliver: DeliverLocally | undefined;
  private onGap: GapListener | undefined;
  /** Joined channels → a token; the join point is being taken while the reader does not know it. */
  private readonly joined = new Map<string, object>();
  /** Joins whose point could not be taken (Redis away): taken again on 'ready'. */
  private readonly joinsToRetry = new Set<string>();
  /** Join points being taken: a `since` of the channel waits for its channel's (MN-2, see the module comment). */
  private readonly joining = new Map<string, Promise<void>>();
  /** Publishes of this node awaiting their entry from the reader: channel → id → resolve. */
  private readonly waiters = new Map<string, Map<string, (count: number) => void>>();
  /** Local counts of entries the reader delivered before their XADD answered (per channel). */
  private readonly early = new Map<string, Map<string, number>>();
  private readonly outstanding = new Map<string, number>();
  /** Channels where a gap was reported: publishes whose entries were trimmed unread wait to be settled. */
  private readonly gapped = new Set<string>();
  private isClosed = false;

  constructor(o: RedisBrokerOptions) {
    this.nodeId = o.nodeId ?? 'node';
    this.prefix = o.prefix ?? 'lifeline:';
    this.maxLen = o.maxLen ?? 10_000;
    this.onError = o.onError ?? ((err) => process.emitWarning(`RedisBroker ${this.nodeId}: ${String(err)}`));
    // lifelineRedisOptions (redis-connection.ts): fail fast, never resend a command in flight when
    // the connection dropped (a resent XADD that had reached Redis would publish twice)
    const { client, isOwned } = redisClient(o.redis);
    this.cmd = client;
    this.isOwnCmd = isOwned;
    // the reader must not resend a stale XREAD after a reconnect either: its loop reads on from the
    // last ids. (With autoResendUnfulfilledCommands false and a retry budget above 0, ioredis 5
    // leaves a command in flight at a disconnect unsettled: the loop would hang. Hence 0.)
    this.reader = this.cmd.duplicate({
      enableAutoPipelining: false,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      connectionName: `lifeline-broker-reader:${this.nodeId}`,
    });
    for (const conn of [this.cmd, this.reader]) {
      conn.on('error', () => {}); // reported through health; ioredis reconnects by itself
      for (const ev of ['ready', 'close', 'end', 'reconnecting']) conn.on(ev, () => this.updateHealth());
    }
    this.cmd.on('ready', () => this.retryJoins());
    this.streamReader = new StreamReader(
      this.reader,
      this.cmd,
      { prefix: this.prefix, blockMs: o.blockMs ?? 2_000, batch: o.batch ?? 512 },
      {
        deliver: (p) => this.deliver?.(p) ?? 0,
        delivered: (channel, id, count) => this.delivered(channel, id, count),
        gap: (channel, lost) => {
          this.gapped.add(channel);
          this.onGap?.(channel, lost);
        },
        error: (err) => this.onError(err),
      },
    );
    this.streamReader.start();
    this.updateHealth();
  }

  /** Resolves once both connections are ready (or rejects after `timeoutMs`). */
  async ready(timeoutMs = 10_000): Promise<void> {
    if (this.health.isReady()) return;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        off();
        reject(new BrokerUnavailableError(`RedisBroker ${this.nodeId}: not ready after ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.health.onHealth((r) => {
        if (!r) return;
        clearTimeout(t);
        off();
        resolve();
      });
    });
  }

  bind(deliver: DeliverLocally, onGap?: GapListener): void {
    this.deliver = deliver;
    this.onGap = onGap;
  }

  async publish(p: Publication): Promise<number> {
    if (this.isClosed || this.cmd.status !== 'ready') throw this.unavailable();
    const ch = p.channel;
    this.outstanding.set(ch, (this.outstanding.get(ch) ?? 0) + 1);
    try {
      let id: string;
      try {
        id = String(await this.cmd.call('XADD', this.key(ch), 'MAXLEN', '~', this.maxLen, '*', ...encodePublication(p)));
      } catch (err) {
        throw isUnavailable(err) ? this.unavailable(err) : err;
      }
      const at = this.streamReader.position(ch);
      // not joined, or joined after this XADD (join point taken behind it): this node never reads it
      if (at === undefined || !this.joined.has(ch)) return 0;
      const early = this.early.get(ch)?.get(id);
      if (early !== undefined) return early;
      if (comparePositions(id, at) <= 0) return 0;
      return await new Promise<number>((resolve) => {
        let w = this.waiters.get(ch);
        if (!w) this.waiters.set(ch, (w = new Map()));
        w.set(id, resolve);
      });
    } finally {
      const n = (this.outstanding.get(ch) ?? 1) - 1;
      if (n > 0) this.outstanding.set(ch, n);
      else {
        this.outstanding.delete(ch);
        this.early.delete(ch);
      }
    }
  }

  join(channel: string): void {
    if (this.isClosed || this.joined.has(channel)) return;
    const token = {};
    this.joined.set(channel, token);
    this.startJoinPoint(channel, token);
  }

  /**
   * MN-2: the reader's last id on the channel, or while this node's join point is still being read
   * (the first join of a channel on this node, one round trip), an id from the clock a second back:
   * stream ids are Redis's milliseconds, so that covers a clock skew of up to a second between this
   * node and Redis. A move within that second may bring the session publications made up to a
   * second before it joined; none made after is missed.
   */
  tail(channel: string): string | undefined {
    if (!this.joined.has(channel)) return undefined;
    return this.streamReader.lastOf(channel) ?? `${Math.max(0, Date.now() - TAIL_SKEW_MS)}-0`;
  }

  leave(channel: string): void {
    if (!this.joined.delete(channel)) return;
    this.joinsToRetry.delete(channel);
    this.streamReader.remove(channel);
    this.settle(channel, undefined);
  }

  async since(channel: string, position: string): Promise<readonly Publication[] | typeof TRIMMED> {
    if (this.isClosed || this.cmd.status !== 'ready') throw this.unavailable();
    const joining = this.joining.get(channel);
    if (joining) await joining; // MN-2: the range reaches the join point, where the live reads start
    const key = this.key(channel);
    let results: Array<[Error | null, unknown]> | null;
    try {
      // one transaction: the trim check and the range describe the same moment
      results = await this.cmd.multi().call('XINFO', 'STREAM', key).callBuffer('XRANGE', key, `(${position}`, '+').exec();
    } catch (err) {
      throw isUnavailable(err) ? this.unavailable(err) : err;
    }
    const [[infoErr, info] = [null, undefined], [rangeErr, range] = [null, undefined]] = results ?? [];
    if (infoErr) return []; // no such stream: nothing was ever published there (or it is gone whole)
    if (rangeErr) throw rangeErr;
    if (isTrimmedAfter(streamInfo(info), position)) return TRIMMED;
    const out: Publication[] = [];
    for (const [idBuf, fields] of range as Array<[Buffer, Buffer[]]>) {
      const p = decodePublication(channel, idBuf.toString('latin1'), fields);
      if (p) out.push(p);
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.updateHealth();
    for (const ch of [...this.waiters.keys()]) this.settle(ch, undefined);
    this.reader.disconnect();
    await this.streamReader.stop();
    if (this.isOwnCmd) {
      if (this.cmd.status === 'ready') await this.cmd.quit().catch(() => this.cmd.disconnect());
      else this.cmd.disconnect();
    }
  }

  private key(channel: string): string {
    return `${this.prefix}ch:${channel}`;
  }

  private unavailable(cause?: unknown): BrokerUnavailableError {
    return new BrokerUnavailableError(`RedisBroker ${this.nodeId}: Redis unavailable`, cause === undefined ? undefined : { cause });
  }

  private updateHealth(): void {
    this.health.set(!this.isClosed && this.cmd.status === 'ready' && this.reader.status === 'ready');
  }

  private startJoinPoint(channel: string, token: object): void {
    const taking = this.takeJoinPoint(channel, token);
    this.joining.set(channel, taking);
    void taking.finally(() => {
      if (this.joining.get(channel) === taking) this.joining.delete(channel);
    });
  }

  /** The stream's last id now, on the command connection: the reads start after it. Never rejects. */
  private async takeJoinPoint(channel: string, token: object): Promise<void> {
    let from: JoinPoint;
    try {
      const info = await this.cmd.call('XINFO', 'STREAM', this.key(channel));
      const s = streamInfo(info);
      from = { id: s.lastId, added: s.added };
    } catch (err) {
      if (this.joined.get(channel) !== token) return;
      if (err instanceof Error && err.name === 'ReplyError' && /no such key/i.test(err.message)) {
        from = { id: '0-0', added: 0 };
      } else {
        this.joinsToRetry.add(channel); // Redis away: the join point is taken when it answers
        return;
      }
    }
    if (this.joined.get(channel) !== token) return; // left meanwhile
    this.streamReader.add(channel, from);
  }

  private retryJoins(): void {
    for (const ch of this.joinsToRetry) {
      const token = this.joined.get(ch);
      if (token) this.startJoinPoint(ch, token);
    }
    this.joinsToRetry.clear();
  }

  /** The reader delivered entry `id`: resolve its publish, if this node made it. */
  private delivered(channel: string, id: string, count: number): void {
    const w = this.waiters.get(channel);
    const resolve = w?.get(id);
    if (resolve) {
      w?.delete(id);
      resolve(count);
    } else if (this.outstanding.has(channel)) {
      let e = this.early.get(channel);
      if (!e) this.early.set(channel, (e = new Map()));
      e.set(id, count);
    }
    // publishes whose entries were skipped (trimmed before this node read them) queued nothing here
    if (this.gapped.delete(channel)) this.settle(channel, id);
  }

  /** Resolve with 0 the waiters of `channel` at or below `upTo` (all when undefined). */
  private settle(channel: string, upTo: string | undefined): void {
    const w = this.waiters.get(channel);
    if (!w) return;
    for (const [id, resolve] of w) {
      if (upTo !== undefined && comparePositions(id, upTo) > 0) continue;
      w.delete(id);
      resolve(0);
    }
    if (w.size === 0) this.waiters.delete(channel);
  }
}
