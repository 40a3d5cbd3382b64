import type { Config } from './config.js';
import type { UpstreamSettings } from './core/upstream/http.js';
import { createContextFactory } from './context.js';
import type { Infra } from './core/infra.js';
import type { PlatformModule, RunningSimulator } from './core/platform.js';
import { SwitchboardError } from './core/upstream/errors.js';
import type { PlatformClients, PlatformKey } from './platforms/index.js';
import { buildSchema } from './schema.js';
import { OperationPipeline, type PipelinePlugin } from './core/graphql/pipeline.js';
import { createErrorFormatter } from './core/graphql/format-error.js';
import { createGatewayServer, type GatewayServer, type ReadinessReport } from './server.js';
import type { EventLog } from './core/events/log.js';
import { startWatchers, watchSources, type WatcherRunner } from './core/events/watchers.js';
import { createEventsService, openEventLog } from './core/events/service.js';
import { GATEWAY_SOURCE } from './core/events/resolvers.js';
import { Security, fairShareFactory, hasScope, type Principal } from './core/security/index.js';
import type { UpstreamCallHook } from './core/upstream/chain.js';
import { observeEventLog } from './core/observability/events.js';
import { explainPlugin } from './core/observability/explain.js';
import { startTracing, type Tracing, type TracingOptions } from './core/observability/tracing.js';

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
  /** The one operation pipeline (tests look at its caches). */
  readonly pipeline: OperationPipeline;
  /** The event log: webhooks and watcher changes in, subscriptions and `Query.events` out. */
  readonly events: EventLog;
  /** The watchers polling platforms that send no webhooks (none run when WATCH_INTERVAL_MS is 0). */
  readonly watchers: WatcherRunner;
  /** Who may call and what each caller may ask and spend (src/core/security/). */
  readonly security: Security;
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
  /** Rules added to the operation pipeline (authentication, limits, tracing). */
  plugins?: readonly PipelinePlugin[];
  /**
   * The gateway's event log, where webhooks and the watchers' changes (src/core/events/watchers.ts) go.
   * Given, it is the caller's (the caller closes it); otherwise the gateway opens
   * the one the configuration names (EVENT_LOG, REDIS_URL, DATA_DIR) and closes it.
   */
  eventLog?: EventLog;
  /**
   * Traces (OpenTelemetry), beside `config.otlpEndpoint` (OTEL_EXPORTER_OTLP_ENDPOINT):
   * tests pass their own span processors (an in-memory exporter).
   */
  tracing?: TracingOptions;
  /** Observers of every upstream call attempt, in every platform's policy chain (after the traces' own). */
  callHooks?: readonly UpstreamCallHook[];
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
  const platformConfigs = new Map<PlatformModule, unknown>();
  let server: GatewayServer | undefined;
  let ownEventLog: EventLog | undefined;
  let security: Security | undefined;
  let tracing: Tracing | undefined;
  // Each client's share of every platform throttle, in the platform clients' chains (none in anonymous mode).
  const fairShare = fairShareFactory(config.security, infra.clock);
  const closeClients = () => Promise.all([...clients].map(([platform, client]) => platform.closeClient(client)));
  try {
    // Before the clients: their policy chains get the traces' call hook.
    tracing = await startTracing({ endpoint: config.otlpEndpoint, ...options.tracing }, { clock: infra.clock, log });
    const callHooks = [...(tracing ? [tracing.callHook] : []), ...(options.callHooks ?? [])];
    for (const platform of platforms) {
      let platformConfig: unknown = (config.platforms as Record<string, unknown>)[platform.key];
      let simulator: RunningSimulator | undefined;
      if (!platform.isConfigured(platformConfig)) {
        simulator = simulators[platform.key];
        if (!simulator) {
          simulator = await platform.simulator.start({ log: log.child({ simulator: platform.key }), latencyMs: config.simulatorLatencyMs });
          started.push(simulator);
          simulators[platform.key] = simulator;
        }
        platformConfig = { ...(platformConfig as object), ...(simulator.config as object) };
        simulated.add(platform.key);
      }
      platformConfigs.set(platform, platformConfig);
      clients.set(
        platform,
        platform.createClient(platformConfig, {
          // The platform's own chain (throttle → retry → breaker → call hook) is built from these (UpstreamHttp).
          ...platformUpstream(config, platform.key),
          log: log.child({ platform: platform.key }),
          dataDir: config.dataDir,
          infra,
          fairShare,
          callHooks,
        }, simulator),
      );
    }
    // Counted where every event passes: received, stored, deduplicated, delivered (src/core/observability/events.ts).
    const eventLog = observeEventLog(options.eventLog ?? (ownEventLog = await openEventLog({ events: config.events, dataDir: config.dataDir, ...config.store }, infra)), infra.metrics);
    const events = createEventsService({
      log: eventLog,
      events: config.events,
      platforms,
      simulated,
      infra,
      // An event carries its platform's data: the feed holds what the caller could read from the platform itself.
      // The gateway's own audit records say who changed what: admins only.
      mayRead: (ctx, platformKey) => {
        const principal = ctx.principal as Principal | undefined;
        return !principal || hasScope(principal, platformKey === GATEWAY_SOURCE.key ? GATEWAY_SOURCE.scope : `${platformKey}:read`);
      },
    });
    const schema = buildSchema(platforms, events.resolvers);
    const createContext = createContextFactory({ platforms, clients, simulated, log, now: () => infra.clock.now() });
    // Wraps the schema's resolvers with the scope checks, so it comes before anything compiles an operation.
    const secured = (security = new Security({ config: config.security, schema, platforms, infra, redisUrl: config.store.redisUrl, keyPrefix: config.store.redisKeyPrefix }));
    // Every mutation's audit record is also an event in the log (besides its log line).
    secured.addAuditSink(async (record) => {
      await eventLog.append([
        {
          id: `switchboard:audit:${record.requestId}:${record.alias ?? record.field}`,
          platform: GATEWAY_SOURCE.key,
          type: 'switchboard.audit.mutation',
          occurredAt: record.at,
          receivedAt: new Date(infra.clock.now()).toISOString(),
          subject: record.field,
          protocol: null,
          data: { ...record },
          raw: record,
        },
      ]);
    });
    const formatError = createErrorFormatter(log);
    const pipeline = new OperationPipeline(
      {
        schema,
        infra,
        createContext,
        executor: config.executor,
        identityHeaders: platforms.flatMap((p) => p.identityHeaders ?? []),
        plugins: [
          secured.plugin(),
          // Explain shows routes and timings of the platforms behind the gateway: admins only (the embedded default's anonymous caller is one).
          explainPlugin({ mayExplain: (principal) => secured.mayDiagnose(principal as Principal | undefined) }),
          ...(tracing ? [tracing.plugin] : []),
          ...(options.plugins ?? []),
        ],
      },
      (formatted, error) => secured.formatError(formatError(formatted, error), error),
    );
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
    server = await createGatewayServer({ pipeline, infra, maxRequestBytes: config.maxRequestBytes, maxSubscriberBytes: config.events.subscriberMaxBytes, readiness, extraRoutes: events.routes, security: secured });
    const url = await server.listen(config.port, config.host);
    events.registerSimulators(url, simulators);
    const running = server;
    // Polling starts once the gateway serves; WATCH_INTERVAL_MS=0 starts none.
    const watchers = startWatchers({
      config: config.watch,
      sources: watchSources(config.watch, platforms.map((module) => ({ module, client: clients.get(module), config: platformConfigs.get(module) }))),
      infra,
      eventLog,
    });
    return {
      url,
      graphqlUrl: `${url}/graphql`,
      websocketUrl: `${url.replace(/^http/, 'ws')}/graphql`,
      simulators,
      clients: Object.fromEntries([...clients].map(([platform, client]) => [platform.key, client])) as Partial<PlatformClients>,
      infra,
      pipeline,
      events: eventLog,
      watchers,
      security: secured,
      async close() {
        // Polls stop and their leases go first, while the clients they use are still open.
        await watchers.close();
        await running.close();
        await ownEventLog?.close();
        await secured.close();
        await closeClients();
        await Promise.all(started.map((s) => s.close()));
        await tracing?.shutdown();
      },
    };
  } catch (error) {
    // A port already taken, say: undo everything started so far, so the process can exit.
    await server?.close().catch(() => undefined);
    await ownEventLog?.close().catch(() => undefined);
    await security?.close().catch(() => undefined);
    await closeClients().catch(() => undefined);
    await Promise.all(started.map((s) => s.close().catch(() => undefined)));
    await tracing?.shutdown();
    throw error;
  }
}

/** A platform's upstream settings: the global `UPSTREAM_*` ones with its own `<PLATFORM>_UPSTREAM_*` overrides (see config.ts). */
function platformUpstream(config: Config, platformKey: string): UpstreamSettings {
  const { byPlatform, ...global } = config.upstream;
  return byPlatform[platformKey] ?? global;
}
