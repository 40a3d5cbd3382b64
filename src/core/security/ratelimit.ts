import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Logger } from 'pino';
import { SecurityError } from './errors.js';
import type { Principal } from './scopes.js';

/**
 * Each client's budget of requests per minute and per day (from the clients
 * file), counted per operation. In memory by default; in Redis when the gateway
 * has REDIS_URL, so several gateways behind one load balancer share one budget
 * per client instead of each granting it in full.
 */
export interface ClientRateLimiterOptions {
  /** An ioredis client: counters live in Redis under `keyPrefix`. Omit to count in this process. */
  redis?: unknown;
  /** Prefix of the counters' keys (shared by every gateway that should share the budget). */
  keyPrefix: string;
  log?: Pick<Logger, 'warn'>;
}

interface Windows {
  minute: RateLimiterAbstract;
  day: RateLimiterAbstract;
}

const WINDOWS = [
  { name: 'minute', seconds: 60, limit: (p: Principal) => p.limits!.requestsPerMinute },
  { name: 'day', seconds: 86_400, limit: (p: Principal) => p.limits!.requestsPerDay },
] as const;

export class ClientRateLimiter {
  private readonly limiters = new Map<string, Windows>();

  constructor(private readonly options: ClientRateLimiterOptions) {}

  private windowsOf(principal: Principal): Windows {
    const key = `${principal.client}\n${principal.limits!.requestsPerMinute}\n${principal.limits!.requestsPerDay}`;
    let windows = this.limiters.get(key);
    if (!windows) {
      const make = (name: string, points: number, duration: number): RateLimiterAbstract => {
        const keyPrefix = `${this.options.keyPrefix}:${name}`;
        if (!this.options.redis) return new RateLimiterMemory({ keyPrefix, points, duration });
        return new RateLimiterRedis({
          storeClient: this.options.redis,
          keyPrefix,
          points,
          duration,
          // If Redis stops answering, each gateway keeps counting on its own rather than refusing everyone or no one.
          insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration }),
        });
      };
      windows = {
        minute: make('minute', WINDOWS[0].limit(principal), WINDOWS[0].seconds),
        day: make('day', WINDOWS[1].limit(principal), WINDOWS[1].seconds),
      };
      this.limiters.set(key, windows);
    }
    return windows;
  }

  /**
   * Counts one operation of `principal`; refuses with RATE_LIMITED (HTTP 429,
   * `Retry-After`, `extensions.retryAfter` in seconds) when either window is spent.
   * Anonymous callers (the embedded default) are not counted.
   */
  async consume(principal: Principal): Promise<void> {
    if (principal.anonymous || !principal.limits || !principal.client) return;
    const windows = this.windowsOf(principal);
    for (const window of WINDOWS) {
      try {
        await windows[window.name].consume(principal.client, 1);
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) {
          // Neither Redis nor the insurance limiter answered: let the request through and say so, rather than refuse every client.
          this.options.log?.warn({ err: rejection, client: principal.client }, 'rate limiter failed; request let through uncounted');
          return;
        }
        const retryAfter = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
        const limit = window.limit(principal);
        throw new SecurityError(
          'RATE_LIMITED',
          `Client "${principal.client}" has used its ${limit} requests per ${window.name}; try again in ${retryAfter} s. The limits are set per client in the clients file.`,
          { status: 429, headers: { 'retry-after': String(retryAfter) }, extensions: { retryAfter, limit, window: window.name } },
        );
      }
    }
  }
}
