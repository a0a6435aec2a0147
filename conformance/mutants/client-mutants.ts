/**
 * Deliberately broken variants of the reference client, each breaking one rule.
 * The adapter (conformance/adapters/reference-client.ts) applies the one named
 * by LIFELINE_CLIENT_MUTANT: client options, or a wrapper around the
 * WebSocket implementation it gives the client. Never a copy of client code.
 */
export interface ClientMutant {
  readonly id: string;
  readonly side: 'client';
  readonly rule: string;
  readonly description: string;
  readonly cases: readonly string[];
}

export const clientMutants: readonly ClientMutant[] = [];
