/**
 * Issue 16, saturating fan-out: where a delivery's time from send goes on the server. With
 * BENCH_WRITE_PROBE=1 the fan-out server role hooks write-batch.ts (setWriteProbe) and, for a sample
 * of bursts, reads each Message frame's `sent` (the payload header, fanout.ts makePayload) to time
 * publish → the socket write call (session queue + batch hold) and publish → the write done (Node's
 * buffer in front of the kernel drained into it). The subscribers' own from-send times cover the rest
 * (kernel buffers, the client's queue and its parse).
 */
import type { Rpc } from '../lib/child.js';
import { fmt, Samples, sortedQuantile } from '../lib/stats.js';

/** One burst in this many is timed. */
const SAMPLE_EVERY = 8;

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export async function installWriteProbe(rpc: Rpc): Promise<void> {
  const { setWriteProbe } = await import('../../server/transports/write-batch.js');
  let toCall = new Samples(1_000_000);
  let toDone = new Samples(1_000_000);
  let held = new Samples(1_000_000);
  let nodeBuffered = new Samples(1_000_000);
  let framesPerBurst = new Samples(1_000_000);
  let n = 0;
  setWriteProbe((frames, sock, heldMs) => {
    if (++n % SAMPLE_EVERY !== 0) return undefined;
    const t = nowMs();
    const sents: number[] = [];
    for (const f of frames) {
      // The saturation scenario's 100 B payload (header first) ends a Message frame when dropped_before is 0.
      if (f.byteLength < 102 || f[f.byteLength - 102] !== 0x2a || f[f.byteLength - 101] !== 100) continue; // payload: field 5, 100 B
      const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
      const sent = v.getFloat64(f.byteLength - 100 + 16, true);
      if (!(sent > 0 && sent <= t)) continue;
      sents.push(sent);
      toCall.push(t - sent);
    }
    held.push(heldMs);
    nodeBuffered.push(sock.writableLength);
    framesPerBurst.push(frames.length);
    if (sents.length === 0) return undefined;
    return () => {
      const d = nowMs();
      for (const s of sents) toDone.push(d - s);
    };
  });
  rpc.on('probe', () => {
    const q = (x: Samples, digits = 1) => {
      const s = x.sorted();
      return `p50 ${fmt(sortedQuantile(s, 0.5), digits)} p99 ${fmt(sortedQuantile(s, 0.99), digits)} max ${fmt(sortedQuantile(s, 1), digits)}`;
    };
    const line = `publish→write call ms ${q(toCall)}; publish→written ms ${q(toDone)}; batch held ms ${q(held)}; Node-buffered B at write ${q(nodeBuffered, 0)}; frames/burst ${q(framesPerBurst, 0)}`;
    toCall = new Samples(1_000_000);
    toDone = new Samples(1_000_000);
    held = new Samples(1_000_000);
    nodeBuffered = new Samples(1_000_000);
    framesPerBurst = new Samples(1_000_000);
    return line;
  });
}
