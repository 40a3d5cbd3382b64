import { randomBytes } from 'node:crypto';
import { writeClientsFile } from './utils/security.js';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { ManualClock } from '../src/core/clock.js';
import { ConfigError } from '../src/core/env.js';
import { STORE_FILE, STORE_SECRET_KEY_FILE, openInfra } from '../src/core/infra.js';
import { createLogger } from '../src/core/observability/log.js';
import { StoreUnavailableError } from '../src/core/store/errors.js';
import { FileStore } from '../src/core/store/file.js';
import { MemoryStore } from '../src/core/store/memory.js';
import { RedisStore } from '../src/core/store/redis.js';
import { SecretBox } from '../src/core/store/secret-box.js';
import type { Store } from '../src/core/store/types.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Every key this file writes to Redis starts with this, so parallel test files never meet, and it is all deleted at the end. */
const PREFIX = `switchboard-test:store:${randomBytes(6).toString('hex')}:`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchboard-store-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

/** A store under test, and how to move its time past a TTL. */
interface Subject {
  store: Store;
  /** Lets `ms` pass for the store's expiry: the manual clock for the embedded stores, Redis's own clock for Redis. */
  pass(ms: number): Promise<void>;
  close(): Promise<void>;
}

const subjects: Record<string, () => Promise<Subject>> = {
  memory: async () => {
    const clock = new ManualClock();
    const store = new MemoryStore(() => clock.now());
    return { store, pass: (ms) => clock.advance(ms), close: () => store.close() };
  },
  file: async () => {
    const clock = new ManualClock();
    const store = await FileStore.open(join(await mkdtemp(join(dir, 'conformance-')), STORE_FILE), { clock });
    return { store, pass: (ms) => clock.advance(ms), close: () => store.close() };
  },
  redis: async () => {
    // Each subject its own prefix: a test starts from an empty store, as with the others.
    const store = await RedisStore.connect(REDIS_URL, { keyPrefix: `${PREFIX}${randomBytes(4).toString('hex')}:` });
    // Redis expires keys on its own clock, which no test can drive: these TTLs are tens of milliseconds, and the wait polls.
    const pass = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms + 5));
    return { store, pass, close: () => store.close() };
  },
};

/** TTLs in the conformance tests: long enough that Redis keeps the key between two commands, short enough to wait out there. */
const TTL = 60;

