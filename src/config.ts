import { z } from 'zod';
import { ConfigError, describeIssues, envEnum, envInt, envOptionalInt } from './core/env.js';
import type { StoreSettings } from './core/infra.js';
import type { UpstreamSettings } from './core/upstream/http.js';
import { platforms, type PlatformConfigs } from './platforms/index.js';
import { loadWatchConfig, type WatchConfig } from './core/events/watch-config.js';
import { loadEventsConfig, type EventsConfig } from './core/events/config.js';
import { loadSecurityConfig, type SecurityConfig } from './core/security/config.js';

/** `redis://` or `rediss://` (TLS), with a host; the value is never echoed (it may hold a password). */
const redisUrl = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v.trim() === '') return undefined;
    const url = URL.canParse(v.trim()) ? new URL(v.trim()) : undefined;
    if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || !url.hostname) {
      const what = url ? (url.hostname ? `the scheme is ${url.protocol}` : 'it names no host') : 'it is not a URL';
      ctx.addIssue({ code: 'custom', message: `expected a redis:// or rediss:// URL such as redis://127.0.0.1:6379 (${what})` });
      return z.NEVER;
    }
    return v.trim();
  });

/** An OTLP collector's base URL (its key, if any, goes in OTEL_EXPORTER_OTLP_HEADERS, which the SDK reads itself). */
const otlpEndpoint = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v.trim() === '') return undefined;
    const url = URL.canParse(v.trim()) ? new URL(v.trim()) : undefined;
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      const what = url ? `the scheme is ${url.protocol}` : 'it is not a URL';
      ctx.addIssue({ code: 'custom', message: `expected the http:// or https:// URL of an OpenTelemetry collector, such as http://127.0.0.1:4318 (${what})` });
      return z.NEVER;
    }
    return v.trim();
  });

/**
 * Every setting of the gateway, read once at start from the environment. Each
 * platform adds its own (see its module's `configSchema`); a platform with no
 * base URL runs on its embedded simulator.
 */
const coreSchema = z.object({
  /** HTTP port of the gateway (0 picks a free one). Default 4000. */
  PORT: envInt(4000, 0, 65535),
  /** Interface to listen on. Default 127.0.0.1; set 0.0.0.0 to accept other hosts. */
  HOST: z.string().trim().min(1).optional().default('127.0.0.1'),
  /** pino log level. Default info. */
  LOG_LEVEL: envEnum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
  /** Folder for files kept between runs (generated keys). Default `.data` in the working directory. */
  DATA_DIR: z.string().trim().min(1).optional().default('.data'),
  /** Milliseconds to open a connection to an upstream. Default 3000. */
  UPSTREAM_CONNECT_TIMEOUT_MS: envInt(3_000, 1, 120_000),
  /** Milliseconds an upstream may take to start answering. Default 10000. */
  UPSTREAM_HEADERS_TIMEOUT_MS: envInt(10_000, 1, 300_000),
  /** Milliseconds an upstream's body may stay silent. Default 10000. */
  UPSTREAM_BODY_TIMEOUT_MS: envInt(10_000, 1, 300_000),
  /** Keep-alive connections per upstream host. Default 32. */
  UPSTREAM_CONNECTIONS: envInt(32, 1, 1024),
  /** Retries of a read (GET, HEAD) after a dropped connection, a 429 or a 502/503/504. Default 1. */
  UPSTREAM_RETRIES: envInt(1, 0, 5),
  /** Backoff before the first retry, at most (full jitter; doubles per retry). Default 100. */
  UPSTREAM_RETRY_BASE_DELAY_MS: envInt(100, 1, 60_000),
  /** The backoff's ceiling. Default 2000. A platform's `Retry-After` is honoured beyond it, within the deadline. */
  UPSTREAM_RETRY_MAX_DELAY_MS: envInt(2_000, 1, 300_000),
  /** Milliseconds a whole upstream call may take (throttle wait, retries and backoff included). Default 30000. */
  UPSTREAM_DEADLINE_MS: envInt(30_000, 100, 600_000),
  /** Largest upstream answer accepted, in bytes; a larger one is cut while it streams. Default 16 MiB. */
  UPSTREAM_MAX_RESPONSE_BYTES: envInt(16 * 1_048_576, 1_024, 1_073_741_824),
  /**
   * `on` (the default): a list is parsed for the keys its query reads, skipping the rest of each record's bytes.
   * `off`: every answer is parsed whole (to compare, or should a platform's JSON ever confuse the projection).
   */
  UPSTREAM_PROJECTION: envEnum(['on', 'off'], 'on'),
  /** Consecutive failures of an upstream host after which calls fail at once for a while; 0 turns this off. Default 5. */
  UPSTREAM_BREAKER_FAILURES: envInt(5, 0, 1000),
  /** Milliseconds an open breaker fails calls at once before one trial call. Default 5000. */
  UPSTREAM_BREAKER_COOLDOWN_MS: envInt(5_000, 1, 600_000),
  /** How operations run: `jit` (compiled once per operation, the default) or `graphql-js` (the reference executor). */
  EXECUTOR: envEnum(['jit', 'graphql-js'], 'jit'),
  /** Latency the embedded simulators add to every answer, in milliseconds. Default 0. */
  SIMULATOR_LATENCY_MS: envInt(0, 0, 60_000),
  /** Largest accepted request body in bytes. Default 1 MiB. */
  MAX_REQUEST_BYTES: envInt(1_048_576, 1_024, 64 * 1_048_576),
  /** Redis that several gateways share (tokens, learned secrets, budgets). Unset: the embedded file store in DATA_DIR. */
  REDIS_URL: redisUrl,
  /** Put before every key this gateway writes to Redis. Default `switchboard:`. */
  REDIS_KEY_PREFIX: z.string().trim().min(1, 'expected a non-empty prefix').optional().default('switchboard:'),
  /** Where traces go (OTLP): a span per GraphQL operation and per upstream call. Unset: no tracing, and OpenTelemetry is not loaded. */
  OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
  /** AES-GCM key for the secrets the store keeps; required once a platform is real (see `storeSecretProblem`). */
  STORE_SECRET_KEY: z
    .string()
    .optional()
    .refine((v) => v === undefined || v.trim().length >= 32, { message: `expected at least 32 characters (generate one with \`openssl rand -base64 32\`)` }),
});

