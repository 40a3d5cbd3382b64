import { Redis } from 'ioredis';
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

/**
 * The event log on Redis Streams (`REDIS_URL`): every gateway process on the
 * same Redis and prefix shares one log, so a webhook accepted by any of them
 * reaches the subscribers of all of them.
 *
 * - Append: one Lua script, so the dedupe key (SET with the retention age as
 *   TTL, holding the cursors of the first delivery) and the XADDs happen
 *   atomically: two deliveries of one webhook-id, even at once on two gateways,
 *   store once. Ids carry the gateway's clock (`<ms>-*`) so age retention
 *   follows the same clock as everything else; when another writer is ahead,
 *   Redis's own `*` keeps ids increasing. Trimming: `MAXLEN ~` on each XADD and
 *   `XTRIM MINID ~` for age (whole stream nodes, so a few more events may be
 *   kept for a while; reads never show one older than the age limit).
 * - Cursor: the stream id.
 * - Follow: one `XREAD BLOCK` loop per process on its own connection fans new
 *   entries out to this process's followers; a follower replays with
 *   `XRANGE (after` up to the last id the loop had handed out when it
 *   registered, then takes the live entries after it: no gap, no duplicate.
 *   Each follower's queue of live events is bounded.
 */

const APPEND_SCRIPT = `
if #KEYS > 1 then
  local known = redis.call('GET', KEYS[2])
  if known then return {1, known} end
end
local ids = {}
for i = 5, #ARGV do
  local id = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], ARGV[1] .. '-*', 'e', ARGV[i])
  if type(id) == 'table' and id.err then
    id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[i])
  end
  ids[#ids + 1] = id
end
redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[3])
local joined = table.concat(ids, ' ')
if #KEYS > 1 then redis.call('SET', KEYS[2], joined, 'PX', ARGV[4]) end
return {0, joined}
`;

const DEAD_LETTER_SCRIPT = `
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then
  return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'd', ARGV[3])
end
return false
`;

type AppendCommand = (numKeys: number, ...args: (string | number)[]) => Promise<[number, string]>;
type DeadLetterCommand = (numKeys: number, ...args: (string | number)[]) => Promise<string | null>;

export interface RedisEventLogOptions extends EventLogOptions {
  url: string;
  /** Put before every key (`switchboard:events:`): gateways sharing a prefix share a log. */
  keyPrefix: string;
  /** Connection trouble, for the gateway's log (never with the URL's password). */
  report?: (message: string) => void;
  /** Live entries read per XREAD. */
  readBatch?: number;
}

const ID = /^(\d{1,16})-(\d{1,16})$/;

function compareIds(a: string, b: string): number {
  // Every follower compares every live entry, so without allocating: both parts are decimal
  // numbers without leading zeros, so a longer part is a larger number, and parts of equal length
  // compare digit by digit.
  if (a === b) return 0;
  const da = a.indexOf('-');
  const db = b.indexOf('-');
  if (da < 0 || db < 0) {
    const [am, as] = splitId(a);
    const [bm, bs] = splitId(b);
    return am !== bm ? am - bm : as - bs;
  }
  if (da !== db) return da - db;
  for (let i = 0; i < da; i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) return a.charCodeAt(i) - b.charCodeAt(i);
  const sa = a.length - da;
  const sb = b.length - db;
  if (sa !== sb) return sa - sb;
  for (let i = da + 1; i < a.length; i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) return a.charCodeAt(i) - b.charCodeAt(i);
  return 0;
}

function splitId(id: string): [number, number] {
  const dash = id.indexOf('-');
  return dash < 0 ? [Number(id), 0] : [Number(id.slice(0, dash)), Number(id.slice(dash + 1))];
}

export class RedisEventLog implements EventLog {
  readonly kind = 'redis' as const;
  private readonly stream: string;
  private readonly deadLetterStream: string;
  private readonly appendCommand: AppendCommand;
  private readonly deadLetterCommand: DeadLetterCommand;
  private reader: Redis | undefined;
  private loopReady: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  /** The id of the last entry the loop handed to followers. */
  private lastDispatched = '0-0';
  private readonly followers = new Set<RedisFollower>();
  private readonly budget = new TurnBudget();
  private closed = false;

