import { randomUUID } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/core/clock.js';
import { FileEventLog } from '../src/core/events/file-log.js';
import { EventFollowerOverflowError, type EventLog, type EventLogOptions, type NewEvent, type StoredEvent } from '../src/core/events/log.js';
import { MemoryEventLog } from '../src/core/events/memory-log.js';
import { RedisEventLog } from '../src/core/events/redis-log.js';
import { BadUserInputError } from '../src/core/upstream/errors.js';

/**
 * One conformance suite over the three event logs: the embedded file, memory,
 * and Redis Streams (the local Redis, under a key prefix of this file's own).
 * Order under 1,000 concurrent appends, replay after a cursor, following with
 * no gap and no duplicate at the seam between replay and live, dedupe,
 * retention by count and by age (on a ManualClock), and the bound on a
 * follower that stops reading.
 */

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const REDIS_PREFIX = `switchboard-test:events-log:${randomUUID()}:`;
const folders: string[] = [];
const opened: EventLog[] = [];
let redisLogs = 0;

interface Kind {
  name: 'memory' | 'file' | 'redis';
  /** Events beyond `maxEvents` a log may keep a while (Redis trims whole stream nodes, `MAXLEN ~`). */
  countSlack: number;
  open(options: EventLogOptions, place?: string): Promise<EventLog>;
}

const kinds: Kind[] = [
  { name: 'memory', countSlack: 0, open: async (options) => new MemoryEventLog(options) },
  {
    name: 'file',
    countSlack: 0,
    open: async (options, place) => FileEventLog.open({ ...options, dir: place ?? (await newFolder()) }),
  },
  {
    name: 'redis',
    countSlack: 200,
    open: (options, place) => RedisEventLog.connect({ ...options, url: REDIS_URL, keyPrefix: place ?? `${REDIS_PREFIX}${++redisLogs}:` }),
  },
];

async function newFolder(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'switchboard-events-'));
  folders.push(folder);
  return folder;
}

function settings(overrides: Partial<EventLogOptions> = {}): EventLogOptions {
  return { maxEvents: 100_000, maxAgeMs: 7 * 86_400_000, now: () => Date.now(), followerBuffer: 10_000, maxDeadLetters: 100, ...overrides };
}

function event(n: number, now = Date.now()): NewEvent {
  const at = new Date(now).toISOString();
  return { id: `test:${n}`, platform: 'ixc', type: 'ixc.device.rebooted', occurredAt: at, receivedAt: at, subject: `S${n}`, protocol: `p-${n % 3}`, data: { n }, raw: { n } };
}

