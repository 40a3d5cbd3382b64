import type { NormalizedEvent } from './types.js';

/** An event as the log keeps it: the normalized event plus what the gateway adds on receipt. */
export interface StoredEvent extends NormalizedEvent {
  /** Unique per event: `<platform>:<delivery id>:<index in the delivery>` for webhooks, or the watcher's own. */
  id: string;
  /** When the gateway accepted it, ISO-8601 UTC. */
  receivedAt: string;
  /** The delivery's raw JSON payload (for webhooks), or the record (for watchers). */
  raw: unknown;
  /** Orders the event in its log; opaque to clients, compared only by the log. */
  cursor: string;
}

export interface EventFilter {
  platforms?: readonly string[];
  types?: readonly string[];
}

/**
 * The durable, ordered log of every event the gateway accepted: webhooks and
 * watcher changes go in, subscriptions and `Query.events` read out.
 *
 * Implementations: embedded (an append-only file in DATA_DIR, flushed before
 * `append` resolves; memory only where configured) and Redis Streams
 * (`REDIS_URL`, shared by every gateway process). Retention is bounded by count
 * and age.
 */
export interface EventLog {
  /**
   * Appends the events of one delivery, atomically and in order, and resolves
   * only once they are durable. `dedupeKey` (a `webhook-id`) makes a second
   * append with the same key a no-op that answers `{ duplicate: true }`, also
   * when both arrive at once.
   */
  append(events: readonly Omit<StoredEvent, 'cursor'>[], options?: { dedupeKey?: string }): Promise<{ duplicate: boolean; cursors: string[] }>;
  /** Stored events after `after` (exclusive; from the oldest kept when undefined), oldest first, at most `limit`. */
  read(options: { after?: string; limit: number; filter?: EventFilter }): Promise<StoredEvent[]>;
  /**
   * Every stored event after `after`, in order, then live ones as they are
   * appended (by any gateway sharing the log), with no gap and no duplicate at
   * the seam. Ends when `signal` aborts.
   */
  follow(options: { after?: string; filter?: EventFilter; signal: AbortSignal }): AsyncIterable<StoredEvent>;
  close(): Promise<void>;
}
