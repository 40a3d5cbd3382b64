import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import type { PlatformModule } from '../platform.js';
import { readRequestBody } from '../request-body.js';
import { BadUserInputError } from '../upstream/errors.js';
import { DEAD_LETTER_TEXT_LIMIT, EventLogUnavailableError, type EventLog, type NewEvent } from './log.js';
import { WebhookVerifier } from './signatures.js';
import type { PlatformWebhooks } from './types.js';

/**
 * `POST /webhooks/:platform`: the way into the event log for platforms that
 * deliver webhooks. In this order, and nothing is stored before the last step:
 *
 * 1. The body is read as bytes, up to the limit (larger: 413).
 * 2. The signature is verified on those bytes (Standard Webhooks, the
 *    platform's secrets, 5 minutes of tolerance): refused → 401 with the reason.
 * 3. The body is parsed and read by the platform's normalizer: not JSON, or not
 *    a payload the platform sends → 400, and the delivery is kept as a dead
 *    letter (it is authentic, so an operator wants to see it).
 * 4. The events are appended with the webhook-id as dedupe key, durably, and
 *    only then is the delivery answered 200. The same webhook-id again (a
 *    retry, or two at once) is answered 200 and stored once.
 *
 * A log that cannot be written answers 503 with Retry-After: the sender keeps
 * the delivery and retries, so nothing acknowledged is lost.
 */

export interface WebhookReceiverOptions {
  log: EventLog;
  platforms: readonly PlatformModule[];
  /** Secrets by platform key, several during a rotation (any verifies). */
  secrets: Readonly<Record<string, readonly string[]>>;
  maxBytes: number;
  clock: Clock;
  logger: Logger;
  registry: Registry;
}

export type WebhookOutcome = 'accepted' | 'duplicate' | 'unauthorized' | 'too_large' | 'bad_payload' | 'unavailable';

/** The path the receiver serves for a platform. */
export const webhookPath = (platformKey: string): string => `/webhooks/${platformKey}`;

export function createWebhookReceiver(options: WebhookReceiverOptions) {
  const { log, clock, logger } = options;
  const receivers = new Map<string, { platform: PlatformModule; webhooks: PlatformWebhooks; verifier: WebhookVerifier }>();
  for (const platform of options.platforms) {
    if (!platform.webhooks) continue;
    receivers.set(platform.key, { platform, webhooks: platform.webhooks, verifier: new WebhookVerifier(options.secrets[platform.key] ?? []) });
  }
  const deliveries = new Counter({
    name: 'switchboard_webhooks_total',
    help: 'Webhook deliveries received, by platform and outcome (accepted, duplicate, unauthorized, too_large, bad_payload, unavailable).',
    labelNames: ['platform', 'outcome'],
    registers: [options.registry],
  });

  return async function receive(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const match = /^\/webhooks\/([^/]+)\/?$/.exec(url.pathname);
    if (!match) return false;
    const key = decodeURIComponent(match[1]!);
    const receiver = receivers.get(key);
    if (!receiver) {
      const known = [...receivers.keys()].map(webhookPath).join(', ');
      send(res, 404, { error: `No webhooks are received for ${JSON.stringify(key)}; this gateway receives them at ${known || 'no path (no platform sends webhooks)'}`, code: 'NOT_FOUND' });
      return true;
    }
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      send(res, 405, { error: `Webhooks are delivered with POST; got ${req.method}`, code: 'METHOD_NOT_ALLOWED' });
      return true;
    }
    const { platform, webhooks, verifier } = receiver;
    const outcome = (value: WebhookOutcome) => deliveries.inc({ platform: platform.key, outcome: value });

    const body = await readRequestBody(req, options.maxBytes);
    if (!body) {
      outcome('too_large');
      res.setHeader('connection', 'close');
      send(res, 413, { error: `Expected a webhook body of at most ${options.maxBytes} bytes; got more`, code: 'PAYLOAD_TOO_LARGE' });
      return true;
    }

    const verified = verifier.verify(req.headers, body, Math.floor(clock.now() / 1000));
    if (!verified.ok) {
      outcome('unauthorized');
      logger.warn({ platform: platform.key, webhookId: headerOf(req, 'webhook-id'), reason: verified.reason }, 'webhook refused');
      send(res, 401, { error: verified.reason, code: 'INVALID_SIGNATURE' });
      return true;
    }
    const webhookId = verified.id;
    const receivedAt = new Date(clock.now()).toISOString();
    const contentType = headerOf(req, 'content-type') ?? null;

    const refuse = async (reason: string, kept: unknown) => {
      outcome('bad_payload');
      logger.warn({ platform: platform.key, webhookId, reason }, 'webhook payload unreadable; kept as a dead letter');
      try {
        await log.addDeadLetter({ platform: platform.key, webhookId, receivedAt, reason, contentType, body: kept });
      } catch (error) {
        logger.error({ err: error, platform: platform.key, webhookId }, 'could not keep a dead letter');
      }
      send(res, 400, { error: reason, code: 'BAD_PAYLOAD' });
    };

    let payload: unknown;
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch (error) {
      const text = body.toString('utf8');
      await refuse(`Expected a JSON body (Standard Webhooks); it does not parse: ${(error as Error).message}`, text.length > DEAD_LETTER_TEXT_LIMIT ? text.slice(0, DEAD_LETTER_TEXT_LIMIT) : text);
      return true;
    }
    const raw = webhooks.redact ? webhooks.redact(payload) : payload;
    let normalized;
    try {
      normalized = webhooks.normalize(payload);
    } catch (error) {
      if (!(error instanceof BadUserInputError)) throw error;
      await refuse(`${platform.title} webhook not understood: ${error.message}`, raw);
      return true;
    }
    const events: NewEvent[] = normalized.map((event, index) => ({ ...event, id: `${platform.key}:${webhookId}:${index}`, receivedAt, raw }));
    try {
      const result = await log.append(events, { dedupeKey: `${platform.key}:${webhookId}` });
      outcome(result.duplicate ? 'duplicate' : 'accepted');
      logger.debug({ platform: platform.key, webhookId, events: events.length, duplicate: result.duplicate }, 'webhook accepted');
      send(res, 200, { status: result.duplicate ? 'duplicate' : 'accepted', events: result.cursors.length, cursors: result.cursors });
    } catch (error) {
      if (!(error instanceof EventLogUnavailableError)) throw error;
      outcome('unavailable');
      logger.error({ err: error, platform: platform.key, webhookId }, 'webhook not stored: event log unavailable');
      res.setHeader('retry-after', '5');
      send(res, 503, { error: 'The gateway could not store the events just now; deliver again later (nothing was stored)', code: 'EVENT_LOG_UNAVAILABLE' });
    }
    return true;
  };
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
