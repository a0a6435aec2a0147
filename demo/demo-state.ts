/**
 * The demo's two state channels, pure and browser-safe: the server (demo/app.ts)
 * produces their snapshots and patches with these functions and the demo page
 * applies them with the same ones, so both sides compute the same canonical bytes
 * and the same digests (SD-1, SD-3).
 *
 * - `demo.counter`: state `{"value":N}`; a patch's delta is the new state's JSON;
 *   a client Message `{"op":"increment"}` on the channel increments it.
 * - `demo.ticker`: state is an object symbol → price (keys sorted); every tick
 *   changes one symbol; a patch's delta is `{"symbol":"ABC","price":12.34}`.
 *
 * Canonical encoding: JSON.stringify with object keys sorted at every level,
 * UTF-8. Digest: stateDigest (CRC-32C) of those bytes. Versions count from 1.
 */
import { stateDigest } from '../spec/protocol/digest.js';

export const COUNTER_CHANNEL = 'demo.counter';
export const TICKER_CHANNEL = 'demo.ticker';
export const DEMO_CHANNELS = [COUNTER_CHANNEL, TICKER_CHANNEL] as const;

export interface CounterState {
  readonly value: number;
}
export type TickerState = Readonly<Record<string, number>>;
export interface TickerDelta {
  readonly symbol: string;
  readonly price: number;
}

export type Json = null | boolean | number | string | readonly Json[] | { readonly [k: string]: Json };

/** JSON with object keys sorted at every level: one byte string per value. */
export function canonicalJson(value: Json): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v as Json)).join(',')}]`;
  const obj = value as { readonly [k: string]: Json };
  const keys = Object.keys(obj).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k] as Json)}`).join(',')}}`;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export function encodeCanonical(value: Json): Uint8Array {
  return utf8.encode(canonicalJson(value));
}

export function decodeJson(bytes: Uint8Array): unknown {
  return JSON.parse(fromUtf8.decode(bytes));
}

/** The SD-3 digest of a state: CRC-32C of its canonical bytes. */
export function digestOf(value: Json): number {
  return stateDigest(encodeCanonical(value));
}

// ---- demo.counter ----

export const INITIAL_COUNTER: CounterState = { value: 0 };

export function encodeCounter(s: CounterState): Uint8Array {
  return encodeCanonical({ value: s.value });
}

export function decodeCounter(bytes: Uint8Array): CounterState {
  const v = decodeJson(bytes) as { value?: unknown };
  if (typeof v?.value !== 'number') throw new Error('not a counter state');
  return { value: v.value };
}

/** The counter's delta is its whole new state. */
export function applyCounterPatch(_s: CounterState, delta: Uint8Array): CounterState {
  return decodeCounter(delta);
}

export function incrementCounter(s: CounterState): CounterState {
  return { value: s.value + 1 };
}

/** The payload a client sends on demo.counter to increment it. */
export function incrementPayload(): Uint8Array {
  return encodeCanonical({ op: 'increment' });
}

export function isIncrement(payload: Uint8Array): boolean {
  try {
    const v = decodeJson(payload) as { op?: unknown };
    return v?.op === 'increment';
  } catch {
    return false;
  }
}

// ---- demo.ticker ----

export const TICKER_SYMBOLS = ['ACME', 'BOLT', 'CRUX', 'DYNA', 'EPIC'] as const;

export function initialTicker(): TickerState {
  const s: Record<string, number> = {};
  TICKER_SYMBOLS.forEach((sym, i) => (s[sym] = 100 + i * 25));
  return s;
}

export function encodeTicker(s: TickerState): Uint8Array {
  return encodeCanonical(s);
}

export function decodeTicker(bytes: Uint8Array): TickerState {
  const v = decodeJson(bytes);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a ticker state');
  return v as TickerState;
}

/** Cents, so every side prints and encodes the same number. */
export function roundPrice(p: number): number {
  return Math.round(p * 100) / 100;
}

/** One tick: a symbol moves by up to ±1 %, never below 1.00. `random` is uniform in [0, 1). */
export function nextTick(s: TickerState, random: () => number): TickerDelta {
  const symbols = Object.keys(s).sort();
  const symbol = symbols[Math.floor(random() * symbols.length) % symbols.length] as string;
  const old = s[symbol] ?? 100;
  const price = Math.max(1, roundPrice(old * (1 + (random() - 0.5) / 50)));
  return { symbol, price: price === old ? roundPrice(old + 0.01) : price };
}

export function encodeTickerDelta(d: TickerDelta): Uint8Array {
  return encodeCanonical({ symbol: d.symbol, price: d.price });
}

export function applyTickerPatch(s: TickerState, delta: Uint8Array): TickerState {
  const d = decodeJson(delta) as { symbol?: unknown; price?: unknown };
  if (typeof d?.symbol !== 'string' || typeof d.price !== 'number') throw new Error('not a ticker delta');
  return { ...s, [d.symbol]: d.price };
}

// ---- both channels ----

export type DemoState = CounterState | TickerState;

/** Decode a snapshot's state of a demo channel. */
export function decodeDemoState(channel: string, bytes: Uint8Array): DemoState {
  return channel === COUNTER_CHANNEL ? decodeCounter(bytes) : decodeTicker(bytes);
}

/** Apply a patch's delta to a demo channel's state (SD-1: the caller checks base_version). */
export function applyDemoPatch(channel: string, state: DemoState, delta: Uint8Array): DemoState {
  return channel === COUNTER_CHANNEL ? applyCounterPatch(state as CounterState, delta) : applyTickerPatch(state as TickerState, delta);
}

/** The canonical bytes of a demo channel's state, for digests (SD-3). */
export function encodeDemoState(channel: string, state: DemoState): Uint8Array {
  return channel === COUNTER_CHANNEL ? encodeCounter(state as CounterState) : encodeTicker(state as TickerState);
}
