import { BadUserInputError } from '../upstream/errors.js';
import {
  EventFollowerOverflowError,
  EventLogUnavailableError,
  FollowIterator,
  TurnBudget,
  matchesFilter,
  type AppendResult,
  type DeadLetter,
  type EventFilter,
  type EventLog,
  type EventLogOptions,
  type NewDeadLetter,
  type NewEvent,
  type StoredEvent,
} from './log.js';

/** One event in an in-process log, with what the file log writes beside it. */
export interface LogEntry {
  seq: number;
  /** `receivedAt` in epoch ms: retention by age. */
  at: number;
  /** The delivery's dedupe key, and this event's place among the delivery's events (a torn delivery is dropped whole on recovery). */
  key: string | undefined;
  index: number;
  count: number;
  event: StoredEvent;
}

/** A dedupe key and the cursors its first delivery got. */
export interface KnownKey {
  key: string;
  cursors: string[];
  /** The last sequence number the delivery had (or the log's head, for a delivery with no events): the key goes when that event does. */
  seq: number;
  at: number;
}

interface PendingAppend {
  events: readonly NewEvent[];
  key: string | undefined;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

/** What one flush writes: the new entries, and the keys of deliveries that carried no event. */
export interface FlushBatch {
  entries: LogEntry[];
  emptyDeliveries: KnownKey[];
}

export const seqCursor = (seq: number): string => String(seq);

/**
 * The event log in this process's memory (EVENT_LOG=memory, and tests), and the
 * base of the embedded file log, which adds persistence through `persist`.
 *
 * Appends are grouped: every append that arrives while one batch is being made
 * durable goes into the next, so a burst of webhooks costs one disk flush, not
 * one each, and sequence numbers follow the order appends were called in.
 * Followers read the retained events in place, by position: nothing is copied
 * per follower, and a follower that stopped reading costs only its position.
 */
export class MemoryEventLog implements EventLog {
  readonly kind: 'memory' | 'file' = 'memory';
  /** Retained entries from index `first` on, in sequence order; sequence numbers are consecutive. */
  protected entries: LogEntry[] = [];
  protected first = 0;
  /** The newest sequence number handed out (0 before the first event). */
  protected lastSeq = 0;
  protected readonly keys = new Map<string, KnownKey>();
  protected deadLetters: DeadLetter[] = [];
  protected lastDeadLetterSeq = 0;
  private readonly deadLetterIds = new Set<string>();
  private deadLetterChain: Promise<unknown> = Promise.resolve();
  private readonly queue: PendingAppend[] = [];
  private flushing = false;
  private readonly followers = new Set<LocalFollower>();
  private readonly budget = new TurnBudget();
  protected closed = false;

  constructor(protected readonly options: EventLogOptions) {}

