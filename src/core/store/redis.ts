import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { StoreUnavailableError } from './errors.js';
import { checkTtl, checkWindow } from './memory.js';
import type { Store } from './types.js';

export interface RedisStoreOptions {
  /**
   * Put before every key, so several deployments (or parallel test files) can
   * share one Redis without seeing each other's state. Default `switchboard:`.
   */
  keyPrefix?: string;
  /** Told when the connection fails or comes back after the start (the gateway logs it). Messages never carry a password. */
  report?: (message: string) => void;
  /** How long connecting may take before it counts as failed. Default 5000 ms. */
  connectTimeoutMs?: number;
}

/** Deletes KEYS[1] only while it holds ARGV[1]: releasing one's own lease, never one another process took since. */
const DELETE_IF_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/**
 * A rolling window of uses in one sorted set (score = the time of the use): the
 * uses older than the window are dropped, and one is added when fewer than
 * `limit` remain. One script, so two gateways never both take the last use.
 * Answers 0 when a use was taken, else the milliseconds until the oldest use
 * leaves the window.
 * KEYS[1] the window; ARGV: limit, windowMs, now, a unique member for this use.
 */
const TAKE_SLOT_LUA = `
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window))
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = math.ceil(tonumber(oldest[2]) + window - now)
if wait < 1 then wait = 1 end
return wait`;

interface Scripts {
  switchboardDeleteIf(key: string, value: string): Promise<number>;
  switchboardTakeSlot(key: string, limit: number, windowMs: number, now: number, member: string): Promise<number>;
}

/**
 * The store on Redis (`REDIS_URL`): what several gateway processes share, so
 * they log in to each platform once between them and spend one throttle budget.
 *
 * Commands wait for a dropped connection to come back for a couple of retries,
 * then fail with `StoreUnavailableError` naming the Redis (without its
 * password), rather than hanging the request that needed them.
 */
export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  private readonly scripts: Scripts;

  private constructor(
    private readonly redis: Redis,
    /** The Redis as it may be shown: scheme, host, port and database, no credentials. */
    readonly where: string,
    readonly keyPrefix: string,
  ) {
    redis.defineCommand('switchboardDeleteIf', { numberOfKeys: 1, lua: DELETE_IF_LUA });
    redis.defineCommand('switchboardTakeSlot', { numberOfKeys: 1, lua: TAKE_SLOT_LUA });
    this.scripts = redis as unknown as Scripts;
  }

  /** Connects to `url` (`redis://` or `rediss://`); fails with a clear error when the Redis cannot be reached. */
  static async connect(url: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
    const where = describeRedisUrl(url);
    const redis = new Redis(url, {
      lazyConnect: true,
      connectTimeout: options.connectTimeoutMs ?? 5_000,
      // A command waits through two reconnection attempts, then fails: a request gets an answer, not a hang.
      maxRetriesPerRequest: 2,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    });
    let started = false;
    let lastProblem: string | undefined;
    /** ioredis rejects a failed connect with "Connection is closed."; the cause (ECONNREFUSED, a bad password) comes as an event. */
    let connectProblem: string | undefined;
    // ioredis prints unhandled 'error' events to the console; they are reported once per distinct problem instead.
    redis.on('error', (error: Error) => {
      if (!started) {
        connectProblem ??= error.message;
        return;
      }
      if (error.message === lastProblem) return;
      lastProblem = error.message;
      options.report?.(`The Redis store at ${where} is unreachable (${error.message}); retrying`);
    });
    redis.on('ready', () => {
      if (started && lastProblem !== undefined) options.report?.(`The Redis store at ${where} is reachable again`);
      lastProblem = undefined;
    });
    try {
      await redis.connect();
    } catch (error) {
      redis.disconnect();
      throw new StoreUnavailableError(`Could not connect to Redis at ${where}: ${connectProblem ?? (error as Error).message}`, error);
    }
    started = true;
    return new RedisStore(redis, where, options.keyPrefix ?? 'switchboard:');
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.run(() => this.redis.get(this.keyPrefix + key))) ?? undefined;
  }

  async set(key: string, value: string, options: { ttlMs?: number; ifAbsent?: boolean } = {}): Promise<boolean> {
    checkTtl(options.ttlMs);
    const k = this.keyPrefix + key;
    const ttl = options.ttlMs === undefined ? undefined : Math.ceil(options.ttlMs);
    const result = await this.run(() => {
      if (ttl === undefined) return options.ifAbsent ? this.redis.set(k, value, 'NX') : this.redis.set(k, value);
      return options.ifAbsent ? this.redis.set(k, value, 'PX', ttl, 'NX') : this.redis.set(k, value, 'PX', ttl);
    });
    return result === 'OK';
  }

  async delete(key: string): Promise<void> {
    await this.run(() => this.redis.del(this.keyPrefix + key));
  }

  async deleteIf(key: string, value: string): Promise<boolean> {
    return (await this.run(() => this.scripts.switchboardDeleteIf(this.keyPrefix + key, value))) === 1;
  }

  async takeSlot(key: string, limit: number, windowMs: number, now: number): Promise<number> {
    checkWindow(limit, windowMs);
    return Number(await this.run(() => this.scripts.switchboardTakeSlot(this.keyPrefix + key, limit, windowMs, now, `${now}:${randomUUID()}`)));
  }

  async keys(prefix: string): Promise<string[]> {
    const match = `${escapeGlob(this.keyPrefix + prefix)}*`;
    const found = new Set<string>();
    await this.run(async () => {
      let cursor = '0';
      do {
        const [next, batch] = await this.redis.scan(cursor, 'MATCH', match, 'COUNT', 500);
        for (const key of batch) found.add(key.slice(this.keyPrefix.length));
        cursor = next;
      } while (cursor !== '0');
    });
    return [...found];
  }

  /** Quits: waits for the replies in flight, then closes the connection. */
  async close(): Promise<void> {
    if (this.redis.status === 'end') return;
    try {
      await this.redis.quit();
    } catch {
      // Already gone: nothing left to wait for.
      this.redis.disconnect();
    }
  }

  private async run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new StoreUnavailableError(`The Redis store at ${this.where} failed: ${(error as Error).message}`, error);
    }
  }
}

/** `rediss://user:password@host:6380/2` → `rediss://host:6380/2`: what a message may show. */
export function describeRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return '(an unparseable REDIS_URL)';
  }
}

/** SCAN's MATCH is a glob: a prefix holding `*`, `?`, `[` or `\` must match itself only. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
