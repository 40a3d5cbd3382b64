import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/core/clock.js';
import { createInfra, STORE_FILE, type Infra } from '../src/core/infra.js';
import { createLogger } from '../src/core/observability/log.js';
import { FileStore } from '../src/core/store/file.js';
import { MemoryStore } from '../src/core/store/memory.js';
import { RedisStore } from '../src/core/store/redis.js';
import { SecretBox } from '../src/core/store/secret-box.js';
import type { Store } from '../src/core/store/types.js';
import { UnauthenticatedError } from '../src/core/upstream/errors.js';
import { TokenManager, sharedTokenKey, type IssuedToken } from '../src/core/upstream/tokens.js';
import { platforms } from '../src/platforms/index.js';
import { spawnGateway } from './utils/gateway-process.js';
import { testClientFor } from './utils/harness.js';
import { startUpstreamSimulators, type Simulators, type UpstreamSimulators } from './utils/simulators.js';
import { IXC_PATHS } from '../src/platforms/ixc/client.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Every key this file's gateways write to Redis starts with this; all of it is deleted at the end. */
const PREFIX = `switchboard-test:shared-tokens:${randomBytes(6).toString('hex')}:`;
const SECRET_KEY = randomBytes(32).toString('base64');

/** The token endpoints of each platform, as the simulators log them: logins and refreshes alike. */
const TOKEN_ROUTES = {
  cloudlx: ['POST /api/oauth2/access-token', 'POST /api/oauth2/refresh-token'],
  exotel: ['POST /v2/integrations/token'],
  ixc: [`POST ${IXC_PATHS.token}`],
  cloudcix: ['POST /membership/auth/login/', 'PUT /membership/auth/login/'],
} as const;

/** One query that needs every platform's token: the unified lists and one IXC read. */
const EVERY_PLATFORM = `{
  customers(first: 500) { nodes { platform } }
  apiClients(first: 500) { nodes { platform } }
  ixc { devices(first: 2) { nodes { serialNumber } } }
}`;

let sims: Simulators;
/** The environment that points a gateway at the simulators as real platforms, as `npm run simulate` writes it. */
let upstreamEnv: Record<string, string>;
let dir: string;
const gateways: RunningGateway[] = [];

let upstreams: UpstreamSimulators;

beforeAll(async () => {
  upstreams = await startUpstreamSimulators();
  ({ sims, env: upstreamEnv, dir } = upstreams);
}, 60_000);

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.stop()));
  await upstreams?.close();
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
}, 60_000);

function tokenRequests(key: keyof Simulators): number {
  const routes: readonly string[] = TOKEN_ROUTES[key];
  return sims[key].server.log.filter((r) => routes.includes(r.route)).length;
}

function allTokenRequests(): Record<keyof Simulators, number> {
  return { cloudlx: tokenRequests('cloudlx'), exotel: tokenRequests('exotel'), ixc: tokenRequests('ixc'), cloudcix: tokenRequests('cloudcix') };
}

