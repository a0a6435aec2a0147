/**
 * Hostile peers (issue 13): closes raised by the WebSocket layer follow the registry's reset rule
 * (CC-11), a control-body flood is closed 1008 (BP-16), and a client past the receive window it was
 * granted is closed 1002 (BP-17).
 */
import { ResumeOutcome, ResumeReason } from '../../../gen/lifeline/v1/envelope_pb.js';
import { CaseFailure, CountFailure, check, checkEqual } from '../../framework/failure.js';
import { envelope } from '../../server-mode/peer.js';
import { rawEnvelope, type WsFrameSpec } from '../../wire.js';
import type { WsCloseCodeName } from '../../../spec/protocol/close-codes.js';
import { bystander, bytesOf, checkClose, expectClose, roundTrip, serverCase, session, sleep, type ServerCase } from './util.js';

/** The payload the application holds (spec/conformance-control.md §3.4). */
const HOLD = 'lifeline-conformance:hold';

const heartbeat = rawEnvelope('heartbeat', [{ no: 1, varint: 1 }]);

const wsLayerErrors: { what: string; frame: WsFrameSpec; name: WsCloseCodeName }[] = [
  { what: 'text frame with invalid UTF-8', frame: { opcode: 1, payload: new Uint8Array([0xc3, 0x28]) }, name: 'INVALID_PAYLOAD' },
  { what: 'binary frame with RSV1 set, no extension negotiated', frame: { opcode: 2, payload: heartbeat, rsv1: true }, name: 'PROTOCOL_ERROR' },
  { what: 'unmasked client frame', frame: { opcode: 2, payload: heartbeat, masked: false }, name: 'PROTOCOL_ERROR' },
];

