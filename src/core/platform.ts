import type { Logger } from 'pino';
import type { z } from 'zod';
import type { UpstreamCallHook, UpstreamSettings } from './upstream/http.js';
import type { PlatformWebhooks } from './events/types.js';
import type { PlatformWatches } from './events/watchers.js';
import type { Infra } from './infra.js';
import type { FairShareFactory } from './upstream/http.js';

/**
 * A platform module is the unit of extension: everything Switchboard knows about
 * one upstream platform sits behind this interface, in `src/platforms/<key>/`.
 * The core never imports a platform; `src/platforms/index.ts` lists them.
 */
export interface PlatformModule<
  TKey extends string = string,
  TConfig = any,
  TClient = any,
  TScope = any,
  TSimulator extends RunningSimulator<TConfig> = RunningSimulator<TConfig>,
> {
  /** Lower-case key: URL segments, env prefixes, `extensions.platform`. */
  readonly key: TKey;
  /** The `Platform` enum value in the schema. */
  readonly enumValue: string;
  /** The platform's name as its users write it. */
  readonly title: string;
  /** SDL files under `schema/` that this platform contributes. */
  readonly schemaFiles: readonly string[];
  /** Resolver map merged into the schema (typed by the platform with the generated `Resolvers`). */
  readonly resolvers: object;

  /** Reads this platform's settings from the environment; zod issues name the variable. */
  readonly configSchema: z.ZodType<TConfig, any>;
  /** True when the settings name a real upstream; otherwise the embedded simulator stands in. */
  isConfigured(config: TConfig): boolean;

  /**
   * `simulator` is the embedded simulator standing in for the platform, when one
   * does: what only a simulator offers (registering a generated key, say) comes
   * from it, never through the production configuration type.
   */
  createClient(config: TConfig, deps: ClientDeps, simulator?: TSimulator): TClient;
  /** Per-request state: loaders and the client, with anything the request forwards (a user token). */
  createScope(client: TClient, request: RequestInfo): TScope;
  /**
   * Request headers `createScope` reads that make the platform answer as someone
   * else (a user's own token): results are never shared between callers whose
   * values differ (subscription fan-out).
   */
  readonly identityHeaders?: readonly string[];
  /** Answers when the upstream answers (for `/readyz`). */
  ping(client: TClient): Promise<void>;
  closeClient(client: TClient): Promise<void>;

  /** `node(id)` for each of this platform's Node types: GraphQL type name → loader by platform key. */
  readonly nodes: Readonly<Record<string, (scope: TScope, key: string) => Promise<object | null>>>;
  /** Contributions to the unified root fields; each returns objects tagged with their GraphQL type. */
  readonly unified: Partial<Record<UnifiedField, (scope: TScope) => Promise<object[]>>>;

  /**
   * Mutations that mint credentials or change the gateway's own standing with the
   * platform (API clients, webhooks, blocking, permissions): they need the `admin`
   * scope on top of `<key>:write` (src/core/security/scopes.ts).
   */
  readonly adminMutations?: readonly string[];

  /** Reads the platform's inbound webhook payloads. */
  readonly webhooks?: PlatformWebhooks;
  /** What the gateway can poll for changes, for a platform that sends no webhooks (src/core/events/watchers.ts). */
  readonly watches?: PlatformWatches<TClient, TConfig>;

  readonly simulator: SimulatorFactory<TConfig, TSimulator>;
}

export type UnifiedField = 'customers' | 'apps' | 'apiClients' | 'webhooks';

/**
 * What a platform client is built with: its upstream settings (global
 * `UPSTREAM_*` values, overridden per platform by `<PLATFORM>_UPSTREAM_*`), from
 * which it composes its policy chain (`UpstreamHttp`), and the gateway's shared parts.
 */
export interface ClientDeps extends UpstreamSettings {
  /** This platform's log (a child of the gateway's, tagged with the platform). */
  log: Logger;
  /** Where the gateway keeps files between runs (generated keys, say). */
  dataDir: string;
  /** Puts each client's fair share around the platform's throttle, when it has one (src/core/security/fairness.ts). */
  fairShare?: FairShareFactory;
  /** The gateway's shared infrastructure: store, secrets, clock, metrics. */
  infra: Infra;
  /** Observers of every upstream call attempt beyond metrics and the log (traces, explain); clients pass them to `UpstreamHttp`. */
  callHooks?: readonly UpstreamCallHook[];
}

export interface RequestInfo {
  /** Lower-cased request headers (HTTP headers, or a WebSocket's connection params). */
  headers: Readonly<Record<string, string | undefined>>;
  /** Who is calling, once the pipeline's authentication ran (undefined: anonymous). */
  principal?: unknown;
}

export interface SimulatorOptions {
  host?: string;
  port?: number;
  /** Where the simulator POSTs the webhooks it emits (the gateway's receiver). */
  webhookUrl?: string;
  /** The secret it signs webhooks with (Standard Webhooks). */
  webhookSecret?: string;
  /** Added to every answer, in milliseconds: an upstream a realistic distance away. */
  latencyMs?: number;
  log?: Logger;
}

export interface RunningSimulator<TConfig = unknown> {
  readonly url: string;
  /** The settings that point the gateway at this simulator (base URL and the seeded credentials). */
  readonly config: TConfig;
  /** Where to POST the webhooks it emits, once the gateway's receiver URL is known. */
  deliverWebhooksTo?(url: string, secret: string): void;
  close(): Promise<void>;
}

export interface SimulatorFactory<TConfig = unknown, TSimulator extends RunningSimulator<TConfig> = RunningSimulator<TConfig>> {
  start(options?: SimulatorOptions): Promise<TSimulator>;
  /**
   * The environment variables that point a separate gateway at this running
   * simulator, as a user would configure a real platform (`npm run simulate`
   * writes them to a file). May prepare what the platform needs first (a key pair).
   */
  environment(simulator: TSimulator, dataDir: string): Promise<Record<string, string>>;
}

/** Keeps a platform module's literal key, so `platforms/index.ts` can derive typed maps from the list. */
export function definePlatform<const TKey extends string, TConfig, TClient, TScope, TSimulator extends RunningSimulator<TConfig> = RunningSimulator<TConfig>>(
  module: PlatformModule<TKey, TConfig, TClient, TScope, TSimulator>,
): PlatformModule<TKey, TConfig, TClient, TScope, TSimulator> {
  return module;
}
