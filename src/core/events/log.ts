import type { NormalizedEvent } from './types.js';

/** An event as the log keeps it: the normalized event plus what the gateway adds on receipt. */
export interface StoredEvent extends NormalizedEvent {
  /** Unique per event: `<platform>:<delivery id>:<index in the delivery>` for webhooks, or the watcher's own. */
  id: string;
  /** When the gateway accepted it, ISO-8601 UTC (on the gateway's clock). */
  receivedAt: string;
  /** The delivery's raw JSON payload (for webhooks, secrets removed), or the record (for watchers). */
  raw: unknown;
  /** Orders the event in its log; opaque to clients, compared only by the log. */
  cursor: string;
}

/** An event before the log gives it its cursor. */
export type NewEvent = Omit<StoredEvent, 'cursor'>;

export interface EventFilter {
  /** Platform keys (`ixc`, `cloudlx` …); any when empty or absent. */
  platforms?: readonly string[];
  /** Event types (`ixc.device.rebooted` …); any when empty or absent. */
  types?: readonly string[];
  /** Only the events of one asynchronous action (IXC's protocol number). */
  protocol?: string;
}

export interface AppendResult {
  /** True when `dedupeKey` was seen before: nothing was stored this time. */
  duplicate: boolean;
  /** The cursors of the events stored by this append, or by the first append with the same key when it is still known. */
  cursors: string[];
}

/**
 * A delivery the gateway accepted as authentic (its signature verified) but
 * could not read: not JSON, or not a payload its platform's normalizer knows.
 * Kept so an operator can see what the platform sent and why it was refused.
 */
export interface NewDeadLetter {
  platform: string;
  /** The delivery's `webhook-id`. */
  webhookId: string;
  receivedAt: string;
  /** Why it was refused, as the sender was told (HTTP 400). */
  reason: string;
  contentType: string | null;
  /** The body: JSON with the platform's secrets removed, or the text as received (cut to `DEAD_LETTER_TEXT_LIMIT` characters). */
  body: unknown;
}

export interface DeadLetter extends NewDeadLetter {
  cursor: string;
}

/** The same, under the name the generated GraphQL types map it by (theirs is `DeadLetter`). */
export type StoredDeadLetter = DeadLetter;

/** How much of a body that is not JSON a dead letter keeps. */
export const DEAD_LETTER_TEXT_LIMIT = 4_096;

/**
 * The durable, ordered log of every event the gateway accepted: webhooks and
 * watcher changes go in, subscriptions and `Query.events` read out.
 *
 * Implementations: embedded (`FileEventLog`, an append-only file in DATA_DIR,
 * flushed to disk before `append` resolves; `MemoryEventLog` only where
 * configured) and Redis Streams (`RedisEventLog`, `REDIS_URL`, shared by every
 * gateway process). Retention is bounded by count and age.
 *
 * Cursors: `"0"` is before the first event of every log; otherwise a cursor is
 * one the log handed out (a sequence number for the embedded logs, a stream id
 * for Redis). A malformed cursor is a `BadUserInputError`.
 */
export interface EventLog {
  readonly kind: 'file' | 'memory' | 'redis';
  /**
   * Appends the events of one delivery, atomically and in order, and resolves
   * only once they are durable. `dedupeKey` (a `webhook-id`) makes a second
   * append with the same key a no-op that answers `{ duplicate: true }`, also
   * when both arrive at once. A key is remembered as long as the log keeps
   * events of its age.
   */
  append(events: readonly NewEvent[], options?: { dedupeKey?: string }): Promise<AppendResult>;
  /** Stored events after `after` (exclusive; from the oldest kept when undefined), oldest first, at most `limit`. */
  read(options: { after?: string; limit: number; filter?: EventFilter }): Promise<StoredEvent[]>;
  /** The cursor of the newest stored event, or `"0"` when there is none: following after it gets exactly what comes next. */
  head(): Promise<string>;
  /**
   * Every stored event after `after`, in order, then live ones as they are
   * appended (by any gateway sharing the log), with no gap and no duplicate at
   * the seam. Without `after`, only what is appended from now on.
   *
   * Bounded: a follower that lets more than `maxBuffered` live events (default:
   * the log's `followerBuffer`) pile up unread fails with
   * `EventFollowerOverflowError`; its consumer reconnects with its last cursor.
   * Ends when `signal` aborts or `return()` is called, at once even while
   * waiting for the next event.
   */
  follow(options: { after?: string; filter?: EventFilter; signal?: AbortSignal; maxBuffered?: number }): AsyncIterableIterator<StoredEvent>;
  /** Keeps a delivery that could not be read (once per `webhookId`). */
  addDeadLetter(letter: NewDeadLetter): Promise<{ duplicate: boolean }>;
  /** Dead letters after `after`, oldest first. */
  readDeadLetters(options: { after?: string; limit: number }): Promise<DeadLetter[]>;
  close(): Promise<void>;
}

