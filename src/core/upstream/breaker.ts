import { UpstreamUnavailableError } from './errors.js';

export interface BreakerOptions {
  /** Consecutive failures (timeouts, refused or dropped connections, 502/503/504) that open the circuit; 0 turns it off. */
  failures: number;
  /** How long an open circuit fails calls at once before letting one trial call through. */
  cooldownMs: number;
}

type State = { kind: 'closed'; failures: number } | { kind: 'open'; until: number } | { kind: 'probing' };

/**
 * A circuit breaker per upstream host. When a platform is down, every request
 * would otherwise wait out the full timeout; after `failures` consecutive
 * failures the breaker answers UPSTREAM_UNAVAILABLE at once for `cooldownMs`,
 * then lets a single trial call decide whether to close again.
 */
export class CircuitBreaker {
  private state: State = { kind: 'closed', failures: 0 };

  constructor(
    private readonly platform: string,
    private readonly host: string,
    private readonly options: BreakerOptions,
  ) {}

  /** Throws when the circuit is open; otherwise the call may go ahead. */
  enter(): void {
    if (this.options.failures <= 0) return;
    const state = this.state;
    if (state.kind === 'closed') return;
    if (state.kind === 'open' && Date.now() >= state.until) {
      this.state = { kind: 'probing' };
      return;
    }
    const wait = state.kind === 'open' ? Math.ceil((state.until - Date.now()) / 1000) : Math.ceil(this.options.cooldownMs / 1000);
    throw new UpstreamUnavailableError(
      `${this.platform} (${this.host}) failed ${this.options.failures} times in a row; Switchboard is not calling it for now (retry in about ${wait} s)`,
      { platform: this.platform, retryAfter: wait },
    );
  }

  succeeded(): void {
    this.state = { kind: 'closed', failures: 0 };
  }

  failed(): void {
    if (this.options.failures <= 0) return;
    const state = this.state;
    const failures = state.kind === 'closed' ? state.failures + 1 : this.options.failures;
    this.state = failures >= this.options.failures ? { kind: 'open', until: Date.now() + this.options.cooldownMs } : { kind: 'closed', failures };
  }

  get isOpen(): boolean {
    return this.state.kind !== 'closed';
  }
}