describe('two gateway processes on one Redis', () => {
  let a: RunningGateway;
  let b: RunningGateway;
  const redisEnv = () => ({ REDIS_URL, REDIS_KEY_PREFIX: `${PREFIX}gateways:`, STORE_SECRET_KEY: SECRET_KEY });

  beforeAll(async () => {
    for (const sim of Object.values(sims)) sim.server.clearLog();
    // Each its own DATA_DIR: what they share, they share through Redis.
    [a, b] = await Promise.all([
      startGatewayProcess({ ...upstreamEnv, ...redisEnv(), DATA_DIR: await mkdtemp(join(dir, 'a-')) }),
      startGatewayProcess({ ...upstreamEnv, ...redisEnv(), DATA_DIR: await mkdtemp(join(dir, 'b-')) }),
    ]);
    expect(allTokenRequests()).toEqual({ cloudlx: 0, exotel: 0, ixc: 0, cloudcix: 0 }); // nobody logged in at start
  }, 90_000);

  it('log in to each platform once between them, even when both ask at the same moment', async () => {
    const first = await Promise.all([a.graphql(EVERY_PLATFORM), b.graphql(EVERY_PLATFORM), a.graphql(EVERY_PLATFORM), b.graphql(EVERY_PLATFORM)]);
    for (const body of first) expect(body.errors).toBeUndefined();
    const platformsOf = (body: GraphQLBody, field: string) => [...new Set(body.data[field].nodes.map((n: { platform: string }) => n.platform))].sort();
    expect(platformsOf(first[0]!, 'customers')).toEqual(['CLOUDCIX', 'CLOUDLX', 'EXOTEL']);
    expect(platformsOf(first[1]!, 'apiClients')).toEqual(['CLOUDLX', 'IXC']);
    expect(first[1]!.data.ixc.devices.nodes).toHaveLength(2);

    // And again, one after the other: the tokens are read back, not fetched.
    expect((await a.graphql(EVERY_PLATFORM)).errors).toBeUndefined();
    expect((await b.graphql(EVERY_PLATFORM)).errors).toBeUndefined();
    expect(allTokenRequests()).toEqual({ cloudlx: 1, exotel: 1, ixc: 1, cloudcix: 1 });

    // Each gateway really sent the one token: the same bearer reached CloudLX from both.
    const bearers = new Set(sims.cloudlx.server.log.filter((r) => r.route === 'GET /api/customers').map((r) => r.headers.authorization));
    expect(bearers.size).toBe(1);
  });

  it('a token the platform rejects is replaced once: the other gateway picks up the replacement', async () => {
    // Both hold the shared tokens first (a no-op when an earlier test already made them log in).
    expect((await a.graphql(EVERY_PLATFORM)).errors).toBeUndefined();
    expect((await b.graphql(EVERY_PLATFORM)).errors).toBeUndefined();
    sims.cloudlx.expireAccessTokens();
    sims.exotel.expireTokens();
    const before = allTokenRequests();
    // Gateway A meets the 401s, deletes the rejected tokens from the store and fetches new ones …
    expect((await a.graphql(EVERY_PLATFORM)).errors).toBeUndefined();
    // … gateway B meets the same 401s with its copies and reads A's new tokens instead of fetching.
    expect((await b.graphql(EVERY_PLATFORM)).errors).toBeUndefined();
    const after = allTokenRequests();
    expect(after.cloudlx - before.cloudlx).toBe(1); // one refresh, made with the refresh token A read from the store
    expect(sims.cloudlx.server.log.filter((r) => r.route === 'POST /api/oauth2/refresh-token').map((r) => r.status)).toEqual([200]);
    expect(after.exotel - before.exotel).toBe(1);
    expect([after.ixc, after.cloudcix]).toEqual([before.ixc, before.cloudcix]);
  });

  it('keeps the tokens sealed in Redis: no token, and no credential, in any key or value', async () => {
    // The tokens are in the store once a query has used every platform.
    expect((await a.graphql(EVERY_PLATFORM)).errors).toBeUndefined();
    const raw = new Redis(REDIS_URL);
    try {
      const keys = await raw.keys(`${PREFIX}gateways:*`);
      expect(keys.filter((k) => k.includes(':tokens:'))).toHaveLength(4);
      const dump = (await Promise.all(keys.map(async (k) => `${k}=${(await raw.type(k)) === 'string' ? await raw.get(k) : ''}`))).join('\n');
      const bearer = String(sims.cloudlx.server.log.at(-1)!.headers.authorization).replace(/^Bearer /, '');
      for (const secret of [bearer, ...sims.exotel.issuedTokens(), upstreamEnv.CLOUDLX_CLIENT_SECRET!, upstreamEnv.CLOUDCIX_PASSWORD!, upstreamEnv.EXOTEL_CUSTOMER_SECRET!]) {
        expect(secret.length).toBeGreaterThan(8);
        expect(dump).not.toContain(secret);
      }
    } finally {
      await raw.quit();
    }
  });
});

