import { randomBytes, randomUUID } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { systemClock, type Clock } from './clock.js';
import { ConfigError } from './env.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { FileStore } from './store/file.js';
import { MemoryStore } from './store/memory.js';
import { RedisStore } from './store/redis.js';
import type { Store } from './store/types.js';
import { SecretBox } from './store/secret-box.js';

/**
 * What the gateway shares between its parts, built once by the composition root
 * (`startGateway`) and handed down: nothing below it reads a module-level
 * singleton, so a test or a benchmark can start several gateways in one process,
 * each with its own store, clock, metrics and log.
 */
export interface Infra {
  /** Where state beyond one request lives (embedded in DATA_DIR, or Redis with REDIS_URL). */
  readonly store: Store;
  /** Encrypts what the store keeps that is a secret (tokens, learned app secrets). */
  readonly secrets: SecretBox;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly log: Logger;
}

export interface InfraOptions {
  log: Logger;
  /** Default: a new MemoryStore on `clock`. */
  store?: Store;
  /** Key for the secrets the store keeps; default: a random key (secrets then live only as long as the process). */
  secretKey?: string;
  /** Default: the system clock. */
  clock?: Clock;
  /** Default: a new registry with process metrics. */
  metrics?: Metrics;
}

/** Assembles an `Infra` from what is given, with in-process defaults for the rest. */
export function createInfra(options: InfraOptions): Infra {
  const clock = options.clock ?? systemClock;
  return {
    log: options.log,
    clock,
    store: options.store ?? new MemoryStore(() => clock.now()),
    secrets: new SecretBox(options.secretKey ?? randomBytes(32).toString('base64url')),
    metrics: options.metrics ?? createMetrics(),
  };
}

/** Where the gateway's state lives (the store part of the configuration, `src/config.ts`). */
export interface StoreSettings {
  /** `REDIS_URL`: Redis, shared by every gateway on it; unset: the embedded file store in DATA_DIR. */
  readonly redisUrl?: string;
  /** `REDIS_KEY_PREFIX`: put before every key in Redis. */
  readonly redisKeyPrefix: string;
  /** `STORE_SECRET_KEY`: seals the secrets the store keeps. Unset only when every platform is simulated: a key is then generated into DATA_DIR. */
  readonly secretKey?: string;
}

export interface InfraSettings {
  readonly dataDir: string;
  readonly store: StoreSettings;
}

export interface OpenedInfra {
  readonly infra: Infra;
  /** Closes what `openInfra` opened (writes the file store, quits Redis). Call it after the gateway has closed. */
  close(): Promise<void>;
}

/** The embedded store's file in DATA_DIR. */
export const STORE_FILE = 'store.json';
/** The key generated for the embedded default, in DATA_DIR. */
export const STORE_SECRET_KEY_FILE = 'store-secret.key';

/**
 * Opens the infrastructure `npm start` runs on: the store the settings name
 * (Redis with REDIS_URL, else the file store in DATA_DIR), the SecretBox on
 * STORE_SECRET_KEY (or, when every platform is simulated and none is set, on a
 * key generated once into DATA_DIR), the system clock and a fresh metrics
 * registry. A store that cannot be opened stops the start with a ConfigError
 * naming the setting to fix.
 */
export async function openInfra(settings: InfraSettings, log: Logger, options: { clock?: Clock; metrics?: Metrics } = {}): Promise<OpenedInfra> {
  const clock = options.clock ?? systemClock;
  const secretKey = settings.store.secretKey ?? (await loadOrCreateSecretKey(join(settings.dataDir, STORE_SECRET_KEY_FILE)));
  let store: Store;
  if (settings.store.redisUrl) {
    try {
      store = await RedisStore.connect(settings.store.redisUrl, {
        keyPrefix: settings.store.redisKeyPrefix,
        report: (message) => log.warn(message),
      });
    } catch (error) {
      throw new ConfigError([`REDIS_URL: ${(error as Error).message}; check that Redis runs there and the URL (with its password, if any) is right, or unset REDIS_URL for the embedded store`]);
    }
  } else {
    const file = join(settings.dataDir, STORE_FILE);
    try {
      store = await FileStore.open(file, { clock, report: (message) => log.error(message) });
    } catch (error) {
      throw new ConfigError([`DATA_DIR: ${(error as Error).message}; expected a folder this user can read and write`]);
    }
  }
  const infra = createInfra({ log, store, secretKey, clock, metrics: options.metrics });
  log.debug({ store: store.kind }, 'store opened');
  return { infra, close: () => store.close() };
}

/**
 * The embedded default's STORE_SECRET_KEY: read from DATA_DIR, or generated there
 * at first start (32 random bytes, base64). Written to a temporary file and
 * hard-linked into place, so two gateways starting at once never read a
 * half-written key: the first link wins and the other reads the winner's.
 */
export async function loadOrCreateSecretKey(file: string): Promise<string> {
  const problem = (what: string) => new ConfigError([`DATA_DIR: the store's key file ${file} ${what}`]);
  const read = async (): Promise<string | undefined> => {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw problem(`could not be read (${(error as NodeJS.ErrnoException).code}); expected a file this user can read`);
    }
    const key = text.trim();
    if (key.length < 32) {
      throw problem('holds no usable key (expected at least 32 characters); delete it to have a new one generated (the tokens and secrets sealed with the old one are then fetched or given again)');
    }
    return key;
  };
  const existing = await read();
  if (existing !== undefined) return existing;
  const temporary = `${file}.${process.pid}.${randomUUID()}.tmp`;
  try {
    await mkdir(join(file, '..'), { recursive: true, mode: 0o700 });
    await writeFile(temporary, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    await link(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw problem(`could not be written (${(error as NodeJS.ErrnoException).code}); expected a folder this user can write`);
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
  const written = await read();
  if (written === undefined) throw problem('vanished right after it was written');
  return written;
}