  async append(events: readonly NewEvent[], options: { dedupeKey?: string } = {}): Promise<AppendResult> {
    if (this.closed) throw new EventLogUnavailableError('The event log is closed (the gateway is shutting down)');
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ events, key: options.dedupeKey, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        queueMicrotask(() => void this.flushLoop());
      }
    });
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0);
        const now = this.options.now();
        this.dropExpiredKeys(now);
        let seq = this.lastSeq;
        const planned: FlushBatch = { entries: [], emptyDeliveries: [] };
        const batchKeys = new Map<string, KnownKey>();
        const outcomes: { item: PendingAppend; result: AppendResult; committed: boolean }[] = [];
        for (const item of batch) {
          const known = item.key === undefined ? undefined : (this.keys.get(item.key) ?? batchKeys.get(item.key));
          if (known) {
            outcomes.push({ item, result: { duplicate: true, cursors: known.cursors }, committed: this.keys.has(known.key) });
            continue;
          }
          const cursors: string[] = [];
          item.events.forEach((event, index) => {
            seq += 1;
            const stored: StoredEvent = { ...event, cursor: seqCursor(seq) };
            const at = Date.parse(event.receivedAt);
            planned.entries.push({ seq, at: Number.isNaN(at) ? now : at, key: item.key, index, count: item.events.length, event: stored });
            cursors.push(stored.cursor);
          });
          if (item.key !== undefined) {
            const known: KnownKey = { key: item.key, cursors, seq, at: now };
            batchKeys.set(item.key, known);
            if (item.events.length === 0) planned.emptyDeliveries.push(known);
          }
          outcomes.push({ item, result: { duplicate: false, cursors }, committed: false });
        }
        try {
          if (planned.entries.length > 0 || planned.emptyDeliveries.length > 0) await this.persist(planned);
        } catch (error) {
          const failure = new EventLogUnavailableError(`The event log could not store the events: ${(error as Error).message}`, { cause: error });
          for (const outcome of outcomes) {
            if (outcome.committed) outcome.item.resolve(outcome.result);
            else outcome.item.reject(failure);
          }
          continue;
        }
        for (const entry of planned.entries) this.entries.push(entry);
        for (const known of batchKeys.values()) this.keys.set(known.key, known);
        this.lastSeq = seq;
        this.applyRetention(now);
        await this.afterCommit(now);
        for (const outcome of outcomes) outcome.item.resolve(outcome.result);
        if (planned.entries.length > 0) this.wakeFollowers();
      }
    } finally {
      this.flushing = false;
      if (this.queue.length > 0 && !this.closed) {
        this.flushing = true;
        queueMicrotask(() => void this.flushLoop());
      }
    }
  }

  /** Makes a batch durable before it is committed; the memory log keeps nothing beyond the process. */
  protected async persist(_batch: FlushBatch): Promise<void> {}

  /** Runs after each committed batch (the file log compacts here). */
  protected async afterCommit(_now: number): Promise<void> {}

  /** Drops the oldest events beyond the count, and those older than the age limit. */
  protected applyRetention(now: number): void {
    const cutoff = now - this.options.maxAgeMs;
    while (this.first < this.entries.length) {
      const entry = this.entries[this.first]!;
      if (this.entries.length - this.first > this.options.maxEvents || entry.at < cutoff) this.first += 1;
      else break;
    }
    // Splice the dropped prefix off now and then, not at every event.
    if (this.first > 1024 && this.first * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.first);
      this.first = 0;
    }
    this.dropExpiredKeys(now);
  }

  /** A key lasts as long as the events of its delivery (and at most the age limit). */
  protected dropExpiredKeys(now: number): void {
    const firstSeq = this.firstSeq;
    const cutoff = now - this.options.maxAgeMs;
    for (const known of this.keys.values()) {
      if (known.seq < firstSeq || known.at < cutoff) this.keys.delete(known.key);
      else break;
    }
  }

  /** The sequence number of the oldest retained event (`lastSeq + 1` when none is kept). */
  protected get firstSeq(): number {
    return this.entries[this.first]?.seq ?? this.lastSeq + 1;
  }

  /** The entry with sequence number `seq`, if it is still retained. */
  entryAt(seq: number): LogEntry | undefined {
    const firstSeq = this.firstSeq;
    if (seq < firstSeq || seq > this.lastSeq) return undefined;
    return this.entries[this.first + (seq - firstSeq)];
  }

  get newestSeq(): number {
    return this.lastSeq;
  }

  /** Whether an entry is older than the age limit (kept until the next append, but no longer shown). */
  isExpired(entry: LogEntry): boolean {
    return entry.at < this.options.now() - this.options.maxAgeMs;
  }

  protected parseCursor(cursor: string | undefined, what = 'cursor'): number {
    if (cursor === undefined) return this.firstSeq - 1;
    if (!/^\d{1,15}$/.test(cursor)) {
      throw new BadUserInputError(`Expected \`after\` to be an event ${what} this gateway handed out (a whole number, or "0" for the beginning); got ${JSON.stringify(cursor)}`);
    }
    const seq = Number(cursor);
    if (seq > this.lastSeq) {
      throw new BadUserInputError(
        `The ${what} ${JSON.stringify(cursor)} is beyond the newest event of this gateway's log (${this.lastSeq}): it comes from another log (another gateway, or a DATA_DIR that was reset). Use "0" to read from the oldest event kept.`,
      );
    }
    return seq;
  }

  async read(options: { after?: string; limit: number; filter?: EventFilter }): Promise<StoredEvent[]> {
    let seq = Math.max(this.parseCursor(options.after), this.firstSeq - 1);
    const out: StoredEvent[] = [];
    while (out.length < options.limit && seq < this.lastSeq) {
      seq += 1;
      const entry = this.entryAt(seq);
      if (entry && !this.isExpired(entry) && matchesFilter(entry.event, options.filter)) out.push(entry.event);
    }
    return out;
  }

  async head(): Promise<string> {
    return seqCursor(this.lastSeq);
  }

  follow(options: { after?: string; filter?: EventFilter; signal?: AbortSignal; maxBuffered?: number }): AsyncIterableIterator<StoredEvent> {
    const start = options.after === undefined ? this.lastSeq : this.parseCursor(options.after);
    const follower = new LocalFollower(this, start, options.filter, options.maxBuffered ?? this.options.followerBuffer, options.signal, this.budget, () =>
      this.followers.delete(follower),
    );
    if (!follower.closed && !this.closed) this.followers.add(follower);
    return follower;
  }

  private wakeFollowers(): void {
    for (const follower of this.followers) follower.arrived();
  }

  addDeadLetter(letter: NewDeadLetter): Promise<{ duplicate: boolean }> {
    // One at a time: the check for a retried delivery and the write must not interleave.
    const added = this.deadLetterChain.then(async () => {
      if (this.deadLetterIds.has(`${letter.platform}:${letter.webhookId}`)) return { duplicate: true };
      const stored: DeadLetter = { ...letter, cursor: seqCursor(this.lastDeadLetterSeq + 1) };
      await this.persistDeadLetter(stored);
      this.lastDeadLetterSeq += 1;
      this.keepDeadLetter(stored);
      return { duplicate: false };
    });
    this.deadLetterChain = added.catch(() => undefined);
    return added;
  }

  protected keepDeadLetter(letter: DeadLetter): void {
    this.deadLetters.push(letter);
    this.deadLetterIds.add(`${letter.platform}:${letter.webhookId}`);
    while (this.deadLetters.length > this.options.maxDeadLetters) {
      const dropped = this.deadLetters.shift()!;
      this.deadLetterIds.delete(`${dropped.platform}:${dropped.webhookId}`);
    }
  }

  protected async persistDeadLetter(_letter: DeadLetter): Promise<void> {}

  async readDeadLetters(options: { after?: string; limit: number }): Promise<DeadLetter[]> {
    let after = 0;
    if (options.after !== undefined) {
      if (!/^\d{1,15}$/.test(options.after)) {
        throw new BadUserInputError(`Expected \`after\` to be a dead letter cursor (a whole number); got ${JSON.stringify(options.after)}`);
      }
      after = Number(options.after);
    }
    return this.deadLetters.filter((letter) => Number(letter.cursor) > after).slice(0, options.limit);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const follower of [...this.followers]) await follower.return();
    // Appends already queued still get their answer.
    while (this.flushing) await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * A follower of an in-process log: a position in the log. It reads retained
 * entries in place. Its "buffer" is the events appended past its position while
 * it was not waiting for one: beyond its bound it is failed at the next append.
 */
