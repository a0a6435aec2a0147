/**
 * A loopback TCP proxy a test can cut and restore: one node losing its network path to Redis (issue
 * 14) while the others keep theirs. Cut: every open connection is destroyed and new ones are refused
 * (accepted, then destroyed at once) until restored.
 */
import { TcpRelay } from './tcp-relay.js';

export class TcpProxy extends TcpRelay {
  private isCut = false;

  constructor(
    private readonly targetPort: number,
    targetHost = '127.0.0.1',
  ) {
    super(targetHost);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  cut(): void {
    this.isCut = true;
    this.destroyAll();
  }

  restore(): void {
    this.isCut = false;
  }

  protected pick(): number | undefined {
    return this.isCut ? undefined : this.targetPort;
  }
}
