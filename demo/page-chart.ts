/**
 * The demo page's live state chart: the client connection machine drawn by machineToMermaid
 * (spec/charts/mermaid.ts, the same text the spec embeds), re-rendered with the active leaf states
 * highlighted whenever the actor's snapshot value moves to other states.
 *
 * Renders are serialized and coalesced: Mermaid's render is async and takes tens of ms, while a
 * reconnect passes reconnecting → connecting → handshaking → connected within a few ms. Only the
 * newest value is drawn once the render in progress ends, so the chart never shows a stale state
 * last. Rendering is injected (Mermaid in the page, a fake in unit tests).
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
  readonly onError?: (err: unknown) => void;
  readonly mermaid?: MermaidOptions;
}

export class LiveChart {
  /** The chart without highlights: exactly machineToMermaid(machine). */
  readonly source: string;
  private readonly o: LiveChartOptions;
  private wanted: readonly string[] | undefined;
  private shown: readonly string[] | undefined;
  private running: Promise<void> | undefined;
  private renders = 0;

  constructor(o: LiveChartOptions) {
    this.o = o;
    this.source = machineToMermaid(o.machine, o.mermaid);
  }

  /** The actor's snapshot value changed (or may have): draw it if its active states differ. */
  show(value: unknown): void {
    this.wanted = activePaths(value);
    if (!this.running) this.running = this.loop();
  }

  /** The highlighted paths of the last finished render. */
  get shownPaths(): readonly string[] | undefined {
    return this.shown;
  }

  /** How many renders ran (coalescing keeps this at most one per distinct state reached). */
  get renderCount(): number {
    return this.renders;
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
    try {
      while (this.wanted && !samePaths(this.wanted, this.shown)) {
        const paths = this.wanted;
        this.renders++;
        try {
          const svg = await this.o.render(`lifeline-chart-${this.renders}`, this.sourceFor(paths));
          this.shown = paths;
          this.o.onRendered(svg, paths);
        } catch (err) {
          this.o.onError?.(err);
          this.shown = paths; // do not retry the same failing text in a loop
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
