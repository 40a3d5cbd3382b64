import type { Platform, Resolvers } from '../../__generated__/resolvers-types.js';
import type { GraphQLContext } from '../../context.js';
import { pageSize, type Connection } from '../graphql/connection.js';
import type { PlatformModule } from '../platform.js';
import { ForbiddenError, NotFoundError, SwitchboardError } from '../upstream/errors.js';
import type { WatchEventData } from './watchers.js';
import type { EventFilter, EventLog, StoredEvent } from './log.js';
import type { OperationState, PlatformOperations } from './types.js';

/** What `Subscription.operation` yields: one state of one asynchronous action. */
export interface OperationUpdateValue {
  /** Platform key. */
  platform: string;
  protocol: string;
  status: OperationState;
  done: boolean;
  event: StoredEvent | null;
  /** The platform's record of the action when it was just read (the first update); read again on demand otherwise. */
  record: object | null;
}

export interface EventResolverOptions {
  log: EventLog;
  platforms: readonly PlatformModule[];
  /**
   * Whether the caller may read a platform's data (its `<platform>:read` scope):
   * an event carries the platform's data, so the feed holds only what the caller
   * could read from the platform itself. Default: everything.
   */
  mayRead?: (ctx: GraphQLContext, platformKey: string) => boolean;
}

/** The gateway's own events (its audit records): platform `switchboard`, readable with `admin` (see `mayRead`). */
export const GATEWAY_SOURCE = { key: 'switchboard', title: 'Switchboard audit', scope: 'admin' } as const;

const RECORD_EVENT_TYPES = { created: 'RecordCreatedEvent', updated: 'RecordUpdatedEvent', deleted: 'RecordDeletedEvent' } as const;
const FINAL: ReadonlySet<OperationState> = new Set(['SUCCESS', 'FAILURE', 'TIMEOUT']);

/** A watcher's change: `type` is `<platform>.<service>.<change>` and `data` is `WatchEventData` (watchers.ts). */
function watchData(event: StoredEvent): WatchEventData | undefined {
  const data = event.data as Partial<WatchEventData>;
  if (typeof data.service !== 'string' || typeof data.change !== 'string' || !(data.change in RECORD_EVENT_TYPES)) return undefined;
  return event.type === `${event.platform}.${data.service}.${data.change}` ? (data as WatchEventData) : undefined;
}

/**
 * The graph of live events: `Query.events` and `Query.deadLetters` over the
 * log, `Subscription.events` following it, `Subscription.operation` following
 * one asynchronous action, and the `Event` types' resolution. The platforms'
 * own event types come from their `webhooks` (type names, field resolvers,
 * operations); the core names none.
 */
