/**
 * Issue 16, saturating fan-out: where a delivery's time from send goes on the server. With
 * BENCH_WRITE_PROBE=1 the fan-out server role hooks write-batch.ts (setWriteProbe) and, for a sample
 * of bursts, reads each Message frame's `sent` (the payload header, fanout.ts makePayload) to time
 * publish → the socket write call, split into the wait before the frame's batch began (the session's
 * queue: receive window BP-1, bufferedAmount BP-4) and the wait in the batch (write-batch.ts), and
 * what Node already buffered in front of the kernel at the write. The subscribers' own from-send
 * times cover the rest (kernel buffers, the client's read and parse).
 *
 * Not timed: the socket's write callback. A flush inside a long publish tick (write-batch.ts
 * MAX_HOLD_MS) writes synchronously, but Node calls back on the next tick, after the whole publish
 * loop: the callback times the publisher's tick, not the write.
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
  let queued = new Samples(1_000_000);
  let inBatch = new Samples(1_000_000);
  let held = new Samples(1_000_000);
  let nodeBuffered = new Samples(1_000_000);
  let framesPerBurst = new Samples(1_000_000);
  let n = 0;
  setWriteProbe((frames, sock, heldMs) => {
    if (++n % SAMPLE_EVERY !== 0) return;
    const t = nowMs();
    const batchStart = t - heldMs;
    for (const f of frames) {
      // The saturation scenario's 100 B payload (header first) ends a Message frame when dropped_before is 0.
      if (f.byteLength < 102 || f[f.byteLength - 102] !== 0x2a || f[f.byteLength - 101] !== 100) continue; // payload: field 5, 100 B
      const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
      const sent = v.getFloat64(f.byteLength - 100 + 16, true);
      if (!(sent > 0 && sent <= t)) continue;
      toCall.push(t - sent);
      queued.push(Math.max(0, batchStart - sent));
      inBatch.push(t - Math.max(sent, batchStart));
    }
    held.push(heldMs);
    nodeBuffered.push(sock.writableLength);
    framesPerBurst.push(frames.length);
  });
  rpc.on('probe', () => {
    const q = (x: Samples, digits = 1) => {
      const s = x.sorted();
      return `p50 ${fmt(sortedQuantile(s, 0.5), digits)} p99 ${fmt(sortedQuantile(s, 0.99), digits)} max ${fmt(sortedQuantile(s, 1), digits)}`;
    };
    const line = `publish→write call ms ${q(toCall)} (before its batch ${q(queued)}; in its batch ${q(inBatch)}); batch age at write ms ${q(held)}; Node-buffered B at write ${q(nodeBuffered, 0)}; frames/burst ${q(framesPerBurst, 0)}`;
    toCall = new Samples(1_000_000);
    queued = new Samples(1_000_000);
    inBatch = new Samples(1_000_000);
    held = new Samples(1_000_000);
    nodeBuffered = new Samples(1_000_000);
    framesPerBurst = new Samples(1_000_000);
    return line;
  });
}
