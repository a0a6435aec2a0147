/** Scenario 4 (issue 7) in its own process: see bench/codec.bench.ts. */
import type { Rpc } from '../lib/child.js';
import { codecTable, runCodec, type CodecRow } from '../codec.bench.js';
import { isPinned, launch, stopAll, type RunContext, type Section } from '../lib/scenario.js';

const HOT = new Set(['Heartbeat', 'HeartbeatAck', 'Ack', 'StatePatch (200 B delta)']);

export function bench(_cfg: Record<string, unknown>, rpc: Rpc): void {
  rpc.on('run', (a) => runCodec({ reps: a['reps'] as number, batchMs: a['batchMs'] as number }));
}

export async function runCodecScenario(ctx: RunContext): Promise<Section> {
  const child = await launch(ctx, { scenario: 'codec', role: 'bench', config: {}, cpu: 0 });
  let rows: CodecRow[];
  try {
    rows = await child.call<CodecRow[]>('run', ctx.quick ? { reps: 5, batchMs: 10 } : { reps: 9, batchMs: 15 }, 300_000);
  } finally {
    await stopAll(ctx, child);
  }
  const lifeline = rows.filter((r) => r.contender.startsWith('Lifeline') && HOT.has(r.message));
  const targets = lifeline.flatMap((r) => [
    { what: `codec ${r.message}: ≤ 0.3× JSON time`, measured: `${r.nsRatioToJson.toFixed(2)}×`, isMet: r.nsRatioToJson <= 0.3 },
    { what: `codec ${r.message}: ≤ 0.7× JSON bytes`, measured: `${r.bytesRatioToJson.toFixed(2)}×`, isMet: r.bytesRatioToJson <= 0.7 },
  ]);
  return {
    placement: isPinned(ctx) ? 'one process pinned to core 0 (taskset)' : 'one process, unpinned',
    title: 'Codec (encode + decode per message)',
    table: codecTable(rows),
    notes: [
      'Process CPU time per encode+decode pair, batches of ~10–20 ms, median over repetitions, contenders interleaved.',
      '"Lifeline codec" is what the server and client run: codec.ts encode/decode, validation included, hot bodies on the hand-written fast path (spec/protocol/fast-codec.ts, proven byte-identical to protobuf-es by fast-check properties).',
      'JSON carries the same content: u64 as numbers, bytes as base64 (JSON has no bytes type), decode includes base64 → bytes; the UTF-8 encoding of the JSON text for the socket is not counted.',
      'The StatePatch delta is 200 bytes of JSON text; Message (64 B payload) is listed for information (not a target row).',
    ],
    targets,
  };
}
