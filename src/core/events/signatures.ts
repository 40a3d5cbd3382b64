import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com/): none of the
 * four platforms documents a scheme, so every inbound webhook is verified this
 * way and the simulators sign what they send the same way (UPSTREAMS.md §5).
 *
 * The `standardwebhooks` package computes the signatures (secret decoding,
 * HMAC-SHA256 of `{id}.{timestamp}.{body}`). Its own `verify` is not used as
 * is because it reads the wall clock: the gateway checks the 5-minute tolerance
 * against its own clock (`infra.clock`, driven in tests), then compares every
 * `v1,` signature of the header, in constant time, with the one each
 * configured secret gives (several secrets during a rotation).
 *
 * Secrets look like `whsec_<base64 key>`.
 */

export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export function signWebhook(secret: string, id: string, timestamp: number, body: string | Buffer): string {
  return new Webhook(secret).sign(id, new Date(timestamp * 1000), body);
}

/** The three headers a signed delivery carries. */
export function webhookHeaders(secret: string, body: string | Buffer, id = `msg_${randomUUID()}`, timestamp = Math.floor(Date.now() / 1000)): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signWebhook(secret, id, timestamp, body),
  };
}

export type VerifyResult = { ok: true; id: string; timestamp: number } | { ok: false; reason: string };

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/**
 * Checks deliveries against a platform's secrets. Built once per platform: the
 * keys are decoded once, not per delivery.
 */
export class WebhookVerifier {
  private readonly webhooks: Webhook[];

  constructor(
    secrets: readonly string[],
    private readonly toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
  ) {
    this.webhooks = secrets.map((secret) => new Webhook(secret));
  }

  /**
   * `body` is the raw bytes as received. The reason says what was expected and
   * what came, so a sender can act on it, without echoing a secret or a signature.
   */
  verify(headers: Headers, body: string | Buffer, nowSeconds: number): VerifyResult {
    const one = (name: string) => {
      const value = headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const id = one('webhook-id');
    const timestampText = one('webhook-timestamp');
    const signatures = one('webhook-signature');
    const missing = [
      ['webhook-id', id],
      ['webhook-timestamp', timestampText],
      ['webhook-signature', signatures],
    ].filter(([, value]) => !value);
    if (missing.length > 0) {
      return {
        ok: false,
        reason: `Expected the Standard Webhooks headers webhook-id, webhook-timestamp and webhook-signature; missing: ${missing.map(([name]) => name).join(', ')}`,
      };
    }
    if (!/^\d{1,12}$/.test(timestampText!)) {
      return { ok: false, reason: `Expected webhook-timestamp to be whole seconds since the epoch; got ${JSON.stringify(timestampText!.slice(0, 40))}` };
    }
    const timestamp = Number(timestampText);
    const skew = nowSeconds - timestamp;
    if (skew > this.toleranceSeconds) {
      return {
        ok: false,
        reason: `webhook-timestamp ${timestamp} is ${skew} s older than the gateway's clock (${nowSeconds}); at most ${this.toleranceSeconds} s is accepted, against replays. Sign the delivery again with the current time (and check the sender's clock)`,
      };
    }
    if (-skew > this.toleranceSeconds) {
      return {
        ok: false,
        reason: `webhook-timestamp ${timestamp} is ${-skew} s ahead of the gateway's clock (${nowSeconds}); at most ${this.toleranceSeconds} s is accepted. Check the sender's clock`,
      };
    }
    const offered = signatures!
      .split(' ')
      .filter((s) => s.startsWith('v1,'))
      .map((s) => Buffer.from(s.slice(3), 'utf8'));
    if (offered.length === 0) {
      return { ok: false, reason: 'Expected webhook-signature to hold one or more space-separated "v1,<base64 HMAC-SHA256>" signatures; it holds none' };
    }
    if (this.webhooks.length === 0) {
      return { ok: false, reason: 'No webhook secret is configured for this platform on the gateway, so no delivery can be verified' };
    }
    const date = new Date(timestamp * 1000);
    for (const webhook of this.webhooks) {
      const expected = Buffer.from(webhook.sign(id!, date, body).slice(3), 'utf8');
      if (offered.some((sig) => sig.length === expected.length && timingSafeEqual(sig, expected))) return { ok: true, id: id!, timestamp };
    }
    return {
      ok: false,
      reason: `No signature in webhook-signature (${offered.length} offered) matches the body with the secret(s) configured for this platform: sign the exact bytes sent, as "{webhook-id}.{webhook-timestamp}.{body}", with the current secret`,
    };
  }
}

/** One-off check (tests, tools): `secrets` as configured, `now` in seconds. */
export function verifyWebhook(
  secrets: readonly string[],
  headers: Headers,
  body: string | Buffer,
  now = Math.floor(Date.now() / 1000),
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
): VerifyResult {
  return new WebhookVerifier(secrets, toleranceSeconds).verify(headers, body, now);
}
