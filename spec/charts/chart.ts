/**
 * A machine's statechart as plain data: states (nested and parallel), and every transition with
 * its event, guard, targets, actions and spec id. It is what `spec/charts/*.json` holds and what
 * `machineToMermaid` draws, so the pictures in the spec are read from the machines themselves.
 *
 * Browser-safe (no Node API): the demo page builds the live chart from the machine in the browser.
 */
import type { AnyStateMachine } from 'xstate';

/** One transition, as the spec reads it. */
export interface ChartTransition {
  /** `frame.hello`, `after(handshakeTimeout)`, `always`, `done(getToken)`, `error(getToken)`. */
  readonly event: string;
  /** Path of the state that owns the transition (`attached.phase.draining`). */
  readonly source: string;
  /** Paths of the target states; empty for a transition that only runs actions. */
  readonly targets: readonly string[];
  /** `isResume`, `!isVersionSupported`; absent when unguarded. */
  readonly guard?: string;
  /** Action names, with static params as `name(value, …)`. */
  readonly actions: readonly string[];
  /** The target is re-entered (its entry actions and delays restart). */
  readonly reenter?: true;
  /** `meta.spec`: the rule the transition enforces. */
  readonly spec?: string;
}

export type ChartStateType = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';

export interface ChartState {
  /** The state's own name (`draining`). */
  readonly key: string;
  /** Dotted path from the machine root (`attached.phase.draining`); '' for the root. */
  readonly path: string;
  readonly type: ChartStateType;
  /** Key of the initial child of a compound state. */
  readonly initial?: string;
  /** Actors invoked while in the state. */
  readonly invoke?: readonly string[];
  readonly entry?: readonly string[];
  readonly exit?: readonly string[];
  readonly transitions: readonly ChartTransition[];
  readonly states: readonly ChartState[];
}

export interface Chart {
  /** The machine's id (`serverSession`, `client`). */
  readonly id: string;
  readonly root: ChartState;
}

/** The parts of XState's StateNode this module reads (kept narrow: XState's own types are internal). */
interface NodeLike {
  readonly key: string;
  readonly id: string;
  readonly path: readonly string[];
  readonly type: ChartStateType;
  readonly initial?: { readonly target: readonly NodeLike[] } | undefined;
  readonly states: Record<string, NodeLike>;
  readonly transitions: Map<string, readonly TransitionLike[]>;
  readonly always?: readonly TransitionLike[] | undefined;
  readonly invoke: readonly { readonly id: string; readonly src: unknown }[];
  readonly entry: readonly unknown[];
  readonly exit: readonly unknown[];
  readonly machine: { readonly id: string };
}

interface TransitionLike {
  readonly eventType: string;
  readonly target?: readonly NodeLike[] | undefined;
  readonly guard?: unknown;
  readonly actions: readonly unknown[];
  readonly reenter?: boolean;
  readonly meta?: { readonly spec?: unknown } | undefined;
}

/** Reads a machine into a Chart. Pure and deterministic: same machine, same chart. */
export function machineToChart(machine: AnyStateMachine): Chart {
  const root = machine.root as unknown as NodeLike;
  return { id: machine.id, root: stateOf(root) };
}

function stateOf(node: NodeLike): ChartState {
  const path = node.path.join('.');
  // An invoke without an id gets a generated one (`0.sample.busy`); the chart names it by its src.
  const actorNames = new Map(node.invoke.map((i) => [i.id, typeof i.src === 'string' ? i.src : i.id]));
  const transitions: ChartTransition[] = [];
  for (const list of node.transitions.values()) for (const t of list) transitions.push(transitionOf(t, node, actorNames));
  for (const t of node.always ?? []) transitions.push(transitionOf(t, node, actorNames));
  const initialTarget = node.initial?.target[0];
  const invoke = node.invoke.map((i) => (typeof i.src === 'string' ? i.src : i.id));
  const entry = node.entry.map(actionLabel);
  const exit = node.exit.map(actionLabel);
  return {
    key: node.path.length === 0 ? node.machine.id : node.key,
    path,
    type: node.type,
    ...(node.type === 'compound' && initialTarget ? { initial: initialTarget.key } : {}),
    ...(invoke.length > 0 ? { invoke } : {}),
    ...(entry.length > 0 ? { entry } : {}),
    ...(exit.length > 0 ? { exit } : {}),
    transitions,
    states: Object.values(node.states).map(stateOf),
  };
}

