import { z } from 'zod';
import { describeIssues, envEnum, envInt } from '../env.js';

/**
 * The settings of live events: where the event log lives, how long it keeps
 * events, and the webhook secrets of each platform that sends webhooks.
 * Read with the rest of the configuration in `src/config.ts`.
 */
export interface EventsConfig {
  /** `file` (the embedded default, in DATA_DIR), `memory` (nothing survives a restart), or `redis` (REDIS_URL, shared by several gateways). */
  readonly log: 'file' | 'memory' | 'redis';
  readonly maxEvents: number;
  readonly maxAgeMs: number;
  /** Live events a subscriber may leave unread before it is disconnected. */
  readonly subscriberBuffer: number;
  /** Bytes that may wait to be sent to one WebSocket subscriber before it is disconnected (close 4429). */
  readonly subscriberMaxBytes: number;
  readonly maxWebhookBytes: number;
  readonly maxDeadLetters: number;
  /** Secrets by platform key; several during a rotation. A platform with none configured gets a generated one when it is simulated. */
  readonly webhookSecrets: Readonly<Record<string, readonly string[]>>;
}

/** The variable holding a platform's webhook secrets: `IXC_WEBHOOK_SECRETS`. */
export const webhookSecretsVariable = (platformKey: string): string => `${platformKey.toUpperCase()}_WEBHOOK_SECRETS`;

/**
 * `whsec_a,whsec_b`: Standard Webhooks secrets, `whsec_` and the base64 of 24
 * to 64 random bytes. A bad entry is named by its position, never shown.
 */
const webhookSecrets = () =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === '') return [] as string[];
      const secrets = value.split(',').map((s) => s.trim());
      secrets.forEach((secret, i) => {
        const key = secret.startsWith('whsec_') ? secret.slice(6) : undefined;
        const bytes = key !== undefined && /^[A-Za-z0-9+/]+={0,2}$/.test(key) ? Buffer.from(key, 'base64').length : 0;
        if (bytes < 16) {
          ctx.addIssue({
            code: 'custom',
            message: `expected comma-separated Standard Webhooks secrets ("whsec_" then the base64 of at least 16 random bytes, e.g. from \`echo whsec_$(openssl rand -base64 32)\`); entry ${i + 1} of ${secrets.length} is not one`,
          });
        }
      });
      return secrets;
    });

const eventsSchema = z.object({
  /** `file` (default without REDIS_URL), `memory`, or `redis` (default with REDIS_URL). */
  EVENT_LOG: envEnum(['file', 'memory', 'redis'], 'file'),
  /** Events kept, at most. Default 100,000. */
  EVENT_LOG_MAX_EVENTS: envInt(100_000, 100, 100_000_000),
  /** Hours an event is kept. Default 168 (a week). */
  EVENT_LOG_MAX_AGE_HOURS: envInt(168, 1, 24 * 366),
  /** Live events a subscriber may leave unread before it is disconnected. Default 10,000. */
  EVENT_SUBSCRIBER_BUFFER: envInt(10_000, 10, 1_000_000),
  /** Bytes that may wait to be sent to one WebSocket subscriber before it is disconnected (4429). Default 4 MiB. */
  EVENT_SUBSCRIBER_MAX_BYTES: envInt(4 * 1_048_576, 16_384, 1_073_741_824),
  /** Largest webhook body accepted, in bytes (larger: 413). Default 256 KiB. */
  MAX_WEBHOOK_BYTES: envInt(262_144, 1_024, 16 * 1_048_576),
  /** Dead letters kept (the most recent). Default 1,000. */
  DEAD_LETTERS_MAX: envInt(1_000, 10, 1_000_000),
});

/**
 * Reads the events settings. `platformKeys` are the platforms that read
 * webhooks (each gets its `<KEY>_WEBHOOK_SECRETS`); `redisUrl` is REDIS_URL,
 * which makes Redis the default log.
 */
export function loadEventsConfig(
  env: Readonly<Record<string, string | undefined>>,
  platformKeys: readonly string[],
  redisUrl: string | undefined,
): { config: EventsConfig; problems: [] } | { config: undefined; problems: string[] } {
  const problems: string[] = [];
  const parsed = eventsSchema.safeParse(env);
  if (!parsed.success) problems.push(...describeIssues(parsed.error, env));
  const secrets: Record<string, readonly string[]> = {};
  for (const key of platformKeys) {
    const name = webhookSecretsVariable(key);
    const result = z.object({ [name]: webhookSecrets() }).safeParse(env);
    if (result.success) secrets[key] = result.data[name] as string[];
    else problems.push(...describeIssues(result.error, env));
  }
  if (!parsed.success || problems.length > 0) return { config: undefined, problems };
  const e = parsed.data;
  const explicit = env.EVENT_LOG?.trim() ? e.EVENT_LOG : undefined;
  if (explicit === 'redis' && !redisUrl) {
    return { config: undefined, problems: ['EVENT_LOG: expected REDIS_URL to be set as well for the Redis event log (or EVENT_LOG=file for the embedded one); REDIS_URL is not set'] };
  }
  return {
    config: Object.freeze({
      log: explicit ?? (redisUrl ? 'redis' : 'file'),
      maxEvents: e.EVENT_LOG_MAX_EVENTS,
      maxAgeMs: e.EVENT_LOG_MAX_AGE_HOURS * 3_600_000,
      subscriberBuffer: e.EVENT_SUBSCRIBER_BUFFER,
      subscriberMaxBytes: e.EVENT_SUBSCRIBER_MAX_BYTES,
      maxWebhookBytes: e.MAX_WEBHOOK_BYTES,
      maxDeadLetters: e.DEAD_LETTERS_MAX,
      webhookSecrets: Object.freeze(secrets),
    }),
    problems: [],
  };
}
