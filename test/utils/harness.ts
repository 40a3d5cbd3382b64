import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateApiKey, hashApiKey } from '../../src/core/security/clients.js';
import { knownScopes } from '../../src/core/security/scopes.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/core/observability/log.js';
import type { RunningSimulator, SimulatorOptions } from '../../src/core/platform.js';
import { startGateway, type Gateway, type StartGatewayOptions } from '../../src/gateway.js';
import { createInfra } from '../../src/core/infra.js';
import type { Clock } from '../../src/core/clock.js';
import { RedisStore } from '../../src/core/store/redis.js';
import type { Store } from '../../src/core/store/types.js';
import { platforms, type PlatformKey } from '../../src/platforms/index.js';
import type { CloudLXSimulator, CloudLXSimulatorOptions } from '../../src/platforms/cloudlx/simulator.js';
import type { ExotelSimulator, ExotelSimulatorOptions } from '../../src/platforms/exotel/simulator.js';
import type { IxcSimulator, IxcSimulatorOptions } from '../../src/platforms/ixc/simulator.js';
import type { CloudCIXSimulator, CloudCIXSimulatorOptions } from '../../src/platforms/cloudcix/simulator.js';

/** The concrete simulator class of each platform, so tests reach their request logs and fault switches. */
export interface SimulatorTypes {
  cloudlx: CloudLXSimulator;
  exotel: ExotelSimulator;
  ixc: IxcSimulator;
  cloudcix: CloudCIXSimulator;
}
export interface SimulatorOptionTypes {
  cloudlx: CloudLXSimulatorOptions;
  exotel: ExotelSimulatorOptions;
  ixc: IxcSimulatorOptions;
  cloudcix: CloudCIXSimulatorOptions;
}

export interface StackOptions {
  /** Extra environment for the gateway's configuration (PORT and LOG_LEVEL are set for tests). */
  env?: Record<string, string>;
  /** Where the gateway's logs go (tests that check no secret is logged read them). */
  logDestination?: NodeJS.WritableStream;
  /** Options for each platform's simulator (a short token lifetime, say). */
  simulators?: { [K in PlatformKey]?: K extends keyof SimulatorOptionTypes ? SimulatorOptionTypes[K] : SimulatorOptions };
  /** The gateway's store; default a MemoryStore of its own. The caller closes it. */
  store?: Store;
  /** Or a Redis store on this URL (with `redisKeyPrefix`), opened here and closed with the stack. */
  redisUrl?: string;
  redisKeyPrefix?: string;
  /** The key the store's secrets are sealed with (STORE_SECRET_KEY); default a random one per stack. */
  secretKey?: string;
  /** The gateway's clock (`infra.clock`): a ManualClock lets a test move the gateway's time instead of sleeping. The simulators keep the real clock. */
  clock?: Clock;
  /** Traces: span processors of the test's own (an in-memory exporter), as OTEL_EXPORTER_OTLP_ENDPOINT would send them over OTLP. */
  tracing?: StartGatewayOptions['tracing'];
}

export interface GraphQLResponse<T = any> {
  status: number;
  /** `errors` is loosely typed so tests can index it directly; an absent list fails the assertion that reads it. */
  body: { data?: T; errors?: any; extensions?: Record<string, any> };
}

export interface Stack {
  gateway: Gateway;
  sim<K extends PlatformKey>(key: K): K extends keyof SimulatorTypes ? SimulatorTypes[K] : RunningSimulator;
  /** POSTs a GraphQL operation to the gateway over real HTTP. */
  graphql<T = any>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GraphQLResponse<T>>;
  /** Every GraphQL response body this stack has received, as text (for secret scans). */
  readonly responses: string[];
  /** The API key `graphql()` sends, when the stack made a client for itself (see `testClientFor`). */
  readonly apiKey?: string;
  close(): Promise<void>;
}

const open = new Set<Stack>();

