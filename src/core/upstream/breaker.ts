import type { Clock } from '../clock.js';
import type { Metrics } from '../observability/metrics.js';
import { UpstreamNetworkError, UpstreamTimeoutError, UpstreamUnavailableError } from './errors.js';
import type { UpstreamPolicy, UpstreamResponse } from './chain.js';

export interface BreakerOptions {
  /** Consecutive failures (timeouts, refused or dropped connections, 502/503/504) that open the circuit; 0 turns it off. */
  failures: number;
  /** How long an open circuit fails calls at once before letting one trial call through. */
  cooldownMs: number;
}

type State = { kind: 'closed'; failures: number } | { kind: 'open'; until: number } | { kind: 'probing' };

/** Answers that say the host is down or overloaded; any other answer (a 404, a 429) says it is up. */
const FAILURE_STATUS = new Set([502, 503, 504]);

/**
 * A circuit breaker per upstream host. When a platform is down, every request
 * would otherwise wait out the full timeout; after `failures` consecutive
 * failures the breaker answers UPSTREAM_UNAVAILABLE at once for `cooldownMs`,
 * then lets a single trial call decide whether to close again.
 *
 * Time is the gateway's clock (`infra.clock`), so a test moves through the
 * cool-down instead of sleeping it out. The state is per process: a breaker is
 * about what this gateway saw, and opening quickly matters more than agreeing.
 */
export class CircuitBreaker {
  private state: State = { kind: 'closed', failures: 0 };

  constructor(
    private readonly platform: string,
    private readonly host: string,
    private readonly options: BreakerOptions,
    private readonly clock: Clock,
    private readonly metrics?: Metrics,
  ) {}

  /** Throws when the circuit is open; otherwise the call may go ahead. */
  enter(): void {
    if (this.options.failures <= 0) return;
    const state = this.state;
    if (state.kind === 'closed') return;
    const now = this.clock.now();
    if (state.kind === 'open' && now >= state.until) {
      this.state = { kind: 'probing' };
      return;
    }
    const wait = state.kind === 'open' ? Math.ceil((state.until - now) / 1000) : Math.ceil(this.options.cooldownMs / 1000);
    throw new UpstreamUnavailableError(
      `${this.platform} (${this.host}) failed ${this.options.failures} times in a row; Switchboard is not calling it for now (retry in about ${Math.max(1, wait)} s)`,
      { platform: this.platform, retryAfter: Math.max(1, wait) },
    );
  }

  succeeded(): void {
    // The gauge counts the platform's hosts that are not closed: one less now.
    if (this.state.kind !== 'closed') this.metrics?.upstreamBreakerOpen.dec({ platform: this.platform });
    this.state = { kind: 'closed', failures: 0 };
  }

  failed(): void {
    if (this.options.failures <= 0) return;
    const state = this.state;
    const failures = state.kind === 'closed' ? state.failures + 1 : this.options.failures;
    if (failures >= this.options.failures) {
      // Counted once per host however many late failures arrive while it is open or trying its one call.
      if (state.kind === 'closed') this.metrics?.upstreamBreakerOpen.inc({ platform: this.platform });
      this.state = { kind: 'open', until: this.clock.now() + this.options.cooldownMs };
    } else {
      this.state = { kind: 'closed', failures };
    }
  }

  get isOpen(): boolean {
    return this.state.kind !== 'closed';
  }
}

/**
 * The breaker step of the chain: refuses at once while the host's circuit is
 * open, and tells the breaker how each call ended. Timeouts and connection
 * failures count against the host; an answer, even an error answer other than
 * 502/503/504 (or a body too large to accept), says the host is up.
 */
export function breakerPolicy(breakerFor: (origin: string) => CircuitBreaker): UpstreamPolicy {
  return async (call, next) => {
    const breaker = breakerFor(call.url.origin);
    breaker.enter();
    let response: UpstreamResponse;
    try {
      response = await next(call);
    } catch (error) {
      // A trial call that ends this way must settle the breaker too, or it would stay half-open.
      if (error instanceof UpstreamTimeoutError || error instanceof UpstreamNetworkError) breaker.failed();
      else breaker.succeeded();
      throw error;
    }
    if (FAILURE_STATUS.has(response.status)) breaker.failed();
    else breaker.succeeded();
    return response;
  };
}