  private constructor(
    private readonly redis: Redis,
    private readonly options: RedisEventLogOptions,
  ) {
    this.stream = `${options.keyPrefix}log`;
    this.deadLetterStream = `${options.keyPrefix}dead-letters`;
    redis.defineCommand('switchboardAppendEvents', { lua: APPEND_SCRIPT });
    redis.defineCommand('switchboardAddDeadLetter', { lua: DEAD_LETTER_SCRIPT });
    const commands = redis as unknown as { switchboardAppendEvents: AppendCommand; switchboardAddDeadLetter: DeadLetterCommand };
    this.appendCommand = commands.switchboardAppendEvents.bind(redis);
    this.deadLetterCommand = commands.switchboardAddDeadLetter.bind(redis);
  }

  /** Connects, or fails with a message that names the host, never the password. */
  static async connect(options: RedisEventLogOptions): Promise<RedisEventLog> {
    const redis = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 5_000 });
    let reported = false;
    redis.on('error', (error: Error) => {
      // ioredis reconnects by itself; one line per outage, not one per retry.
      if (!reported) options.report?.(`event log: Redis connection trouble (${(error as NodeJS.ErrnoException).code ?? error.message}); reconnecting`);
      reported = true;
    });
    redis.on('ready', () => (reported = false));
    try {
      await redis.connect();
    } catch (error) {
      redis.disconnect();
      const where = safeHost(options.url);
      throw new Error(`could not connect to Redis at ${where} for the event log (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
    const log = new RedisEventLog(redis, options);
    // Live from the start, so a follower registers at once (its "from now" is the moment it was asked for).
    await log.startLoop();
    return log;
  }

  async append(events: readonly NewEvent[], options: { dedupeKey?: string } = {}): Promise<AppendResult> {
    if (this.closed) throw new EventLogUnavailableError('The event log is closed (the gateway is shutting down)');
    const now = this.options.now();
    const keys = options.dedupeKey === undefined ? [this.stream] : [this.stream, `${this.options.keyPrefix}dedupe:${options.dedupeKey}`];
    let reply: [number, string];
    try {
      reply = await this.appendCommand(
        keys.length,
        ...keys,
        now,
        this.options.maxEvents,
        Math.max(0, now - this.options.maxAgeMs),
        this.options.maxAgeMs,
        ...events.map((event) => JSON.stringify(event)),
      );
    } catch (error) {
      throw new EventLogUnavailableError(`The event log (Redis) could not store the events: ${(error as Error).message}`, { cause: error });
    }
    const [duplicate, joined] = reply;
    return { duplicate: duplicate === 1, cursors: joined ? joined.split(' ') : [] };
  }

  private parseCursor(cursor: string): string {
    if (cursor === '0') return '0-0';
    const parts = ID.exec(cursor);
    if (!parts) {
      throw new BadUserInputError(`Expected \`after\` to be an event cursor this gateway handed out (a Redis stream id such as "1767225600000-0", or "0" for the beginning); got ${JSON.stringify(cursor)}`);
    }
    // The canonical form (no leading zeros), as Redis writes ids: compareIds relies on it.
    return `${BigInt(parts[1]!)}-${BigInt(parts[2]!)}`;
  }

  private get oldestAllowedMs(): number {
    return this.options.now() - this.options.maxAgeMs;
  }

  /** Entries in (`after`, `until`], oldest first, at most `count`; the last id read, for paging on. */
  async range(after: string, until: string, count: number): Promise<{ events: StoredEvent[]; lastId: string | undefined }> {
    let entries: [string, string[]][];
    try {
      entries = await this.redis.xrange(this.stream, `(${after}`, until, 'COUNT', count);
    } catch (error) {
      throw new EventLogUnavailableError(`The event log (Redis) could not be read: ${(error as Error).message}`, { cause: error });
    }
    const oldest = this.oldestAllowedMs;
    const events: StoredEvent[] = [];
    for (const [id, fields] of entries) {
      if (splitId(id)[0] < oldest) continue;
      const event = decode(id, fields);
      if (event) events.push(event);
    }
    return { events, lastId: entries[entries.length - 1]?.[0] };
  }

  async read(options: { after?: string; limit: number; filter?: EventFilter }): Promise<StoredEvent[]> {
    let after = options.after === undefined ? '0-0' : this.parseCursor(options.after);
    const out: StoredEvent[] = [];
    while (out.length < options.limit) {
      const page = await this.range(after, '+', Math.max(100, options.limit));
      for (const event of page.events) {
        if (matchesFilter(event, options.filter)) out.push(event);
        if (out.length === options.limit) break;
      }
      if (!page.lastId) break;
      after = page.lastId;
    }
    return out;
  }

  async head(): Promise<string> {
    try {
      const [last] = await this.redis.xrevrange(this.stream, '+', '-', 'COUNT', 1);
      return last ? last[0] : '0';
    } catch (error) {
      throw new EventLogUnavailableError(`The event log (Redis) could not be read: ${(error as Error).message}`, { cause: error });
    }
  }

  follow(options: { after?: string; filter?: EventFilter; signal?: AbortSignal; maxBuffered?: number }): AsyncIterableIterator<StoredEvent> {
    const after = options.after === undefined ? undefined : this.parseCursor(options.after);
    const follower: RedisFollower = new RedisFollower(
      this,
      after,
      options.filter,
      options.maxBuffered ?? this.options.followerBuffer,
      options.signal,
      this.budget,
      () => this.followers.delete(follower),
    );
    return follower;
  }

  /** Registers a follower with the live loop; answers the last id handed out before it (the end of its replay). */
  async register(follower: RedisFollower): Promise<string> {
    await this.startLoop();
    if (this.closed) throw new EventLogUnavailableError('The event log is closed (the gateway is shutting down)');
    // Same tick as reading lastDispatched: every entry after it will reach this follower's queue.
    this.followers.add(follower);
    return this.lastDispatched;
  }

  startLoop(): Promise<void> {
    this.loopReady ??= (async () => {
      const head = await this.head();
      this.lastDispatched = head === '0' ? '0-0' : head;
      this.reader = this.redis.duplicate({ commandTimeout: undefined, enableOfflineQueue: true, maxRetriesPerRequest: null });
      this.reader.on('error', () => undefined); // reported by the main connection; the loop retries
      this.loop = this.readLive();
    })().catch((error: unknown) => {
      this.loopReady = undefined;
      throw error;
    });
    return this.loopReady;
  }

  private async readLive(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      try {
        const reply = (await this.reader!.xread('COUNT', this.options.readBatch ?? 500, 'BLOCK', 5_000, 'STREAMS', this.stream, this.lastDispatched)) as
          | [string, [string, string[]][]][]
          | null;
        failures = 0;
        if (!reply) continue;
        for (const [, entries] of reply) {
          for (const [id, fields] of entries) {
            this.lastDispatched = id;
            const event = decode(id, fields);
            if (!event) continue;
            for (const follower of this.followers) follower.push(event);
          }
        }
      } catch (error) {
        if (this.closed) return;
        failures += 1;
        if (failures === 1) this.options.report?.(`event log: reading new events from Redis failed (${(error as Error).message}); retrying`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 100 * 2 ** Math.min(failures, 6))));
      }
    }
  }

  async addDeadLetter(letter: NewDeadLetter): Promise<{ duplicate: boolean }> {
    try {
      const id = await this.deadLetterCommand(
        2,
        this.deadLetterStream,
        `${this.options.keyPrefix}dead-letter:${letter.platform}:${letter.webhookId}`,
        this.options.maxAgeMs,
        this.options.maxDeadLetters,
        JSON.stringify(letter),
      );
      return { duplicate: id === null };
    } catch (error) {
      throw new EventLogUnavailableError(`The event log (Redis) could not keep the dead letter: ${(error as Error).message}`, { cause: error });
    }
  }

  async readDeadLetters(options: { after?: string; limit: number }): Promise<DeadLetter[]> {
    const after = options.after === undefined ? '0-0' : this.parseCursor(options.after);
    const entries = await this.redis.xrange(this.deadLetterStream, `(${after}`, '+', 'COUNT', options.limit);
    const letters: DeadLetter[] = [];
    for (const [id, fields] of entries) {
      const text = fieldOf(fields, 'd');
      if (text === undefined) continue;
      letters.push({ ...(JSON.parse(text) as NewDeadLetter), cursor: id });
    }
    return letters;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const follower of [...this.followers]) await follower.return();
    this.reader?.disconnect();
    await this.loop?.catch(() => undefined);
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** A follower of the Redis log: a replay read page by page, then its bounded queue of live entries. */
class RedisFollower extends FollowIterator {
  private readonly started: Promise<void>;
  /** Replay position and end; undefined once the replay is done (or when there is none). */
  private replayAfter: string | undefined;
  private replayUntil = '0-0';
  private replayPage: StoredEvent[] = [];
  private readonly queue: StoredEvent[] = [];
  private lastCursor: string | null = null;
  /** Registered and its replay's end known: from then on, once the replay is read, events come from the live queue. */
  private ready = false;