async function take(iterator: AsyncIterator<StoredEvent>, count: number): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  while (out.length < count) {
    const next = await iterator.next();
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

const ns = (events: readonly StoredEvent[]) => events.map((e) => (e.data as { n: number }).n);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

afterEach(async () => {
  await Promise.all(opened.splice(0).map((log) => log.close()));
});

afterAll(async () => {
  await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${REDIS_PREFIX}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

describe.each(kinds)('the $name event log', (kind) => {
  async function open(overrides: Partial<EventLogOptions> = {}, place?: string): Promise<EventLog> {
    const log = await kind.open(settings(overrides), place);
    opened.push(log);
    return log;
  }

  it('keeps the order appends were made in under 1,000 concurrent appends, and a follower sees the same order', async () => {
    const log = await open();
    const follower = log.follow({ after: '0' });
    const results = await Promise.all(range(0, 1_000).map((n) => log.append([event(n)], { dedupeKey: `k${n}` })));
    const cursors = results.map((r) => r.cursors[0]!);
    expect(results.every((r) => !r.duplicate && r.cursors.length === 1)).toBe(true);
    expect(new Set(cursors).size).toBe(1_000);
    const stored = await log.read({ limit: 2_000 });
    expect(ns(stored)).toEqual(range(0, 1_000));
    expect(stored.map((e) => e.cursor)).toEqual(cursors);
    expect(ns(await take(follower, 1_000))).toEqual(range(0, 1_000));
    await follower.return?.();
  });

  it('replays after a cursor, oldest first, with the filter applied', async () => {
    const log = await open();
    const { cursors } = await log.append(range(0, 30).map((n) => event(n)));
    expect(ns(await log.read({ after: cursors[9], limit: 5 }))).toEqual([10, 11, 12, 13, 14]);
    expect(ns(await log.read({ after: cursors[29], limit: 5 }))).toEqual([]);
    expect(ns(await log.read({ after: '0', limit: 3 }))).toEqual([0, 1, 2]);
    expect(ns(await log.read({ after: cursors[9], limit: 4, filter: { protocol: 'p-2' } }))).toEqual([11, 14, 17, 20]);
    expect(ns(await log.read({ limit: 5, filter: { platforms: ['cloudlx'] } }))).toEqual([]);
    expect(ns(await log.read({ limit: 2, filter: { platforms: ['ixc'], types: ['ixc.device.rebooted'] } }))).toEqual([0, 1]);
    expect(await log.head()).toBe(cursors[29]);
  });

  it('follows after a cursor with no gap and no duplicate at the seam, while appends keep coming', async () => {
    const log = await open();
    const first = await Promise.all(range(0, 100).map((n) => log.append([event(n)])));
    // Appends racing the follower's start: some land before it registers, some after.
    const racing = Promise.all(range(100, 300).map((n) => log.append([event(n)])));
    const follower = log.follow({ after: first[49]!.cursors[0] });
    const seen = await take(follower, 250);
    await racing;
    expect(ns(seen)).toEqual(range(50, 300));
    // Nothing more comes after the last one: no duplicate was waiting.
    const late = follower.next();
    await log.append([event(300)]);
    expect(ns([(await late).value as StoredEvent])).toEqual([300]);
    await follower.return?.();
  });

  it('follows only what comes next without a cursor, and ends at once on return() or abort while waiting', async () => {
    const log = await open();
    await log.append([event(0)]);
    const follower = log.follow({});
    const waiting = follower.next();
    await log.append([event(1)]);
    expect(ns([(await waiting).value as StoredEvent])).toEqual([1]);
    const pending = follower.next();
    await follower.return?.();
    expect(await pending).toEqual({ done: true, value: undefined });

    const abort = new AbortController();
    const aborted = log.follow({ after: '0', signal: abort.signal });
    expect(ns(await take(aborted, 2))).toEqual([0, 1]);
    const stuck = aborted.next();
    abort.abort();
    expect(await stuck).toEqual({ done: true, value: undefined });
  });

  it('stores a delivery once when its dedupe key comes twice, one after the other or at once', async () => {
    const log = await open();
    const first = await log.append([event(1), event(2)], { dedupeKey: 'ixc:msg_a' });
    const again = await log.append([event(1), event(2)], { dedupeKey: 'ixc:msg_a' });
    expect(first.duplicate).toBe(false);
    expect(again).toEqual({ duplicate: true, cursors: first.cursors });
    const both = await Promise.all([log.append([event(3)], { dedupeKey: 'ixc:msg_b' }), log.append([event(3)], { dedupeKey: 'ixc:msg_b' })]);
    expect(both.map((r) => r.duplicate).sort()).toEqual([false, true]);
    expect(both[0]!.cursors).toEqual(both[1]!.cursors);
    expect(ns(await log.read({ limit: 10 }))).toEqual([1, 2, 3]);
    // A delivery that produced no event still dedupes.
    expect((await log.append([], { dedupeKey: 'ixc:msg_empty' })).duplicate).toBe(false);
    expect((await log.append([], { dedupeKey: 'ixc:msg_empty' })).duplicate).toBe(true);
  });

  it('keeps at most maxEvents, dropping the oldest', async () => {
    const log = await open({ maxEvents: 100 });
    for (let batch = 0; batch < 10; batch++) await Promise.all(range(batch * 100, batch * 100 + 100).map((n) => log.append([event(n)])));
    const kept = ns(await log.read({ limit: 5_000 }));
    expect(kept.slice(-100)).toEqual(range(900, 1_000));
    expect(kept.length).toBeLessThanOrEqual(100 + kind.countSlack);
    expect(kept).toEqual(range(1_000 - kept.length, 1_000));
  });

  it('drops events older than maxAgeMs on the gateway clock', async () => {
    const clock = new ManualClock();
    const log = await open({ maxAgeMs: 60_000, now: () => clock.now() });
    const old = await log.append([event(1, clock.now()), event(2, clock.now())], { dedupeKey: 'old' });
    await clock.advance(30_000);
    await log.append([event(3, clock.now())]);
    await clock.advance(30_001);
    expect(ns(await log.read({ limit: 10 }))).toEqual([3]);
    expect(ns(await log.read({ after: '0', limit: 10 }))).toEqual([3]);
    await log.append([event(4, clock.now())]);
    expect(ns(await take(log.follow({ after: old.cursors[0] }), 2))).toEqual([3, 4]);
    await clock.advance(60_001);
    expect(ns(await log.read({ limit: 10 }))).toEqual([]);
  });

  it('fails a follower that leaves more than its bound unread, telling it where to resume', async () => {
    const log = await open();
    const slow = log.follow({ maxBuffered: 10 });
    const fast = log.follow({});
    const first = slow.next();
    const { cursors } = await log.append([event(0)]);
    expect(((await first).value as StoredEvent).cursor).toBe(cursors[0]);
    // The slow follower stops reading; the other goes on.
    for (let n = 1; n <= 20; n++) await log.append([event(n)]);
    let failure: unknown;
    try {
      await take(slow, 20);
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(EventFollowerOverflowError);
    expect((failure as EventFollowerOverflowError).extensions).toEqual({ code: 'SUBSCRIBER_TOO_SLOW', lastCursor: cursors[0] });
    expect((failure as Error).message).toMatch(/more than 10 events behind .* subscribe again with after: /);
    expect(ns(await take(fast, 21))).toEqual(range(0, 21));
    // Resuming from the cursor it was given misses nothing.
    expect(ns(await take(log.follow({ after: cursors[0] }), 20))).toEqual(range(1, 21));
    await fast.return?.();
  });

  it('refuses a cursor that is not one of its own, saying what it expected', async () => {
    const log = await open();
    await expect(log.read({ after: 'yesterday', limit: 1 })).rejects.toBeInstanceOf(BadUserInputError);
    await expect(log.read({ after: 'yesterday', limit: 1 })).rejects.toThrow(/Expected `after` to be an event cursor .*"0" for the beginning.*got "yesterday"/);
    expect(() => log.follow({ after: '../etc' })).toThrow(BadUserInputError);
  });

  it('keeps dead letters once per webhook-id, oldest first', async () => {
    const log = await open({ maxDeadLetters: 10 });
    const letter = (id: string) => ({ platform: 'ixc', webhookId: id, receivedAt: new Date().toISOString(), reason: 'not JSON', contentType: 'text/plain', body: `body of ${id}` });
    expect(await log.addDeadLetter(letter('msg_1'))).toEqual({ duplicate: false });
    expect(await log.addDeadLetter(letter('msg_1'))).toEqual({ duplicate: true });
    await log.addDeadLetter(letter('msg_2'));
    const letters = await log.readDeadLetters({ limit: 10 });
    expect(letters.map((l) => l.webhookId)).toEqual(['msg_1', 'msg_2']);
    expect(letters[0]).toMatchObject({ platform: 'ixc', reason: 'not JSON', body: 'body of msg_1' });
    expect((await log.readDeadLetters({ after: letters[0]!.cursor, limit: 10 })).map((l) => l.webhookId)).toEqual(['msg_2']);
  });

  if (kind.name === 'redis') {
    it('is shared by two processes\' logs on one prefix: an append on one reaches a follower of the other, and dedupes across them', async () => {
      const place = `${REDIS_PREFIX}shared:`;
      const a = await open({}, place);
      const b = await open({}, place);
      const follower = b.follow({ after: await b.head() });
      const [one, two] = await Promise.all([a.append([event(1)], { dedupeKey: 'x' }), b.append([event(1)], { dedupeKey: 'x' })]);
      expect([one!.duplicate, two!.duplicate].sort()).toEqual([false, true]);
      await a.append([event(2)]);
      expect(ns(await take(follower, 2))).toEqual([1, 2]);
    });

    it('takes a cursor written with leading zeros as the stream id it names', async () => {
      const log = await open();
      const { cursors } = await log.append(range(0, 5).map((n) => event(n)));
      const [ms, seq] = cursors[1]!.split('-');
      const padded = `00${ms}-00${seq}`;
      expect(ns(await log.read({ after: padded, limit: 10 }))).toEqual([2, 3, 4]);
      const follower = log.follow({ after: padded });
      expect(ns(await take(follower, 3))).toEqual([2, 3, 4]);
      await log.append([event(5)]);
      expect(ns(await take(follower, 1))).toEqual([5]);
      await follower.return?.();
    });
  }

  if (kind.name === 'file') {
    it('keeps events, sequence and dedupe keys across a restart, and cuts a torn last write', async () => {
      const folder = await newFolder();
      const log = await open({}, folder);
      const first = await log.append([event(1), event(2)], { dedupeKey: 'msg_a' });
      await log.close();
      // A crash in the middle of writing a delivery: half a line, never acknowledged.
      await appendFile(join(folder, 'events.jsonl'), '{"seq":3,"key":"msg_b","index":0,"of":2,"at":1,"event":{"id":"torn"');
      const reopened = await open({}, folder);
      expect(ns(await reopened.read({ limit: 10 }))).toEqual([1, 2]);
      expect(await reopened.append([event(1), event(2)], { dedupeKey: 'msg_a' })).toEqual({ duplicate: true, cursors: first.cursors });
      const next = await reopened.append([event(3)], { dedupeKey: 'msg_b' });
      expect(next).toEqual({ duplicate: false, cursors: ['3'] });
      expect((await readFile(join(folder, 'events.jsonl'), 'utf8')).endsWith('\n')).toBe(true);
    });

    it('drops a delivery torn between its events whole, so its retry is not taken for a duplicate', async () => {
      const folder = await newFolder();
      const log = await open({}, folder);
      await log.append([event(1)]);
      await log.close();
      const torn = { seq: 2, key: 'msg_c', index: 0, of: 2, at: Date.now(), event: event(2) };
      await appendFile(join(folder, 'events.jsonl'), `${JSON.stringify(torn)}\n`);
      const reopened = await open({}, folder);
      expect(ns(await reopened.read({ limit: 10 }))).toEqual([1]);
      expect(await reopened.append([event(2), event(3)], { dedupeKey: 'msg_c' })).toEqual({ duplicate: false, cursors: ['2', '3'] });
    });

    it('compacts the file when most of it has expired, and sequence numbers go on growing', async () => {
      const folder = await newFolder();
      const log = await open({ maxEvents: 100 }, folder);
      for (let batch = 0; batch < 30; batch++) await log.append(range(batch * 100, batch * 100 + 100).map((n) => event(n)));
      const file = join(folder, 'events.jsonl');
      const lines = (await readFile(file, 'utf8')).trim().split('\n');
      expect(lines.length).toBeLessThan(2_200);
      expect((await stat(file)).size).toBeGreaterThan(0);
      await log.close();
      const reopened = await open({ maxEvents: 100 }, folder);
      expect(ns(await reopened.read({ limit: 500 }))).toEqual(range(2_900, 3_000));
      expect((await reopened.append([event(3_000)])).cursors).toEqual(['3001']);
    });

    it('refuses a second gateway on the same folder, naming what to do', async () => {
      const folder = await newFolder();
      await open({}, folder);
      await expect(FileEventLog.open({ ...settings(), dir: folder })).rejects.toThrow(/another gateway \(pid \d+\) is using the event log .*own DATA_DIR.*REDIS_URL/);
    });
  }
});