/** What each platform may set for itself, as `<PLATFORM>_UPSTREAM_…` (`CLOUDCIX_UPSTREAM_DEADLINE_MS`); unset: the global value. */
const PER_PLATFORM_UPSTREAM = {
  UPSTREAM_DEADLINE_MS: { min: 100, max: 600_000 },
  UPSTREAM_MAX_RESPONSE_BYTES: { min: 1_024, max: 1_073_741_824 },
  UPSTREAM_RETRIES: { min: 0, max: 5 },
} as const;


const platformUpstreamSchema = z.object(
  Object.fromEntries(
    platforms.flatMap((platform) =>
      Object.entries(PER_PLATFORM_UPSTREAM).map(([name, range]) => [`${platform.key.toUpperCase()}_${name}`, envOptionalInt(range.min, range.max, 'the UPSTREAM_… value')]),
    ),
  ),
);

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly logLevel: string;
  readonly dataDir: string;
  /** The upstream settings every platform starts from (`UPSTREAM_*`). */
  readonly upstream: Readonly<UpstreamSettings> & {
    /** Each platform's: the above with its `<PLATFORM>_UPSTREAM_*` overrides (`upstreamSettingsFor`). */
    readonly byPlatform: Readonly<Record<string, Readonly<UpstreamSettings>>>;
  };
  readonly maxRequestBytes: number;
  readonly executor: 'jit' | 'graphql-js';
  readonly simulatorLatencyMs: number;
  /** Where the gateway's state lives, and the key its secrets are sealed with (see `openInfra`). */
  readonly store: StoreSettings;
  /** Polling of platforms that send no webhooks (WATCH_*, <PLATFORM>_WATCH; src/core/events/watch-config.ts). */
  readonly watch: WatchConfig;
  /** Live events: the event log, its retention, webhook secrets (src/core/events/config.ts). */
  readonly events: EventsConfig;
  /** Who may call, what one operation may ask and spend, which browsers may reach it (src/core/security/config.ts). */
  readonly security: SecurityConfig;
  readonly platforms: PlatformConfigs;
  /** OTEL_EXPORTER_OTLP_ENDPOINT: traces are exported there when set (src/core/observability/tracing.ts). */
  readonly otlpEndpoint?: string;
}

