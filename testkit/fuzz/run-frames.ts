/**
 * Run one connection plan against a server and compare what happened with the
 * spec's answer (frame-cases.ts): the close code of the closing frame, or a live
 * session that still answers a Heartbeat after every keeping frame. After a
 * protocol-error close, the session must be gone (the registry's reset rule):
 * the server no longer holds it, and a resume of it gets NEW.
 */
import type { WebSocket } from 'ws';
import { adviceForCode } from '../../spec/protocol/close-codes.js';
import type { LifelineServer } from '../../server/server.js';
import { tryConnect } from '../raw-client.js';
import { create } from '@bufbuild/protobuf';
import { EnvelopeSchema, ResumeOutcome } from '../../gen/lifeline/v1/envelope_pb.js';
import { encode } from '../../spec/protocol/codec.js';
import { expectPlan, type ConnectionPlan, type FrameCase, type FuzzServerLimits } from './frame-cases.js';
import { ALLOWED_ORIGIN } from './rig.js';

export interface PlanResult {
  /** Frames sent (the Hello included): each is one case. */
  readonly cases: number;
  /** Why the outcome differs from the spec's answer; undefined when it matches. */
  readonly unexpected: string | undefined;
  /** A session was created and then closed with a resetting code: did it survive? */
  readonly survivedReset: boolean;
  /** The closing frame was a fault `ws` finds itself (issue 13, defect 2). */
  readonly isWsFault: boolean;
  readonly origins: readonly string[];
}

function sendFrame(ws: WebSocket, f: FrameCase): void {
  const w = f.wire;
  switch (w.kind) {
    case 'binary':
      ws.send(w.bytes, { binary: true });
      return;
    case 'text':
      ws.send(w.text, { binary: false });
      return;
    case 'fragmented': {
      const size = Math.ceil(w.bytes.length / w.pieces);
      for (let i = 0; i < w.pieces; i++) ws.send(w.bytes.subarray(i * size, (i + 1) * size), { binary: true, fin: i === w.pieces - 1 });
      return;
    }
    case 'raw':
      (ws as unknown as { _socket: { write(b: Uint8Array): void } })._socket.write(w.bytes);
  }
}

let probeId = 0x4000_0000;

export async function runFramePlan(srv: LifelineServer, plan: ConnectionPlan, limits: FuzzServerLimits, opts: { checkResume: boolean }): Promise<PlanResult> {
  // The probe: a Heartbeat after every frame of the plan; its ack proves they were all kept.
  // It is part of what the oracle judges (without a Hello it must close, HS-8), not a case.
  const id = ++probeId;
  const probe: FrameCase = { origin: 'probe', wire: { kind: 'binary', bytes: encode(create(EnvelopeSchema, { body: { case: 'heartbeat', value: { id, sentAtMs: 0n } } })) } };
  const closing = expectPlan(plan, limits).closeAt >= 0;
  const full: ConnectionPlan = closing ? plan : { hello: plan.hello, frames: [...plan.frames, probe] };
  const { closeAt, expected } = expectPlan(full, limits);
  const origins = [...(plan.hello ? ['hello'] : []), ...full.frames.map((f) => f.origin)];
  const cases = origins.length - (closing ? 0 : 1);
  const r = await tryConnect(srv.url(), { origin: ALLOWED_ORIGIN, timeoutMs: 20_000 }).catch((err: unknown) => err as Error);
  if (r instanceof Error) return { cases, unexpected: `connect failed: ${r.message}`, survivedReset: false, isWsFault: false, origins };
  if (!r.ok) return { cases, unexpected: `upgrade refused with ${r.refusal.status}`, survivedReset: false, isWsFault: false, origins };
  const c = r.client;
  try {
    if (plan.hello) c.sendBytes(encode(plan.hello));
    for (const f of full.frames) sendFrame(c.ws, f);
    const welcome = () => c.bodies('welcome')[0];
    if (!expected.close) {
      const ack = await Promise.race([
        c.waitForBody('heartbeatAck', 10_000, (a) => a.id === id).then(() => 'ack' as const),
        c.closed.then((ci) => `closed ${ci.code} ${ci.reason}` as const),
      ]).catch((e: unknown) => `no answer: ${e instanceof Error ? e.message : String(e)}`);
      if (ack !== 'ack') return { cases, unexpected: `expected the session to stay open after ${origins.join(',')}; ${ack}`, survivedReset: false, isWsFault: false, origins };
      c.close(1000);
      return { cases, unexpected: undefined, survivedReset: false, isWsFault: false, origins };
    }
    const ci = await Promise.race([c.closed, new Promise<undefined>((res) => setTimeout(() => res(undefined), 10_000))]);
    if (!ci) return { cases, unexpected: `expected close ${expected.code} (${expected.rule}) at frame ${closeAt} (${origins[closeAt]}); still open after 10 s`, survivedReset: false, isWsFault: expected.isWsFault, origins };
    if (ci.code !== expected.code) {
      return { cases, unexpected: `frame ${closeAt} (${origins[closeAt]}): closed ${ci.code} "${ci.reason}", expected ${expected.code} (${expected.rule})`, survivedReset: false, isWsFault: expected.isWsFault, origins };
    }
    // The registry's reset rule: no session survives a close whose advice resets it (CC-2, issue 13 defect 2).
    const w = welcome();
    if (!w || !adviceForCode(ci.code).resetSession) return { cases, unexpected: undefined, survivedReset: false, isWsFault: expected.isWsFault, origins };
    let survived = srv.session(w.sessionId) !== undefined;
    if (survived) {
      // Give the server the close event before deciding (the socket's close is asynchronous).
      for (let i = 0; i < 20 && srv.session(w.sessionId) !== undefined; i++) await new Promise((res) => setTimeout(res, 10));
      survived = srv.session(w.sessionId) !== undefined;
    }
    if (opts.checkResume && !survived) {
      const again = await tryConnect(srv.url(), { origin: ALLOWED_ORIGIN, timeoutMs: 10_000 });
      if (again.ok) {
        const wel = await again.client.handshake({ sessionId: w.sessionId, lastServerSeq: 0n }, 10_000);
        again.client.close(1000);
        if (wel.resume?.outcome !== ResumeOutcome.NEW) survived = true;
      }
    }
    return { cases, unexpected: undefined, survivedReset: survived, isWsFault: expected.isWsFault, origins };
  } finally {
    if (c.isOpen) c.terminate();
  }
}
