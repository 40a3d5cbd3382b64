import type { EventLog, NewEvent, StoredEvent } from '../events/log.js';
import type { Metrics } from './metrics.js';
import { isPollable, type Pollable } from '../pollable.js';

/**
 * The gateway's event log, counted: events received (every append, webhooks and
 * watchers alike), stored, deduplicated (a delivery sent again), and delivered
 * to subscriptions. Counting at the log, the one place every event passes on
 * its way in and out, keeps the receiver, the watchers and the subscription
 * resolvers free of metrics and leaves none of them uncounted.
 */
export function observeEventLog(log: EventLog, metrics: Pick<Metrics, 'eventsReceived' | 'eventsStored' | 'eventsDeduplicated' | 'eventsDelivered'>): EventLog {
  // The delivered counter's child per platform, looked up once: it is bumped once per subscriber per event.
  const children = new Map<string, { inc(): void }>();
  const delivered = (platform: string) => {
    let child = children.get(platform);
    if (!child) children.set(platform, (child = metrics.eventsDelivered.labels({ platform })));
    return child;
  };
  return {
    get kind() {
      return log.kind;
    },
    async append(events, options) {
      const byPlatform = countByPlatform(events);
      for (const [platform, count] of byPlatform) metrics.eventsReceived.inc({ platform }, count);
      const result = await log.append(events, options);
      const counter = result.duplicate ? metrics.eventsDeduplicated : metrics.eventsStored;
      for (const [platform, count] of byPlatform) counter.inc({ platform }, count);
      return result;
    },
    read: (options) => log.read(options),
    head: () => log.head(),
    follow(options) {
      return countDelivered(log.follow(options), delivered);
    },
    addDeadLetter: (letter) => log.addDeadLetter(letter),
    readDeadLetters: (options) => log.readDeadLetters(options),
    close: () => log.close(),
  };
}

function countByPlatform(events: readonly NewEvent[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const event of events) counts.set(event.platform, (counts.get(event.platform) ?? 0) + 1);
  return counts;
}

/** A follower whose every event counts as delivered to its subscription. */
function countDelivered(inner: AsyncIterableIterator<StoredEvent>, delivered: (platform: string) => { inc(): void }): AsyncIterableIterator<StoredEvent> & Partial<Pollable<StoredEvent>> {
  const count = (result: IteratorResult<StoredEvent>) => {
    if (!result.done) delivered(result.value.platform).inc();
    return result;
  };
  const follower: AsyncIterableIterator<StoredEvent> & Partial<Pollable<StoredEvent>> = {
    [Symbol.asyncIterator]: () => follower,
    next: () => inner.next().then(count),
    // Read on synchronously while the log has events at hand (a fan-out to many subscribers).
    poll: isPollable<StoredEvent>(inner)
      ? () => {
          const result = inner.poll();
          return result === undefined ? undefined : result instanceof Promise ? result.then(count) : count(result);
        }
      : undefined,
    waitReady: (callback: () => void) => isPollable<StoredEvent>(inner) && inner.waitReady(callback),
    whenFailed: (callback: (error: Error) => void) => {
      if (isPollable<StoredEvent>(inner)) inner.whenFailed(callback);
    },
    return: (value?: unknown) => inner.return?.(value) ?? Promise.resolve({ done: true, value: undefined }),
    throw: (error?: unknown) => inner.throw?.(error) ?? Promise.reject(error),
  };
  return follower;
}