export interface EventLogRetention {
  /** At most this many events are kept (the Redis log trims in whole stream nodes, so it may keep about 100 more). */
  maxEvents: number;
  /** Events older than this (by `receivedAt`) are dropped, in milliseconds. */
  maxAgeMs: number;
}

/** Settings shared by every implementation. */
export interface EventLogOptions extends EventLogRetention {
  /** The gateway's clock: `receivedAt`, retention by age. */
  now: () => number;
  /** Default bound of a follower's unread live events. */
  followerBuffer: number;
  /** Dead letters kept (the most recent). */
  maxDeadLetters: number;
}

/**
 * A follower read too slowly: more live events piled up for it than its bound.
 * The gateway and the other followers are unaffected; the subscriber is told
 * why and reconnects with the last cursor it received. `extensions.code` reaches
 * a GraphQL client as is (graphql-js copies an original error's extensions).
 */
export class EventFollowerOverflowError extends Error {
  readonly code = 'SUBSCRIBER_TOO_SLOW';
  readonly extensions: { code: string; lastCursor: string | null };
  constructor(maxBuffered: number, lastCursor: string | null) {
    super(
      `This subscriber fell more than ${maxBuffered} events behind the live stream and was disconnected so the gateway does not buffer without bound; ` +
        `subscribe again with after: ${lastCursor === null ? 'the last cursor you received' : JSON.stringify(lastCursor)} to get every event you missed, in order`,
    );
    this.name = 'EventFollowerOverflowError';
    this.extensions = { code: this.code, lastCursor };
  }
}

/** The event log cannot be reached or written (a full disk, Redis down): the webhook gets 503 and its sender retries. */
export class EventLogUnavailableError extends Error {
  readonly code = 'EVENT_LOG_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EventLogUnavailableError';
  }
}

export function matchesFilter(event: StoredEvent | NewEvent, filter: EventFilter | undefined): boolean {
  if (!filter) return true;
  if (filter.platforms?.length && !filter.platforms.includes(event.platform)) return false;
  if (filter.types?.length && !filter.types.includes(event.type)) return false;
  if (filter.protocol !== undefined && event.protocol !== filter.protocol) return false;
  return true;
}

/**
 * How long followers may keep the event loop in one turn. A follower catching
 * up (a backlog, or a burst handed to a thousand subscribers at once) runs
 * event after event in microtasks when its socket writes complete at once, and
 * would starve every other I/O: the webhooks being received wait behind it and
 * their senders time out. Past the budget, followers wait for the next turn, so
 * receiving keeps its share while delivery catches up. One per log, shared by
 * its followers; costs nothing while deliveries keep up.
 */
export class TurnBudget {
  private turnStartedAt = 0;
  private turnOpen = false;

  constructor(private readonly budgetMs = 10) {}

  /** True once the followers have run longer than the budget in this turn of the event loop. */
  exceeded(): boolean {
    const now = performance.now();
    if (!this.turnOpen) {
      this.turnOpen = true;
      this.turnStartedAt = now;
      setImmediate(() => (this.turnOpen = false));
    }
    return now - this.turnStartedAt > this.budgetMs;
  }

