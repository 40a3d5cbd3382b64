import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import type { Infra } from '../infra.js';
import type { Metrics } from '../observability/metrics.js';
import { ForbiddenError, UnauthenticatedError } from './errors.js';
import type { OperationScope } from './operation.js';

/** How long a refused login is answered from memory. */
const REFUSED_LOGIN_MEMORY_MS = 10_000;
/**
 * How long one process may hold the right to log in for all of them. Longer than
 * a login can take (connect and answer timeouts), so a slow login is not doubled;
 * short enough that a process that died holding it delays the others only briefly.
 */
const LOGIN_LEASE_MS = 15_000;
/** How often a process waiting for another's login looks for its token: first soon, then less often. */
const WAIT_FIRST_MS = 20;
const WAIT_MAX_MS = 250;

export interface IssuedToken {
  /** The value sent to the upstream. */
  token: string;
  /** Epoch milliseconds after which the upstream no longer accepts it. */
  expiresAt: number;
}

/** What a token manager needs from the gateway's infrastructure to share its tokens. */
export type TokenInfra = Pick<Infra, 'store' | 'secrets' | 'clock' | 'metrics' | 'log'>;

export interface TokenManagerOptions<T extends IssuedToken> {
  platform: string;
  /**
   * Gets a new token. `previous` is the last one issued (expired or rejected), so a
   * platform with refresh tokens can refresh instead of logging in again.
   * `operation`: the operation whose call needed the token (the first, when several
   * wait for one login), which the login's own calls are made for.
   */
  fetchToken: (previous: T | undefined, operation: OperationScope | undefined) => Promise<T>;
  /** Renew this many milliseconds before expiry, so a token never expires in flight. */
  renewBeforeMs?: number;
  /**
   * The gateway's store, secrets, clock, metrics and log. With it, the token is
   * shared with every gateway process on the same store (see `identity`);
   * without it (unit use), it lives in this process only, on the system clock.
   */
  infra?: TokenInfra;
  /**
   * What names the credential, the same in every process that holds it: the
   * upstream's base URL and the id it knows the credential by (client id,
   * username, entity and id). Never the secret: only a SHA-256 of this reaches
   * the store's key. Required with `infra`.
   */
  identity?: readonly string[];
  /** Called with each token this process starts to use, fetched here or read from the store (CloudCIX names its throttle queue by it). */
  onToken?: (token: T) => void;
  /** Where token fetches are counted, when there is no `infra`. */
  metrics?: Metrics;
}

/** A token as the store keeps it (sealed): the token and when every process should renew it. */
interface SharedRecord<T> {
  issued: T;
  renewAt: number;
}

interface Sharing {
  infra: TokenInfra;
  /** `tokens:<platform>:<sha256 of the identity>` */
  key: string;
  /** Held by the one process logging in for all. */
  leaseKey: string;
}

/**
 * One credential's access token. Concurrent callers share one fetch; the token is
 * renewed before it expires; a token the upstream rejected is dropped so the next
 * caller fetches a fresh one.
 *
 * With `infra`, the token is also shared through the store, sealed with the
 * gateway's `SecretBox`: before logging in, a process reads the token another
 * process stored; only one process logs in at a time (it holds a short lease in
 * the store; the others wait for its token and read it); a token the upstream
 * rejects is deleted from the store too. So several gateways behind one load
 * balancer log in to each platform once between them, and a restart reuses the
 * token the previous run fetched. When the store fails, the process logs in on
 * its own and says so in the log: a store outage costs logins, not requests.
 */
export class TokenManager<T extends IssuedToken = IssuedToken> {
  private current: T | undefined;
  /** When to renew `current`: before its expiry by the smaller of renewBeforeMs and a tenth of its lifetime. */
  private renewAt = 0;
  /** The store's copy of `current` exactly as read or written, so a 401 deletes that copy and never a newer one. */
  private currentSealed: string | undefined;
  /** The last token the upstream rejected: never taken back from the store, whatever a slow delete left there. */
  private rejected: string | undefined;
  /** The store delete a 401 started; a fetch waits for it so it does not read the rejected token back. */
  private invalidating: Promise<void> | undefined;
  private inflight: Promise<T> | undefined;
  /** A refused login, remembered for a while so that every request does not try the same wrong credentials again. */
  private refused: { error: Error; until: number } | undefined;
  private readonly renewBeforeMs: number;
  private readonly clock: Clock;
  private readonly metrics: Metrics | undefined;
  private readonly log: Logger | undefined;
  private readonly sharing: Sharing | undefined;