  constructor(
    private readonly log: RedisEventLog,
    after: string | undefined,
    private readonly filter: EventFilter | undefined,
    private readonly maxBuffered: number,
    signal: AbortSignal | undefined,
    budget: TurnBudget,
    private readonly unregister: () => void,
  ) {
    super(signal, budget);
    this.replayAfter = after;
    // Its position: nothing at or before it is yielded, from the replay or the live queue.
    if (after !== undefined && after !== '0-0') this.lastCursor = after;
    // Registered now, not at the first read: live events from this moment on are queued for it.
    // Without a cursor, what the log held when it was asked for is not "live": the head read now skips it.
    this.started = Promise.all([this.log.register(this), after === undefined ? this.log.head() : undefined]).then(([until, head]) => {
      this.replayUntil = until;
      if (this.replayAfter !== undefined && compareIds(this.replayAfter, until) >= 0) this.replayAfter = undefined;
      if (head !== undefined && head !== '0') this.lastCursor = head;
      this.ready = true;
      if (this.done) this.unregister();
    });
    // A failure shows at the first read, not as an unhandled rejection.
    this.started.catch(() => undefined);
  }

  protected take(): Promise<StoredEvent | undefined> | StoredEvent | undefined {
    // Live and replayed: no promise per event.
    return this.ready && this.replayAfter === undefined && this.replayPage.length === 0 ? this.takeLive() : this.takeReplay();
  }

