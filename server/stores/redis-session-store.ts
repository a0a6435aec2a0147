/**
 * RedisSessionStore (issue 14, deliverable 1): the session store several nodes share, on Redis
 * through ioredis. ioredis because it has Lua scripts as commands (`defineCommand`, EVALSHA with
 * EVAL fallback after a Redis restart), automatic pipelining, reconnection by itself with a
 * `retryStrategy`, fail-fast without an offline queue, and Sentinel/Cluster clients: the field's
 * default in Node (DESIGN-14, lead's choice).
 *
 * Layout in redis-keys.ts, scripts in redis-scripts.ts. Every fenced write is one script: fence
 * check and write are atomic, so a node that lost a session (RS-7 across nodes) can never write
 * over the new owner. Replay frames are stored as bytes (one list element per frame), never as
 * base64; the rest of the record is `encodeRecord` JSON written at save, with the fields a commit
 * moves (cursors, positions) kept beside it in the same hash so a commit never parses JSON.
 *
 * `commit` is one EVALSHA; with `enableAutoPipelining` the commits a server issues in one tick
 * (one per session that changed, DESIGN-14 §1) leave as one pipeline: one round trip per tick
 * while the previous one is answered, whatever the number of sessions.
 *
 * While Redis is away every call rejects at once with RedisUnavailableError (no offline queue,
 * no retry of a command in flight); `health` reports it, ioredis reconnects by itself. Before
 * the first connection, calls wait for it (up to connectTimeoutMs) so that a store used right
 * after construction works.
 */
import type { Redis } from 'ioredis';
import { defaults } from '../../spec/protocol/defaults.js';
import type { Clock } from '../../spec/protocol/clock.js';
import { decodeRecord, encodeRecord, RecordCodecError } from './record-codec.js';
import { RedisHealth, RedisUnavailableError, redisClient } from './redis-connection.js';
import { CommitBatchWriter } from './commit-batch.js';
import { RedisKeys } from './redis-keys.js';
import { defineSessionScripts, scriptErrors, type SessionScripts } from './redis-scripts.js';
import type { ReplayFrame, SessionRecord, SubscriptionRecord } from './session-record.js';
import {
  ReplayCapError,
  ReplayOrderError,
  LEASE_MARKER_TTL_MS,
  SessionExistsError,
  StaleFenceError,
  type ClaimLost,
  type CommitRequest,
  type EndReason,
  type LeaseState,
  type RecordDelta,
  type ReleaseRequested,
  type SessionStore,
} from './session-store.js';

export interface RedisSessionStoreOptions {
  /** A URL (`redis://host:6379/0`: the store connects with lifelineRedisOptions and closes it) or a client the caller owns (its options apply; close() leaves it open). */
  readonly redis: Redis | string;
  /** Prefix of every key and channel. Default `lifeline:`. */
  readonly prefix?: string;
  /** Time for TTLs: record expiry (epoch ms), ended reasons, dedupe. Default Date.now; every node must share it (wall clock). */
  readonly clock?: Pick<Clock, 'now'>;
  /** Ended ids remembered (RS-6, RS-11), oldest forgotten first. Default 10 000. */
  readonly endedMaxIds?: number;
  /** How long an ended id's reason is remembered, ms. Default 1 h. */
  readonly endedTtlMs?: number;
  /** SEQ-8: message ids remembered per principal. Default §17 dedupeMaxIds (10 000). */
  readonly dedupeMaxIds?: number;
  /** SEQ-8: how long a message id is remembered, ms. Default resume TTL + reconnect cap (§7.6). */
  readonly dedupeTtlMs?: number;
  /**
   * Hard caps of one session's stored replay: a commit past them rejects (ReplayCapError). The
   * server's replay window (RS-3) bounds the replay long before; these only keep a bug from
   * filling Redis. Default 16× the default window: 16 384 frames, 64 MiB.
   */
  readonly maxReplayFrames?: number;
  readonly maxReplayBytes?: number;
  /** How long a call made before the first connection waits for it, ms. Default 10 000. */
  readonly connectTimeoutMs?: number;
}