describe('a gateway restarted on its file store', () => {
  it('keeps an Exotel app secret it learned, and the tokens it fetched', async () => {
    const dataDir = await mkdtemp(join(dir, 'restart-'));
    const env = { ...upstreamEnv, STORE_SECRET_KEY: SECRET_KEY, DATA_DIR: dataDir };
    const first = await startGatewayProcess(env);
    const created = await first.graphql(
      `mutation($input: ExotelCreateAppInput!) { exotelCreateApp(input: $input) { app { platformId } appSecret userErrors { message } } }`,
      { input: { name: 'Kept across restarts', exotelAccountSid: 'acme1', exotelApiKey: 'key-restart-1', exotelApiToken: 'token-restart-1', exotelDomain: 'mumbai', isActive: true } },
    );
    expect(created.errors).toBeUndefined();
    const appId: string = created.data.exotelCreateApp.app.platformId;
    const appSecret: string = created.data.exotelCreateApp.appSecret;
    expect(appSecret).toBe(sims.exotel.apps.get(appId)!.record.AppSecret);
    await first.stop();

    // On disk the secret is sealed: neither it nor the Exotel tokens appear in the store's file.
    const text = await readFile(join(dataDir, STORE_FILE), 'utf8');
    expect(text).not.toContain(appSecret);
    for (const token of sims.exotel.issuedTokens()) expect(text).not.toContain(token);

    const tokensBefore = { ...sims.exotel.tokensIssued };
    const second = await startGatewayProcess(env);
    // Users are read with the app's own token, which needs its AppSecret: a gateway that forgot it answers FORBIDDEN.
    const read = await second.graphql(`query($id: ID!) { exotel { app(platformId: $id) { platformId name users(first: 5) { nodes { platformId } } } apps { nodes { platformId } } } }`, {
      id: appId,
    });
    expect(read.errors).toBeUndefined();
    expect(read.data.exotel.app).toEqual({ platformId: appId, name: 'Kept across restarts', users: { nodes: [] } });
    expect(read.data.exotel.apps.nodes).toContainEqual({ platformId: appId });
    // The app was read with its own token (fetched now, with the stored secret); the list with the
    // customer token fetched before the restart, read back from the file rather than fetched again.
    expect(sims.exotel.tokensIssued).toEqual({ customer: tokensBefore.customer, app: tokensBefore.app + 1 });

    // Deleting the app forgets its secret in the store too.
    const deleted = await second.graphql(`mutation($id: ID!) { exotelDeleteApp(input: { platformId: $id }) { deletedId userErrors { message } } }`, { id: appId });
    expect(deleted.errors).toBeUndefined();
    await second.stop();
    const store = await FileStore.open(join(dataDir, STORE_FILE));
    expect((await store.keys('exotel:')).filter((k) => k.endsWith(`:app-secret:${appId}`))).toEqual([]);
    await store.close();
  }, 90_000);
});

/**
 * The token manager's sharing, with two managers standing in for two gateway
 * processes on one store, and the clock driven by hand: the lease wait, the
 * renewal time and the 401 path, step by step.
 */