function transitionOf(t: TransitionLike, source: NodeLike, actorNames: ReadonlyMap<string, string>): ChartTransition {
  const guard = t.guard === undefined ? undefined : guardLabel(t.guard);
  const spec = typeof t.meta?.spec === 'string' ? t.meta.spec : undefined;
  return {
    event: eventLabel(t.eventType, source.id, actorNames),
    source: source.path.join('.'),
    targets: (t.target ?? []).map((n) => n.path.join('.')),
    ...(guard !== undefined ? { guard } : {}),
    actions: t.actions.map(actionLabel),
    ...(t.reenter ? { reenter: true as const } : {}),
    ...(spec !== undefined ? { spec } : {}),
  };
}

/** XState's internal event types, in the spec's words. */
export function eventLabel(eventType: string, sourceId: string, actorNames: ReadonlyMap<string, string> = new Map()): string {
  if (eventType === '') return 'always';
  const after = /^xstate\.after\.(.+)$/.exec(eventType);
  if (after) {
    // `xstate.after.<delay>.<source id>`: the delay name is what the spec refers to.
    const rest = after[1] as string;
    const delay = rest.endsWith(`.${sourceId}`) ? rest.slice(0, -sourceId.length - 1) : rest;
    return /^\d+$/.test(delay) ? `after(${delay}ms)` : `after(${delay})`;
  }
  const done = /^xstate\.(done|error)\.actor\.(.+)$/.exec(eventType);
  if (done) return `${done[1]}(${actorNames.get(done[2] as string) ?? done[2]})`;
  return eventType;
}

/** `isResume`, `!isVersionSupported`, `a && b`; inline functions by their name. */
export function guardLabel(guard: unknown): string {
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'object' && guard !== null && 'type' in guard && typeof guard.type === 'string') return guard.type;
  if (typeof guard === 'function') {
    const g = guard as { check?: { name?: string }; guards?: readonly unknown[]; name?: string };
    const parts = (g.guards ?? []).map(guardLabel);
    switch (g.check?.name) {
      case 'checkNot':
        return parts.length === 1 ? `!${parts[0]}` : `!(${parts.join(' || ')})`;
      case 'checkAnd':
        return parts.map(wrapCompound).join(' && ');
      case 'checkOr':
        return parts.map(wrapCompound).join(' || ');
      default:
        return g.name !== undefined && g.name !== '' && g.name !== 'guard' ? g.name : 'inline';
    }
  }
  return 'inline';
}

function wrapCompound(label: string): string {
  return /\s/.test(label) ? `(${label})` : label;
}

/** `sendPing`, `closeSocket(HANDSHAKE_TIMEOUT)`, `assign`; dynamic params are left out. */
export function actionLabel(action: unknown): string {
  if (typeof action === 'string') return action;
  if (typeof action === 'function') {
    const a = action as { type?: unknown; name?: string };
    if (a.type === 'xstate.assign') return 'assign';
    if (typeof a.type === 'string') return a.type.replace(/^xstate\./, '');
    return a.name !== undefined && a.name !== '' ? a.name : 'inline';
  }
  if (typeof action === 'object' && action !== null && 'type' in action) {
    const a = action as { type: unknown; params?: unknown };
    const name = typeof a.type === 'string' ? a.type : actionLabel(a.type);
    const params = staticParams(a.params);
    return params === undefined ? name : `${name}(${params})`;
  }
  return 'inline';
}

/** Static params as `v1, v2` (values only, strings unquoted); undefined when dynamic or absent. */
function staticParams(params: unknown): string | undefined {
  if (params === undefined || typeof params === 'function' || params === null || typeof params !== 'object') return undefined;
  const values = Object.values(params as Record<string, unknown>);
  if (!values.every((v) => ['string', 'number', 'boolean'].includes(typeof v))) return undefined;
  return values.map(String).join(', ');
}

/** Every state of a chart, depth first, root included. */
export function chartStates(chart: Chart): ChartState[] {
  const out: ChartState[] = [];
  const walk = (s: ChartState) => {
    out.push(s);
    s.states.forEach(walk);
  };
  walk(chart.root);
  return out;
}
