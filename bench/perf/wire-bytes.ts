/**
 * Hand-built Envelope bytes for the in-process echo probes (echo-cpu.ts, echo-wire-cpu.ts): the load they
 * generate is subtracted from what they measure, so it is built without the codec.
 */

/** Appends `v` as a protobuf varint. */
export function varint(out: number[], v: number): void {
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

/** The Envelope of an `Ack{seq}` (body field 5, Ack.seq field 1). */
export function ackEnvelope(seq: number): number[] {
  const body: number[] = [0x08];
  varint(body, seq);
  return [0x2a, body.length, ...body];
}