  constructor(private readonly options: TokenManagerOptions<T>) {
    this.renewBeforeMs = options.renewBeforeMs ?? 30_000;
    this.clock = options.infra?.clock ?? systemClock;
    this.metrics = options.infra?.metrics ?? options.metrics;
    this.log = options.infra?.log;
    if (options.infra) {
      if (!options.identity?.length) throw new TypeError(`TokenManager(${options.platform}): expected an identity with infra, to name the shared token`);
      const key = sharedTokenKey(options.platform, options.identity);
      this.sharing = { infra: options.infra, key, leaseKey: `${key}:lease` };
    }
  }

  /**
   * The token to send. `signal` is the caller's deadline: a caller waiting for a
   * login (its own, or another gateway's behind the shared lease) stops waiting
   * when it aborts, while the login goes on for the others.
   */
  async get(signal?: AbortSignal, operation?: OperationScope): Promise<string> {
    const current = this.current;
    if (current && this.clock.now() < this.renewAt) return current.token;
    const fetching = this.fetch(operation);
    if (!signal) return (await fetching).token;
    signal.throwIfAborted();
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return (await Promise.race([fetching, aborted])).token;
    } finally {
      signal.removeEventListener('abort', onAbort!);
    }
  }

  /** Forget `token` if it is still the current one (the upstream said 401 to it), here and in the store. */
  invalidate(token: string): void {
    if (this.current?.token !== token) return;
    this.renewAt = 0;
    this.rejected = token;
    const sealed = this.currentSealed;
    this.currentSealed = undefined;
    if (this.sharing && sealed !== undefined) {
      const { infra, key } = this.sharing;
      this.invalidating = infra.store.deleteIf(key, sealed).then(
        () => undefined,
        (error: unknown) => this.storeTrouble('could not delete a rejected token from the store', error),
      );
    }
  }

  private fetch(operation: OperationScope | undefined): Promise<T> {
    if (this.refused && this.clock.now() < this.refused.until) return Promise.reject(this.refused.error);
    this.inflight ??= (this.sharing ? this.obtainShared(this.sharing, operation) : this.fetchHere(this.current, operation)).finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /**
   * The token another process stored, or one this process fetches for all while
   * it holds the lease; while another holds it, wait and look again.
   */
  private async obtainShared(sharing: Sharing, operation: OperationScope | undefined): Promise<T> {
    const { store } = sharing.infra;
    await this.invalidating;
    const leaseId = randomUUID();
    for (let attempt = 0; ; attempt++) {
      const found = await this.readShared(sharing);
      if (found === 'store-failed') return this.fetchHere(this.current, operation);
      if (found.usable) return found.usable;
      let leased: boolean;
      try {
        leased = await store.set(sharing.leaseKey, leaseId, { ifAbsent: true, ttlMs: LOGIN_LEASE_MS });
      } catch (error) {
        this.storeTrouble('could not take the login lease in the store; logging in alone', error);
        return this.fetchHere(found.stale ?? this.current, operation);
      }
      if (leased) {
        try {
          // Another process may have stored its token between the read above and the lease.
          const again = await this.readShared(sharing);
          if (again !== 'store-failed' && again.usable) return again.usable;
          const previous = (again !== 'store-failed' ? again.stale : undefined) ?? found.stale ?? this.current;
          const token = await this.fetchHere(previous, operation);
          await this.writeShared(sharing, token);
          return token;
        } finally {
          await store.deleteIf(sharing.leaseKey, leaseId).catch(() => undefined);
        }
      }
      // Another process is logging in: its token will be in the store shortly.
      await this.clock.sleep(Math.min(WAIT_MAX_MS, WAIT_FIRST_MS * 2 ** attempt));
    }
  }

  /**
   * Reads the stored token. `usable`: adopted as `current`, valid until its renewal
   * time. `stale`: stored but due for renewal (still given to `fetchToken` as
   * `previous`, so it can be refreshed rather than a new login made).
   */
  private async readShared(sharing: Sharing): Promise<{ usable?: T; stale?: T } | 'store-failed'> {
    const { store, secrets } = sharing.infra;
    let sealed: string | undefined;
    try {
      sealed = await store.get(sharing.key);
    } catch (error) {
      this.storeTrouble('could not read the shared token from the store; logging in alone', error);
      return 'store-failed';
    }
    if (sealed === undefined) return {};
    const record = readRecord<T>(secrets.open(sealed, sharing.key));
    if (!record) {
      // Sealed under another STORE_SECRET_KEY, or altered: it is replaced by the token this process fetches.
      this.log?.warn({ platform: this.options.platform }, 'a shared upstream token in the store could not be opened: do all gateways on this store have the same STORE_SECRET_KEY?');
      return {};
    }
    if (record.issued.token === this.rejected) return {};
    if (this.clock.now() >= record.renewAt) return { stale: record.issued };
    this.adopt(record.issued, record.renewAt, sealed);
    return { usable: record.issued };
  }

  private async writeShared(sharing: Sharing, token: T): Promise<void> {
    const ttlMs = token.expiresAt - this.clock.now();
    if (!(ttlMs > 0)) return;
    const record: SharedRecord<T> = { issued: token, renewAt: this.renewAt };
    const sealed = sharing.infra.secrets.seal(JSON.stringify(record), sharing.key);
    try {
      await sharing.infra.store.set(sharing.key, sealed, { ttlMs });
      if (this.current === token) this.currentSealed = sealed;
    } catch (error) {
      this.storeTrouble('could not store the token it fetched; other gateways will log in themselves', error);
    }
  }

  /** Logs in (or refreshes) from this process. */
  private async fetchHere(previous: T | undefined, operation: OperationScope | undefined): Promise<T> {
    this.metrics?.upstreamTokenFetches.inc({ platform: this.options.platform });
    let token: T;
    try {
      token = await this.options.fetchToken(previous, operation);
    } catch (error) {
      // Wrong credentials stay wrong: answer from memory instead of hammering the login
      // (and risking the account's lockout). Outages are not remembered.
      if (error instanceof UnauthenticatedError || error instanceof ForbiddenError) {
        this.refused = { error, until: this.clock.now() + REFUSED_LOGIN_MEMORY_MS };
      }
      throw error;
    }
    this.refused = undefined;
    const lifetime = Math.max(0, token.expiresAt - this.clock.now());
    this.adopt(token, token.expiresAt - Math.min(this.renewBeforeMs, lifetime / 10), undefined);
    return token;
  }

  private adopt(token: T, renewAt: number, sealed: string | undefined): void {
    this.current = token;
    this.renewAt = renewAt;
    this.currentSealed = sealed;
    this.options.onToken?.(token);
  }

  private storeTrouble(what: string, error: unknown): void {
    this.log?.warn({ platform: this.options.platform, err: { message: (error as Error)?.message } }, `${this.options.platform}: ${what}`);
  }

  /**
   * Runs `call` with a token; if the upstream answers 401, fetches a fresh token
   * and runs it once more. A second 401 is the caller's problem (wrong credentials).
   * `operation`: the one `call` is made for, which a login it needs is made for too.
   */
  async withToken<R>(call: (token: string) => Promise<R>, operation?: OperationScope): Promise<R> {
    const token = await this.get(undefined, operation);
    try {
      return await call(token);
    } catch (error) {
      if (!(error instanceof UnauthenticatedError)) throw error;
      this.invalidate(token);
      return call(await this.get(undefined, operation));
    }
  }
}

