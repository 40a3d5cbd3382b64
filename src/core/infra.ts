import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { systemClock, type Clock } from './clock.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { MemoryStore } from './store/memory.js';
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