/** Starts every platform's simulator and a gateway pointed at them, all on port 0 over loopback. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const secretKey = options.secretKey ?? randomBytes(32).toString('base64');
  // Watchers off unless a test turns them on: their polls would otherwise add to the simulators' request logs that tests count.
  // The event log in memory unless a test asks for another: test files share DATA_DIR, and the file log has one owner.
  const testClient = testClientFor(options.env);
  const config = loadConfig({
    PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATA_DIR: '.data/test',
    STORE_SECRET_KEY: secretKey,
    WATCH_INTERVAL_MS: '0',
    EVENT_LOG: 'memory',
    ...(testClient ? { SWITCHBOARD_CLIENTS_FILE: testClient.file } : {}),
    ...options.env,
  });
  const log = createLogger(config.logLevel, options.logDestination);
  const simulators: Record<string, RunningSimulator> = {};
  for (const platform of platforms) {
    if (platform.isConfigured(config.platforms[platform.key] as never)) continue;
    const simOptions = (options.simulators as Record<string, SimulatorOptions> | undefined)?.[platform.key] ?? {};
    simulators[platform.key] = await platform.simulator.start(simOptions);
  }
  let gateway: Gateway;
  const ownStore = options.redisUrl ? await RedisStore.connect(options.redisUrl, { keyPrefix: options.redisKeyPrefix }) : undefined;
  try {
    gateway = await startGateway({ config, platforms, infra: createInfra({ log, clock: options.clock, store: ownStore ?? options.store, secretKey: config.store.secretKey ?? secretKey }), simulators, tracing: options.tracing });
  } catch (error) {
    await Promise.all(Object.values(simulators).map((s) => s.close()));
    await ownStore?.close();
    testClient?.remove();
    throw error;
  }
  const responses: string[] = [];
  const stack: Stack = {
    gateway,
    responses,
    apiKey: testClient?.key,
    sim: ((key: PlatformKey) => {
      const sim = simulators[key];
      if (!sim) throw new Error(`No simulator runs for ${key} in this stack`);
      return sim;
    }) as Stack['sim'],
    async graphql(query, variables, headers) {
      const res = await fetch(gateway.graphqlUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...(testClient ? { authorization: `Bearer ${testClient.key}` } : {}),
          ...headers,
        },
        body: JSON.stringify({ query, variables }),
      });
      const text = await res.text();
      responses.push(text);
      return { status: res.status, body: JSON.parse(text) };
    },
    async close() {
      if (!open.delete(stack)) return;
      await gateway.close();
      await Promise.all(Object.values(simulators).map((s) => s.close()));
      await ownStore?.close();
      testClient?.remove();
    },
  };
  open.add(stack);
  return stack;
}

/**
 * A gateway pointed at a real platform (here: a simulator the test started and
 * configured as the real one) refuses to start without clients. Such a stack gets
 * one client with every scope, in a clients file of its own, and `graphql()` sends
 * its key. A test that brings its own SWITCHBOARD_CLIENTS_FILE gets none.
 */
export function testClientFor(env: Record<string, string> | undefined): { file: string; key: string; remove(): void } | undefined {
  if (!env || env.SWITCHBOARD_CLIENTS_FILE) return undefined;
  const real = Object.keys(env).some((name) => /^(CLOUDLX|EXOTEL|IXC|CLOUDCIX)_BASE_URL$/.test(name) || name === 'CLOUDCIX_EMAIL');
  if (!real && !(env.HOST && !/^(127\.|localhost$|::1$)/.test(env.HOST))) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-test-clients-'));
  const key = generateApiKey();
  const file = join(dir, 'clients.json');
  writeFileSync(file, JSON.stringify({ clients: [{ name: 'test', scopes: knownScopes(platforms.map((p) => p.key)), apiKeys: [hashApiKey(key)] }] }));
  return { file, key, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function closeAllStacks(): Promise<void> {
  await Promise.all([...open].map((s) => s.close()));
}
