/**
 * The runner's side of the test hooks (spec/conformance-control.md §3): HTTP
 * POSTs of one JSON object to the URL the config declares. They let the runner
 * make the server's application publish, drain, revoke and report what it got.
 */
import { NotApplicable } from '../framework/failure.js';

export interface PublishItem {
  readonly payload: Uint8Array;
  readonly key?: string;
  readonly messageId?: string;
}

/** Limits a `reset` may switch on until the next reset (HS-5, CC-8, RS-11): they would disturb other cases. */
export interface ResetLimits {
  readonly upgradeRatePerSecond?: number;
  readonly maxSessions?: number;
  /** Detached sessions kept for resume before the one that detached first is ended (RS-11). */
  readonly maxDetachedSessions?: number;
}

export interface Hooks {
  /** Publish Messages on a channel to every session subscribed to it, in order. */
  publish(channel: string, items: readonly PublishItem[]): Promise<void>;
  /** Set a state channel's state: the application bumps its version and publishes a StatePatch. */
  patch(channel: string, state: Uint8Array, key?: string): Promise<{ version: bigint }>;
  /** Start a drain (DR-1..DR-5); resolves once the drain has started. */
  drain(deadlineMs: number, spreadMs: number): Promise<void>;
  /** Bring the server back to a fresh, ready state (after a drain), optionally with limits until the next reset. */
  reset(limits?: ResetLimits): Promise<void>;
  /** Revoke the principal of a session (SEC-6). */
  revoke(sessionId: string): Promise<void>;
  /** The credential of a session's principal expired (SEC-5). */
  expire(sessionId: string): Promise<void>;
  /** Payloads the application received from a session, in order (SEQ-10). */
  inbox(sessionId: string): Promise<Uint8Array[]>;
  /** A fresh single-use ticket for the query string (HS-13), and the query parameter name. */
  ticket(): Promise<{ param: string; ticket: string }>;
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

export class HttpHooks implements Hooks {
  constructor(private readonly url: string) {}

  private async call<T>(body: Record<string, unknown>): Promise<T> {
    const res = await fetch(this.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    if (res.status === 501) throw new NotApplicable(`hook ${String(body.action)} not implemented by the target`);
    if (!res.ok) throw new Error(`hook ${String(body.action)} answered HTTP ${res.status}: ${text.slice(0, 200)}`);
    return (text ? JSON.parse(text) : {}) as T;
  }

  async publish(channel: string, items: readonly PublishItem[]): Promise<void> {
    await this.call({
      action: 'publish',
      channel,
      items: items.map((i) => ({ payload: b64(i.payload), ...(i.key ? { key: i.key } : {}), ...(i.messageId ? { messageId: i.messageId } : {}) })),
    });
  }

  async patch(channel: string, state: Uint8Array, key?: string): Promise<{ version: bigint }> {
    const r = await this.call<{ version: string }>({ action: 'patch', channel, state: b64(state), ...(key ? { key } : {}) });
    return { version: BigInt(r.version) };
  }

  async drain(deadlineMs: number, spreadMs: number): Promise<void> {
    await this.call({ action: 'drain', deadlineMs, spreadMs });
  }

  async reset(limits?: ResetLimits): Promise<void> {
    await this.call({ action: 'reset', ...(limits ? { limits } : {}) });
  }

  async revoke(sessionId: string): Promise<void> {
    await this.call({ action: 'revoke', sessionId });
  }

  async expire(sessionId: string): Promise<void> {
    await this.call({ action: 'expire', sessionId });
  }

  async inbox(sessionId: string): Promise<Uint8Array[]> {
    const r = await this.call<{ payloads: string[] }>({ action: 'inbox', sessionId });
    return r.payloads.map(unb64);
  }

  async ticket(): Promise<{ param: string; ticket: string }> {
    return this.call<{ param: string; ticket: string }>({ action: 'ticket' });
  }
}

/** Hooks for a target that declares none: every call is N/A. */
export const noHooks: Hooks = new Proxy({} as Hooks, {
  get: (_t, name) => async () => {
    throw new NotApplicable(`the target declares no test hooks (needed: ${String(name)})`);
  },
});
