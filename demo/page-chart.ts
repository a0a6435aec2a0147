/**
 * The demo page's live state chart: the client connection machine drawn by
 * machineOverviewToMermaid (spec/charts/overview.ts: its top-level states, legible at page size),
 * with the actor's current top-level state highlighted and its active leaves named beside it.
 *
 * The highlight moves in the same tick as the snapshot that moved it (issue 17: it trailed the
 * status badge by 1–1.5 s). Only the first state costs a Mermaid render (hundreds of ms on a small
 * machine); every later state is applied synchronously to the SVG already on screen by `restyle`,
 * which moves the `current` class that highlightStates' `class` line gave the nodes (so the same
 * classDef styles them). States that arrive while a render is in flight are not queued: the render
 * is followed by a restyle to the newest state. The page draws the path the protocol took (the
 * trail, a fade on the state just left) from `onShown`, which sees every state.
 *
 * Rendering and restyling are injected (Mermaid and the DOM in the page, fakes in unit tests).
 */
import type { AnyStateMachine } from 'xstate';
import { activePaths, highlightStates, machineToMermaid, type MermaidOptions } from '../spec/charts/mermaid.js';
import { machineToChart } from '../spec/charts/chart.js';
import { machineOverviewToMermaid, overviewEdges, overviewFootnotes, topLevelStates } from '../spec/charts/overview.js';

/** Mermaid source → SVG markup. `id` is unique per call (Mermaid uses it for the element ids). */
export type RenderSvg = (id: string, source: string) => Promise<string>;

/** `overview`: top-level states (the page's chart); `full`: every leaf (the spec's chart). */
export type ChartView = 'overview' | 'full';

export interface LiveChartOptions {
  readonly machine: AnyStateMachine;
  readonly render: RenderSvg;
  /** Default `overview`. */
  readonly view?: ChartView;
  /** A render finished: put the SVG in the page. `paths` are the highlighted state paths. */
  readonly onRendered: (svg: string, paths: readonly string[]) => void;
  /**
   * Highlight `paths` in the SVG on screen instead of rendering again; false when it cannot.
   * Without it every state is a full render.
   */
  readonly restyle?: (paths: readonly string[]) => boolean;
  /**
   * `paths` are highlighted now (after a render or a restyle); `leaves` are the active leaf states
   * of the same snapshot (`connected.heartbeat.waiting`, …), for naming beside the chart.
   */
  readonly onShown?: (paths: readonly string[], leaves: readonly string[]) => void;
  readonly onError?: (err: unknown) => void;
  readonly mermaid?: MermaidOptions;
}

export class LiveChart {
  /** The chart without highlights. */
  readonly source: string;
  /** The overview's footnotes (edges whose label is a mark such as `(1)`), to print beside it. */
  readonly footnotes: readonly string[];
  private readonly o: LiveChartOptions;
  /** The newest snapshot's highlighted paths and leaves. */
  private wanted: { paths: readonly string[]; leaves: readonly string[] } | undefined;
  private shown: readonly string[] | undefined;
  private shownLeaves: readonly string[] | undefined;
  private running: Promise<void> | undefined;
  private renders = 0;
  private restyles = 0;
  private hasSvg = false;

  constructor(o: LiveChartOptions) {
    this.o = o;
    const isFull = (o.view ?? 'overview') === 'full';
    this.source = isFull ? machineToMermaid(o.machine, o.mermaid) : machineOverviewToMermaid(o.machine, o.mermaid);
    this.footnotes = isFull ? [] : overviewFootnotes(overviewEdges(machineToChart(o.machine), o.mermaid));
  }

  /**
   * The actor's snapshot value (it may not have moved). Once the chart is on screen, the
   * highlight has moved when this returns.
   */
  show(value: unknown): void {
    const leaves = activePaths(value);
    const paths = (this.o.view ?? 'overview') === 'full' ? leaves : topLevelStates(value);
    this.wanted = { paths, leaves };
    if (this.running) return; // the render in flight ends with the newest state
    if (!this.hasSvg) {
      this.running = this.renderLoop();
      return;
    }
    if (samePaths(paths, this.shown)) {
      if (!samePaths(leaves, this.shownLeaves)) this.announce(paths, leaves); // a leaf moved inside the state
      return;
    }
    if (this.o.restyle?.(paths) === true) {
      this.restyles++;
      this.announce(paths, leaves);
    } else {
      this.running = this.renderLoop();
    }
  }

  /** The highlighted paths on screen. */
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

  /** Resolves when no render is in flight. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** The Mermaid text for these highlighted paths. */
  sourceFor(paths: readonly string[]): string {
    return this.source + highlightStates(paths);
  }

  private announce(paths: readonly string[], leaves: readonly string[]): void {
    this.shown = paths;
    this.shownLeaves = leaves;
    this.o.onShown?.(paths, leaves);
  }

  /** Render the newest state; if newer ones came meanwhile, restyle to the newest (or render again). */
  private async renderLoop(): Promise<void> {
    // Yield first: `running` must be set before the `finally` below can clear it.
    await Promise.resolve();
    try {
      for (;;) {
        const want = this.wanted;
        if (!want) return;
        this.renders++;
        try {
          const svg = await this.o.render(`lifeline-chart-${this.renders}`, this.sourceFor(want.paths));
          this.hasSvg = true;
          this.o.onRendered(svg, want.paths);
          this.announce(want.paths, want.leaves);
        } catch (err) {
          this.o.onError?.(err);
          return; // do not retry the same failing text in a loop; the next state tries again
        }
        const now = this.wanted;
        if (now === want || now === undefined) return;
        if (samePaths(now.paths, this.shown)) {
          if (!samePaths(now.leaves, this.shownLeaves)) this.announce(now.paths, now.leaves);
          return;
        }
        if (this.o.restyle?.(now.paths) === true) {
          this.restyles++;
          this.announce(now.paths, now.leaves);
          return;
        }
      }
    } finally {
      this.running = undefined;
    }
  }
}

function samePaths(a: readonly string[], b: readonly string[] | undefined): boolean {
  return b !== undefined && a.length === b.length && a.every((p, i) => p === b[i]);
}
