/**
 * The application reducer: how Snapshot and StatePatch bytes become local state (SD-1, SD-4), and
 * the canonical encoding whose CRC-32C is compared with StatePatch.digest (SD-3).
 */
export interface ChannelReducer<S> {
  /** A whole state from Snapshot.state (SD-4). */
  snapshot(channel: string, state: Uint8Array): S;
  /** The next state from the current one and StatePatch.delta (SD-1). May throw: the client resyncs. */
  apply(channel: string, current: S, delta: Uint8Array): S;
  /** Canonical bytes of a state, for the digest check (SD-3); without it digests are not checked. */
  encode?(channel: string, state: S): Uint8Array;
}

/**
 * The byte reducer: state is bytes, a patch's delta is the whole new state, the canonical encoding is
 * the bytes themselves. It is the conformance reducer of spec/conformance-control.md §4.4.
 */
export const bytesReducer: ChannelReducer<Uint8Array> = {
  snapshot: (_channel, state) => state,
  apply: (_channel, _current, delta) => delta,
  encode: (_channel, state) => state,
};