export { ReplayCapError, ReplayOrderError };

const epochClock: Pick<Clock, 'now'> = { now: () => Date.now() };
const COLON = 0x3a;
type Arg = string | number | Buffer;

export class RedisSessionStore implements SessionStore {
  readonly isShared = true;
  readonly health: RedisHealth;
  readonly keys: RedisKeys;
  private readonly client: Redis & SessionScripts;
  private readonly isOwned: boolean;
  private readonly clock: Pick<Clock, 'now'>;
  private readonly endedMaxIds: number;
  private readonly endedTtlMs: number;
  private readonly dedupeMaxIds: number;
  private readonly dedupeTtlMs: number;
  private readonly maxReplayFrames: number;
  private readonly maxReplayBytes: number;
  private readonly connectTimeoutMs: number;
  private hasBeenReady: boolean;
  private subscriber: Redis | undefined;
  /** pub/sub channel → listeners of its messages: claim notices (RS-7 across nodes), release requests (MN-17). */
  private readonly watchers = new Map<string, Set<(message: string) => void>>();

  constructor(o: RedisSessionStoreOptions) {
    const { client, isOwned } = redisClient(o.redis);
    this.client = defineSessionScripts(client);
    this.isOwned = isOwned;
    this.keys = new RedisKeys(o.prefix ?? 'lifeline:');
    this.clock = o.clock ?? epochClock;
    this.endedMaxIds = Math.max(1, Math.floor(o.endedMaxIds ?? 10_000));
    this.endedTtlMs = Math.max(1, Math.ceil(o.endedTtlMs ?? 3_600_000));
    this.dedupeMaxIds = Math.max(1, Math.floor(o.dedupeMaxIds ?? defaults.dedupeMaxIds));
    this.dedupeTtlMs = Math.max(1, Math.ceil(o.dedupeTtlMs ?? defaults.resumeTtlMs + defaults.reconnectCapMs)); // spec §7.6
    this.maxReplayFrames = o.maxReplayFrames ?? 16 * defaults.replayWindowMessages;
    this.maxReplayBytes = o.maxReplayBytes ?? 16 * defaults.replayWindowBytes;
    this.connectTimeoutMs = o.connectTimeoutMs ?? 10_000;
    this.health = new RedisHealth(client);
    this.hasBeenReady = this.health.isReady();
    if (!this.hasBeenReady) {
      const stop = this.health.onHealth((ready) => {
        if (!ready) return;
        this.hasBeenReady = true; // from now on a call while Redis is away fails at once
        stop();
      });
    }
  }

  /** Resolves once connected (rejects RedisUnavailableError after connectTimeoutMs). */
  ready(): Promise<void> {
    return this.health.whenReady(this.connectTimeoutMs);
  }

  create(record: SessionRecord, nodeId: string): Promise<number> {
    const args = [...this.head(record.id), nodeId, ...this.recordArgs(record)];
    return this.run(() => this.client.lifelineSessionCreate(...args), record.id, 0).then(() => 1);
  }

  load(id: string): Promise<SessionRecord | undefined> {
    const args = this.head(id);
    return this.run(() => this.client.lifelineSessionLoadBuffer(...args), id, 0).then((reply) => reply ? readRecord(reply) : undefined);
  }

  claim(id: string, nodeId: string): Promise<number | undefined> {
    const args = [...this.head(id), nodeId, this.keys.claimsStem()];
    return this.run(() => this.client.lifelineSessionClaim(...args), id, 0).then((fence) => (fence === null ? undefined : Number(fence)));
  }

  save(record: SessionRecord, fence: number): Promise<void> {
    const args = [...this.head(record.id), String(fence), ...this.recordArgs(record)];
    return this.run(() => this.client.lifelineSessionSave(...args), record.id, fence).then(noop);
  }

