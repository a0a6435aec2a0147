/**
 * SessionRecord ⇄ a JSON string, for stores that keep bytes (issue 14: Redis). JSON cannot hold
 * bigints (seqs, versions) or bytes (replay frames), so they travel tagged: `{"$n":"42"}` and
 * `{"$b":"<base64>"}`. A decoded record is checked field by field: a store's bytes are input.
 */
import type { SessionRecord } from './session-record.js';

const BIG = '$n';
const BYTES = '$b';

function toJson(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return { [BIG]: value.toString() };
  if (value instanceof Uint8Array) return { [BYTES]: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  return value;
}

function fromJson(_key: string, value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  if (keys.length !== 1) return value;
  const v = (value as Record<string, unknown>)[keys[0] as string];
  if (keys[0] === BIG && typeof v === 'string') return BigInt(v);
  if (keys[0] === BYTES && typeof v === 'string') return new Uint8Array(Buffer.from(v, 'base64'));
  return value;
}

export class RecordCodecError extends Error {
  override readonly name = 'RecordCodecError';
}

export function encodeRecord(r: SessionRecord): string {
  // A Uint8Array's own toJSON does not exist, but Buffer's does and runs before the replacer sees it.
  return JSON.stringify(r, function (this: Record<string, unknown>, key: string, value: unknown) {
    return toJson(key, key === '' ? value : this[key]);
  });
}

export function decodeRecord(text: string): SessionRecord {
  let v: unknown;
  try {
    v = JSON.parse(text, fromJson);
  } catch (err) {
    throw new RecordCodecError(`session record is not JSON: ${(err as Error).message}`);
  }
  return checkRecord(v);
}

function fail(what: string): never {
  throw new RecordCodecError(`session record: ${what}`);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

function checkRecord(v: unknown): SessionRecord {
  if (!isObj(v)) fail('not an object');
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : fail(`${k} is not a string`));
  const num = (o: Record<string, unknown>, k: string) => (typeof o[k] === 'number' ? (o[k] as number) : fail(`${k} is not a number`));
  const big = (o: Record<string, unknown>, k: string) => (typeof o[k] === 'bigint' ? (o[k] as bigint) : fail(`${k} is not a bigint`));
  const out = isObj(v.outbound) ? v.outbound : fail('outbound');
  const inb = isObj(v.inbound) ? v.inbound : fail('inbound');
  const replay = Array.isArray(out.replay) ? out.replay : fail('outbound.replay');
  const subs = Array.isArray(v.subscriptions) ? v.subscriptions : fail('subscriptions');
  const owner = v.owner === undefined ? undefined : isObj(v.owner) ? v.owner : fail('owner');
  const machine = v.machine === undefined ? undefined : isObj(v.machine) ? v.machine : fail('machine');
  return {
    id: str('id'),
    principal: str('principal'),
    createdAtMs: num(v, 'createdAtMs'),
    expiresAtMs: v.expiresAtMs === undefined ? undefined : num(v, 'expiresAtMs'),
    policy: num(v, 'policy'),
    receiveWindow: num(v, 'receiveWindow'),
    outbound: {
      next: big(out, 'next'),
      acked: big(out, 'acked'),
      replay: replay.map((f) => {
        if (!isObj(f) || !(f.bytes instanceof Uint8Array)) fail('replay frame');
        return { seq: big(f, 'seq'), bytes: f.bytes };
      }),
    },
    inbound: { lastProcessed: big(inb, 'lastProcessed'), lastAckSent: big(inb, 'lastAckSent') },
    subscriptions: subs.map((s) => {
      if (!isObj(s) || typeof s.channel !== 'string') fail('subscription');
      const sub: { channel: string; version?: bigint; position?: string } = { channel: s.channel };
      if (s.version !== undefined) sub.version = big(s, 'version');
      if (s.position !== undefined) sub.position = typeof s.position === 'string' && /^\d+-\d+$/.test(s.position) ? s.position : fail('subscription.position');
      return sub;
    }),
    isContinuityLost: typeof v.isContinuityLost === 'boolean' ? v.isContinuityLost : fail('isContinuityLost'),
    newReason: num(v, 'newReason'),
    machine: machine && ({ value: machine.value, context: machine.context } as SessionRecord['machine']),
    owner: owner && { nodeId: typeof owner.nodeId === 'string' ? owner.nodeId : fail('owner.nodeId'), fence: num(owner, 'fence') },
  };
}