describe('TokenManager on a shared store', () => {
  const log = createLogger('silent');
  const identity = ['https://api.example.com', 'client-1'];

  function setup(clock = new ManualClock(), store: Store = new MemoryStore(() => clock.now())) {
    const infra = createInfra({ log, store, clock, secretKey: SECRET_KEY });
    const fetches: (IssuedToken | undefined)[] = [];
    let issued = 0;
    const manager = (sharedInfra: Infra = infra, fetchToken?: (previous: IssuedToken | undefined) => Promise<IssuedToken>) =>
      new TokenManager({
        platform: 'example',
        infra: sharedInfra,
        identity,
        fetchToken:
          fetchToken ??
          (async (previous) => {
            fetches.push(previous);
            return { token: `token-${++issued}`, expiresAt: clock.now() + 100_000 };
          }),
      });
    return { infra, clock, fetches, manager };
  }

  it('a second process reads the first one’s token instead of fetching', async () => {
    const { manager, fetches, infra } = setup();
    const [first, second] = [manager(), manager()];
    expect(await first.get()).toBe('token-1');
    expect(await second.get()).toBe('token-1');
    expect(fetches).toHaveLength(1);
    const key = sharedTokenKey('example', identity);
    expect(key).not.toContain('client-1');
    expect(await infra.store.get(key)).not.toContain('token-1'); // sealed
  });

  it('while one process fetches (it holds the lease), the other waits and reads its token', async () => {
    const { manager, infra, clock } = setup();
    let release!: (token: IssuedToken) => void;
    let calls = 0;
    const slow = manager(infra, () => {
      calls++;
      return new Promise<IssuedToken>((resolve) => (release = resolve));
    });
    const other = manager(infra, async () => {
      throw new Error('the second process must not log in');
    });
    const slowGet = slow.get();
    await clock.advance(0);
    expect(await infra.store.get(`${sharedTokenKey('example', identity)}:lease`)).toBeDefined();
    const otherGet = other.get();
    await clock.advance(100); // the other polls: nothing yet
    release({ token: 'slow-token', expiresAt: clock.now() + 100_000 });
    expect(await slowGet).toBe('slow-token');
    await clock.advance(250);
    expect(await otherGet).toBe('slow-token');
    expect(calls).toBe(1);
    expect(await infra.store.get(`${sharedTokenKey('example', identity)}:lease`)).toBeUndefined(); // released
  });

  it('renews at the stored renewal time, refreshing with the stored token as `previous`', async () => {
    const { manager, fetches, clock } = setup();
    const [first, second] = [manager(), manager()];
    await first.get();
    // Renewal: expiry (100 s) minus the smaller of 30 s and a tenth of the lifetime (10 s).
    await clock.advance(89_999);
    expect(await second.get()).toBe('token-1');
    await clock.advance(1);
    expect(await second.get()).toBe('token-2');
    expect(fetches).toEqual([undefined, { token: 'token-1', expiresAt: expect.any(Number) }]);
    expect(await first.get()).toBe('token-2');
    expect(fetches).toHaveLength(2);
  });

  it('a 401 deletes the token from the store; the other process, rejected too, takes the replacement', async () => {
    const { manager, fetches } = setup();
    const [first, second] = [manager(), manager()];
    await first.get();
    await second.get();
    let seen: string[] = [];
    const call = async (token: string) => {
      seen.push(token);
      if (token === 'token-1') throw new UnauthenticatedError('expired', { platform: 'example' });
      return 'ok';
    };
    expect(await first.withToken(call)).toBe('ok');
    expect(seen).toEqual(['token-1', 'token-2']);
    seen = [];
    expect(await second.withToken(call)).toBe('ok');
    expect(seen).toEqual(['token-1', 'token-2']);
    expect(fetches).toHaveLength(2);
  });

  it('a rejected token is deleted from the store, so a process starting afterwards does not pick it up', async () => {
    const { manager, infra, clock } = setup();
    const first = manager();
    const rejected = await first.get();
    first.invalidate(rejected);
    await clock.advance(0);
    expect(await infra.store.get(sharedTokenKey('example', identity))).toBeUndefined();
    expect(await manager().get()).toBe('token-2');
  });

  it('a token sealed under another STORE_SECRET_KEY is not used: this process fetches and replaces it', async () => {
    const { manager, fetches, infra, clock } = setup();
    const key = sharedTokenKey('example', identity);
    const record = { issued: { token: 'foreign-token', expiresAt: clock.now() + 100_000 }, renewAt: clock.now() + 90_000 };
    const foreign = new SecretBox('another-key-'.repeat(4)).seal(JSON.stringify(record), key);
    await infra.store.set(key, foreign);
    expect(await manager().get()).toBe('token-1');
    expect(fetches).toHaveLength(1);
    const replaced = await infra.store.get(key);
    expect(replaced).not.toBe(foreign);
    expect(infra.secrets.open(replaced!, key)).toContain('"token-1"');
  });

  it('when the store fails, the process logs in on its own instead of failing the request', async () => {
    const broken = await RedisStore.connect(REDIS_URL, { keyPrefix: `${PREFIX}broken:` });
    await broken.close(); // every command now fails with StoreUnavailableError
    const { manager, fetches } = setup(new ManualClock(), broken);
    expect(await manager().get()).toBe('token-1');
    expect(fetches).toHaveLength(1);
  });
});

// ---- gateway processes ---------------------------------------------------------------------

interface GraphQLBody {
  data?: any;
  errors?: any;
}

interface RunningGateway {
  graphql(query: string, variables?: Record<string, unknown>): Promise<GraphQLBody>;
  /** SIGTERM, then waits for the exit (the store is written and closed on the way out). */
  stop(): Promise<void>;
}

/** The gateway as `npm run dev` runs it (the code `npm start` compiles), on port 0 (test/utils/gateway-process.ts). */
async function startGatewayProcess(env: Record<string, string>): Promise<RunningGateway> {
  // Real platforms configured: the gateway refuses to start without clients (issue 9), so it gets one, and the requests carry its key.
  // The watchers stay off (spawnGateway's default): they would log in at start, and this file counts the logins its own queries cause.
  const testClient = testClientFor(env);
  const spawned = await spawnGateway({ ...(testClient ? { SWITCHBOARD_CLIENTS_FILE: testClient.file } : {}), ...env });
  const gateway: RunningGateway = {
    async graphql(query, variables) {
      const headers = { 'content-type': 'application/json', ...(testClient ? { authorization: `Bearer ${testClient.key}` } : {}) };
      const res = await fetch(`${spawned.url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
      return (await res.json()) as GraphQLBody;
    },
    async stop() {
      await spawned.stop();
      testClient?.remove();
      gateways.splice(gateways.indexOf(gateway), 1);
    },
  };
  gateways.push(gateway);
  return gateway;
}