  commit(id: string, fence: number, delta: RecordDelta): Promise<void> {
    const args: Arg[] = this.head(id);
    this.pushCommit(args, fence, delta);
    return this.run(() => this.client.lifelineSessionCommit(...args), id, fence).then(noop);
  }

  /**
   * The commits of one tick in one script call (MN-1; SessionStore.commitMany): Redis pays one
   * call's overhead, not one per session. Each outcome is its session's own.
   */
  commitMany(batch: readonly CommitRequest[]): Promise<readonly (Error | undefined)[]> {
    const k = this.keys;
    const w = new CommitBatchWriter(256 * batch.length);
    const out: (Error | undefined)[] = new Array<Error | undefined>(batch.length).fill(undefined);
    const sent: number[] = []; // batch index of each session in the script's batch
    for (const [i, c] of batch.entries()) {
      try {
        w.add(c); // one binary argument (commit-batch.ts: ioredis's cost per argument)
        sent.push(i);
      } catch (err) {
        out[i] = new ReplayCapError(`commit: session ${c.id.slice(0, 8)}…: ${err instanceof Error ? err.message : String(err)}`); // never retried: CC-5
      }
    }
    if (sent.length === 0) return Promise.resolve(out);
    const args: Arg[] = [
      2,
      k.endedOrder(),
      k.endedSerial(),
      this.clock.now(),
      this.endedTtlMs,
      this.endedMaxIds,
      k.endedStem(),
      sent.length,
      this.maxReplayFrames,
      this.maxReplayBytes,
      k.sessionStem(),
      k.replayStem(),
      w.finish(),
    ];
    return this.run(() => this.client.lifelineSessionCommitMany(...args), '', 0).then((refused) => {
      for (let j = 0; j + 1 < refused.length; j += 2) {
        const at = sent[Number(refused[j]) - 1] as number;
        const c = batch[at];
        if (c) out[at] = mapError(Object.assign(new Error(String(refused[j + 1])), { name: 'ReplyError' }), c.id, c.fence);
      }
      return out;
    });
  }

  /** COMMIT's arguments from its ARGV 6 (redis-scripts.ts): fence, caps, ack, cursor, top, positions, channels, frames. */
  private pushCommit(args: Arg[], fence: number, delta: RecordDelta): void {
    const frames = delta.frames ?? [];
    const top = frames.length > 0 ? (frames[frames.length - 1] as ReplayFrame).seq + 1n : undefined;
    args.push(
      String(fence),
      this.maxReplayFrames,
      this.maxReplayBytes,
      delta.acked === undefined ? '' : delta.acked.toString(),
      delta.acked === undefined ? '' : (delta.acked + 1n).toString(),
      delta.inbound ? delta.inbound.lastProcessed.toString() : '',
      delta.inbound ? delta.inbound.lastAckSent.toString() : '',
      top === undefined ? '' : top.toString(),
    );
    const positions = delta.positions ? Object.entries(delta.positions) : [];
    args.push(positions.length);
    for (const [channel, position] of positions) args.push(channel, position);
    const subs = delta.subscriptions;
    if (subs) pushChannels(args, subs); // MN-15
    else args.push('', -1);
    for (const f of frames) args.push(f.seq.toString(), asBuffer(f.bytes)); // bytes as they are: no copy, no base64
  }

  end(id: string, reason: EndReason, fence?: number): Promise<void> {
    const args = [...this.head(id), reason, fence === undefined ? '' : String(fence)];
    return this.run(() => this.client.lifelineSessionEnd(...args), id, fence ?? 0).then(noop);
  }

  /** A promise: the server holds the socket's later frames until it answers (SessionStore.endedReason). */
  endedReason(id: string): Promise<EndReason | undefined> {
    const args = this.head(id);
    return this.run(() => this.client.lifelineSessionEnded(...args), id, 0).then((r) => (r === null ? undefined : (r as EndReason)));
  }