describe.each(Object.keys(subjects))('the %s store', (kind) => {
  let subject: Subject;
  let store: Store;
  beforeAll(async () => {
    subject = await subjects[kind]!();
    store = subject.store;
  });
  afterAll(() => subject.close());

  it('reports its kind', () => {
    expect(store.kind).toBe(kind);
  });

  it('gets what was set, overwrites, deletes, and answers undefined for a missing key', async () => {
    expect(await store.get('get:missing')).toBeUndefined();
    expect(await store.set('get:a', 'one')).toBe(true);
    expect(await store.get('get:a')).toBe('one');
    expect(await store.set('get:a', 'two')).toBe(true);
    expect(await store.get('get:a')).toBe('two');
    await store.set('get:unicode', 'ünïcødé ✓ "quoted"\nline');
    expect(await store.get('get:unicode')).toBe('ünïcødé ✓ "quoted"\nline');
    await store.delete('get:a');
    expect(await store.get('get:a')).toBeUndefined();
    await store.delete('get:never-set'); // deleting nothing is not an error
  });

  it('expires a key after its TTL, and a later write without TTL keeps the key', async () => {
    await store.set('ttl:a', 'short', { ttlMs: TTL });
    await store.set('ttl:b', 'was short', { ttlMs: TTL });
    await store.set('ttl:b', 'now kept');
    expect(await store.get('ttl:a')).toBe('short');
    await subject.pass(TTL);
    expect(await store.get('ttl:a')).toBeUndefined();
    expect(await store.get('ttl:b')).toBe('now kept');
  });

  it('ifAbsent writes only a missing key (a lease), and the key is free again once its TTL passed', async () => {
    expect(await store.set('lease:a', 'holder-1', { ifAbsent: true, ttlMs: TTL })).toBe(true);
    expect(await store.set('lease:a', 'holder-2', { ifAbsent: true, ttlMs: TTL })).toBe(false);
    expect(await store.get('lease:a')).toBe('holder-1');
    await subject.pass(TTL);
    expect(await store.set('lease:a', 'holder-2', { ifAbsent: true, ttlMs: 60_000 })).toBe(true);
    expect(await store.get('lease:a')).toBe('holder-2');
    expect(await store.set('lease:b', 'x', { ifAbsent: true })).toBe(true);
    expect(await store.set('lease:b', 'y', { ifAbsent: true })).toBe(false);
  });

  it('deleteIf deletes only while the key holds the value (releasing one’s own lease only)', async () => {
    await store.set('deleteif:a', 'mine');
    expect(await store.deleteIf('deleteif:a', 'theirs')).toBe(false);
    expect(await store.get('deleteif:a')).toBe('mine');
    expect(await store.deleteIf('deleteif:a', 'mine')).toBe(true);
    expect(await store.get('deleteif:a')).toBeUndefined();
    expect(await store.deleteIf('deleteif:a', 'mine')).toBe(false);
  });

  it('takeSlot keeps a rolling window: `limit` uses, then the wait until the oldest leaves', async () => {
    const window = 60_000;
    const t0 = 1_700_000_000_000;
    expect(await store.takeSlot('slot:a', 3, window, t0)).toBe(0);
    expect(await store.takeSlot('slot:a', 3, window, t0 + 1_000)).toBe(0);
    expect(await store.takeSlot('slot:a', 3, window, t0 + 2_000)).toBe(0);
    // Full: the first use leaves the window at t0 + 60 s.
    expect(await store.takeSlot('slot:a', 3, window, t0 + 10_000)).toBe(50_000);
    expect(await store.takeSlot('slot:a', 3, window, t0 + 59_999)).toBe(1);
    // A refused attempt takes nothing: at t0 + 60 s exactly one use is free.
    expect(await store.takeSlot('slot:a', 3, window, t0 + 60_000)).toBe(0);
    expect(await store.takeSlot('slot:a', 3, window, t0 + 60_000)).toBe(1_000);
    // Another key has a budget of its own.
    expect(await store.takeSlot('slot:b', 1, window, t0)).toBe(0);
    expect(await store.takeSlot('slot:b', 1, window, t0)).toBe(window);
  });

  it('takeSlot hands out exactly `limit` uses to many callers at once', async () => {
    const now = 1_700_000_000_000;
    const results = await Promise.all(Array.from({ length: 20 }, () => store.takeSlot('slot:burst', 5, 60_000, now)));
    expect(results.filter((wait) => wait === 0)).toHaveLength(5);
    expect(results.filter((wait) => wait === 60_000)).toHaveLength(15);
  });

  it('lists the live keys under a prefix, even one holding glob characters', async () => {
    await store.set('list:x*[1]:a', '1');
    await store.set('list:x*[1]:b', '2');
    await store.set('list:xa:c', '3');
    await store.set('list:x*[1]:gone', '4', { ttlMs: TTL });
    await subject.pass(TTL);
    expect((await store.keys('list:x*[1]:')).sort()).toEqual(['list:x*[1]:a', 'list:x*[1]:b']);
    expect(await store.keys('list:nothing:')).toEqual([]);
  });

  it('refuses a TTL or budget that makes no sense, saying what it expected', async () => {
    await expect(store.set('bad', 'x', { ttlMs: 0 })).rejects.toThrow('set: expected ttlMs of more than 0, got 0');
    await expect(store.takeSlot('bad', 0, 1_000, 0)).rejects.toThrow('takeSlot: expected a whole number of uses of at least 1, got 0');
    await expect(store.takeSlot('bad', 1, -5, 0)).rejects.toThrow('takeSlot: expected a window of more than 0 ms, got -5');
  });
});