  private async takeReplay(): Promise<StoredEvent | undefined> {
    await this.started;
    for (;;) {
      const fromReplay = this.replayPage.shift();
      if (fromReplay) return this.yielded(fromReplay);
      if (this.replayAfter === undefined) break;
      const page = await this.log.range(this.replayAfter, this.replayUntil, 200);
      if (!page.lastId) {
        this.replayAfter = undefined;
        break;
      }
      this.replayAfter = page.lastId;
      this.replayPage = page.events.filter((event) => matchesFilter(event, this.filter));
    }
    return this.takeLive();
  }

  protected override takeNow(): StoredEvent | undefined {
    // Replay pages are read from Redis: only \`next()\` reads those.
    if (!this.ready || this.replayAfter !== undefined || this.replayPage.length > 0) return undefined;
    return this.takeLive();
  }

  protected override hasPending(): boolean {
    return !this.ready || this.replayAfter !== undefined || this.replayPage.length > 0 || this.queue.length > 0;
  }

  private takeLive(): StoredEvent | undefined {
    for (;;) {
      const live = this.queue.shift();
      if (!live) return undefined;
      if (this.lastCursor !== null && compareIds(live.cursor, this.lastCursor) <= 0) continue;
      return this.yielded(live);
    }
  }

  private yielded(event: StoredEvent): StoredEvent {
    this.lastCursor = event.cursor;
    return event;
  }

  /** A live entry from the loop. */
  push(event: StoredEvent): void {
    if (this.done || compareIds(event.cursor, this.replayUntil) <= 0 || !matchesFilter(event, this.filter)) return;
    if (this.queue.length >= this.maxBuffered) {
      this.queue.length = 0;
      this.fail(new EventFollowerOverflowError(this.maxBuffered, this.lastCursor));
      return;
    }
    this.queue.push(event);
    this.notify();
  }

  protected release(): void {
    this.queue.length = 0;
    this.unregister();
  }
}

function fieldOf(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

function decode(id: string, fields: string[]): StoredEvent | undefined {
  const text = fieldOf(fields, 'e');
  if (text === undefined) return undefined;
  return { ...(JSON.parse(text) as NewEvent), cursor: id };
}

function safeHost(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return 'the configured URL';
  }
}
