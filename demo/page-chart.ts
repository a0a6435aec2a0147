/**
 * The demo page's live state chart: the client connection machine drawn by machineToMermaid
 * (spec/charts/mermaid.ts, the same text the spec embeds), re-rendered with the active leaf states
 * highlighted whenever the actor's snapshot value moves to other states.
 *
 * A recovery on loopback passes reconnecting → connecting → handshaking → connected in a few ms,
 * faster than Mermaid renders (tens of ms) and far faster than a person reads. So the chart plays
 * the states back in order, each held for at least `minDwellMs`: it may trail the live state by a
 * second or two, but it shows the path the protocol took. Renders are serialized; consecutive
 * repeats are skipped; the backlog is bounded (the newest states are kept).
 *
 * Only the first state costs a Mermaid render (machineToMermaid + highlightStates): a render of
 * this chart takes a good part of a second of main-thread time on a small machine, time the page
 * also needs for its socket. Later states are applied to the SVG already on screen by `restyle`,
 * which moves the same `current` class that highlightStates' `class` line gave the nodes (so the
 * same classDef styles them); when it cannot (no such node), the chart is rendered again.
 * Rendering, restyling and waiting are injected (Mermaid, the DOM and timers in the page, fakes in
 * unit tests).
 */
import type { AnyStateMachine } from 'xstate';
import { activePaths, highlightStates, machineToMermaid, type MermaidOptions } from '../spec/charts/mermaid.js';

/** Mermaid source → SVG markup. `id` is unique per call (Mermaid uses it for the element ids). */
export type RenderSvg = (id: string, source: string) => Promise<string>;

export interface LiveChartOptions {
  readonly machine: AnyStateMachine;
  readonly render: RenderSvg;
  /** A render finished: put the SVG in the page. `paths` are the highlighted state paths. */
  readonly onRendered: (svg: string, paths: readonly string[]) => void;
  /**
   * Highlight `paths` in the SVG on screen instead of rendering again; false when it cannot.
   * Without it every state is a full render.
   */
  readonly restyle?: (paths: readonly string[]) => boolean;
  /** `paths` are on screen now (after a render or a restyle). */
  readonly onShown?: (paths: readonly string[]) => void;
  readonly onError?: (err: unknown) => void;
  readonly mermaid?: MermaidOptions;
  /** Least time a drawn state stays on screen while newer ones wait. Default 0. */
  readonly minDwellMs?: number;
  /** States waiting to be drawn, at most; the oldest waiting are dropped first. Default 16. */
  readonly maxBacklog?: number;
  /** Waits `ms`; default setTimeout. */
  readonly delay?: (ms: number) => Promise<void>;
}

export class LiveChart {
  /** The chart without highlights: exactly machineToMermaid(machine). */
  readonly source: string;
  private readonly o: LiveChartOptions;
  private readonly backlog: (readonly string[])[] = [];
  private shown: readonly string[] | undefined;
  private running: Promise<void> | undefined;
  private renders = 0;
  private restyles = 0;
  private hasSvg = false;

  constructor(o: LiveChartOptions) {
    this.o = o;
    this.source = machineToMermaid(o.machine, o.mermaid);
  }

  /** The actor's snapshot value (it may not have moved): queue it if its active states differ. */
  show(value: unknown): void {
    const paths = activePaths(value);
    if (samePaths(paths, this.backlog.at(-1) ?? (this.running ? undefined : this.shown))) return;
    this.backlog.push(paths);
    const max = this.o.maxBacklog ?? 16;
    if (this.backlog.length > max) this.backlog.splice(0, this.backlog.length - max);
    this.running ??= this.loop();
  }

  /** The highlighted paths of the last finished render. */
  get shownPaths(): readonly string[] | undefined {
    return this.shown;
  }

  /** Full Mermaid renders so far. */
  get renderCount(): number {
    return this.renders;
  }

  /** States applied to the SVG on screen without a render. */
  get restyleCount(): number {
    return this.restyles;
  }

  /** Resolves when nothing is left to draw. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** The Mermaid text for these active paths. */
  sourceFor(paths: readonly string[]): string {
    return this.source + highlightStates(paths);
  }

  private async loop(): Promise<void> {
    const delay = this.o.delay ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    // Yield first: a loop of restyles alone never awaits, and would run its `finally` before
    // show() had stored its promise in `running`, leaving `running` set for good.
    await Promise.resolve();
    try {
      for (let paths = this.backlog.shift(); paths; paths = this.backlog.shift()) {
        if (samePaths(paths, this.shown)) continue;
        if (this.hasSvg && this.o.restyle?.(paths) === true) {
          this.restyles++;
          this.shown = paths;
          this.o.onShown?.(paths);
        } else {
          this.renders++;
          try {
            const svg = await this.o.render(`lifeline-chart-${this.renders}`, this.sourceFor(paths));
            this.shown = paths;
            this.hasSvg = true;
            this.o.onRendered(svg, paths);
            this.o.onShown?.(paths);
          } catch (err) {
            this.o.onError?.(err);
            this.shown = paths; // do not retry the same failing text in a loop
          }
        }
        if (this.backlog.length > 0 && (this.o.minDwellMs ?? 0) > 0) await delay(this.o.minDwellMs ?? 0);
      }
    } finally {
      this.running = undefined;
    }
  }
}

function samePaths(a: readonly string[], b: readonly string[] | undefined): boolean {
  return b !== undefined && a.length === b.length && a.every((p, i) => p === b[i]);
}
