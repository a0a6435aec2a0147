/**
 * Test support for the machines' model coverage: every state node of a machine, and
 * a stable key per transition (source, event, position among that event's
 * candidates), so "every transition taken" can be checked against the definition.
 */
import type { AnyTransitionDefinition, EventObject, MachineContext, StateNode } from 'xstate';

export function allStateNodes<C extends MachineContext, E extends EventObject>(node: StateNode<C, E>): StateNode<C, E>[] {
  return [node, ...Object.values(node.states).flatMap((n) => allStateNodes(n as StateNode<C, E>))];
}

export function transitionKey(t: AnyTransitionDefinition): string {
  const list = (t.source.transitions.get(t.eventType) ?? []) as AnyTransitionDefinition[];
  return `${t.source.id} --${t.eventType}#${list.indexOf(t)}`;
}