export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  const problems: string[] = [];
  const core = coreSchema.safeParse(env);
  if (!core.success) problems.push(...describeIssues(core.error, env));
  const platformConfigs: Record<string, unknown> = {};
  for (const platform of platforms) {
    const parsed = (platform.configSchema as z.ZodType).safeParse(env);
    if (parsed.success) platformConfigs[platform.key] = parsed.data;
    else problems.push(...describeIssues(parsed.error, env));
  }
  if (core.success && !core.data.STORE_SECRET_KEY) problems.push(...storeSecretProblem(platformConfigs));
  const perPlatform = platformUpstreamSchema.safeParse(env);
  if (!perPlatform.success) problems.push(...describeIssues(perPlatform.error, env));
  if (core.success && core.data.UPSTREAM_RETRY_BASE_DELAY_MS > core.data.UPSTREAM_RETRY_MAX_DELAY_MS) {
    problems.push(
      `UPSTREAM_RETRY_BASE_DELAY_MS: expected at most UPSTREAM_RETRY_MAX_DELAY_MS (${core.data.UPSTREAM_RETRY_MAX_DELAY_MS}), the backoff's ceiling; got ${core.data.UPSTREAM_RETRY_BASE_DELAY_MS}`,
    );
  }
  const watch = loadWatchConfig(platforms, env, problems);
  const events = loadEventsConfig(env, platforms.filter((p) => p.webhooks).map((p) => p.key), core.success ? core.data.REDIS_URL : undefined);
  problems.push(...events.problems);
  const security = loadSecurityConfig(env, { host: core.data?.HOST ?? '127.0.0.1', platformKeys: platforms.map((p) => p.key), realPlatforms: realPlatforms(platformConfigs, env) }, problems);
  if (problems.length > 0 || !core.success || !perPlatform.success) throw new ConfigError(problems);
  const c = core.data;
  const upstream: UpstreamSettings = {
    timeouts: { connectMs: c.UPSTREAM_CONNECT_TIMEOUT_MS, headersMs: c.UPSTREAM_HEADERS_TIMEOUT_MS, bodyMs: c.UPSTREAM_BODY_TIMEOUT_MS },
    connections: c.UPSTREAM_CONNECTIONS,
    retries: c.UPSTREAM_RETRIES,
    retryDelay: { baseMs: c.UPSTREAM_RETRY_BASE_DELAY_MS, maxMs: c.UPSTREAM_RETRY_MAX_DELAY_MS },
    breaker: { failures: c.UPSTREAM_BREAKER_FAILURES, cooldownMs: c.UPSTREAM_BREAKER_COOLDOWN_MS },
    deadlineMs: c.UPSTREAM_DEADLINE_MS,
    maxResponseBytes: c.UPSTREAM_MAX_RESPONSE_BYTES,
    projection: c.UPSTREAM_PROJECTION === 'on',
  };
  const overrides = perPlatform.data as Record<string, number | undefined>;
  const byPlatform = Object.fromEntries(
    platforms.map((platform) => {
      const own = (name: keyof typeof PER_PLATFORM_UPSTREAM) => overrides[`${platform.key.toUpperCase()}_${name}`];
      const settings: UpstreamSettings = {
        ...upstream,
        deadlineMs: own('UPSTREAM_DEADLINE_MS') ?? upstream.deadlineMs,
        maxResponseBytes: own('UPSTREAM_MAX_RESPONSE_BYTES') ?? upstream.maxResponseBytes,
        retries: own('UPSTREAM_RETRIES') ?? upstream.retries,
      };
      return [platform.key, settings];
    }),
  );
  return Object.freeze({
    port: c.PORT,
    host: c.HOST,
    logLevel: c.LOG_LEVEL,
    dataDir: c.DATA_DIR,
    upstream: { ...upstream, byPlatform },
    maxRequestBytes: c.MAX_REQUEST_BYTES,
    executor: c.EXECUTOR,
    simulatorLatencyMs: c.SIMULATOR_LATENCY_MS,
    store: { redisUrl: c.REDIS_URL, redisKeyPrefix: c.REDIS_KEY_PREFIX, secretKey: c.STORE_SECRET_KEY?.trim() },
    platforms: platformConfigs as PlatformConfigs,
    watch: watch!,
    events: events.config!,
    security: security!,
    otlpEndpoint: c.OTEL_EXPORTER_OTLP_ENDPOINT,
  });
}

/** The platforms pointed at a real upstream, with the setting that did it (for the refusal to start without clients). */
function realPlatforms(platformConfigs: Record<string, unknown>, env: Readonly<Record<string, string | undefined>>) {
  return platforms
    .filter((p) => platformConfigs[p.key] !== undefined && (p.isConfigured as (c: unknown) => boolean)(platformConfigs[p.key]))
    .map((p) => {
      const prefix = p.key.toUpperCase();
      return { title: p.title, variable: env[`${prefix}_BASE_URL`] ? `${prefix}_BASE_URL` : `${prefix}_* settings` };
    });
}

/**
 * Once a platform is real, the store holds its tokens (and Exotel's app secrets)
 * sealed with STORE_SECRET_KEY, and every gateway on one store must share it:
 * so it is set, not generated. With every platform simulated, a key is
 * generated into DATA_DIR instead (`openInfra`).
 */
function storeSecretProblem(platformConfigs: Record<string, unknown>): string[] {
  const real = platforms.filter((p) => platformConfigs[p.key] !== undefined && (p.isConfigured as (c: unknown) => boolean)(platformConfigs[p.key]));
  if (real.length === 0) return [];
  return [
    `STORE_SECRET_KEY: expected a key of at least 32 characters, since ${real.map((p) => p.title).join(', ')} ${real.length === 1 ? 'is a real platform' : 'are real platforms'} (base URL set): ` +
      'the store keeps their tokens and learned secrets encrypted with it. Generate one with `openssl rand -base64 32` and give every gateway sharing a store the same value; it is not set',
  ];
}