export const hardeningCases: ServerCase[] = [
  serverCase({
    id: 'CC-11/ws-layer-errors-reset',
    spec: ['CC-11', 'RS-1', 'WIRE-2'],
    level: 'MUST',
    requires: ['resume'],
    description: 'invalid UTF-8 in a text frame (1007), RSV1 (1002) and an unmasked frame (1002) end the session: a resume that names it gets NEW',
    async run(ctx) {
      const b = await bystander(ctx);
      for (const e of wsLayerErrors) {
        const p = await ctx.peer();
        const w = await p.handshake();
        p.sendRawFrame(e.frame, e.what);
        // The close timeout (CC-10, about the handshake timeout) may pass before the TCP close.
        await expectClose(p, [e.name], ctx.server.handshakeTimeoutMs + 3000);
        const again = await ctx.peer();
        const w2 = await again.handshake({ sessionId: w.sessionId, lastServerSeq: 0n });
        const r = w2.resume;
        if (r?.outcome !== ResumeOutcome.NEW) {
          throw new CaseFailure(`after a ${e.what} closed ${e.name}, a resume of the session got outcome ${r?.outcome} reason ${r?.reason}: the reset rule (RS-1) was not applied`);
        }
        again.close();
      }
      await b.assertUnharmed();
    },
  }),
  serverCase({
    id: 'BP-16/control-flood-1008',
    spec: ['BP-16', 'SEC-4'],
    level: 'MUST',
    requires: ['control-rate-limit'],
    description: 'a client sending Heartbeats far faster than the declared control rate is closed with POLICY_VIOLATION (1008); another session is unharmed',
    async run(ctx) {
      const rate = ctx.server.controlRatePerSecond ?? 200;
      const burst = ctx.server.controlBurst ?? rate;
      const b = await bystander(ctx);
      const p = await ctx.peer({ heartbeatMs: 0 });
      await p.handshake();
      const n = 2 * (burst + rate); // twice what a second of the limit allows, sent at once
      ctx.transcript.event('runner', `${n} Heartbeats at once (rate ${rate}/s, burst ${burst})`);
      for (let i = 1; i <= n && !p.closed; i++) p.send(envelope('heartbeat', { id: i, sentAtMs: 1n }));
      const closed = await p.until(() => p.closed, 3000 + ctx.slackMs, 'close with POLICY_VIOLATION');
      try {
        checkClose(closed, ['POLICY_VIOLATION']);
      } catch (err) {
        // A server that enforces BP-16 closes at the burst, milliseconds into the flood, long before any
        // heartbeat timeout (interval × (missed + 1)); another code (4200 when the runner, stalled by the
        // flood, answers pings late) means nothing stopped the flood: no runner stall excuses it.
        throw new CountFailure(`${(err as Error).message} (BP-16: a control flood is closed at the burst)`);
      }
      await b.assertUnharmed();
    },
  }),
  serverCase({
    id: 'BP-17/window-overrun-1002',
    spec: ['BP-17', 'BP-1'],
    level: 'MUST',
    requires: ['hold'],
    description: 'with its first message held by the application, a client may send up to Welcome.receive_window messages; one more is closed with PROTOCOL_ERROR (1002)',
    async run(ctx) {
      const p = await ctx.peer({ heartbeatMs: 0 });
      const w = await p.handshake();
      const window = w.receiveWindow;
      check(window > 0, 'Welcome.receive_window is 0');
      p.send(envelope('message', { seq: 1n, payload: bytesOf(HOLD) }));
      for (let seq = 2; seq <= window; seq++) p.send(envelope('message', { seq: BigInt(seq), payload: bytesOf(`m${seq}`) }));
      await roundTrip(p, 2000); // exactly the window in flight: still served
      checkEqual(p.closed, undefined, 'closed within the window');
      p.send(envelope('message', { seq: BigInt(window + 1), payload: bytesOf('one past the window') }));
      await expectClose(p, ['PROTOCOL_ERROR'], 2000 + ctx.slackMs);
    },
  }),
  serverCase({
    id: 'RS-11/oldest-detached-evicted',
    spec: ['RS-11', 'RS-1'],
    level: 'MUST',
    requires: ['resume', 'detached-limit'],
    destructive: true,
    description: 'with at most 2 detached sessions (switched on by reset limits), a third that detaches ends the one that detached first: its resume gets NEW with EVICTED (or UNKNOWN_SESSION); the other two resume',
    async run(ctx) {
      await ctx.hooks.reset({ maxDetachedSessions: 2 });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const { peer, welcome } = await session(ctx, []);
        ids.push(welcome.sessionId);
        // one at a time, in order: the server sees each socket end before the next one (RS-11 is by detach order)
        peer.vanish();
        await peer.waitClose(1000);
        await roundTrip((await session(ctx, [])).peer); // a fresh round trip: the server has processed the drop
      }
      // over HTTP the server notices each vanish one receive gap later (HT-12), in the same order
      await sleep(ctx.silentDropMs);
      const resumeOf = async (sessionId: string) => (await (await ctx.peer()).handshake({ sessionId, lastServerSeq: 0n, channels: [] })).resume;
      // newest first: resuming the oldest first would, on a server that evicts the wrong one, hide it
      const third = await resumeOf(ids[2] as string);
      const second = await resumeOf(ids[1] as string);
      const first = await resumeOf(ids[0] as string);
      const name = (r: typeof first) => `${ResumeOutcome[r?.outcome ?? 0]}/${ResumeReason[r?.reason ?? 0]}`;
      ctx.note(`resumes after 3 detaches with a limit of 2: first ${name(first)}, second ${name(second)}, third ${name(third)}`);
      check(third?.outcome === ResumeOutcome.RESUMED, `the session that detached last was not kept: ${name(third)} (RS-11 ends the one that detached first)`);
      check(second?.outcome === ResumeOutcome.RESUMED, `the session that detached second was not kept: ${name(second)} (RS-11 ends the one that detached first)`);
      checkEqual(ResumeOutcome[first?.outcome ?? 0], 'NEW', 'outcome of a resume of the session that detached first');
      check(first?.reason === ResumeReason.EVICTED || first?.reason === ResumeReason.UNKNOWN_SESSION, `reason ${name(first)}: RS-11 asks for EVICTED (or UNKNOWN_SESSION)`);
    },
  }),
];
