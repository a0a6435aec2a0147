/**
 * A tiny Protobuf field writer for crafting frames the codec refuses to produce
 * (seq 0, version ≤ base_version, unknown fields, wrong wire types). The codec's
 * `encode()` validates first (WIRE-5), so a conformance runner needs a second,
 * deliberately permissive way to put bytes on the wire. It never calls
 * toBinary: only spec/protocol/codec.ts does (CONVENTIONS §9).
 */
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

/** One field of a hand-built message. */
export type RawField =
  | { readonly no: number; readonly varint: bigint | number }
  | { readonly no: number; readonly str: string }
  | { readonly no: number; readonly bytes: Uint8Array }
  | { readonly no: number; readonly fixed32: number }
  | { readonly no: number; readonly msg: readonly RawField[] };

function writeFields(w: BinaryWriter, fields: readonly RawField[]): void {
  for (const f of fields) {
    if ('varint' in f) w.tag(f.no, WireType.Varint).uint64(BigInt(f.varint));
    else if ('str' in f) w.tag(f.no, WireType.LengthDelimited).string(f.str);
    else if ('bytes' in f) w.tag(f.no, WireType.LengthDelimited).bytes(f.bytes);
    else if ('fixed32' in f) w.tag(f.no, WireType.Bit32).fixed32(f.fixed32);
    else {
      w.tag(f.no, WireType.LengthDelimited).fork();
      writeFields(w, f.msg);
      w.join();
    }
  }
}

/** Serialise a list of fields as one Protobuf message. */
export function rawMessage(fields: readonly RawField[]): Uint8Array {
  const w = new BinaryWriter();
  writeFields(w, fields);
  return w.finish();
}

/** Envelope body field numbers (proto/lifeline/v1/envelope.proto). */
export const BODY_FIELD = {
  hello: 1,
  welcome: 2,
  heartbeat: 3,
  heartbeatAck: 4,
  ack: 5,
  message: 6,
  statePatch: 7,
  snapshot: 8,
  stateDrift: 9,
  drainNotice: 10,
  subscribe: 11,
  unsubscribe: 12,
  subscribed: 13,
} as const;

/** An Envelope whose body is the given raw fields. */
export function rawEnvelope(body: keyof typeof BODY_FIELD, fields: readonly RawField[]): Uint8Array {
  return rawMessage([{ no: BODY_FIELD[body], msg: fields }]);
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
