import type { Config } from './config.js';
import { createContextFactory } from './context.js';
import type { Infra } from './core/infra.js';
import type { PlatformModule, RunningSimulator } from './core/platform.js';
import { SwitchboardError } from './core/upstream/errors.js';
import type { PlatformClients, PlatformKey } from './platforms/index.js';
import { buildSchema } from './schema.js';
import { createGatewayServer, type GatewayServer, type ReadinessReport } from './server.js';

export interface Gateway {
  /** Base URL of the gateway (`http://127.0.0.1:4000`). */
  readonly url: string;
  readonly graphqlUrl: string;
  readonly websocketUrl: string;
  /** The embedded simulators serving platforms with no base URL, by platform key. */
  readonly simulators: Partial<Record<PlatformKey, RunningSimulator>>;
  /** Each started platform's client, by platform key. */
  readonly clients: Readonly<Partial<PlatformClients>>;
  readonly infra: Infra;
  close(): Promise<void>;
}

export interface StartGatewayOptions {
  config: Config;
  /** The platforms to serve (`platforms` from src/platforms/index.ts for the product; tests and benchmarks pick subsets). */
  platforms: readonly PlatformModule[];
  /** Store, secrets, clock, metrics and log (see `createInfra`). The gateway does not close them: their owner does. */
  infra: Infra;
  /**
   * Simulators already running for some platforms (tests start their own to
   * inject faults); platforms with neither a base URL nor one here get an
   * embedded simulator started for them.
   */
  simulators?: Partial<Record<string, RunningSimulator>>;
}

/**
 * The composition root: starts the simulators of unconfigured platforms, one
 * client per platform, the schema and the HTTP/WebSocket server, wiring each
 * with the shared `infra`. Used by `npm start`, the tests and the benchmarks.
 */
export async function startGateway(options: StartGatewayOptions): Promise<Gateway> {
  const { config, infra, platforms } = options;
  const { log } = infra;
  const started: RunningSimulator[] = [];
  const simulators: Record<string, RunningSimulator> = { ...(options.simulators as Record<string, RunningSimulator>) };
  const simulated = new Set<string>();
  const clients = new Map<PlatformModule, unknown>();
  let server: GatewayServer | undefined;
  const closeClients = () => Promise.all([...clients].map(([platform, client]) => platform.closeClient(client)));
  try {
    for (const platform of platforms) {
      let platformConfig: unknown = (config.platforms as Record<string, unknown>)[platform.key];
      if (!platform.isConfigured(platformConfig)) {
        let simulator = simulators[platform.key];
        if (!simulator) {
          simulator = await platform.simulator.start({ log: log.child({ simulator: platform.key }), latencyMs: config.simulatorLatencyMs });
          started.push(simulator);
          simulators[platform.key] = simulator;
        }
        platformConfig = { ...(platformConfig as object), ...(simulator.config as object) };
        simulated.add(platform.key);
      }
      clients.set(
        platform,
        platform.createClient(platformConfig, {
          timeouts: config.upstream.timeouts,
          connections: config.upstream.connections,
          retries: config.upstream.retries,
          breaker: config.upstream.breaker,
          log: log.child({ platform: platform.key }),
          dataDir: config.dataDir,
          infra,
        }),
      );
    }
    const schema = buildSchema(platforms);
    const createContext = createContextFactory({ platforms, clients, simulated, log });
    const readiness = async (): Promise<ReadinessReport> => {
      const entries = await Promise.all(
        platforms.map(async (platform) => {
          try {
            await platform.ping(clients.get(platform));
            return [platform.key, { ok: true, simulated: simulated.has(platform.key) }] as const;
          } catch (error) {
            const code = error instanceof SwitchboardError ? error.code : 'INTERNAL_SERVER_ERROR';
            const message = error instanceof SwitchboardError ? error.message : 'unexpected failure';
            return [platform.key, { ok: false, simulated: simulated.has(platform.key), error: { code, message } }] as const;
          }
        }),
      );
      return { ready: entries.every(([, e]) => e.ok), platforms: Object.fromEntries(entries) };
    };
    server = await createGatewayServer({ schema, createContext, infra, maxRequestBytes: config.maxRequestBytes, executor: config.executor, readiness });
    const url = await server.listen(config.port, config.host);
    const running = server;
    return {
      url,
      graphqlUrl: `${url}/graphql`,
      websocketUrl: `${url.replace(/^http/, 'ws')}/graphql`,
      simulators,
      clients: Object.fromEntries([...clients].map(([platform, client]) => [platform.key, client])) as Partial<PlatformClients>,
      infra,
      async close() {
        await running.close();
        await closeClients();
        await Promise.all(started.map((s) => s.close()));
      },
    };
  } catch (error) {
    // A port already taken, say: undo everything started so far, so the process can exit.
    await server?.close().catch(() => undefined);
    await closeClients().catch(() => undefined);
    await Promise.all(started.map((s) => s.close().catch(() => undefined)));
    throw error;
  }
}
