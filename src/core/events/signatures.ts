import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com/): none of the
 * four platforms documents a scheme, so every inbound webhook is verified this
 * way by default and the simulators sign what they send the same way.
 *
 * Secrets look like `whsec_<base64 key>`; a bare string is used as the key itself.
 */

export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

function keyOf(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8');
}

export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', keyOf(secret)).update(`${id}.${timestamp}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The three headers a signed delivery carries. */
export function webhookHeaders(secret: string, body: string, id = `msg_${randomUUID()}`, timestamp = Math.floor(Date.now() / 1000)): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signWebhook(secret, id, timestamp, body),
  };
}

export type VerifyResult = { ok: true; id: string; timestamp: number } | { ok: false; reason: string };

/**
 * Checks a delivery against one or more secrets (rotation: any may match) and
 * the timestamp tolerance. The reason says what was expected and what came,
 * without echoing any secret.
 */
export function verifyWebhook(
  secrets: readonly string[],
  headers: Readonly<Record<string, string | string[] | undefined>>,
  body: string,
  now = Math.floor(Date.now() / 1000),
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
): VerifyResult {
  const one = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const id = one('webhook-id');
  const timestampText = one('webhook-timestamp');
  const signatures = one('webhook-signature');
  if (!id || !timestampText || !signatures) {
    return { ok: false, reason: 'Expected the headers webhook-id, webhook-timestamp and webhook-signature (Standard Webhooks); one or more is missing' };
  }
  const timestamp = Number(timestampText);
  if (!Number.isInteger(timestamp)) return { ok: false, reason: `Expected webhook-timestamp in whole seconds since the epoch, got ${JSON.stringify(timestampText)}` };
  if (Math.abs(now - timestamp) > toleranceSeconds) {
    return { ok: false, reason: `webhook-timestamp ${timestamp} is more than ${toleranceSeconds} s from the gateway's clock (${now})` };
  }
  const offered = signatures
    .split(' ')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('v1,'))
    .map((s) => Buffer.from(s.slice(3), 'base64'));
  if (offered.length === 0) return { ok: false, reason: 'Expected webhook-signature to hold one or more "v1,<base64>" signatures' };
  for (const secret of secrets) {
    const expected = Buffer.from(signWebhook(secret, id, timestamp, body).slice(3), 'base64');
    if (offered.some((sig) => sig.length === expected.length && timingSafeEqual(sig, expected))) return { ok: true, id, timestamp };
  }
  return { ok: false, reason: 'No signature in webhook-signature matches the body with the configured secret(s)' };
}
