/**
 * Model-based check of seq monotonicity and gap-freedom in both directions
 * (SEQ-2, SEQ-3, SEQ-9, SEQ-10, RS-2, RS-5) under arbitrary interleavings of
 * publishes, client sends, acks, clean and silent disconnects and resumes.
 * fast-check generates the command sequences and shrinks a failing one to the
 * shortest; the model is the spec's promise: every message exactly once, in
 * order, numbered 1, 2, 3 … across every resume of the session.
 */
import fc from 'fast-check';
import { ResumeOutcome } from '../../../gen/lifeline/v1/envelope_pb.js';
import { CaseFailure, check, checkEqual } from '../../framework/failure.js';
import { checkProperty, commandsReplayPath } from '../../framework/property.js';
import type { ServerCaseContext } from '../../server-mode/harness.js';
import { envelope, type Peer } from '../../server-mode/peer.js';
import { bytesOf, roundTrip, textOf } from './util.js';

interface Model {
  /** Payloads published, in order. */
  published: number;
  /** Client messages sent (seq = index + 1). */
  clientSent: number;
}

/** The real side: one session over successive sockets. */
class Real {
  peer!: Peer;
  sessionId = '';
  /** Highest server seq processed contiguously (RS-10). */
  lastServerSeq = 0n;
  /** Payload texts received from the server, in processing order. */
  received: string[] = [];
  /** How many frames of the current peer were processed. */
  private cursor = 0;
  /** Highest server seq this client acked (it acks at the latest at half the window, SEQ-5). */
  ackSent = 0n;
  /** Client messages: seq → payload text; acked up to. */
  clientLog: string[] = [];
  clientAcked = 0n;
  /** The resume result to check against what follows (RS-5). */
  pendingReplay: { fromSeq: bigint; replayed: number } | undefined;
  private connections = 0;

  constructor(
    readonly ctx: ServerCaseContext,
    readonly channel: string,
  ) {}

  /** Process newly arrived frames: seq continuity (SEQ-2), replay accounting (RS-5), acks of our messages. */
  absorb(): void {
    const frames = this.peer.frames;
    for (; this.cursor < frames.length; this.cursor++) {
      const b = (frames[this.cursor] as (typeof frames)[number]).env.body;
      if (b.case === 'ack') {
        if (b.value.seq > BigInt(this.clientLog.length)) throw new CaseFailure(`server acked client seq ${b.value.seq}, only ${this.clientLog.length} sent`);
        if (b.value.seq > this.clientAcked) this.clientAcked = b.value.seq;
        continue;
      }
      if (b.case !== 'message' && b.case !== 'statePatch' && b.case !== 'snapshot') continue;
      const seq = b.value.seq;
      if (seq !== this.lastServerSeq + 1n) {
        throw new CaseFailure(`${b.case} seq ${seq} after ${this.lastServerSeq}: ${seq <= this.lastServerSeq ? 'duplicate (SEQ-2 reuse / RS-2 replayed twice)' : 'gap (SEQ-2)'}`);
      }
      if (this.pendingReplay && this.pendingReplay.replayed > 0) {
        checkEqual(seq, this.pendingReplay.fromSeq, 'seq of the next replayed message (RS-5)');
        this.pendingReplay = { fromSeq: seq + 1n, replayed: this.pendingReplay.replayed - 1 };
      }
      this.lastServerSeq = seq;
      if (b.case === 'message') this.received.push(textOf(b.value.payload));
    }
    const halfWindow = BigInt(Math.max(1, Math.floor(Math.min(1024, this.ctx.server.replayWindowMessages) / 2)));
    if (this.lastServerSeq - this.ackSent >= halfWindow) this.ack();
  }

  ack(): void {
    if (this.lastServerSeq > this.ackSent) {
      this.peer.send(envelope('ack', { seq: this.lastServerSeq }));
      this.ackSent = this.lastServerSeq;
    }
  }

  async connect(resume: boolean): Promise<void> {
    this.peer = await this.ctx.peer();
    this.cursor = 0;
    this.connections++;
    const w = await this.peer.handshake({
      channels: [this.channel],
      receiveWindow: 1024,
      ...(resume ? { sessionId: this.sessionId, lastServerSeq: this.lastServerSeq } : {}),
    });
    this.cursor = 1;
    if (!resume) {
      this.sessionId = w.sessionId;
      return;
    }
    const r = w.resume;
    checkEqual(r?.outcome, ResumeOutcome.RESUMED, `resume #${this.connections} outcome (RS-2: everything after last_server_seq is kept)`);
    checkEqual(w.sessionId, this.sessionId, 'session id after resume');
    checkEqual(r?.fromSeq, this.lastServerSeq + 1n, 'Welcome.resume.from_seq (RS-5)');
    this.pendingReplay = { fromSeq: this.lastServerSeq + 1n, replayed: r?.replayed ?? 0 };
    // SEQ-9: resend every unacked client message above last_client_seq, in order, original seq
    const lastClient = w.lastClientSeq;
    check(lastClient <= BigInt(this.clientLog.length), `Welcome.last_client_seq ${lastClient} > ${this.clientLog.length} sent`);
    check(lastClient >= this.clientAcked, `Welcome.last_client_seq ${lastClient} below the acked ${this.clientAcked}: acked messages lost (SEQ-10)`);
    for (let s = Number(lastClient) + 1; s <= this.clientLog.length; s++) {
      this.peer.send(envelope('message', { seq: BigInt(s), payload: bytesOf(this.clientLog[s - 1] as string) }));
    }
  }

