import { AsyncLocalStorage } from 'node:async_hooks';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type ContextManager } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import fc from 'fast-check';
import { afterEach, describe, expect, test } from 'vitest';
import { ResumeOutcome, ResumeReason } from '../../gen/lifeline/v1/envelope_pb.js';
import { parseTraceparent, SESSION_SPAN_NAME, startSessionSpan } from './tracing.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const VALID = `00-${TRACE_ID}-${SPAN_ID}-01`;

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('lifeline-test');

afterEach(() => {
  exporter.reset();
  trace.disable(); // undo any global provider a test installed
});

describe('traceparent validation', () => {
  test('SEC-3 accepts a well-formed version-00 traceparent', () => {
    expect(parseTraceparent(VALID)).toEqual({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 });
    expect(parseTraceparent(`00-${TRACE_ID}-${SPAN_ID}-00`)?.traceFlags).toBe(0);
    // Undefined flag bits are not carried forward.
    expect(parseTraceparent(`00-${TRACE_ID}-${SPAN_ID}-ff`)?.traceFlags).toBe(1);
  });

  test.each([
    ['uppercase hex', `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${SPAN_ID}-01`],
    ['all-zero span id', `00-${TRACE_ID}-${'0'.repeat(16)}-01`],
    ['version ff', `ff-${TRACE_ID}-${SPAN_ID}-01`],
    ['a future version', `01-${TRACE_ID}-${SPAN_ID}-01`],
    ['a future version with extra fields', `01-${TRACE_ID}-${SPAN_ID}-01-what-ever`],
    ['version 00 with a suffix', `${VALID}-00`],
    ['short trace id', `00-${TRACE_ID.slice(1)}-${SPAN_ID}-01`],
    ['long span id', `00-${TRACE_ID}-${SPAN_ID}a-01`],
    ['non-hex', `00-${TRACE_ID.slice(0, 31)}g-${SPAN_ID}-01`],
    ['surrounding whitespace', ` ${VALID} `],
    ['two headers joined', `${VALID}, ${VALID}`],
    ['B3 single header', `${TRACE_ID}-${SPAN_ID}-1`],
    ['empty', ''],
  ])('SEC-3 ignores a traceparent with %s', (_, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });

  test('SEC-3 ignores repeated or absent headers', () => {
    expect(parseTraceparent([VALID, VALID])).toBeUndefined();
    expect(parseTraceparent(undefined)).toBeUndefined();
  });

  test('SEC-3 accepts exactly the strings of the version-00 grammar (property)', () => {
    const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
    fc.assert(
      fc.property(hex(32), hex(16), hex(2), (t, s, f) => {
        const parsed = parseTraceparent(`00-${t}-${s}-${f}`);
        if (/^0+$/.test(t) || /^0+$/.test(s)) return parsed === undefined;
        return parsed?.traceId === t && parsed.spanId === s;
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (junk) => {
        const parsed = parseTraceparent(junk);
        return parsed === undefined || /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/.test(junk);
      }),
    );
  });
});

describe('session span', () => {
  test('SEC-3 continues a valid traceparent with the session attributes', () => {
    const s = startSessionSpan({ traceparent: VALID, tracestate: 'tenant=secret' }, { tracer, upgradeStartedAtMs: 1_000_000 });
    expect(s.spanContext.traceId).toBe(TRACE_ID);
    expect(s.spanContext.spanId).not.toBe(SPAN_ID);
    s.upgraded(1_000_012);
    s.setSessionId('sess-1');
    s.setHeartbeatInterval(25_000);
    s.setResume(ResumeOutcome.RESUMED, ResumeReason.REPLAYED);
    s.event('drain.notice', { 'lifeline.drain.reconnect_after_ms': 1200 });
    s.end(4200, 1_060_000);
    s.end(1000); // ignored: the span ended once

    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(1);
    const span = spans[0];
    expect(span?.name).toBe(SESSION_SPAN_NAME);
    expect(span?.kind).toBe(SpanKind.SERVER);
    expect(span?.spanContext().traceId).toBe(TRACE_ID);
    expect(span?.parentSpanContext?.spanId).toBe(SPAN_ID);
    expect(span?.parentSpanContext?.isRemote).toBe(true);
    expect(span?.attributes).toEqual({
      'lifeline.upgrade.duration_ms': 12,
      'lifeline.session.id': 'sess-1',
      'lifeline.heartbeat.interval_ms': 25_000,
      'lifeline.resume.outcome': 'RESUMED',
      'lifeline.resume.reason': 'REPLAYED',
      'lifeline.close.code': 4200,
      'lifeline.close.name': 'HEARTBEAT_TIMEOUT',
    });
    expect(span?.events.map((e) => e.name)).toEqual(['drain.notice']);
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    // 60 s from the upgrade request to the close.
    expect(span?.duration).toEqual([60, 0]);
    // tracestate is never carried into the session's trace.
    expect(span?.spanContext().traceState).toBeUndefined();
  });

  test('SEC-3 a malformed traceparent yields a root span in a new trace', () => {
    const bad = `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`;
    const s = startSessionSpan({ traceparent: bad }, { tracer });
    s.end(1011);
    const span = exporter.getFinishedSpans()[0];
    expect(span?.parentSpanContext).toBeUndefined();
    expect(span?.spanContext().traceId).not.toBe(TRACE_ID);
    expect(span?.spanContext().traceId.toLowerCase()).not.toBe(TRACE_ID);
    expect(span?.attributes['lifeline.close.name']).toBe('INTERNAL_ERROR');
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
  });

  test('SEC-3 an active context of another request does not become the parent', () => {
    const other = tracer.startSpan('unrelated request');
    const active = trace.setSpan(ROOT_CONTEXT, other);
    const s = contextWith(active, () => startSessionSpan({}, { tracer }));
    s.end(1000);
    other.end();
    const session = exporter.getFinishedSpans().find((x) => x.name === SESSION_SPAN_NAME);
    expect(session?.parentSpanContext).toBeUndefined();
  });

  test('uses the global provider when the application installs one, and is a no-op without', () => {
    const none = startSessionSpan({ traceparent: VALID });
    none.setHeartbeatInterval(25_000);
    none.end(1000);
    expect(exporter.getFinishedSpans()).toHaveLength(0);

    trace.setGlobalTracerProvider(provider);
    const s = startSessionSpan({ traceparent: VALID });
    s.end(1000);
    expect(exporter.getFinishedSpans().map((x) => x.parentSpanContext?.spanId)).toEqual([SPAN_ID]);
  });

  test('connections nothing traces share one no-op span; a valid traceparent keeps its trace id without an SDK', () => {
    const a = startSessionSpan({});
    const b = startSessionSpan({ traceparent: 'junk' });
    expect(a).toBe(b); // memory per idle session (issue 12): no span object per untraced connection
    a.setSessionId('S1');
    a.end(1000);
    expect(b.spanContext.traceId).toBe('0'.repeat(32));
    expect(startSessionSpan({ traceparent: VALID }).spanContext.traceId).toBe(parseTraceparent(VALID)?.traceId); // SEC-3: logs still find the trace
  });
});

/** A minimal AsyncLocalStorage context manager, so an "active" context really is active in this test. */
class TestContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.storage.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.storage.disable();
    return this;
  }
}

function contextWith<T>(ctx: Context, fn: () => T): T {
  context.setGlobalContextManager(new TestContextManager());
  try {
    const inside = context.with(ctx, () => {
      expect(trace.getSpan(context.active())).toBeDefined(); // the other request's span is active
      return fn();
    });
    return inside;
  } finally {
    context.disable();
  }
}