  /** SEQ-8, shared by every node: a promise, the server holds the message's delivery until it answers. */
  hasMessageId(principal: string, messageId: string): Promise<boolean> {
    if (messageId === '') return Promise.resolve(false); // no id: nothing to recognise it by
    const key = this.keys.messageIds(principal);
    return this.run(() => this.client.zscore(key, messageId), '', 0).then((at) => at !== null && this.clock.now() - Number(at) < this.dedupeTtlMs);
  }

  /** SEQ-8, SEQ-10: bounded per principal by dedupeMaxIds (oldest forgotten first) and dedupeTtlMs. */
  addMessageId(principal: string, messageId: string): Promise<void> {
    if (messageId === '') return Promise.resolve();
    const now = this.clock.now();
    const key = this.keys.messageIds(principal);
    return this.run(() => this.client.lifelineAddMessageId(key, now, messageId, now - this.dedupeTtlMs, this.dedupeMaxIds, this.dedupeTtlMs), '', 0).then(noop);
  }

  /**
   * RS-7 across nodes: the claim script PUBLISHes `{prefix}claims:{oldOwner}` when the owner
   * changes; this subscribes (on its own connection, resubscribed by ioredis after a reconnect).
   * The SUBSCRIBE takes a round trip: a claim in the meantime, or while Redis is away, is not
   * heard, and the node learns it at its next commit (StaleFenceError, DESIGN-14 §4).
   */
  watchClaims(nodeId: string, onLost: ClaimLost): () => void {
    return this.watch(this.keys.claims(nodeId), (message) => {
      const notice = parseNotice(message);
      const { id, fence, by } = notice ?? {};
      if (typeof id === 'string' && typeof fence === 'number' && typeof by === 'string') onLost(id, fence, by);
    });
  }

  /**
   * MN-17: a PUBLISH to the owner's release channel; its reply counts the connections subscribed, so
   * 0 says the owner listens no more (a process that ended: Redis closed its connections at once).
   */
  requestRelease(id: string, ownerNode: string, byNode: string): Promise<number> {
    const channel = this.keys.releases(ownerNode);
    const notice = JSON.stringify({ id, by: byNode });
    return this.run(() => this.client.publish(channel, notice), id, 0);
  }

  /** MN-17: subscribes as watchClaims does, on the same connection. */
  watchReleaseRequests(nodeId: string, onRequest: ReleaseRequested): () => void {
    return this.watch(this.keys.releases(nodeId), (message) => {
      const notice = parseNotice(message);
      const { id, by } = notice ?? {};
      if (typeof id === 'string' && typeof by === 'string') onRequest(id, by);
    });
  }

  /** MN-18: SET PX, on Redis's time, with the node's mark (SET EX 24 h) in one MULTI: no lease without its mark. */
  renewLease(nodeId: string, ttlMs: number): Promise<void> {
    const key = this.keys.lease(nodeId);
    const mark = this.keys.leaseMark(nodeId);
    const markSeconds = Math.ceil(LEASE_MARKER_TTL_MS / 1000);
    return this.run(() => this.client.multi().set(mark, '1', 'EX', markSeconds).set(key, '1', 'PX', Math.max(1, Math.ceil(ttlMs))).exec(), '', 0).then((replies) => {
      const failed = replies?.find(([err]) => err !== null)?.[0];
      if (failed) throw failed;
    });
  }

  /** MN-18: the lease and the mark in one MGET. */
  leaseState(nodeId: string): Promise<LeaseState> {
    const keys = [this.keys.lease(nodeId), this.keys.leaseMark(nodeId)];
    return this.run(() => this.client.mget(keys), '', 0).then(([lease, mark]) => (lease != null ? 'alive' : mark != null ? 'expired' : 'never'));
  }

  endLease(nodeId: string): Promise<void> {
    const key = this.keys.lease(nodeId);
    return this.run(() => this.client.del(key), '', 0).then(noop);
  }

