/**
 * One tick's commits (MN-1, RedisSessionStore.commitMany) as ONE binary argument of the COMMIT_MANY
 * script (redis-scripts.ts), which reads it with Redis's `struct.unpack`.
 *
 * Why (issue 14, measured with bench/probes/redis-commits.ts): as separate arguments a session's
 * commit was ~23 of them (keys, cursors, a position, a frame), and ioredis spent ~25 µs of the
 * node's CPU per session commit flattening, stringifying and framing them, more than Redis spent
 * running the commit. Here a session costs a few buffer writes, and Redis parses one argument.
 *
 * Layout, per session, big-endian lengths (`s8` = u8 length + bytes, `s16` = u16 + bytes, …):
 *
 *   s16 id, s8 fence, s8 acked ('' none), s8 lastProcessed ('' none), s8 lastAckSent ('' none),
 *   u16 n, n × (s16 channel, s8 position)                        the delta's positions
 *   u8 0 | u8 1, s32 subs, u16 m, m × (s16 channel, s8 position ('' none), s8 version ('' none))
 *                                                                 the channel list (MN-15)
 *   u32 f, f × (s8 seq, s32 bytes)                                the frames
 *
 * Seqs and cursors are canonical decimals (SEQ-2: no 2^53 limit), as COMMIT's arguments are.
 */
import type { ReplayFrame, SubscriptionRecord } from './session-record.js';
import type { CommitRequest, RecordDelta } from './session-store.js';

export class CommitBatchWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(sizeHint = 4096) {
    this.buf = Buffer.allocUnsafe(sizeHint);
  }

  /**
   * Append one session's commit. Throws RangeError, having appended nothing, for a field past its
   * length prefix (ids and channels are short: CH-1's byte bound, §16.3).
   */
  add(c: CommitRequest): void {
    const at = this.pos;
    try {
      this.write(c);
    } catch (err) {
      this.pos = at;
      throw err;
    }
  }

  private write({ id, fence, delta }: CommitRequest): void {
    this.str(id, 2);
    this.ascii(String(fence));
    this.ascii(delta.acked === undefined ? '' : delta.acked.toString());
    const inb = delta.inbound;
    this.ascii(inb ? inb.lastProcessed.toString() : '');
    this.ascii(inb ? inb.lastAckSent.toString() : '');
    this.positions(delta.positions);
    this.channels(delta.subscriptions);
    this.frames(delta.frames);
  }

  /** The batch: a view of what was written (this writer must not be used after). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  private positions(p: RecordDelta['positions']): void {
    if (p === undefined) {
      this.u16(0);
      return;
    }
    const at = this.reserve(2);
    let n = 0;
    for (const channel in p) {
      this.str(channel, 2);
      this.ascii(p[channel] as string);
      n++;
    }
    this.buf.writeUInt16BE(n, at);
  }

  private channels(subs: readonly SubscriptionRecord[] | undefined): void {
    this.ensure(1);
    if (subs === undefined) {
      this.buf[this.pos++] = 0;
      return;
    }
    this.buf[this.pos++] = 1;
    this.str(JSON.stringify(subs.map((s) => s.channel)), 4); // read by load only (redis-session-store.ts channelList)
    this.u16(subs.length);
    for (const s of subs) {
      this.str(s.channel, 2);
      this.ascii(s.position ?? '');
      this.ascii(s.version === undefined ? '' : s.version.toString()); // kept by a channel this list joins (MN-15)
    }
  }

  private frames(frames: readonly ReplayFrame[] | undefined): void {
    const n = frames?.length ?? 0;
    this.ensure(4);
    this.buf.writeUInt32BE(n, this.pos);
    this.pos += 4;
    for (let i = 0; i < n; i++) {
      const f = (frames as readonly ReplayFrame[])[i] as ReplayFrame;
      this.ascii(f.seq.toString());
      const b = f.bytes;
      this.ensure(4 + b.byteLength);
      this.buf.writeUInt32BE(b.byteLength, this.pos);
      this.buf.set(b, this.pos + 4);
      this.pos += 4 + b.byteLength;
    }
  }

  private u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }

  /** Room for `n` bytes at pos, skipped; returns where they start. */
  private reserve(n: number): number {
    this.ensure(n);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  /** A short ASCII string (decimals, positions) behind a u8 length. */
  private ascii(s: string): void {
    if (s.length > 0xff) throw new RangeError(`commit batch: field of ${s.length} characters past its u8 length`);
    this.ensure(1 + s.length);
    this.buf[this.pos] = s.length;
    this.pos += 1 + this.buf.write(s, this.pos + 1, 'latin1');
  }

  /** A UTF-8 string behind a `width`-byte length (2 or 4). */
  private str(s: string, width: 2 | 4): void {
    this.ensure(width + 3 * s.length); // UTF-8: at most 3 bytes per UTF-16 unit
    const n = this.buf.write(s, this.pos + width, 'utf8');
    if (width === 2) {
      if (n > 0xffff) throw new RangeError(`commit batch: field of ${n} bytes past its u16 length`);
      this.buf.writeUInt16BE(n, this.pos);
    } else this.buf.writeUInt32BE(n, this.pos);
    this.pos += width + n;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}
