/**
 * Test support for the machines' model coverage: replay every edge of a machine's graph on real
 * actors as a transition tour. An actor walks from edge to edge (taking the nearest edge not yet
 * replayed, through edges it checks on the way) instead of starting over from the initial state
 * for each edge: every edge is still played on a real actor and its target checked, at a fraction
 * of the cost (the server session graph: ~2 900 edges in ~4 000 steps and a few dozen actors,
 * where one actor per edge took ~20 000 steps and 2 900 actors, 18 s on a loaded 2-core machine).
 */

/** The part of @xstate/graph's adjacency map the tour reads (an interface without an index signature). */
export type Adjacency<E, A> = { readonly [K in keyof A]: { readonly transitions: Record<string, { readonly event: E; readonly state: unknown }> } };

/** Drives real actors for the tour. */
export interface TourDriver<E> {
  /** Start a fresh actor in the initial state; its serialised state. */
  start(): string;
  /** Play one event on the current actor; its serialised state afterwards. */
  step(event: E): string;
  /** The current actor is no longer needed. */
  end(): void;
}

export interface TourResult {
  /** Edges replayed (every edge of the graph). */
  readonly edges: number;
  /** Events played in all, edges counted again when the tour passes them again. */
  readonly steps: number;
  /** Actors started. */
  readonly actors: number;
}

interface Edge<E> {
  readonly event: E;
  readonly to: string;
  isDone: boolean;
}

/**
 * Replay every edge of `adjacency` on actors from `driver`; throws naming the edge when an actor
 * does not land in the state the graph says. `serialize` turns a graph state into its key.
 */
export function transitionTour<E, A extends Adjacency<E, A>>(adjacency: A, serialize: (state: never) => string, driver: TourDriver<E>, describeEvent: (e: E) => string = (e) => JSON.stringify(e)): TourResult {
  const out = new Map<string, Edge<E>[]>();
  let left = 0;
  for (const [from, entry] of Object.entries(adjacency) as [string, Adjacency<E, A>[keyof A]][]) {
    const edges = Object.values(entry.transitions).map((t) => ({ event: t.event, to: serialize(t.state as never), isDone: false }));
    out.set(from, edges);
    left += edges.length;
  }
  const total = left;
  let steps = 0;
  let actors = 0;
  /** Shortest run of edges from `from` to a state with an edge not yet replayed (BFS); undefined if none. */
  const routeToWork = (from: string): Edge<E>[] | undefined => {
    const via = new Map<string, { prev: string; edge: Edge<E> } | null>([[from, null]]);
    const queue = [from];
    for (let i = 0; i < queue.length; i++) {
      const s = queue[i] as string;
      if ((out.get(s) ?? []).some((e) => !e.isDone)) {
        const route: Edge<E>[] = [];
        for (let at = s; ; ) {
          const v = via.get(at);
          if (!v) break;
          route.unshift(v.edge);
          at = v.prev;
        }
        return route;
      }
      for (const e of out.get(s) ?? []) {
        if (via.has(e.to)) continue;
        via.set(e.to, { prev: s, edge: e });
        queue.push(e.to);
      }
    }
    return undefined;
  };
  const play = (from: string, e: Edge<E>): string => {
    const got = driver.step(e.event);
    steps++;
    if (got !== e.to) throw new Error(`edge ${from} --${describeEvent(e.event)}--> expected ${e.to}, the actor reached ${got}`);
    if (!e.isDone) {
      e.isDone = true;
      left--;
    }
    return got;
  };
  while (left > 0) {
    let at = driver.start();
    actors++;
    const first = routeToWork(at);
    if (!first) {
      const unreached = [...out.entries()].filter(([, es]) => es.some((e) => !e.isDone)).map(([s]) => s);
      throw new Error(`no path from the initial state ${at} to ${unreached.slice(0, 3).join(', ')}`);
    }
    for (let route: Edge<E>[] | undefined = first; route; route = left > 0 ? routeToWork(at) : undefined) {
      for (const e of route) at = play(at, e);
      const next = (out.get(at) ?? []).find((e) => !e.isDone);
      if (next) at = play(at, next);
    }
    driver.end();
  }
  return { edges: total, steps, actors };
}