  /** Listen on a pub/sub channel (subscribed on first use, unsubscribed when its last listener stops). */
  private watch(channel: string, onMessage: (message: string) => void): () => void {
    let set = this.watchers.get(channel);
    if (!set) {
      this.watchers.set(channel, (set = new Set()));
      this.subscriberConnection().subscribe(channel).catch(noop); // fails only when closing
    }
    const mine = set;
    const watch = (message: string): void => onMessage(message); // one per call: the same function watched twice is two watches
    mine.add(watch);
    return () => {
      mine.delete(watch);
      if (mine.size > 0 || this.watchers.get(channel) !== mine) return;
      this.watchers.delete(channel);
      this.subscriber?.unsubscribe(channel).catch(noop);
    };
  }

  /** Quit the connections this store made (a client passed in stays open: its owner closes it). */
  async close(): Promise<void> {
    this.health.dispose();
    this.watchers.clear();
    const sub = this.subscriber;
    this.subscriber = undefined;
    await Promise.all([sub && quit(sub), this.isOwned ? quit(this.client) : undefined]);
  }

  /** KEYS and the prelude's ARGV of every session script (redis-scripts.ts). */
  private head(id: string): Arg[] {
    const k = this.keys;
    return [k.session(id), k.replay(id), k.ended(id), k.endedOrder(), k.endedSerial(), this.clock.now(), id, this.endedTtlMs, this.endedMaxIds, k.endedStem()];
  }

  /** exp, next, acked, lp, la, body, the channels (pushChannels), then the replay as (seq, bytes) pairs. */
  private recordArgs(r: SessionRecord): Arg[] {
    const body = encodeRecord({ ...r, outbound: { ...r.outbound, replay: [] }, owner: undefined });
    const args: Arg[] = [
      r.expiresAtMs === undefined ? '' : r.expiresAtMs,
      r.outbound.next.toString(),
      r.outbound.acked.toString(),
      r.inbound.lastProcessed.toString(),
      r.inbound.lastAckSent.toString(),
      body,
    ];
    pushChannels(args, r.subscriptions);
    for (const f of r.outbound.replay) args.push(f.seq.toString(), asBuffer(f.bytes));
    return args;
  }

  /** Run a Redis call, waiting for the first connection if there never was one; map its errors. */
  private run<T>(call: () => Promise<T>, id: string, fence: number): Promise<T> {
    const go = this.hasBeenReady || this.health.isReady() ? call() : this.ready().then(call);
    return go.catch((err: unknown) => {
      throw mapError(err, id, fence);
    });
  }

  private subscriberConnection(): Redis {
    if (this.subscriber) return this.subscriber;
    // Its own options: SUBSCRIBE may wait for the connection (it is no request a caller awaits).
    const sub = this.client.duplicate({ enableOfflineQueue: true, enableAutoPipelining: false, maxRetriesPerRequest: null });
    sub.on('error', noop); // reported through health (the command connection) and reconnected by ioredis
    sub.on('message', (channel: string, message: string) => this.onNotice(channel, message));
    this.subscriber = sub;
    return sub;
  }

  private onNotice(channel: string, message: string): void {
    const set = this.watchers.get(channel);
    if (!set) return;
    for (const listener of [...set]) {
      // Outside ioredis's reply parser: a listener that throws is an uncaught exception, as in any event listener.
      queueMicrotask(() => set.has(listener) && listener(message));
    }
  }
}

function noop(): void {}