  /** Wait until the server has sent everything published and acked everything sent. */
  async settle(model: Model): Promise<void> {
    await this.peer.until(
      () => {
        this.absorb();
        return (this.received.length >= model.published && this.clientAcked >= BigInt(model.clientSent)) || this.peer.closed;
      },
      3000,
      `delivery of ${model.published} published (have ${this.received.length}) and ack of ${model.clientSent} sent (have ${this.clientAcked})`,
    );
    if (this.peer.closed) throw new CaseFailure(`session closed ${this.peer.closed.code} ${this.peer.closed.reason}`);
    this.absorb();
    if (this.pendingReplay && this.pendingReplay.replayed > 0) throw new CaseFailure(`Welcome said ${this.pendingReplay.replayed} more replayed messages than arrived (RS-5)`);
    for (let i = 0; i < model.published; i++) {
      if (this.received[i] !== `p${i}`) throw new CaseFailure(`message #${i} is ${JSON.stringify(this.received[i])}, expected "p${i}": lost, duplicated or reordered`);
    }
    checkEqual(this.received.length, model.published, 'messages received');
  }
}

type Cmd = fc.AsyncCommand<Model, Real>;

class Publish implements Cmd {
  constructor(readonly n: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    await r.ctx.hooks.publish(r.channel, Array.from({ length: this.n }, (_, i) => ({ payload: bytesOf(`p${m.published + i}`) })));
    m.published += this.n;
    await r.settle(m);
  }
  toString = () => `publish(${this.n})`;
}

class ClientSend implements Cmd {
  constructor(readonly n: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    for (let i = 0; i < this.n; i++) {
      const text = `c${r.clientLog.length}`;
      r.clientLog.push(text);
      r.peer.send(envelope('message', { seq: BigInt(r.clientLog.length), payload: bytesOf(text) }));
    }
    m.clientSent += this.n;
    await r.settle(m);
  }
  toString = () => `clientSend(${this.n})`;
}

class AckAll implements Cmd {
  check = () => true;
  async run(m: Model, r: Real) {
    r.absorb();
    r.ack();
    await roundTrip(r.peer);
    await r.settle(m);
  }
  toString = () => 'ackAll';
}

class Disconnect implements Cmd {
  constructor(
    readonly how: 'silent' | 'clean',
    readonly publishWhileAway: number,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    r.absorb();
    const old = r.peer;
    if (this.how === 'silent') old.vanish();
    else old.close(1001, 'going away'); // GOING_AWAY keeps the session (CC-7)
    await old.until(() => old.closed, 2000, 'socket closed');
    if (this.publishWhileAway > 0) {
      await r.ctx.hooks.publish(r.channel, Array.from({ length: this.publishWhileAway }, (_, i) => ({ payload: bytesOf(`p${m.published + i}`) })));
      m.published += this.publishWhileAway;
    }
    await r.connect(true);
    await r.settle(m);
  }
  toString = () => `${this.how}Disconnect(publishWhileAway=${this.publishWhileAway})+resume`;
}

export async function runSeqModel(ctx: ServerCaseContext): Promise<void> {
  const q = Math.max(1, Math.floor(ctx.server.queueLimitMessages / 2));
  const commands = fc.commands(
    [
      fc.integer({ min: 1, max: q }).map((n) => new Publish(n)),
      fc.integer({ min: 1, max: 4 }).map((n) => new ClientSend(n)),
      fc.constant(new AckAll()),
      fc.tuple(fc.constantFrom<'silent' | 'clean'>('silent', 'clean'), fc.integer({ min: 0, max: q })).map(([how, n]) => new Disconnect(how, n)),
    ],
    { maxCommands: ctx.thorough ? 30 : 10, ...(commandsReplayPath(ctx) ? { replayPath: commandsReplayPath(ctx) as string } : {}) },
  );
  let round = 0;
  await checkProperty(ctx, commands, async (cmds) => {
    const real = new Real(ctx, ctx.channel(`model${++round}`));
    await real.connect(false);
    const model: Model = { published: 0, clientSent: 0 };
    try {
      await fc.asyncModelRun(() => ({ model, real }), cmds);
      // SEQ-10 and SEQ-3: the application got each client message exactly once, in order
      if (ctx.server.features.includes('inbox')) {
        const inbox = (await ctx.hooks.inbox(real.sessionId)).map(textOf);
        const want = real.clientLog;
        if (inbox.join(',') !== want.join(',')) throw new CaseFailure(`application received [${inbox.join(',')}], client sent [${want.join(',')}] (SEQ-3/SEQ-10: exactly once, in order)`);
      }
    } finally {
      real.peer.destroy();
    }
  }, { runs: ctx.runs });
}
