/**
 * A tiny TCP load balancer for the two-node bench (issue 14): every new connection goes to the
 * node in rotation; `takeOut` removes a node the way HAProxy does when its /readyz turns 503 at
 * the start of a drain (DR-1). Connections already open stay on their node until it closes them.
 */
import { TcpRelay } from '../../test/support/tcp-relay.js';

export class Balancer extends TcpRelay {
  private next = 0;

  constructor(private targets: number[]) {
    super();
  }

  setTargets(ports: readonly number[]): void {
    this.targets = [...ports];
  }

  /** New connections no longer go to `port`. */
  takeOut(port: number): void {
    this.targets = this.targets.filter((p) => p !== port);
  }

  protected pick(): number | undefined {
    return this.targets[this.next++ % Math.max(1, this.targets.length)];
  }
}