class LocalFollower extends FollowIterator {
  private position: number;
  private lastCursor: string | null = null;
  private waiting = false;

  constructor(
    private readonly log: MemoryEventLog,
    after: number,
    private readonly filter: EventFilter | undefined,
    private readonly maxBuffered: number,
    signal: AbortSignal | undefined,
    budget: TurnBudget,
    private readonly unregister: () => void,
  ) {
    super(signal, budget);
    this.position = after;
  }

  protected take(): StoredEvent | undefined {
    this.waiting = false;
    while (this.position < this.log.newestSeq) {
      this.position += 1;
      const entry = this.log.entryAt(this.position);
      // Gone (retention) or past its age: the replay goes on from the next kept one.
      if (!entry || this.log.isExpired(entry)) continue;
      if (matchesFilter(entry.event, this.filter)) {
        this.lastCursor = entry.event.cursor;
        return entry.event;
      }
    }
    this.waiting = true;
    return undefined;
  }

  protected override takeNow(): StoredEvent | undefined {
    return this.take();
  }

  protected override hasPending(): boolean {
    return this.position < this.log.newestSeq;
  }

  /** New entries were committed. */
  arrived(): void {
    if (!this.waiting && this.log.newestSeq - this.position > this.maxBuffered) {
      this.fail(new EventFollowerOverflowError(this.maxBuffered, this.lastCursor));
      return;
    }
    this.notify();
  }

  protected release(): void {
    this.unregister();
  }
}
