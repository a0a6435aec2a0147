/**
 * The runner's side of the client control protocol (spec/conformance-control.md):
 * start the client command with LIFELINE_URL in its environment, send it
 * commands as JSON lines on stdin, and read its events as JSON lines on stdout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { ClientConfig } from '../config.js';
import { waitingFor } from '../framework/activity.js';
import { AdapterProtocolError, CaseFailure, HarnessFatal, WaitFailure } from '../framework/failure.js';
import type { Transcript } from '../framework/transcript.js';
import { RunDelay } from './run-delay.js';

export type ClientCommand =
  | { cmd: 'connect' }
  | { cmd: 'send'; id: string; payload: string; channel?: string; key?: string; messageId?: string }
  | { cmd: 'subscribe'; channels: string[] }
  | { cmd: 'close' }
  | { cmd: 'reconnect' }
  | { cmd: 'online' }
  | { cmd: 'token'; id: number; token: string }
  | { cmd: 'exit' };

export type ClientEvent =
  | { event: 'ready'; name?: string }
  | { event: 'state'; state: string }
  | { event: 'message'; seq: string; channel: string; payload: string; messageId?: string }
  | { event: 'channel'; channel: string; version: string; state: string }
  | { event: 'sendResult'; id: string; ok: boolean; error?: string }
  | { event: 'closed'; code: number; reason?: string }
  | { event: 'tokenRequest'; id: number; forceRefresh: boolean }
  | { event: 'error'; message: string };

export interface Timed<E> {
  readonly e: E;
  readonly at: number;
}

export class ClientProcess {
  readonly events: Timed<ClientEvent>[] = [];
  readonly stderr: string[] = [];
  exited: { code: number | null; signal: string | null } | undefined;
  private waiters: (() => void)[] = [];
  private tokenCounter = 0;
  private lineNo = 0;
  private spawnError: Error | undefined;
  /** The first break of the control protocol seen on stdout (issue 18, runner item 5). */
  protocolError: AdapterProtocolError | undefined;
  /** Called once with the first protocol error (the harness ends the case with it). */
  onProtocolError: ((err: AdapterProtocolError) => void) | undefined;
  /** Tokens handed out, in order, with the forceRefresh flag of their request. */
  readonly tokens: { token: string; forceRefresh: boolean; at: number }[] = [];
  /** The next `holdTokens` token requests are answered only after `holdTokenMs` (HS-10: a slow getToken). */
  holdTokens = 0;
  holdTokenMs = 0;
  /** The adapter's wait for a CPU, sampled from `ready` on (Linux only; see run-delay.ts). */
  private runDelay: RunDelay | undefined;

  private constructor(
    private readonly child: ChildProcess,
    private readonly transcript: Transcript,
  ) {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => this.onLine(line));
    child.stderr!.on('data', (d: Buffer) => {
      for (const l of d.toString().split('\n').filter(Boolean)) {
        this.stderr.push(l);
        if (this.stderr.length > 50) this.stderr.shift();
      }
    });
    child.on('exit', (code, signal) => {
      this.runDelay?.stop();
      this.exited = { code, signal };
      transcript.event('client', `process exited (${code ?? signal})`);
      this.wake();
    });
  }

  /**
   * Start the adapter and wait for `ready`. A command that cannot be spawned, an adapter that exits
   * or breaks the protocol before `ready`, fail with HarnessFatal at once: every other case would
   * fail the same way (issue 18, runner item 4). Only a slow start waits out `startTimeoutMs`.
   */
  static async start(command: readonly string[], env: Record<string, string>, transcript: Transcript, startTimeoutMs = 30_000): Promise<ClientProcess> {
    const [cmd, ...args] = command;
    if (!cmd) throw new HarnessFatal('no client command given');
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const p = new ClientProcess(child, transcript);
    child.on('error', (err) => {
      p.spawnError = err;
      p.stderr.push(`spawn failed: ${err.message}`);
      p.wake();
    });
    child.stdin?.on('error', () => undefined); // EPIPE after a crash: the exit is what we report
    try {
      await p.until((e) => e.event === 'ready', startTimeoutMs, 'the client adapter to report ready');
    } catch (err) {
      // Whatever went wrong, an adapter still running is ours to stop: nothing else will (it kept
      // running after a protocol break before ready, one orphan per such run).
      if (!p.exited) child.kill('SIGKILL');
      if (p.exited) await Promise.race([new Promise((r) => child.stderr?.once('end', r)), new Promise((r) => setTimeout(r, 500))]);
      const stderr = p.stderr.length > 0 ? `\nthe adapter's stderr (last ${p.stderr.length} lines):\n  ${p.stderr.join('\n  ')}` : '';
      if (p.spawnError) throw new HarnessFatal(`could not start the client command ${JSON.stringify(command.join(' '))}: ${p.spawnError.message}`);
      if (p.protocolError) throw new HarnessFatal(`the client adapter broke the control protocol before ready: ${p.protocolError.message}${stderr}`);
      if (p.exited) throw new HarnessFatal(`the client adapter ${JSON.stringify(command.join(' '))} exited (${p.exited.code ?? p.exited.signal}) before reporting ready${stderr}`);
      throw new Error(`${err instanceof Error ? err.message : String(err)}${stderr}`);
    }
    if (!p.exited) p.runDelay = RunDelay.start(child.pid);
    return p;
  }

  /**
   * How long the client process waited for a CPU within [from, to] (performance.now() times, as
   * events' `at`): what a timer of the client may have fired late by in that span, beyond its own
   * work. Undefined where it cannot be measured (not Linux): cases then keep a fixed allowance.
   */
  waitedForCpuMs(from: number, to: number): number | undefined {
    return this.runDelay?.waitedMs(from, to);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** spec/conformance-control.md §4.1: stdout carries nothing but event lines; logs go to stderr. */
  private protocolBreak(why: string): void {
    this.transcript.event('client', `adapter protocol error: ${why}`);
    if (this.protocolError) return;
    this.protocolError = new AdapterProtocolError(`${why} (spec/conformance-control.md §4.1: standard output carries nothing but JSON event lines; logs go to standard error)`);
    this.onProtocolError?.(this.protocolError);
    this.wake();
  }

  private onLine(raw: string): void {
    this.lineNo++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return; // an empty line carries nothing
    const shown = JSON.stringify(line.length > 120 ? `${line.slice(0, 117)}...` : line);
    let e: ClientEvent;
    try {
      e = JSON.parse(line) as ClientEvent;
    } catch {
      return this.protocolBreak(`stdout line ${this.lineNo} is not JSON: ${shown}`);
    }
    if (typeof e !== 'object' || e === null || Array.isArray(e) || typeof (e as { event?: unknown }).event !== 'string') {
      return this.protocolBreak(`stdout line ${this.lineNo} is not an event object ({"event": …}): ${shown}`);
    }
    this.events.push({ e, at: performance.now() });
    if (e.event === 'tokenRequest') {
      const token = `tok-${++this.tokenCounter}`;
      this.tokens.push({ token, forceRefresh: e.forceRefresh, at: performance.now() });
      const answer = { cmd: 'token', id: e.id, token } as const;
      if (this.holdTokens > 0) {
        this.holdTokens--;
        const timer = setTimeout(() => this.exited === undefined && this.command(answer), this.holdTokenMs);
        timer.unref();
      } else {
        this.command(answer);
      }
    }
    if (e.event !== 'message' && e.event !== 'channel') this.transcript.event('client', `reports ${JSON.stringify(e)}`);
    this.wake();
  }

  command(c: ClientCommand): void {
    if (c.cmd !== 'token') this.transcript.event('runner', `tells the client ${JSON.stringify(c)}`);
    this.child.stdin?.write(`${JSON.stringify(c)}\n`);
  }

  /** The index the next event will get: pass it as `from` to wait only for what comes after now. */
  mark(): number {
    return this.events.length;
  }

  /** Wait for an event (among those after index `from`) matching `pred`. */
  async until(pred: (e: ClientEvent) => boolean, timeoutMs: number, what: string, from = 0): Promise<Timed<ClientEvent>> {
    return waitingFor(`${what} (client event, up to ${Math.round(timeoutMs)} ms)`, this.untilInner(pred, timeoutMs, what, from));
  }

  private async untilInner(pred: (e: ClientEvent) => boolean, timeoutMs: number, what: string, from: number): Promise<Timed<ClientEvent>> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find((t) => pred(t.e));
      if (found) return found;
      if (this.protocolError) throw this.protocolError;
      if (this.spawnError) throw new HarnessFatal(`the client command could not be started: ${this.spawnError.message}`);
      if (this.exited) throw new CaseFailure(`the client exited (${this.exited.code ?? this.exited.signal}) while waiting for ${what}; stderr: ${this.stderr.slice(-3).join(' | ')}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new WaitFailure(what, timeoutMs);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  states(): string[] {
    return this.events.flatMap((t) => (t.e.event === 'state' ? [t.e.state] : []));
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    this.command({ cmd: 'exit' });
    const gone = await Promise.race([
      new Promise<boolean>((r) => this.child.once('exit', () => r(true))),
      new Promise<boolean>((r) => setTimeout(() => r(false), 1000)),
    ]);
    if (!gone) this.child.kill('SIGKILL');
  }
}

/** The environment the runner gives a client under test. */
export function clientEnv(url: string, config: ClientConfig): Record<string, string> {
  return {
    LIFELINE_URL: url,
    LIFELINE_CONTROL: 'stdio',
    LIFELINE_CLIENT_CONFIG: JSON.stringify(config),
  };
}