describe('the Redis store across connections', () => {
  it('shares one takeSlot budget between two gateways (two connections)', async () => {
    const keyPrefix = `${PREFIX}shared:`;
    const a = await RedisStore.connect(REDIS_URL, { keyPrefix });
    const b = await RedisStore.connect(REDIS_URL, { keyPrefix });
    try {
      const now = 1_700_000_000_000;
      const taken = await Promise.all([
        ...Array.from({ length: 6 }, (_, i) => a.takeSlot('budget', 4, 1_000, now + i)),
        ...Array.from({ length: 6 }, (_, i) => b.takeSlot('budget', 4, 1_000, now + i)),
      ]);
      expect(taken.filter((wait) => wait === 0)).toHaveLength(4);
      // A lease one connection holds is held for the other too.
      expect(await a.set('lease', 'a', { ifAbsent: true, ttlMs: 10_000 })).toBe(true);
      expect(await b.set('lease', 'b', { ifAbsent: true, ttlMs: 10_000 })).toBe(false);
      expect(await b.deleteIf('lease', 'b')).toBe(false);
      expect(await b.get('lease')).toBe('a');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('writes under its key prefix only', async () => {
    const keyPrefix = `${PREFIX}prefixed:`;
    const store = await RedisStore.connect(REDIS_URL, { keyPrefix });
    const raw = new Redis(REDIS_URL);
    try {
      await store.set('k', 'v', { ttlMs: 10_000 });
      expect(await raw.get(`${keyPrefix}k`)).toBe('v');
      const pttl = await raw.pttl(`${keyPrefix}k`);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(10_000);
      expect(await raw.get('k')).toBeNull();
    } finally {
      await store.close();
      await raw.quit();
    }
  });

  it('fails to connect with a clear error naming the Redis without its password', async () => {
    const url = `redis://user:hunter2-password@127.0.0.1:${await closedPort()}/3`;
    const error = await RedisStore.connect(url, { connectTimeoutMs: 2_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(/^Could not connect to Redis at redis:\/\/127\.0\.0\.1:\d+\/3: .*ECONNREFUSED/);
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('a command after close fails with a StoreUnavailableError naming the store', async () => {
    const store = await RedisStore.connect(REDIS_URL, { keyPrefix: `${PREFIX}closed:` });
    await store.close();
    const error = await store.get('k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as StoreUnavailableError).code).toBe('UPSTREAM_UNAVAILABLE');
    expect((error as Error).message).toContain('The Redis store at redis://127.0.0.1:6379 failed:');
  });
});

describe('the file store on disk', () => {
  it('keeps what was set across a close and a reopen, minus what expired meanwhile', async () => {
    const clock = new ManualClock();
    const file = join(await mkdtemp(join(dir, 'reopen-')), STORE_FILE);
    const first = await FileStore.open(file, { clock });
    await first.set('kept', 'forever');
    await first.set('kept-a-while', 'an hour', { ttlMs: 3_600_000 });
    await first.set('short', 'a second', { ttlMs: 1_000 });
    await first.set('deleted', 'x');
    await first.delete('deleted');
    await first.close();
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    await clock.advance(2_000);
    const second = await FileStore.open(file, { clock });
    expect(second.problem).toBeUndefined();
    expect(await second.get('kept')).toBe('forever');
    expect(await second.get('kept-a-while')).toBe('an hour');
    expect(await second.get('short')).toBeUndefined();
    expect(await second.get('deleted')).toBeUndefined();
    // The TTL runs on from where it was, not from the reopen.
    await clock.advance(3_600_000 - 2_000);
    expect(await second.get('kept-a-while')).toBeUndefined();
    await second.close();
  });

  it('gathers writes for the delay, then writes the file once, whole, through a temporary file', async () => {
    const clock = new ManualClock();
    const folder = await mkdtemp(join(dir, 'debounce-'));
    const file = join(folder, STORE_FILE);
    const store = await FileStore.open(file, { clock, debounceMs: 200 });
    for (let i = 0; i < 50; i++) await store.set(`k${i}`, `v${i}`);
    await clock.advance(199);
    await store.whenIdle();
    expect(store.writes).toBe(0);
    expect(await readdir(folder)).toEqual([]);
    await clock.advance(1);
    await store.whenIdle();
    expect(store.writes).toBe(1);
    const written = JSON.parse(await readFile(file, 'utf8'));
    expect(Object.keys(written.entries)).toHaveLength(50);
    expect(await readdir(folder)).toEqual([STORE_FILE]); // no temporary file left behind
    await store.close();
    expect(store.writes).toBe(1); // nothing changed since: close writes nothing
  });

  it('sets a corrupt file aside, says so clearly, and starts empty instead of failing', async () => {
    const folder = await mkdtemp(join(dir, 'corrupt-'));
    const file = join(folder, STORE_FILE);
    await writeFile(file, '{"format":1,"entries":{"tokens:x":["abc", 17');
    const reports: string[] = [];
    const store = await FileStore.open(file, { report: (message) => reports.push(message) });
    expect(store.problem).toMatch(new RegExp(`^The store file ${escape(file)} is not a Switchboard store \\(not JSON: .+\\); it was moved to ${escape(file)}\\.corrupt-`));
    expect(store.problem).toContain('The gateway starts with an empty store');
    expect(reports).toEqual([store.problem]);
    expect(await store.get('tokens:x')).toBeUndefined();
    const aside = (await readdir(folder)).find((name) => name.startsWith(`${STORE_FILE}.corrupt-`));
    expect(await readFile(join(folder, aside!), 'utf8')).toContain('"tokens:x"'); // kept for whoever wants to look
    await store.set('after', 'works');
    await store.close();
    expect(await (await FileStore.open(file)).get('after')).toBe('works');
  });

  it('names what is wrong with a file that is JSON but not a store', async () => {
    const file = join(await mkdtemp(join(dir, 'shape-')), STORE_FILE);
    await writeFile(file, JSON.stringify({ format: 1, entries: { 'tokens:y': ['value', 'tomorrow'] } }));
    expect((await FileStore.open(file)).problem).toContain('(entry "tokens:y" is not [value, expiry])');
    await writeFile(file, JSON.stringify({ format: 9, entries: {} }));
    expect((await FileStore.open(file)).problem).toContain('(expected format 1, got 9)');
  });

  it('stops with a clear error when the file cannot be read at all', async () => {
    const file = join(await mkdtemp(join(dir, 'unreadable-')), STORE_FILE);
    await mkdir(file); // a folder where the file should be
    const error = await FileStore.open(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toBe(`The store file ${file} could not be read (EISDIR)`);
  });
});

describe('SecretBox', () => {
  const box = new SecretBox('a-key-of-at-least-sixteen-characters');

  it('opens what it sealed, and the sealed form shows nothing of the secret', () => {
    const sealed = box.seal('app-secret-value-123', 'exotel:app-secret:A1');
    expect(sealed).not.toContain('app-secret-value-123');
    expect(sealed).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(box.open(sealed, 'exotel:app-secret:A1')).toBe('app-secret-value-123');
    // A fresh IV each time: equal secrets do not give equal sealed values.
    expect(box.seal('app-secret-value-123', 'exotel:app-secret:A1')).not.toBe(sealed);
  });

  it('does not open a tampered value', () => {
    const sealed = box.seal('secret', 'key');
    const [version, iv, tag, data] = sealed.split('.') as [string, string, string, string];
    const flip = (part: string) => {
      const bytes = Buffer.from(part, 'base64url');
      bytes[0]! ^= 1;
      return bytes.toString('base64url');
    };
    expect(box.open([version, iv, tag, flip(data)].join('.'), 'key')).toBeUndefined();
    expect(box.open([version, iv, flip(tag), data].join('.'), 'key')).toBeUndefined();
    expect(box.open([version, flip(iv), tag, data].join('.'), 'key')).toBeUndefined();
    expect(box.open(['v2', iv, tag, data].join('.'), 'key')).toBeUndefined();
    expect(box.open('not sealed at all', 'key')).toBeUndefined();
  });

  it('does not open under another key', () => {
    const sealed = box.seal('secret', 'key');
    expect(new SecretBox('another-key-of-sixteen-characters').open(sealed, 'key')).toBeUndefined();
  });

  it('does not open under another binding (a value copied to another store key)', () => {
    const sealed = box.seal('secret', 'exotel:app-secret:A1');
    expect(box.open(sealed, 'exotel:app-secret:A2')).toBeUndefined();
  });

  it('refuses a short key', () => {
    expect(() => new SecretBox('short')).toThrow('SecretBox: expected a key of at least 16 characters');
  });
});

describe('store configuration', () => {
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig(env);
      return '';
    } catch (error) {
      if (error instanceof ConfigError) return error.message;
      throw error;
    }
  };
  const realCloudLX = { CLOUDLX_BASE_URL: 'https://cloudlx.example.com', CLOUDLX_CLIENT_ID: 'id', CLOUDLX_CLIENT_SECRET: 'client-secret-value' };

  it('needs STORE_SECRET_KEY once a platform is real, saying how to make one', () => {
    const message = problems(realCloudLX);
    expect(message).toContain('STORE_SECRET_KEY: expected a key of at least 32 characters, since CloudLX is a real platform (base URL set)');
    expect(message).toContain('openssl rand -base64 32');
    expect(message).toContain('it is not set');
    const clients = writeClientsFile([{ name: 'ops', scopes: ['cloudlx:read'] }]);
    try {
      expect(problems({ ...realCloudLX, STORE_SECRET_KEY: randomBytes(32).toString('base64'), SWITCHBOARD_CLIENTS_FILE: clients.path })).toBe('');
    } finally {
      clients.remove();
    }
    // With every platform simulated, none is needed: one is generated into DATA_DIR.
    expect(problems({})).toBe('');
  });

  it('refuses a short STORE_SECRET_KEY without echoing it', () => {
    const message = problems({ STORE_SECRET_KEY: 'too-short-key-value' });
    expect(message).toContain('STORE_SECRET_KEY: expected at least 32 characters (generate one with `openssl rand -base64 32`)');
    expect(message).not.toContain('too-short-key-value');
  });

  it('takes a redis:// or rediss:// REDIS_URL and refuses anything else without echoing it', () => {
    expect(loadConfig({ REDIS_URL: 'rediss://:pw@cache.example.com:6380/1' }).store.redisUrl).toBe('rediss://:pw@cache.example.com:6380/1');
    expect(loadConfig({}).store).toEqual({ redisUrl: undefined, redisKeyPrefix: 'switchboard:', secretKey: undefined });
    const message = problems({ REDIS_URL: 'http://:hunter2@cache.example.com:6379' });
    expect(message).toContain('REDIS_URL: expected a redis:// or rediss:// URL such as redis://127.0.0.1:6379 (the scheme is http:)');
    expect(message).not.toContain('hunter2');
    expect(problems({ REDIS_URL: 'cache:6379' })).toContain('REDIS_URL: expected a redis:// or rediss:// URL');
  });
});

describe('openInfra', () => {
  const log = createLogger('silent');

  it('in the embedded default: the file store in DATA_DIR, and a key generated once (0600) and reused', async () => {
    const dataDir = await mkdtemp(join(dir, 'embedded-'));
    const settings = { dataDir, store: { redisKeyPrefix: 'switchboard:' } };
    const first = await openInfra(settings, log);
    expect(first.infra.store.kind).toBe('file');
    const keyFile = join(dataDir, STORE_SECRET_KEY_FILE);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect((await readFile(keyFile, 'utf8')).trim()).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    await first.infra.store.set('secret', first.infra.secrets.seal('learned', 'secret'));
    await first.close();

    const second = await openInfra(settings, log);
    const sealed = await second.infra.store.get('secret');
    expect(second.infra.secrets.open(sealed!, 'secret')).toBe('learned'); // the same key, read back
    await second.close();
    expect((await readdir(dataDir)).sort()).toEqual([STORE_FILE, STORE_SECRET_KEY_FILE].sort());
  });

  it('two gateways starting at once in one DATA_DIR end up with one key', async () => {
    const dataDir = await mkdtemp(join(dir, 'race-'));
    const settings = { dataDir, store: { redisKeyPrefix: 'switchboard:' } };
    const [a, b] = await Promise.all([openInfra(settings, log), openInfra(settings, log)]);
    const sealed = a.infra.secrets.seal('x', 'k');
    expect(b.infra.secrets.open(sealed, 'k')).toBe('x');
    await a.close();
    await b.close();
  });

  it('with REDIS_URL: the Redis store; an unreachable Redis stops the start naming REDIS_URL', async () => {
    const dataDir = await mkdtemp(join(dir, 'redis-'));
    const opened = await openInfra({ dataDir, store: { redisUrl: REDIS_URL, redisKeyPrefix: `${PREFIX}infra:`, secretKey: 'k'.repeat(32) } }, log);
    expect(opened.infra.store.kind).toBe('redis');
    await opened.close();
    expect(await readdir(dataDir)).toEqual([]); // a configured key is not written anywhere

    const error = await openInfra({ dataDir, store: { redisUrl: `redis://127.0.0.1:${await closedPort()}`, redisKeyPrefix: 'x:', secretKey: 'k'.repeat(32) } }, log).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/REDIS_URL: Could not connect to Redis at redis:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED.*; check that Redis runs there/);
  });

  it('a key file too short to be a key stops the start, saying what to do', async () => {
    const dataDir = await mkdtemp(join(dir, 'badkey-'));
    await writeFile(join(dataDir, STORE_SECRET_KEY_FILE), 'short\n');
    const error = await openInfra({ dataDir, store: { redisKeyPrefix: 'x:' } }, log).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(`DATA_DIR: the store's key file ${join(dataDir, STORE_SECRET_KEY_FILE)} holds no usable key (expected at least 32 characters); delete it`);
  });
});

/** A loopback port nothing listens on: one the system just handed out and took back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
