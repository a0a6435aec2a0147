/**
 * One Lifeline node of the multi-node e2e test as a separate process: `node --import tsx
 * e2e/multi-node/node.ts <flags>` (the real `lifeline serve` with the test's application), on a
 * free loopback port. It reads the node's stdout: the listening line, and the application's record
 * of every client message it processed (node-app.ts), which it hands to `onReceived`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { PUBLISH_PATH, RECEIVED_LINE, STATS_PATH } from './node-app.js';
import { track } from './processes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const entry = fileURLToPath(new URL('./node.ts', import.meta.url));

export interface NodeStartOptions {
  readonly name: string;
  /** The node's `lifeline serve` flags (besides --port and --host, which this sets). */
  readonly args: readonly string[];
  /** The application processed a client message: its payload and message id. */
  readonly onReceived: (payload: string, messageId: string, node: string) => void;
  readonly startTimeoutMs?: number;
}

export class NodeProcess {
  /** When the process ended: its code, or the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when its stdout is read to the end (every record line seen, even after SIGKILL). */
  readonly outputDone: Promise<void>;
  private tail: string[] = [];

  private constructor(
    readonly name: string,
    readonly proc: ChildProcess,
    onReceived: NodeStartOptions['onReceived'],
  ) {
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
    this.outputDone = new Promise((resolve) => lines.once('close', resolve));
    lines.on('line', (line) => {
      if (line.startsWith(RECEIVED_LINE)) {
        const [payload = '', messageId = ''] = line.slice(RECEIVED_LINE.length).split(' ');
        onReceived(payload, messageId, name);
        return;
      }
      this.keep(line);
    });
    proc.stderr?.on('data', (d: Buffer) => this.keep(d.toString().trimEnd()));
  }

  /** The node's warnings and errors (pino lines of level ≥ 40), counted by message: what went wrong, in short. */
  readonly problems = new Map<string, number>();

  private keep(line: string): void {
    this.tail.push(line);
    if (this.tail.length > 60) this.tail.shift();
    if (!line.startsWith('{')) return;
    try {
      const j = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string; type?: string } };
      if ((j.level ?? 0) < 40) return;
      const key = `${j.level === 40 ? 'warn' : 'error'} ${j.msg ?? ''}${j.err ? `: ${j.err.type ?? ''} ${j.err.message ?? ''}` : ''}`.slice(0, 200);
      this.problems.set(key, (this.problems.get(key) ?? 0) + 1);
    } catch {
      // not a log line
    }
  }

  /** The last lines the node printed besides its records (logs, errors): for failure messages. */
  output(): string {
    return this.tail.join('\n');
  }

  port = 0;

  static async start(o: NodeStartOptions): Promise<NodeProcess> {
    const proc = track(
      spawn(process.execPath, ['--import', 'tsx', entry, '--port', '0', '--host', '127.0.0.1', ...o.args], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, PORT: '0' },
      }),
      `node ${o.name}`,
    );
    const n = new NodeProcess(o.name, proc, o.onReceived);
    const timeoutMs = o.startTimeoutMs ?? 30_000;
    const t0 = Date.now();
    for (;;) {
      const m = /listening: ws:\/\/127\.0\.0\.1:(\d+)\//.exec(n.output());
      if (m) {
        n.port = Number(m[1]);
        return n;
      }
      if (proc.exitCode !== null) throw new Error(`node ${o.name} exited with ${proc.exitCode} before listening:\n${n.output()}`);
      if (Date.now() - t0 > timeoutMs) throw new Error(`node ${o.name} did not print its listening line within ${timeoutMs} ms:\n${n.output()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  get http(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get isRunning(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** /readyz status, or 0 when the node does not answer. */
  async readyz(timeoutMs = 1000): Promise<number> {
    try {
      const r = await fetch(`${this.http}/readyz`, { signal: AbortSignal.timeout(timeoutMs) });
      await r.text();
      return r.status;
    } catch {
      return 0;
    }
  }

  /** The node's live sessions and connections (node-app.ts: LifelineServer.stats()), or undefined when it does not answer. */
  async stats(timeoutMs = 2000): Promise<{ sessions: number; connections: number } | undefined> {
    try {
      const r = await fetch(`${this.http}${STATS_PATH}`, { signal: AbortSignal.timeout(timeoutMs) });
      return (await r.json()) as { sessions: number; connections: number };
    } catch {
      return undefined;
    }
  }

  /** Publish `n` to `channel` through this node: true when the broker took it, else the error. */
  async publish(channel: string, n: number, timeoutMs = 2000): Promise<true | string> {
    try {
      const r = await fetch(`${this.http}${PUBLISH_PATH}?channel=${encodeURIComponent(channel)}&n=${n}`, { method: 'POST', signal: AbortSignal.timeout(timeoutMs) });
      const body = (await r.json()) as { error?: string };
      return r.status === 200 ? true : `${r.status} ${body.error ?? ''}`;
    } catch (err) {
      return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    }
  }

  signal(sig: NodeJS.Signals): void {
    if (this.isRunning) this.proc.kill(sig);
  }
}
