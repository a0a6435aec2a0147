/**
 * MN-17, the handoff on the node a client left (a shared store): which client messages the
 * application holds whose ids are not yet written, and whether the client moved away (nothing more
 * reaches the application here then). LiveSession keeps one per shared-store session.
 */
import type { SessionStore } from './stores/session-store.js';
import { untilStored } from './stores/store-retry.js';

export class HandedOver {
  /** Message id ('' for a message without one) → how many with it are unfinished. */
  readonly ids = new Map<string, number>();
  isCut = false;
  /** Waiting for `ids` to empty (the handoff's wait, MN-17). */
  private onEmpty: (() => void) | undefined;

  add(id: string): void {
    this.ids.set(id, (this.ids.get(id) ?? 0) + 1);
  }

  /** The application finished a message with `id` and its write landed (or it failed). */
  done(id: string): void {
    const n = (this.ids.get(id) ?? 1) - 1;
    if (n > 0) this.ids.set(id, n);
    else this.ids.delete(id);
    if (this.ids.size > 0 || !this.onEmpty) return;
    const wake = this.onEmpty;
    this.onEmpty = undefined;
    wake();
  }

  /** Write the id of every message handed over and unfinished (retried while the store is away, MN-6); resolves when all landed. */
  storeIds(store: Pick<SessionStore, 'addMessageId'>, principal: string, isGone: () => boolean): Promise<void> {
    const writes = [...this.ids.keys()]
      .filter((id) => id !== '')
      .map((id) => {
        const added = store.addMessageId(principal, id);
        return added instanceof Promise ? untilStored(added, () => store.addMessageId(principal, id), isGone) : added;
      });
    return Promise.all(writes).then(
      () => undefined,
      () => undefined,
    );
  }

  /** Resolves once no message handed over is unfinished; undefined when none is. */
  whenEmpty(): Promise<void> | undefined {
    if (this.ids.size === 0) return undefined;
    return new Promise((resolve) => {
      const before = this.onEmpty;
      this.onEmpty = () => {
        before?.();
        resolve();
      };
    });
  }
}

/** A message held back at the handoff (MN-17): not delivered, not acknowledged; the client resends it where it resumes. */
export class HandoffCut extends Error {
  override readonly name = 'HandoffCut';
  constructor() {
    super('the client moved to another node: message held back (MN-17)');
  }
}
