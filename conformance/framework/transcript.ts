/**
 * The frames a case exchanged, decoded, so a third party sees what went wrong
 * (issue 6, counterexamples). Bounded: a long property run keeps its tail.
 */
import { toJson } from '@bufbuild/protobuf';
import { EnvelopeSchema, type Envelope } from '../../gen/lifeline/v1/envelope_pb.js';
import { decode } from '../../spec/protocol/codec.js';

const MAX_LINES = 400;

export function describeEnvelope(env: Envelope): string {
  const json = toJson(EnvelopeSchema, env) as Record<string, unknown>;
  const [body, value] = Object.entries(json)[0] ?? ['(no body)', {}];
  const name = body.charAt(0).toUpperCase() + body.slice(1);
  const text = JSON.stringify(value);
  return `${name}${text.length > 240 ? `${text.slice(0, 237)}...` : text}`;
}

export function describeBytes(bytes: Uint8Array): string {
  const r = decode(bytes, { maxPayloadBytes: Number.MAX_SAFE_INTEGER });
  if (r.ok) return describeEnvelope(r.envelope);
  const hex = Buffer.from(bytes.subarray(0, 48)).toString('hex');
  return `<${bytes.length} B, ${r.error.closeName}: ${hex}${bytes.length > 48 ? '…' : ''}>`;
}

export class Transcript {
  private lines: string[] = [];
  private dropped = 0;
  private t0 = performance.now();

  /** Start a fresh transcript (a new property run). */
  reset(): void {
    this.lines = [];
    this.dropped = 0;
    this.t0 = performance.now();
  }

  /** `who` is a peer label (c1, server); `dir` is '→' (runner sends) or '←' (runner receives). */
  frame(who: string, dir: '→' | '←', bytes: Uint8Array | Envelope): void {
    const text = bytes instanceof Uint8Array ? describeBytes(bytes) : describeEnvelope(bytes);
    this.push(`${who} ${dir} ${text}`);
  }

  event(who: string, text: string): void {
    this.push(`${who} · ${text}`);
  }

  private push(text: string): void {
    const ms = Math.round(performance.now() - this.t0);
    this.lines.push(`+${ms}ms ${text}`);
    if (this.lines.length > MAX_LINES) {
      this.lines.shift();
      this.dropped++;
    }
  }

  snapshot(): string[] {
    return this.dropped > 0 ? [`(${this.dropped} earlier lines dropped)`, ...this.lines] : [...this.lines];
  }
}
