/**
 * An event as Switchboard carries it, whatever platform sent it. Each platform's
 * `webhooks.ts` turns its own webhook payloads into these.
 */
export interface NormalizedEvent {
  /** The platform key (`cloudlx`, `ixc` …). */
  platform: string;
  /**
   * Dotted, lower-case, prefixed by the platform: `ixc.device.rebooted`,
   * `cloudlx.bandwidth_threshold.port`; a watcher's change is
   * `<platform>.<service>.<created|updated|deleted>` (see watchers.ts).
   */
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

/** The states of an asynchronous upstream action (`Subscription.operation`). */
export type OperationState = 'PENDING' | 'SUCCESS' | 'FAILURE' | 'TIMEOUT';

/**
 * How a platform's asynchronous actions are followed: read their state now, and
 * tell the state an event of theirs moves them to. `TScope` is the platform's
 * per-request scope (its client and loaders).
 */
export interface PlatformOperations<TScope = any> {
  /** The action's state now and the platform's record of it (tagged with its GraphQL type); null when the platform does not know the protocol. */
  read(scope: TScope, protocol: string): Promise<{ state: OperationState; record: object } | null>;
  /** The state an event carrying the action's protocol moves it to; null when the event does not change it. */
  stateAfter(event: NormalizedEvent): OperationState | null;
}

export interface PlatformWebhooks {
  /**
   * Turns one delivery's parsed JSON body into events. Throws `BadUserInputError`
   * saying what was expected and what came when the payload is not one the
   * platform sends.
   */
  normalize(payload: unknown): NormalizedEvent[];
  /**
   * The payload with the platform's secrets removed, as it is kept (the event's
   * `raw`, a dead letter's body): TR-069 passwords in an IXC parameters event, say.
   */
  redact?(payload: unknown): unknown;
  /** The GraphQL type of each event type the platform documents (`ixc.device.rebooted` → `IxcDeviceRebootedEvent`); others are `GenericEvent`. */
  readonly eventTypes?: Readonly<Record<string, string>>;
  /** Resolvers of those GraphQL types (typed with the generated `Resolvers`). */
  readonly resolvers?: object;
  /** The platform's asynchronous actions, for `Subscription.operation(protocol)`. */
  readonly operations?: PlatformOperations;
}
