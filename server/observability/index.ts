// The server's observability seams (issue 8): metrics, session spans, logs, live inspection.
export { closeCodeLabels, createLifelineMetrics } from './metrics.js';
export type { Direction, LifelineGaugeReading, LifelineMetrics, LifelineMetricsOptions, RttSource, SessionLossCause } from './metrics.js';
export { parentContext, parseTraceparent, SESSION_SPAN_NAME, startSessionSpan } from './tracing.js';
export type { SessionSpan, SessionSpanOptions, TraceParent } from './tracing.js';
export { createLifelineLogger, redactPaths, REDACTED, sanitizeHeaders, sanitizeUrl, serializeRequest, sessionLogger } from './logger.js';
export type { LifelineLoggerOptions, SessionLogFields } from './logger.js';
export { createServerInspector } from './inspect.js';
export type { ServerInspector, ServerInspectorOptions } from './inspect.js';