export function createEventResolvers(options: EventResolverOptions): Resolvers[] {
  const { log, platforms } = options;
  const byKey = new Map(platforms.map((p) => [p.key, p]));
  const byEnum = new Map(platforms.map((p) => [p.enumValue, p]));
  const typeOfEvent = new Map<string, string>();
  for (const platform of platforms) for (const [type, typename] of Object.entries(platform.webhooks?.eventTypes ?? {})) typeOfEvent.set(type, typename);

  const platformEnum = (key: string): Platform => (byKey.get(key)?.enumValue ?? key.toUpperCase()) as Platform;
  // The sources of events: the platforms this gateway serves and the gateway itself (its audit records).
  const sources = new Map<string, { title: string; scope: string }>(platforms.map((p) => [p.key, { title: p.title, scope: `${p.key}:read` }]));
  sources.set(GATEWAY_SOURCE.key, GATEWAY_SOURCE);
  const served = [...sources.keys()];
  const platformKeys = (values: readonly string[] | null | undefined): string[] =>
    values?.length ? values.map((value) => byEnum.get(value)?.key ?? value.toLowerCase()) : served;
  const mayRead = options.mayRead ?? (() => true);
  /**
   * The platforms of a feed the caller may read: a platform asked for by name
   * that the caller may not read is refused (FORBIDDEN, naming the scope); with no
   * platforms named, the feed holds the readable ones only.
   */
  const readablePlatforms = (ctx: GraphQLContext, values: readonly string[] | null | undefined): string[] => {
    const keys = platformKeys(values);
    const refused = values?.length ? keys.filter((key) => sources.has(key) && !mayRead(ctx, key)) : [];
    if (refused.length > 0) {
      throw new ForbiddenError(`Reading ${refused.map((key) => sources.get(key)!.title).join(' and ')} events needs the scope${refused.length > 1 ? 's' : ''} ${refused.map((key) => sources.get(key)!.scope).join(', ')}`, {
        platform: refused[0],
      });
    }
    const readable = keys.filter((key) => !sources.has(key) || mayRead(ctx, key));
    if (readable.length === 0) {
      // An empty list is no filter to the log: say why there is nothing to show instead.
      throw new ForbiddenError(`Reading events needs the read scope of at least one platform (${platforms.map((p) => `${p.key}:read`).join(', ')})`, {});
    }
    return readable;
  };
  const scopeOf = (ctx: GraphQLContext, key: string): unknown => (ctx.platforms as unknown as Record<string, unknown>)[key];

  function connection<T extends { cursor: string }>(items: T[], limit: number, after: string | null | undefined): Connection<T> {
    const page = items.slice(0, limit);
    const edges = page.map((node) => ({ cursor: node.cursor, node }));
    return {
      edges,
      nodes: page,
      pageInfo: {
        hasNextPage: items.length > limit,
        hasPreviousPage: Boolean(after && after !== '0'),
        startCursor: edges[0]?.cursor ?? null,
        endCursor: edges[edges.length - 1]?.cursor ?? null,
      },
      totalCount: null,
    };
  }

  /** The action's state now, from the first platform that knows the protocol. */
  async function readOperation(ctx: GraphQLContext, protocol: string, only?: string) {
    for (const platform of platforms) {
      const operations = platform.webhooks?.operations as PlatformOperations | undefined;
      if (!operations || (only && platform.key !== only)) continue;
      let found: Awaited<ReturnType<PlatformOperations['read']>>;
      try {
        found = await operations.read(scopeOf(ctx, platform.key), protocol);
      } catch (error) {
        if (error instanceof SwitchboardError && error.code === 'NOT_FOUND') continue;
        throw error;
      }
      if (found) return { platform, ...found };
    }
    return undefined;
  }

  const platformField = { platform: (event: StoredEvent) => platformEnum(event.platform) };
  const recordFields = {
    ...platformField,
    service: (event: StoredEvent) => watchData(event)?.service ?? '',
    recordId: (event: StoredEvent) => watchData(event)?.recordId ?? event.subject ?? '',
    record: (event: StoredEvent) => watchData(event)?.record ?? null,
  };

  const core: Resolvers = {
    Event: {
      __resolveType: (event) => {
        const typename = typeOfEvent.get(event.type);
        if (typename) return typename as never;
        const watched = watchData(event);
        return watched ? RECORD_EVENT_TYPES[watched.change] : 'GenericEvent';
      },
    },
    GenericEvent: platformField,
    RecordCreatedEvent: recordFields,
    RecordUpdatedEvent: recordFields,
    RecordDeletedEvent: recordFields,
    DeadLetter: { platform: (letter) => platformEnum(letter.platform) },
    OperationUpdate: {
      platform: (update) => platformEnum(update.platform),
      // Tagged with its GraphQL type by the platform (`IxcOperation`), so `Node` resolves it.
      operation: async (update, _, ctx) => (update.record ?? (await readOperation(ctx, update.protocol, update.platform))?.record ?? null) as never,
    },
    Query: {
      events: async (_, { filter, first, after }, ctx) => {
        const limit = pageSize(first);
        const wanted: EventFilter = { platforms: readablePlatforms(ctx, filter?.platforms), types: filter?.types ?? undefined };
        const items = await log.read({ after: after ?? undefined, limit: limit + 1, filter: wanted });
        return connection(items, limit, after);
      },
      deadLetters: async (_, { first, after }) => {
        const limit = pageSize(first);
        return connection(await log.readDeadLetters({ after: after ?? undefined, limit: limit + 1 }), limit, after);
      },
    },
    Subscription: {
      events: {
        subscribe: (_, { platforms: only, types, after }, ctx) =>
          log.follow({ after: after ?? undefined, filter: { platforms: readablePlatforms(ctx, only), types: types ?? undefined } }),
        resolve: (event: StoredEvent) => event,
      },
      operation: {
        subscribe: async (_, { protocol }, ctx) => {
          // The log's head first, then the state: an event that lands in between is both in the
          // state read and after the head, and the update it brings is not lost either way.
          const head = await log.head();
          const found = await readOperation(ctx, protocol);
          if (!found) throw new NotFoundError(`No platform knows an operation with protocol ${JSON.stringify(protocol)}; expected the protocol an asynchronous mutation (ixcRebootDevice …) returned`);
          if (!mayRead(ctx, found.platform.key)) {
            throw new ForbiddenError(`Following a ${found.platform.title} operation needs the scope ${found.platform.key}:read`, { platform: found.platform.key });
          }
          return new OperationUpdates(log, found.platform, protocol, head, { platform: found.platform.key, protocol, status: found.state, done: FINAL.has(found.state), event: null, record: found.record });
        },
        resolve: (update: OperationUpdateValue) => update,
      },
    },
  };

  // Every platform event type gets `platform` here; the platform's webhooks add its own fields.
  const platformTypes: Record<string, object> = {};
  for (const typename of new Set(typeOfEvent.values())) platformTypes[typename] = platformField;
  return [core, platformTypes as Resolvers, ...platforms.flatMap((p) => (p.webhooks?.resolvers ? [p.webhooks.resolvers as Resolvers] : []))];
}