/** A notice's JSON object, or undefined for anything else (someone else published on our channel). */
function parseNotice(message: string): { id?: unknown; fence?: unknown; by?: unknown } | undefined {
  try {
    const v: unknown = JSON.parse(message);
    return typeof v === 'object' && v !== null ? (v as { id?: unknown; fence?: unknown; by?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}

/** MN-15: the channel list as the `subs` field (JSON, parsed by load only), the count, then (channel, position or '', version or '') triples. */
function pushChannels(args: Arg[], subs: readonly SubscriptionRecord[]): void {
  args.push(JSON.stringify(subs.map((s) => s.channel)), subs.length);
  for (const s of subs) args.push(s.channel, s.position ?? '', s.version === undefined ? '' : s.version.toString());
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

async function quit(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect(); // no offline queue: QUIT would reject; nothing is in flight
    return;
  }
  await client.quit().catch(() => client.disconnect());
}

/** A script's error reply to the store's error classes; anything else is Redis being away. */
function mapError(err: unknown, id: string, fence: number): Error {
  if (!(err instanceof Error)) return new RedisUnavailableError(String(err));
  if (err.name !== 'ReplyError') {
    if (err instanceof RedisUnavailableError) return err;
    return new RedisUnavailableError(err.message, { cause: err });
  }
  // Redis prefixes ERR to a reply of one word; every script error has two or more.
  const [word, a, b] = err.message.replace(/^ERR /, '').split(' ');
  switch (word) {
    case scriptErrors.stale:
      return new StaleFenceError(id, fence, a === undefined || a === 'none' ? undefined : Number(a));
    case scriptErrors.exists:
      return new SessionExistsError(id);
    case scriptErrors.seqOrder:
      return new ReplayOrderError(id, BigInt(a ?? '0'), BigInt(b ?? '0'));
    case scriptErrors.replayCap:
      return new ReplayCapError(`commit: session ${id.slice(0, 8)}… replay past its cap (${err.message.slice(word.length + 1)})`);
    default:
      return err; // a Redis error of another kind (OOM, a script bug): as Redis said it
  }
}

/** The LOAD script's reply (hash fields, replay elements) as a SessionRecord. */
function readRecord([hash, replay]: [Buffer[], Buffer[]]): SessionRecord {
  const fields = new Map<string, Buffer>();
  for (let i = 0; i + 1 < hash.length; i += 2) fields.set((hash[i] as Buffer).toString(), hash[i + 1] as Buffer);
  const text = (k: string) => fields.get(k)?.toString() ?? '';
  const body = decodeRecord(text('body'));
  // MN-15: the channel list is the `subs` field (commits change it), positions the `p:` fields. A
  // channel's version is its `v:` field when a commit joined it since the last save ('' none), else
  // the body's (that save's): a body entry of a channel left and joined since is of the old membership.
  const inBody = new Map(body.subscriptions.map((s) => [s.channel, s]));
  const subs = fields.get('subs');
  const channels = subs === undefined ? [...inBody.keys()] : channelList(subs.toString());
  const subscriptions = channels.map((channel): SubscriptionRecord => {
    const v = fields.get(`v:${channel}`);
    const version = v === undefined ? inBody.get(channel)?.version : v.length === 0 ? undefined : BigInt(v.toString());
    const p = fields.get(`p:${channel}`);
    return { channel, ...(version !== undefined && { version }), ...(p !== undefined && { position: p.toString() }) };
  });
  return {
    ...body,
    outbound: { next: BigInt(text('next')), acked: BigInt(text('acked')), replay: replay.map(readFrame) },
    inbound: { lastProcessed: BigInt(text('lp')), lastAckSent: BigInt(text('la')) },
    subscriptions,
    owner: { nodeId: text('node'), fence: Number(text('fence')) },
  };
}

/** The `subs` field: a JSON array of channel names (the store's own writing, checked all the same). */
function channelList(text: string): string[] {
  const v: unknown = JSON.parse(text);
  if (!Array.isArray(v) || !v.every((c): c is string => typeof c === 'string')) throw new RecordCodecError('session record: subs is not a list of channels');
  return v;
}

/** `<seq>:<bytes>`; the bytes copied out of the reply (a reply's buffer may be a slice of a larger chunk). */
function readFrame(el: Buffer): ReplayFrame {
  const i = el.indexOf(COLON);
  return { seq: BigInt(el.toString('latin1', 0, i)), bytes: new Uint8Array(el.subarray(i + 1)) };
}
