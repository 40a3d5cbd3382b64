import { z } from 'zod';
import { ConfigError, describeIssues, envEnum, envInt } from './core/env.js';
import type { UpstreamTimeouts } from './core/upstream/http.js';
import { platforms, type PlatformConfigs } from './platforms/index.js';

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
  /** Retries of a GET after a dropped connection or 502/503/504. Default 1. */
  UPSTREAM_RETRIES: envInt(1, 0, 5),
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
});

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly logLevel: string;
  readonly dataDir: string;
  readonly upstream: {
    readonly timeouts: UpstreamTimeouts;
    readonly connections: number;
    readonly retries: number;
    readonly breaker: { readonly failures: number; readonly cooldownMs: number };
  };
  readonly maxRequestBytes: number;
  readonly executor: 'jit' | 'graphql-js';
  readonly simulatorLatencyMs: number;
  readonly platforms: PlatformConfigs;
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
  if (problems.length > 0 || !core.success) throw new ConfigError(problems);
  const c = core.data;
  return Object.freeze({
    port: c.PORT,
    host: c.HOST,
    logLevel: c.LOG_LEVEL,
    dataDir: c.DATA_DIR,
    upstream: {
      timeouts: { connectMs: c.UPSTREAM_CONNECT_TIMEOUT_MS, headersMs: c.UPSTREAM_HEADERS_TIMEOUT_MS, bodyMs: c.UPSTREAM_BODY_TIMEOUT_MS },
      connections: c.UPSTREAM_CONNECTIONS,
      retries: c.UPSTREAM_RETRIES,
      breaker: { failures: c.UPSTREAM_BREAKER_FAILURES, cooldownMs: c.UPSTREAM_BREAKER_COOLDOWN_MS },
    },
    maxRequestBytes: c.MAX_REQUEST_BYTES,
    executor: c.EXECUTOR,
    simulatorLatencyMs: c.SIMULATOR_LATENCY_MS,
    platforms: platformConfigs as PlatformConfigs,
  });
}