/**
 * The updates of one action: its state when the subscription started, then one
 * per event of its protocol that changes it, ending with the final one. Ends at
 * once when the client unsubscribes (the log's follower is aborted).
 */
class OperationUpdates implements AsyncIterableIterator<OperationUpdateValue> {
  private readonly abort = new AbortController();
  private follower: AsyncIterableIterator<StoredEvent> | undefined;
  private first: OperationUpdateValue | undefined;
  private finished = false;

  constructor(
    private readonly log: EventLog,
    private readonly platform: PlatformModule,
    private readonly protocol: string,
    private readonly after: string,
    initial: OperationUpdateValue,
  ) {
    this.first = initial;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<OperationUpdateValue>> {
    if (this.finished) return { done: true, value: undefined };
    if (this.first) {
      const update = this.first;
      this.first = undefined;
      if (update.done) this.finish();
      return { done: false, value: update };
    }
    this.follower ??= this.log.follow({ after: this.after, filter: { platforms: [this.platform.key], protocol: this.protocol }, signal: this.abort.signal });
    const operations = this.platform.webhooks!.operations!;
    for (;;) {
      const next = await this.follower.next();
      if (next.done || this.finished) {
        this.finish();
        return { done: true, value: undefined };
      }
      const state = operations.stateAfter(next.value);
      if (!state) continue;
      const done = FINAL.has(state);
      if (done) this.finish();
      return { done: false, value: { platform: this.platform.key, protocol: this.protocol, status: state, done, event: next.value, record: null } };
    }
  }

  async return(): Promise<IteratorResult<OperationUpdateValue>> {
    this.finish();
    return { done: true, value: undefined };
  }

  async throw(error?: unknown): Promise<IteratorResult<OperationUpdateValue>> {
    this.finish();
    throw error;
  }

  private finish(): void {
    this.finished = true;
    this.abort.abort();
  }
}