  /** Resolves in a later turn of the event loop, after pending I/O had its go. */
  static nextTurn(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * The pull side of a follower: an async iterator whose `return()` ends it at
 * once, even while a `next()` waits for an event (an async generator would
 * wait for that event first, keeping an unsubscribed follower alive until then).
 */
export abstract class FollowIterator implements AsyncIterableIterator<StoredEvent> {
  protected done = false;
  protected failure: Error | undefined;
  private wake: (() => void) | undefined;
  /** Set by `notify`, so a notification that lands while `take` runs is not lost. */
  private signalled = false;
  /** A reader waiting without a promise (`waitReady`). */
  private readyCallback: (() => void) | undefined;
  /** A reader that wants to hear of a failure at once (`whenFailed`). */
  private failedCallback: ((error: Error) => void) | undefined;
  private readonly onAbort = () => void this.return();

  constructor(
    private readonly signal?: AbortSignal,
    private readonly budget?: TurnBudget,
  ) {
    if (signal?.aborted) this.done = true;
    else signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The next matching event available now, undefined when it must wait. Throws to end the follower with an error. */
  protected abstract take(): Promise<StoredEvent | undefined> | StoredEvent | undefined;
  /** Lets go of what the follower holds (its registration in the log). */
  protected abstract release(): void;

  async next(): Promise<IteratorResult<StoredEvent>> {
    for (;;) {
      if (this.done) return { done: true, value: undefined };
      if (this.failure) {
        const failure = this.failure;
        this.finish();
        throw failure;
      }
      let event: StoredEvent | undefined;
      this.signalled = false;
      try {
        event = await this.take();
      } catch (error) {
        this.finish();
        throw error;
      }
      if (this.done) return { done: true, value: undefined };
      if (event) {
        if (this.budget?.exceeded()) {
          await TurnBudget.nextTurn();
          if (this.done) return { done: true, value: undefined };
        }
        return { done: false, value: event };
      }
      if (this.signalled) continue;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  async return(): Promise<IteratorResult<StoredEvent>> {
    this.finish();
    return { done: true, value: undefined };
  }

  async throw(error?: unknown): Promise<IteratorResult<StoredEvent>> {
    this.finish();
    throw error;
  }

  /**
   * The next event when one is at hand now, without a promise or a wait: a
   * consumer catching up (a thousand subscribers handed the same event, or a
   * backlog) reads on synchronously. Undefined when `next()` must be called
   * instead: nothing at hand, a read to await, a failure to throw, or the turn's
   * budget spent (`next()` then yields the event loop first).
   */
  poll(): IteratorResult<StoredEvent> | undefined {
    if (this.done) return { done: true, value: undefined };
    if (this.failure || this.budget?.exceeded()) return undefined;
    const event = this.takeNow();
    return event ? { done: false, value: event } : undefined;
  }

  /** The next matching event if it can be had synchronously, else undefined (and `next()` reads it). */
  protected takeNow(): StoredEvent | undefined {
    return undefined;
  }

  /**
   * After `poll()` found nothing: calls `callback` once (in a microtask) when
   * something may be there, and answers true; answers false when the reader
   * must call `next()` instead (a failure, the end, events still at hand).
   */
  waitReady(callback: () => void): boolean {
    if (this.done || this.failure || this.hasPending()) return false;
    this.readyCallback = callback;
    return true;
  }

  /** Calls `callback` (in a microtask) if this follower fails, now or later. */
  whenFailed(callback: (error: Error) => void): void {
    if (this.failure) {
      const failure = this.failure;
      queueMicrotask(() => callback(failure));
    } else this.failedCallback = callback;
  }

  /** Whether events may be at hand without waiting (`waitReady` must not wait then). Default: always, so readers call `next()`. */
  protected hasPending(): boolean {
    return true;
  }

  /** Something may be ready: a waiting `next()` looks again, as does a reader waiting in `waitReady`. */
  notify(): void {
    this.signalled = true;
    this.wake?.();
    const ready = this.readyCallback;
    if (ready) {
      this.readyCallback = undefined;
      queueMicrotask(ready);
    }
  }

  /** Ends the follower with `error` at its next read (at once if it is waiting). */
  fail(error: Error): void {
    if (this.done || this.failure) return;
    this.failure = error;
    this.release();
    this.notify();
    const failed = this.failedCallback;
    this.failedCallback = undefined;
    if (failed) queueMicrotask(() => failed(error));
  }

  get closed(): boolean {
    return this.done;
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.release();
    this.notify();
  }
}
