import type { Logger } from 'pino';
import type { Config } from './config.js';
import { createContextFactory } from './context.js';
import type { RunningSimulator } from './core/platform.js';
import { SwitchboardError } from './core/upstream/errors.js';
import { platforms, type PlatformClients, type PlatformConfigs, type PlatformKey } from './platforms/index.js';
import { buildSchema } from './schema.js';
import { createGatewayServer, type GatewayServer, type ReadinessReport } from './server.js';

export interface Gateway {
  /** Base URL of the gateway (`http://127.0.0.1:4000`). */
  readonly url: string;
  readonly graphqlUrl: string;
  readonly websocketUrl: string;
  /** The embedded simulators started for platforms with no base URL, by platform key. */
  readonly simulators: Partial<Record<PlatformKey, RunningSimulator>>;
  readonly clients: PlatformClients;
  close(): Promise<void>;
}

export interface StartGatewayOptions {
  config: Config;
  log: Logger;
  /**
   * Simulators already running for some platforms (tests start their own to
   * inject faults); platforms with neither a base URL nor one here get an
   * embedded simulator started for them.
   */
  simulators?: Partial<Record<PlatformKey, RunningSimulator>>;
}

/**
 * Starts the whole product: the simulators of unconfigured platforms, one client
 * per platform, the schema, and the HTTP/WebSocket server. Used by `npm start`
 * and by the tests alike.
 */
export async function startGateway(options: StartGatewayOptions): Promise<Gateway> {
  const { config, log } = options;
  const started: RunningSimulator[] = [];
  const simulators: Partial<Record<PlatformKey, RunningSimulator>> = { ...options.simulators };
  const simulated = new Set<string>();
  const clients: Record<string, unknown> = {};
  const resolvedConfigs: Record<string, unknown> = {};
  let server: GatewayServer | undefined;
  const closeClients = () => Promise.all(platforms.map((p) => (clients[p.key] ? p.closeClient(clients[p.key] as never) : undefined)));
  try {
    for (const platform of platforms) {
      let platformConfig = config.platforms[platform.key] as PlatformConfigs[typeof platform.key];
      if (!platform.isConfigured(platformConfig as never)) {
        let simulator = simulators[platform.key];
        if (!simulator) {
          simulator = await platform.simulator.start({ log: log.child({ simulator: platform.key }), latencyMs: config.simulatorLatencyMs });
          started.push(simulator);
          simulators[platform.key] = simulator;
        }
        platformConfig = { ...platformConfig, ...(simulator.config as object) } as never;
        simulated.add(platform.key);
      }
      resolvedConfigs[platform.key] = platformConfig;
      clients[platform.key] = platform.createClient(platformConfig as never, {
        timeouts: config.upstream.timeouts,
        connections: config.upstream.connections,
        retries: config.upstream.retries,
        breaker: config.upstream.breaker,
        log: log.child({ platform: platform.key }),
        dataDir: config.dataDir,
      });
    }
    const typedClients = clients as PlatformClients;
    const schema = buildSchema(platforms);
    const createContext = createContextFactory({ clients: typedClients, simulated, log });
    const readiness = async (): Promise<ReadinessReport> => {
      const entries = await Promise.all(
        platforms.map(async (platform) => {
          try {
            await platform.ping(typedClients[platform.key] as never);
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
    server = await createGatewayServer({ schema, createContext, log, maxRequestBytes: config.maxRequestBytes, executor: config.executor, readiness });
    const url = await server.listen(config.port, config.host);
    const running = server;
    return {
      url,
      graphqlUrl: `${url}/graphql`,
      websocketUrl: `${url.replace(/^http/, 'ws')}/graphql`,
      simulators,
      clients: typedClients,
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
