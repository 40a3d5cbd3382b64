/**
 * An event as Switchboard carries it, whatever platform sent it. Each platform's
 * `webhooks.ts` turns its own webhook payloads into these.
 */
export interface NormalizedEvent {
  /** The platform key (`cloudlx`, `ixc` …). */
  platform: string;
  /** Dotted, lower-case, prefixed by the platform: `ixc.device.rebooted`, `cloudlx.bandwidth_threshold.port`. */
  type: string;
  /** When it happened upstream, ISO-8601 UTC. */
  occurredAt: string;
  /** What it is about, in the platform's own terms: a device serial, a port reference. */
  subject: string | null;
  /** The upstream's correlation id for an asynchronous action (IXC's protocol), when there is one. */
  protocol: string | null;
  /** The payload's own fields, renamed to camelCase where the platform uses other casing. */
  data: Record<string, unknown>;
}

export interface PlatformWebhooks {
  /**
   * Turns one delivery's parsed JSON body into events. Throws `BadUserInputError`
   * saying what was expected and what came when the payload is not one the
   * platform sends.
   */
  normalize(payload: unknown): NormalizedEvent[];
}
