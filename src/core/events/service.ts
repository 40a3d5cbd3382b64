import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { ConfigError } from '../env.js';
import type { Infra } from '../infra.js';
import type { PlatformModule, RunningSimulator } from '../platform.js';
import type { EventsConfig } from './config.js';
import { webhookSecretsVariable } from './config.js';
import { FileEventLog } from './file-log.js';
import type { EventLog, EventLogOptions } from './log.js';
import { MemoryEventLog } from './memory-log.js';
import { createWebhookReceiver, webhookPath } from './receiver.js';
import { RedisEventLog } from './redis-log.js';
import { createEventResolvers, type EventResolverOptions } from './resolvers.js';
import { generateWebhookSecret } from './signatures.js';

/** Where the event log's folder is under DATA_DIR. */
export const EVENTS_FOLDER = 'events';

export interface EventLogSettings {
  events: EventsConfig;
  dataDir: string;
  /** REDIS_URL and the prefix every key of this gateway's Redis gets. */
  redisUrl?: string;
  redisKeyPrefix: string;
}

/**
 * Opens the log the settings name: the file in `<DATA_DIR>/events` (default),
 * memory (EVENT_LOG=memory), or Redis Streams (with REDIS_URL). A log that
 * cannot be opened stops the start with the setting to fix.
 */
export async function openEventLog(settings: EventLogSettings, infra: Infra): Promise<EventLog> {
  const { events } = settings;
  const options: EventLogOptions = {
    maxEvents: events.maxEvents,
    maxAgeMs: events.maxAgeMs,
    now: () => infra.clock.now(),
    followerBuffer: events.subscriberBuffer,
    maxDeadLetters: events.maxDeadLetters,
  };
  if (events.log === 'memory') return new MemoryEventLog(options);
  if (events.log === 'redis') {
    try {
      return await RedisEventLog.connect({ ...options, url: settings.redisUrl!, keyPrefix: `${settings.redisKeyPrefix}events:`, report: (message) => infra.log.warn(message) });
    } catch (error) {
      throw new ConfigError([`REDIS_URL: ${(error as Error).message}; check that Redis runs there, or set EVENT_LOG=file for the embedded log`]);
    }
  }
  const dir = join(settings.dataDir, EVENTS_FOLDER);
  try {
    return await FileEventLog.open({ ...options, dir, report: (message) => infra.log.warn(message) });
  } catch (error) {
    throw new ConfigError([`DATA_DIR: the event log in ${dir} could not be opened: ${(error as Error).message}`]);
  }
}

export interface EventsService {
  readonly log: EventLog;
  /** Merged into the schema (`buildSchema`). */
  readonly resolvers: Resolvers[];
  /** `POST /webhooks/:platform`, for the server's `extraRoutes`. */
  readonly routes: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
  /**
   * Points each simulated platform's webhooks at this gateway's receiver, signed
   * with the first of that platform's secrets, as an operator would configure
   * the real platform (README, "Events").
   */
  registerSimulators(gatewayUrl: string, simulators: Readonly<Record<string, RunningSimulator | undefined>>): void;
}

export interface EventsServiceOptions {
  log: EventLog;
  events: EventsConfig;
  platforms: readonly PlatformModule[];
  /** Keys of the platforms served by their embedded simulator: those without a configured secret get a generated one. */
  simulated: ReadonlySet<string>;
  infra: Infra;
  /** Whether the caller may read a platform's data; the feed keeps to those (see EventResolverOptions). */
  mayRead?: EventResolverOptions['mayRead'];
}

/** The receiver, the resolvers and the simulators' registration, around one event log. */
export function createEventsService(options: EventsServiceOptions): EventsService {
  const { log, infra, platforms } = options;
  const secrets: Record<string, readonly string[]> = {};
  for (const platform of platforms) {
    if (!platform.webhooks) continue;
    const configured = options.events.webhookSecrets[platform.key] ?? [];
    if (configured.length > 0) secrets[platform.key] = configured;
    else if (options.simulated.has(platform.key)) secrets[platform.key] = [generateWebhookSecret()];
    else {
      secrets[platform.key] = [];
      infra.log.warn(
        `${platform.title} webhooks will be refused (401): ${webhookSecretsVariable(platform.key)} is not set. Set it to the secret the platform signs its webhooks with (README, "Events").`,
      );
    }
  }
  const routes = createWebhookReceiver({
    log,
    platforms,
    secrets,
    maxBytes: options.events.maxWebhookBytes,
    clock: infra.clock,
    logger: infra.log.child({ component: 'webhooks' }),
    registry: infra.metrics.registry,
  });
  return {
    log,
    resolvers: createEventResolvers({ log, platforms, mayRead: options.mayRead }),
    routes,
    registerSimulators(gatewayUrl, simulators) {
      for (const platform of platforms) {
        const simulator = simulators[platform.key];
        const secret = secrets[platform.key]?.[0];
        if (!platform.webhooks || !simulator?.deliverWebhooksTo || !secret || !options.simulated.has(platform.key)) continue;
        simulator.deliverWebhooksTo(`${gatewayUrl}${webhookPath(platform.key)}`, secret);
      }
    },
  };
}