export interface KeyedTokensOptions<T extends IssuedToken> {
  platform: string;
  fetchToken: (key: string, previous: T | undefined, operation: OperationScope | undefined) => Promise<T>;
  renewBeforeMs?: number;
  /** As for `TokenManager`: with it, every key's token is shared through the store. */
  infra?: TokenInfra;
  /** What names the credentials in common (the base URL); each key is added to it. */
  identity?: readonly string[];
}

/** Token managers keyed by credential id (Exotel issues one token per customer and per app). */
export class KeyedTokens<T extends IssuedToken = IssuedToken> {
  private readonly managers = new Map<string, TokenManager<T>>();

  constructor(private readonly options: KeyedTokensOptions<T>) {}

  for(key: string): TokenManager<T> {
    let manager = this.managers.get(key);
    if (!manager) {
      const { platform, renewBeforeMs, infra, identity } = this.options;
      manager = new TokenManager<T>({
        platform,
        fetchToken: (previous, operation) => this.options.fetchToken(key, previous, operation),
        renewBeforeMs,
        infra,
        identity: infra ? [...(identity ?? []), key] : undefined,
      });
      this.managers.set(key, manager);
    }
    return manager;
  }
}

/** The store key of a credential's token: the platform and a hash of what names the credential, never the secret. */
export function sharedTokenKey(platform: string, identity: readonly string[]): string {
  return `tokens:${platform}:${createHash('sha256').update(JSON.stringify(identity)).digest('base64url')}`;
}

function readRecord<T extends IssuedToken>(plain: string | undefined): SharedRecord<T> | undefined {
  if (plain === undefined) return undefined;
  try {
    const record = JSON.parse(plain) as SharedRecord<T>;
    const valid = typeof record?.renewAt === 'number' && typeof record.issued?.token === 'string' && typeof record.issued.expiresAt === 'number';
    return valid ? record : undefined;
  } catch {
    return undefined;
  }
}
