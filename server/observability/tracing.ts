/**
 * One OpenTelemetry span per Lifeline session, continued from a validated W3C `traceparent`
 * sent with the upgrade request (SEC-3). OpenTelemetry API only: with no SDK installed by the
 * application every call is a no-op, and the library carries no SDK.
 *
 * Only a well-formed version-00 `traceparent` is accepted. Anything else (uppercase hex, an
 * all-zero id, another version, several headers, extra characters, another format such as B3)
 * is ignored and the session span starts a new trace: a foreign value is never propagated.
 * `tracestate` is never read, so one tenant's vendor state cannot reach another's traces.
 */
import type { IncomingHttpHeaders } from 'node:http';
import {
  INVALID_SPAN_CONTEXT,
  isSpanContextValid,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type SpanContext,
  type Tracer,
} from '@opentelemetry/api';
import { ResumeOutcomeSchema, ResumeReasonSchema, type ResumeOutcome, type ResumeReason } from '../../gen/lifeline/v1/envelope_pb.js';
import { closeCodeName } from '../../spec/protocol/close-codes.js';

/** The parts of a valid `traceparent` (W3C Trace Context, version 00). */
export interface TraceParent {
  /** 32 lowercase hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lowercase hex digits, not all zero: the caller's span. */
  readonly spanId: string;
  /** Only the sampled bit (0x01) is kept: other bits are undefined in version 00. */
  readonly traceFlags: number;
}

// Exactly version 00: `00-` 32 hex `-` 16 hex `-` 2 hex, lowercase, nothing before or after.
const TRACEPARENT_00 = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

/**
 * Parses a `traceparent` header value; undefined when it is absent, repeated or malformed (SEC-3).
 * Stricter than the W3C parser for future versions: a server cannot vouch for a format it does
 * not know, so versions other than 00 are ignored too.
 */
export function parseTraceparent(value: string | readonly string[] | undefined): TraceParent | undefined {
  if (typeof value !== 'string') return undefined; // absent, or several headers: ignore (SEC-3)
  const m = TRACEPARENT_00.exec(value);
  if (!m) return undefined; // SEC-3
  const [, traceId, spanId, flags] = m as unknown as [string, string, string, string];
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return undefined; // SEC-3
  return { traceId, spanId, traceFlags: Number.parseInt(flags, 16) & 0x01 };
}

/** The context a session span starts in: the validated remote parent, or a fresh root (SEC-3). */
export function parentContext(headers: IncomingHttpHeaders): Context {
  const parent = parseTraceparent(headers.traceparent);
  if (!parent) return ROOT_CONTEXT;
  const spanContext: SpanContext = { ...parent, isRemote: true };
  // ROOT_CONTEXT, not the active one: nothing of whatever request was running leaks into a session.
  return trace.setSpanContext(ROOT_CONTEXT, spanContext);
}

export interface SessionSpanOptions {
  /** Defaults to the global tracer provider's `lifeline` tracer (a no-op without an SDK). */
  readonly tracer?: Tracer;
  /** When the upgrade request arrived, epoch ms; the span starts there. Default: now. */
  readonly upgradeStartedAtMs?: number;
  /** More attributes for the span's start (e.g. `server.address`); never credentials. */
  readonly attributes?: Attributes;
}

/** The seam the server calls during a session's life. Every method is safe to call more than once. */
export interface SessionSpan {
  /** The span's context, e.g. for log correlation (`trace_id` in log records). */
  readonly spanContext: SpanContext;
  /** The WebSocket is open: records how long the upgrade took. */
  upgraded(atMs?: number): void;
  setSessionId(sessionId: string): void;
  /** The heartbeat interval in force (HB-1, HB-11); call again when it changes. */
  setHeartbeatInterval(intervalMs: number): void;
  /** The resume result sent in Welcome (RS-5). */
  setResume(outcome: ResumeOutcome, reason: ResumeReason): void;
  /** A notable moment (drain notice, takeover, resync), with bounded attributes. */
  event(name: string, attributes?: Attributes): void;
  /** The session's socket closed with this code; ends the span (later calls are ignored). */
  end(code: number, atMs?: number): void;
}

export const SESSION_SPAN_NAME = 'lifeline.session';

const enumName = (values: readonly { number: number; localName: string }[], n: number) =>
  values.find((v) => v.number === n)?.localName ?? 'UNSPECIFIED';

/** Starts the span of one session at its upgrade (SEC-3: only a valid traceparent becomes its parent). */
export function startSessionSpan(headers: IncomingHttpHeaders, options: SessionSpanOptions = {}): SessionSpan {
  const tracer = options.tracer ?? trace.getTracer('lifeline');
  const startedAt = options.upgradeStartedAtMs ?? Date.now();
  const span: Span = tracer.startSpan(
    SESSION_SPAN_NAME,
    { kind: SpanKind.SERVER, startTime: startedAt, attributes: options.attributes ?? {} },
    // Not `root: true`: the SDK would drop the validated parent too. ROOT_CONTEXT already is a root.
    parentContext(headers),
  );
  // Nothing records this span and it names no trace (no SDK, no valid traceparent): every call on
  // it would be a no-op, so every such connection shares one (memory per idle session, issue 12).
  if (!span.isRecording() && !isSpanContextValid(span.spanContext())) return NO_SESSION_SPAN;
  return new OtelSessionSpan(span, startedAt);
}

/** The span of a connection nothing traces: stateless, so one serves them all. */
const NO_SESSION_SPAN: SessionSpan = Object.freeze({
  spanContext: INVALID_SPAN_CONTEXT,
  upgraded(): void {},
  setSessionId(): void {},
  setHeartbeatInterval(): void {},
  setResume(): void {},
  event(): void {},
  end(): void {},
});

/** A class, not an object of closures: one exists per connection (issue 7, memory per session). */
class OtelSessionSpan implements SessionSpan {
  readonly spanContext: SpanContext;
  private isEnded = false;

  constructor(
    private readonly span: Span,
    private readonly startedAt: number,
  ) {
    this.spanContext = span.spanContext();
  }

  upgraded(atMs = Date.now()): void {
    if (!this.isEnded) this.span.setAttribute('lifeline.upgrade.duration_ms', Math.max(0, atMs - this.startedAt));
  }

  setSessionId(sessionId: string): void {
    if (!this.isEnded) this.span.setAttribute('lifeline.session.id', sessionId);
  }

  setHeartbeatInterval(intervalMs: number): void {
    if (!this.isEnded) this.span.setAttribute('lifeline.heartbeat.interval_ms', intervalMs);
  }

  setResume(outcome: ResumeOutcome, reason: ResumeReason): void {
    if (this.isEnded) return;
    this.span.setAttributes({
      'lifeline.resume.outcome': enumName(ResumeOutcomeSchema.values, outcome),
      'lifeline.resume.reason': enumName(ResumeReasonSchema.values, reason),
    });
  }

  event(name: string, attributes?: Attributes): void {
    if (!this.isEnded) this.span.addEvent(name, attributes);
  }

  end(code: number, atMs = Date.now()): void {
    if (this.isEnded) return;
    this.isEnded = true;
    const name = closeCodeName(code) ?? 'other';
    this.span.setAttributes({ 'lifeline.close.code': code, 'lifeline.close.name': name });
    // A server failure is an error of this span; every other close is the protocol working.
    if (name === 'INTERNAL_ERROR') this.span.setStatus({ code: SpanStatusCode.ERROR, message: name });
    this.span.end(atMs);
  }
}
