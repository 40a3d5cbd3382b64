import type { Clock } from '../clock.js';
import type { Metrics } from '../observability/metrics.js';
import { UpstreamNetworkError } from './errors.js';
import type { HttpMethod, UpstreamCall, UpstreamPolicy, UpstreamResponse } from './chain.js';

export interface RetryOptions {
  /** Attempts after the first, for a retryable failure of an idempotent call. 0 turns retries off. */
  retries: number;
  /** The backoff before the first retry, at most (full jitter: a random wait from 0 to this). Doubles per retry. */
  baseDelayMs: number;
  /** The backoff's ceiling, however many retries came before. */
  maxDelayMs: number;
  /** [0, 1); tests pass a fixed value to see the backoff's bounds. Default Math.random. */
  random?: () => number;
}

/**
 * Sent again: reads only. A PUT or DELETE is idempotent by HTTP's book, but on
 * these platforms a DELETE retried after its first attempt was applied answers
 * 404, and a PUT can overwrite a change someone made in between; the user is
 * better served by the first failure, and decides. Writes (POST, PATCH) never:
 * the upstream may have applied them.
 */
export const RETRIED_METHODS: ReadonlySet<HttpMethod> = new Set(['GET', 'HEAD']);

/** 429: the platform's rate limit (it says when, in `Retry-After`); 502/503/504: a proxy or the platform in trouble. */
export const RETRIED_STATUS: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/**
 * The wait before retry number `retry` (1 for the first): capped exponential
 * backoff with full jitter, a random wait in [0, min(max, base·2^(retry−1))).
 * Full jitter spreads the retries of many callers that failed together (a
 * platform blip seen by every in-flight request) instead of sending them back
 * in lockstep.
 */
export function backoffDelay(retry: number, options: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs'>, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/**
 * `Retry-After` as milliseconds from `now`: delay-seconds (`120`) or an HTTP date
 * (`Wed, 21 Oct 2026 07:28:00 GMT`), read against the gateway's clock. Undefined
 * when absent or unreadable; a date in the past is 0.
 */
export function retryAfterMs(headers: UpstreamResponse['headers'], now: number): number | undefined {
  const raw = headers['retry-after'];
  const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // Only the HTTP date form (RFC 9110 IMF-fixdate): Date.parse reads "5.5" or "-5" as dates in 2001.
  if (!IMF_FIXDATE.test(value)) return undefined;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/** Why this outcome is worth another attempt (the retry metric's reason), or undefined. */
export function retryReason(response: UpstreamResponse | undefined, error: unknown): string | undefined {
  if (response) return RETRIED_STATUS.has(response.status) ? String(response.status) : undefined;
  return error instanceof UpstreamNetworkError ? error.networkCode : undefined;
}

/**
 * The retry step. It wraps the rest of the chain (throttle, breaker, hook)
 * once per attempt, so each attempt takes a throttle slot of its own (a retry
 * is a request the platform counts like any other), meets the breaker, and is
 * recorded with its attempt number.
 *
 * Only reads are retried, only after a dropped or refused connection, a 429 or
 * a 502/503/504; a timeout is not (a slow platform is not made faster by asking
 * twice). The wait is the platform's `Retry-After` when it gave one, else the
 * backoff. A wait that would end past the call's deadline is not taken: the call
 * fails now with the failure it has, rather than later with a timeout.
 */
export function retryPolicy(options: RetryOptions, deps: { platform: string; clock: Clock; metrics?: Metrics }): UpstreamPolicy {
  const random = options.random ?? Math.random;
  return async (call, next) => {
    const retried = RETRIED_METHODS.has(call.method) ? options.retries : 0;
    const headers = call.headers;
    for (let attempt = 1; ; attempt++) {
      const current: UpstreamCall = { ...call, attempt, headers: { ...headers }, status: 0, bytes: 0 };
      let response: UpstreamResponse | undefined;
      let error: unknown;
      try {
        response = await next(current);
      } catch (thrown) {
        error = thrown;
      }
      const give = (): UpstreamResponse => {
        if (response) return response;
        throw error;
      };
      const reason = attempt <= retried ? retryReason(response, error) : undefined;
      if (reason === undefined) return give();
      const now = deps.clock.now();
      const wait = (response && retryAfterMs(response.headers, now)) ?? backoffDelay(attempt, options, random);
      const budget = call.operation?.callBudget;
      if (now + wait >= call.deadline || (budget !== undefined && budget <= 0) || call.signal.aborted) return give();
      deps.metrics?.upstreamRetries.inc({ platform: deps.platform, reason });
      if (wait <= 0) continue; // `Retry-After: 0`, or a backoff drawn at 0: at once
      try {
        await deps.clock.sleep(wait, call.signal);
      } catch {
        return give();
      }
    }
  };
}
