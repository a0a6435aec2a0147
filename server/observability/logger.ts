/**
 * Structured, levelled logs for a Lifeline server (pino), with session ids and no secrets (SEC-2).
 *
 * Two layers keep credentials out: `redact` paths censor the fields where tokens, tickets and
 * cookies live (headers, Hello.token, auth objects), and serializers rewrite what may embed them
 * (a request's URL and headers, any `url`/`path` field: every query value is replaced, since a
 * ticket may ride under any parameter name, HS-13). Error messages are logged as they are: the
 * server must not put credentials into them.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { destination as pinoDestination, pino, stdSerializers, type DestinationStream, type Level, type Logger } from 'pino';

export const REDACTED = '[REDACTED]';

/** Header names whose values are credentials (lowercase, as Node gives them). */
const SECRET_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'x-auth-token', 'lifeline-connection'];
/** Field names that hold credentials wherever they appear (one or two levels down, or in a Hello). */
const SECRET_FIELDS = ['token', 'ticket', 'accessToken', 'access_token', 'refreshToken', 'password', 'secret', 'cookie', 'authorization'];

/** pino redact paths (fast-redact syntax): secret fields at the top, one and two levels down, and in envelopes. */
export const redactPaths: readonly string[] = [
  ...SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]),
  ...SECRET_HEADERS.flatMap((h) => [`headers["${h}"]`, `*.headers["${h}"]`]),
  // A decoded Envelope or Hello logged whole: body.value.token (HS-12).
  '*.body.value.token',
  'body.value.token',
];

/**
 * The URL without credentials: path and parameter names kept, every query value replaced, the
 * userinfo and fragment dropped. `/lifeline?ticket=abc&v=1` → `/lifeline?ticket=[REDACTED]&v=[REDACTED]`.
 */
export function sanitizeUrl(url: string): string {
  const hashAt = url.indexOf('#');
  const noFragment = hashAt >= 0 ? url.slice(0, hashAt) : url;
  const q = noFragment.indexOf('?');
  const base = (q >= 0 ? noFragment.slice(0, q) : noFragment).replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
  if (q < 0) return base;
  const names = noFragment
    .slice(q + 1)
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      const name = eq >= 0 ? p.slice(0, eq) : p;
      return `${name.replace(/[^\w.-]/g, '_').slice(0, 64)}=${REDACTED}`;
    });
  return names.length > 0 ? `${base}?${names.join('&')}` : base;
}

/** Headers with credential values replaced (names kept, so a missing cookie is still visible). */
export function sanitizeHeaders(headers: IncomingHttpHeaders): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (SECRET_HEADERS.includes(lower)) out[lower] = REDACTED;
    else if (lower === 'referer' || lower === 'origin') out[lower] = typeof value === 'string' ? sanitizeUrl(value) : REDACTED;
    else out[lower] = value;
  }
  return out;
}

/** What a log record keeps of an HTTP request (the upgrade). */
export function serializeRequest(req: IncomingMessage): Record<string, unknown> {
  return {
    method: req.method,
    url: sanitizeUrl(req.url ?? ''),
    remoteAddress: req.socket?.remoteAddress,
    headers: sanitizeHeaders(req.headers),
  };
}

const asUrl = (v: unknown) => (typeof v === 'string' ? sanitizeUrl(v) : v);

export interface LifelineLoggerOptions {
  /** Default `info`; `LOG_LEVEL` overrides nothing here: the CLI decides. */
  readonly level?: Level | 'silent';
  /** Where records go (default stdout). Tests pass an in-memory stream. */
  readonly destination?: DestinationStream;
  /** Fields on every record (e.g. `{ service: 'lifeline', node: 'a' }`). */
  readonly base?: Record<string, unknown>;
  /** More redact paths for the application's own fields. */
  readonly extraRedactPaths?: readonly string[];
}

/** A pino logger that never writes a token, ticket or cookie value (SEC-2). */
export function createLifelineLogger(options: LifelineLoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: options.base ?? {},
      redact: { paths: [...redactPaths, ...(options.extraRedactPaths ?? [])], censor: REDACTED },
      serializers: {
        err: stdSerializers.err,
        req: serializeRequest,
        headers: sanitizeHeaders,
        url: asUrl,
        path: asUrl,
        target: asUrl,
      },
    },
    options.destination ?? pinoDestination({ sync: false }),
  );
}

export interface SessionLogFields {
  readonly sessionId?: string;
  /** The connection (socket) number, distinct across resumes of one session. */
  readonly connId?: number;
  /** From the session span, to find a session's trace from its logs. */
  readonly traceId?: string;
}

/** A child logger whose every record carries the session's ids. */
export function sessionLogger(logger: Logger, fields: SessionLogFields): Logger {
  const bindings: Record<string, unknown> = {};
  if (fields.sessionId !== undefined) bindings.session = fields.sessionId;
  if (fields.connId !== undefined) bindings.conn = fields.connId;
  if (fields.traceId !== undefined) bindings.trace_id = fields.traceId;
  return logger.child(bindings);
}

type SessionLogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * A session's or connection's log, bound to its ids. The pino child is made on the first record at
 * an enabled level: a child per connection costs about 1 KB of heap and new hidden classes (issue 7,
 * memory per idle session), and most connections never write a record at the configured level.
 * The ids are plain fields, always all assigned, not a fields object: every SessionLog shares one
 * hidden class and holds no second object (issue 12, memory per idle session).
 */
export class SessionLog {
  private child: Logger | undefined = undefined;
  private readonly sessionId: string | undefined;
  private readonly connId: number | undefined;
  private readonly traceId: string | undefined;

  constructor(
    private readonly base: Logger,
    fields: SessionLogFields,
  ) {
    this.sessionId = fields.sessionId;
    this.connId = fields.connId;
    this.traceId = fields.traceId;
  }

  /** The same log with more ids (the session id once Welcome names it). */
  with(fields: SessionLogFields): SessionLog {
    return new SessionLog(this.base, {
      sessionId: fields.sessionId ?? this.sessionId,
      connId: fields.connId ?? this.connId,
      traceId: fields.traceId ?? this.traceId,
    });
  }

  debug(obj: object, msg: string): void {
    this.write('debug', obj, msg);
  }
  info(obj: object, msg: string): void {
    this.write('info', obj, msg);
  }
  warn(obj: object, msg: string): void {
    this.write('warn', obj, msg);
  }
  error(obj: object, msg: string): void {
    this.write('error', obj, msg);
  }

  private write(level: SessionLogLevel, obj: object, msg: string): void {
    if (!this.base.isLevelEnabled(level)) return;
    this.child ??= sessionLogger(this.base, { sessionId: this.sessionId, connId: this.connId, traceId: this.traceId });
    this.child[level](obj, msg);
  }
}
