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

/** One WebSocket frame as a client would put it on the wire (RFC 6455 §5.2), for frames `ws` refuses to build. */
export interface WsFrameSpec {
  /** 1 text, 2 binary, 0 continuation, 8 close, 9 ping, 10 pong. */
  readonly opcode: number;
  readonly payload: Uint8Array;
  /** Default true. */
  readonly fin?: boolean;
  /** RSV1 set without a negotiated extension: a protocol error (RFC 6455 §5.2). */
  readonly rsv1?: boolean;
  /** Client frames must be masked (RFC 6455 §5.3); false builds an unmasked one. Default true. */
  readonly masked?: boolean;
}

/** The bytes of one WebSocket frame; write them to the TCP socket under an open WebSocket. */
export function wsFrame(f: WsFrameSpec): Uint8Array {
  const masked = f.masked ?? true;
  const len = f.payload.length;
  const head: number[] = [((f.fin ?? true) ? 0x80 : 0) | (f.rsv1 ? 0x40 : 0) | (f.opcode & 0x0f)];
  const m = masked ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 0xff);
  else {
    head.push(m | 127, 0, 0, 0, 0);
    head.push((len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  }
  // A fixed mask is as valid as a random one; the server only has to unmask it.
  const key = [0x37, 0xfa, 0x21, 0x3d];
  const out = new Uint8Array(head.length + (masked ? 4 : 0) + len);
  out.set(head, 0);
  let o = head.length;
  if (masked) {
    out.set(key, o);
    o += 4;
  }
  for (let i = 0; i < len; i++) out[o + i] = masked ? (f.payload[i] ?? 0) ^ (key[i & 3] ?? 0) : (f.payload[i] ?? 0);
  return out;
}
