import { ForbiddenError, UnauthenticatedError } from './errors.js';

/** How long a refused login is answered from memory. */
const REFUSED_LOGIN_MEMORY_MS = 10_000;
import type { Metrics } from '../observability/metrics.js';

export interface IssuedToken {
  /** The value sent to the upstream. */
  token: string;
  /** Epoch milliseconds after which the upstream no longer accepts it. */
  expiresAt: number;
}

export interface TokenManagerOptions<T extends IssuedToken> {
  platform: string;
  /**
   * Gets a new token. `previous` is the last one issued (expired or rejected), so a
   * platform with refresh tokens can refresh instead of logging in again.
   */
  fetchToken: (previous: T | undefined) => Promise<T>;
  /** Renew this many milliseconds before expiry, so a token never expires in flight. */
  renewBeforeMs?: number;
  /** Where token fetches are counted. */
  metrics?: Metrics;
}

/**
 * One credential's access token. Concurrent callers share one fetch; the token is
 * renewed before it expires; a token the upstream rejected is dropped so the next
 * caller fetches a fresh one.
 */
export class TokenManager<T extends IssuedToken = IssuedToken> {
  private current: T | undefined;
  /** When to renew `current`: before its expiry by the smaller of renewBeforeMs and a tenth of its lifetime. */
  private renewAt = 0;
  private inflight: Promise<T> | undefined;
  /** A refused login, remembered for a while so that every request does not try the same wrong credentials again. */
  private refused: { error: Error; until: number } | undefined;
  private readonly renewBeforeMs: number;

  constructor(private readonly options: TokenManagerOptions<T>) {
    this.renewBeforeMs = options.renewBeforeMs ?? 30_000;
  }

  async get(): Promise<string> {
    const current = this.current;
    if (current && Date.now() < this.renewAt) return current.token;
    return (await this.fetch()).token;
  }

  /** Forget `token` if it is still the current one (the upstream said 401 to it). */
  invalidate(token: string): void {
    if (this.current?.token === token) this.renewAt = 0;
  }

  private fetch(): Promise<T> {
    if (this.refused && Date.now() < this.refused.until) return Promise.reject(this.refused.error);
    if (!this.inflight) {
      const previous = this.current;
      this.options.metrics?.upstreamTokenFetches.inc({ platform: this.options.platform });
      this.inflight = this.options
        .fetchToken(previous)
        .catch((error: unknown) => {
          // Wrong credentials stay wrong: answer from memory instead of hammering the login
          // (and risking the account's lockout). Outages are not remembered.
          if (error instanceof UnauthenticatedError || error instanceof ForbiddenError) {
            this.refused = { error, until: Date.now() + REFUSED_LOGIN_MEMORY_MS };
          }
          throw error;
        })
        .then((token) => {
          this.refused = undefined;
          const lifetime = Math.max(0, token.expiresAt - Date.now());
          this.current = token;
          this.renewAt = token.expiresAt - Math.min(this.renewBeforeMs, lifetime / 10);
          return token;
        })
        .finally(() => {
          this.inflight = undefined;
        });
    }
    return this.inflight;
  }

  /**
   * Runs `call` with a token; if the upstream answers 401, fetches a fresh token
   * and runs it once more. A second 401 is the caller's problem (wrong credentials).
   */
  async withToken<R>(call: (token: string) => Promise<R>): Promise<R> {
    const token = await this.get();
    try {
      return await call(token);
    } catch (error) {
      if (!(error instanceof UnauthenticatedError)) throw error;
      this.invalidate(token);
      return call(await this.get());
    }
  }
}

/** Token managers keyed by credential id (Exotel issues one token per customer and per app). */
export class KeyedTokens<T extends IssuedToken = IssuedToken> {
  private readonly managers = new Map<string, TokenManager<T>>();

  constructor(
    private readonly platform: string,
    private readonly fetchToken: (key: string, previous: T | undefined) => Promise<T>,
    private readonly renewBeforeMs?: number,
  ) {}

  for(key: string): TokenManager<T> {
    let manager = this.managers.get(key);
    if (!manager) {
      manager = new TokenManager<T>({
        platform: this.platform,
        fetchToken: (previous) => this.fetchToken(key, previous),
        renewBeforeMs: this.renewBeforeMs,
      });
      this.managers.set(key, manager);
    }
    return manager;
  }
}
