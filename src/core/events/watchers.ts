import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ClockTimer } from '../clock.js';
import type { Infra } from '../infra.js';
import type { PlatformModule } from '../platform.js';
import { SwitchboardError } from '../upstream/errors.js';
import { forOperation, type OperationScope } from '../upstream/operation.js';
import type { EventLog, StoredEvent } from './log.js';
import type { WatchConfig } from './watch-config.js';

/**
 * Events from platforms that send no webhooks. Exotel documents none, nor does
 * CloudCIX's reference, so a user who subscribes to "every event of every
 * platform" would see nothing from them. A watcher polls one service's list at
 * `WATCH_INTERVAL_MS`, compares it with what it saw, and appends a `created`,
 * `updated` or `deleted` event per changed record to the same log the webhooks
 * feed (issue 8).
 *
 * - What it saw is one digest per record (SHA-256 of the record's canonical
 *   JSON), so a change is seen whether or not the service stamps it, and a record
 *   missing from a full listing is a deletion. Where every record carries an
 *   update timestamp the platform can filter on (CloudCIX's `updated`), a poll
 *   asks only for what changed since the watermark, plus one count to notice a
 *   deletion, and lists everything only when the count disagrees (and every
 *   FULL_SWEEP_EVERY polls, for changes that did not move the timestamp).
 * - That state lives in the store, written only after the poll's events are in
 *   the log; each event is appended with a key unique to the change, so a poll
 *   repeated after a crash (or by a gateway that took over) adds nothing twice,
 *   and a restart neither replays old changes nor misses those made meanwhile.
 * - One gateway of several polls a given watch: it holds a lease in the store,
 *   renewed while it polls and released when it closes; the others try again at
 *   each interval and take over when the lease lapses.
 * - Requests go through the platform client's ordinary calls (its throttle,
 *   retries and breaker), paced to `WATCH_BUDGET_SHARE` of the platform's
 *   documented rate with a budget in the store, shared by every gateway on it,
 *   so polling never takes the capacity that queries need.
 * - Every wait is on `infra.clock`, so tests drive polls with a ManualClock.
 */

/** One record of a watched service, as the platform lists it. */
export interface WatchedRecord {
  /** The platform's own id of the record. */
  id: string;
  /** What the event carries and the digest covers: the record with its credentials already cut. */
  record: Record<string, unknown>;
  /** The record's update timestamp (ISO-8601) where the service keeps one. */
  updatedAt?: string;
}

export interface WatchPage {
  records: WatchedRecord[];
  /** Where the next page starts; undefined after the last page. */
  next?: string;
  /** The platform ignored the change filter (the service has no such field): the page is not limited to changes. */
  unfiltered?: boolean;
}

/** How a watcher reads one service, through the platform's client. */
export interface WatchSource {
  /** Platform key (`cloudcix`). */
  readonly platform: string;
  /** The service as configuration names it (`membership.address`, `app`). */
  readonly service: string;
  /**
   * Requests per second the platform allows the gateway's login (CloudCIX: 20);
   * the watchers spend WATCH_BUDGET_SHARE of it. Undefined when the platform
   * documents no rate: polls are then not paced beyond one request at a time.
   */
  readonly requestsPerSecond: number | undefined;
  /** One page of every record, in a stable order, from `after` (the previous page's `next`). */
  listAll(after: string | undefined): Promise<WatchPage>;
  /**
   * Only records whose update timestamp is at or after `since`, oldest change
   * first, from `after`. Given where the platform can filter on the timestamp.
   */
  listChangedSince?(since: string, after: string | undefined): Promise<WatchPage>;
  /** How many records the service holds now, in one cheap request; undefined when the platform did not say. */
  count?(): Promise<number | undefined>;
}

/**
 * What a platform module can watch (`PlatformModule.watches`), declared by the
 * platform so that the core names none.
 */
export interface PlatformWatches<TClient = any, TConfig = any> {
  /** How services are named, for configuration errors ("application.service from the CloudCIX catalogue"). */
  readonly naming: string;
  /** Every service this platform can watch. */
  readonly services: readonly string[];
  /** Watched when `<PLATFORM>_WATCH` is not set. */
  readonly defaults: readonly string[];
  /** Why a name the platform knows cannot be watched (a nested service); undefined for names it does not know. */
  refusal?(service: string): string | undefined;
  /** The source that lists `service` through `client`; `config` is the platform's settings (its request budget). */
  source(service: string, client: TClient, config: TConfig): WatchSource;
}

export type WatchChange = 'created' | 'updated' | 'deleted';

/** The `data` of every watcher event (type `<platform>.<service>.<change>`). */
export interface WatchEventData {
  service: string;
  recordId: string;
  change: WatchChange;
  /** The record as listed; null for a deletion (the watcher keeps digests, not copies). */
  record: Record<string, unknown> | null;
}

/** In timestamp mode, every this many polls lists everything, for changes that did not move the timestamp. */
export const FULL_SWEEP_EVERY = 10;
/**
 * A changed-since poll starts this far before the watermark: a record stamped
 * just before the last poll but committed just after it is still seen (its
 * digest keeps it from being reported twice).
 */
export const WATERMARK_OVERLAP_MS = 5_000;
/** Who the upstream policy chain sees making a watcher's calls (for its fair shares between callers). */
export const WATCHER_CLIENT = 'switchboard-watcher';

/** What the store keeps per watch (`watch:<platform>:<service>:state`). */
interface WatchState {
  v: 1;
  /** Commits so far; part of each event's key, so one change is appended once even when a poll is repeated. */
  generation: number;
  mode: 'timestamp' | 'digest';
  /** The greatest update timestamp seen (timestamp mode). */
  watermark?: string;
  /** Record id → digest. */
  records: Record<string, string>;
}

interface Change {
  change: WatchChange;
  recordId: string;
  record: Record<string, unknown> | null;
  digest: string | undefined;
  updatedAt: string | undefined;
}

interface PollOutcome {
  changes: Change[];
  next: Omit<WatchState, 'generation'>;
  /** Whether anything worth writing changed (records, watermark, mode). */
  dirty: boolean;
}

export interface WatcherOptions {
  config: WatchConfig;
  /** The watched services (see `watchSources`). */
  sources: readonly WatchSource[];
  infra: Infra;
  eventLog: EventLog;
  /** This gateway's name in the leases; default a random id. */
  owner?: string;
}

/**
 * The sources for the services configuration names, from each platform's
 * `watches`, its client and its settings.
 */
export function watchSources(
  config: WatchConfig,
  platforms: readonly { module: PlatformModule; client: unknown; config: unknown }[],
): WatchSource[] {
  if (config.intervalMs === 0) return [];
  return platforms.flatMap(({ module, client, config: platformConfig }) =>
    module.watches
      ? (config.services[module.key] ?? []).map((service) => {
          // The source's calls are made on behalf of its watch: one scope per watch, renewed for each request (`ServiceWatch.request`).
          const scope: WatcherScope = { requestId: 'watch', client: WATCHER_CLIENT, calls: [] };
          const source = module.watches!.source(service, forOperation(client, scope), platformConfig);
          watcherScopes.set(source, scope);
          return source;
        })
      : [],
  );
}

/** What a watch's upstream calls are made on behalf of: the watcher as a caller, a request id of its own for each request. */
interface WatcherScope extends OperationScope {
  requestId: string;
}

/** Each source's scope, for the sources `watchSources` made (their client is bound to it). */
const watcherScopes = new WeakMap<WatchSource, WatcherScope>();

/** Starts a watch per source (none when WATCH_INTERVAL_MS is 0); `close()` stops them and releases their leases. */
export function startWatchers(options: WatcherOptions): WatcherRunner {
  const runner = new WatcherRunner(options);
  runner.start();
  return runner;
}

export class WatcherRunner {
  /** This gateway's name in the leases. */
  readonly owner: string;
  readonly watches: readonly ServiceWatch[];
  readonly log: Logger;
  private busy = 0;
  private quiet: (() => void)[] = [];
  private readonly stopping = new AbortController();

  constructor(readonly options: WatcherOptions) {
    this.owner = options.owner ?? `gateway-${randomUUID()}`;
    this.log = options.infra.log.child({ component: 'watchers' });
    this.watches = options.config.intervalMs > 0 ? options.sources.map((source) => new ServiceWatch(this, source)) : [];
  }

  start(): void {
    if (this.watches.length === 0) return;
    this.log.debug(
      { watches: this.watches.map((w) => `${w.source.platform}:${w.source.service}`), intervalMs: this.options.config.intervalMs, budgetShare: this.options.config.budgetShare },
      'watching platforms that send no webhooks',
    );
    for (const watch of this.watches) watch.schedule(0);
  }

  get signal(): AbortSignal {
    return this.stopping.signal;
  }

  get closed(): boolean {
    return this.stopping.signal.aborted;
  }

  /**
   * Resolves once no poll is working (each watch waits for its next turn or for
   * budget on the clock). Tests call it after `ManualClock.advance`, so a poll's
   * requests to the simulators finish before time moves on.
   */
  async idle(): Promise<void> {
    for (;;) {
      while (this.busy > 0) await new Promise<void>((resolve) => this.quiet.push(resolve));
      // Let the continuation that ended the last step start its next one, if any.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.busy === 0) return;
    }
  }

  /** Stops polling, waits for polls in progress to stop, and releases this gateway's leases. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.stopping.abort(new Error('the gateway is closing'));
    await Promise.all(this.watches.map((watch) => watch.stop()));
  }

  /** @internal A poll is working (not waiting on the clock). */
  enter(): void {
    this.busy++;
  }

  /** @internal */
  leave(): void {
    if (--this.busy > 0) return;
    for (const resolve of this.quiet.splice(0)) resolve();
  }

  /**
   * Waits until the watchers may send one more request to `source`'s platform:
   * at most `share × rate` per second over every gateway on this store (a
   * rolling window in the store, on the gateway's clock).
   */
  async pace(source: WatchSource): Promise<void> {
    const rate = source.requestsPerSecond;
    if (rate === undefined) return;
    const allowed = rate * this.options.config.budgetShare;
    const limit = Math.max(1, Math.floor(allowed));
    const windowMs = Math.ceil((1000 * limit) / allowed);
    const { store, clock } = this.options.infra;
    for (;;) {
      const wait = await store.takeSlot(`watch:budget:${source.platform}`, limit, windowMs, clock.now());
      if (wait === 0) return;
      await this.waitOnClock(wait);
    }
  }

  /** A wait on the clock does not count as work for `idle()`. */
  async waitOnClock(ms: number): Promise<void> {
    this.leave();
    try {
      await this.options.infra.clock.sleep(ms, this.signal);
    } finally {
      this.enter();
    }
  }
}

/** Thrown inside a poll when this gateway no longer holds the watch's lease. */
class LeaseLostError extends Error {}

class ServiceWatch {
  readonly leaseKey: string;
  readonly stateKey: string;
  private timer: ClockTimer | undefined;
  private running: Promise<void> | undefined;
  private holding = false;
  private renewedAt = -Infinity;
  private pollsSinceSweep = 0;
  /** The platform ignored the change filter once: this service is watched by digests only. */
  private noTimestampFilter = false;
  private readonly log: Logger;

  constructor(
    private readonly runner: WatcherRunner,
    readonly source: WatchSource,
  ) {
    this.leaseKey = `watch:${source.platform}:${source.service}:lease`;
    this.stateKey = `watch:${source.platform}:${source.service}:state`;
    this.log = runner.log.child({ platform: source.platform, service: source.service });
  }

  private get infra(): Infra {
    return this.runner.options.infra;
  }

  private get intervalMs(): number {
    return this.runner.options.config.intervalMs;
  }

  /** Long enough to outlast a slow poll and a missed turn; renewed at each poll and during long ones. */
  private get leaseTtlMs(): number {
    return 2 * this.intervalMs + 10_000;
  }

  schedule(ms: number): void {
    if (this.runner.closed) return;
    this.timer = this.infra.clock.setTimeout(() => {
      this.timer = undefined;
      this.running = this.turn();
    }, ms);
  }

  async stop(): Promise<void> {
    this.infra.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    if (this.holding) {
      this.holding = false;
      await this.infra.store.deleteIf(this.leaseKey, this.runner.owner).catch((error: unknown) => {
        this.log.warn({ err: describe(error) }, 'could not release the watch lease; another gateway takes over when it lapses');
      });
    }
  }

  private async turn(): Promise<void> {
    const started = this.infra.clock.now();
    this.runner.enter();
    try {
      if (await this.holdLease()) await this.poll();
    } catch (error) {
      if (!this.runner.closed && !(error instanceof LeaseLostError)) {
        this.log.warn({ err: describe(error) }, 'watch poll failed; trying again at the next interval');
      }
    } finally {
      this.runner.leave();
      this.schedule(Math.max(0, started + this.intervalMs - this.infra.clock.now()));
    }
  }

  /** Takes the lease when it is free, or renews it when this gateway holds it. */
  private async holdLease(): Promise<boolean> {
    const { store, clock } = this.infra;
    const owner = this.runner.owner;
    // Release and take again rather than overwrite: if the lease lapsed and another gateway took it, deleteIf fails and this one stands down.
    const mine = this.holding && (await store.deleteIf(this.leaseKey, owner));
    const taken = await store.set(this.leaseKey, owner, { ifAbsent: true, ttlMs: this.leaseTtlMs });
    if (taken && !mine) this.log.debug({ owner }, 'this gateway now polls the watch');
    if (!taken && this.holding) this.log.debug({ owner }, 'another gateway polls the watch now');
    this.holding = taken;
    if (taken) this.renewedAt = clock.now();
    return taken;
  }

  /** Renews the lease when a third of it has passed; throws when another gateway holds it now. */
  private async keepLease(force = false): Promise<void> {
    if (!force && this.infra.clock.now() - this.renewedAt < this.leaseTtlMs / 3) return;
    if (!(await this.holdLease())) throw new LeaseLostError();
  }

  /** One request of the poll: paced to the budget share, and seen by the policy chain as the watcher's. */
  private async request<T>(work: () => Promise<T>): Promise<T> {
    if (this.runner.closed) throw this.runner.signal.reason;
    await this.keepLease();
    await this.runner.pace(this.source);
    const scope = watcherScopes.get(this.source);
    if (scope) {
      // Requests of one watch run one after the other: each gets its own id, and only its own calls are kept.
      scope.requestId = `watch-${randomUUID()}`;
      scope.calls.length = 0;
    }
    return work();
  }

  private async poll(): Promise<void> {
    const state = await this.loadState();
    const incrementalPossible =
      state?.mode === 'timestamp' && state.watermark !== undefined && this.canFilterByTime && this.pollsSinceSweep < FULL_SWEEP_EVERY - 1;
    let outcome = incrementalPossible ? await this.changedSince(state) : undefined;
    if (outcome) this.pollsSinceSweep++;
    else {
      outcome = await this.sweep(state);
      this.pollsSinceSweep = 0;
    }
    await this.commit(state, outcome);
  }

  private get canFilterByTime(): boolean {
    return !this.noTimestampFilter && this.source.listChangedSince !== undefined && this.source.count !== undefined;
  }

  /**
   * Only what changed since the watermark, and a count: when the count is what
   * the known records plus the new ones make, nothing was deleted. Counting first
   * means a record created during the listing makes the count disagree (a sweep,
   * harmless) rather than hide a deletion. Undefined: list everything instead.
   */
  private async changedSince(state: WatchState): Promise<PollOutcome | undefined> {
    const total = await this.request(() => this.source.count!());
    if (total === undefined) return undefined;
    const since = new Date(Date.parse(state.watermark!) - WATERMARK_OVERLAP_MS).toISOString();
    const seen = new Map<string, WatchedRecord>();
    let after: string | undefined;
    do {
      const page = await this.request(() => this.source.listChangedSince!(since, after));
      if (page.unfiltered) {
        this.log.info('the platform ignored the update-time filter; watching this service by digests only');
        this.noTimestampFilter = true;
        return undefined;
      }
      for (const record of page.records) seen.set(record.id, record);
      after = page.next;
    } while (after !== undefined);

    const records = { ...state.records };
    const changes: Change[] = [];
    let watermark = state.watermark!;
    for (const record of seen.values()) {
      if (record.updatedAt !== undefined && Date.parse(record.updatedAt) > Date.parse(watermark)) watermark = record.updatedAt;
      const digest = digestOf(record.record);
      const before = records[record.id];
      if (before === digest) continue;
      changes.push({ change: before === undefined ? 'created' : 'updated', recordId: record.id, record: record.record, digest, updatedAt: record.updatedAt });
      records[record.id] = digest;
    }
    if (Object.keys(records).length !== total) return undefined;
    return { changes, next: { v: 1, mode: 'timestamp', watermark, records }, dirty: changes.length > 0 || watermark !== state.watermark };
  }

  /** Every record, compared with every digest kept: creations, changes and deletions. */
  private async sweep(state: WatchState | undefined): Promise<PollOutcome> {
    const listed = new Map<string, WatchedRecord>();
    let after: string | undefined;
    do {
      const page = await this.request(() => this.source.listAll(after));
      for (const record of page.records) listed.set(record.id, record);
      after = page.next;
    } while (after !== undefined);

    const records: Record<string, string> = {};
    const changes: Change[] = [];
    let watermark: string | undefined;
    let stamped = listed.size > 0;
    for (const record of listed.values()) {
      const digest = digestOf(record.record);
      records[record.id] = digest;
      if (record.updatedAt === undefined) stamped = false;
      else if (watermark === undefined || Date.parse(record.updatedAt) > Date.parse(watermark)) watermark = record.updatedAt;
      // No state yet: this listing is the baseline; what existed before watching started is not news.
      if (!state) continue;
      const before = state.records[record.id];
      if (before !== digest) changes.push({ change: before === undefined ? 'created' : 'updated', recordId: record.id, record: record.record, digest, updatedAt: record.updatedAt });
    }
    if (state) {
      for (const recordId of Object.keys(state.records)) {
        if (!(recordId in records)) changes.push({ change: 'deleted', recordId, record: null, digest: undefined, updatedAt: undefined });
      }
    }
    const mode = stamped && this.canFilterByTime ? 'timestamp' : 'digest';
    if (mode === 'digest') watermark = undefined;
    return {
      changes,
      next: { v: 1, mode, watermark, records },
      dirty: !state || changes.length > 0 || mode !== state.mode || watermark !== state.watermark,
    };
  }

  /**
   * Events first, then the state: a crash in between repeats the poll from the
   * old state, and the repeated events carry the same keys, so the log keeps each
   * once. Nothing is written once another gateway holds the lease: it polls from
   * the stored state and sees the same changes itself.
   */
  private async commit(state: WatchState | undefined, outcome: PollOutcome): Promise<void> {
    if (!outcome.dirty) return;
    const generation = state?.generation ?? 0;
    await this.keepLease(true);
    const receivedAt = new Date(this.infra.clock.now()).toISOString();
    for (const change of outcome.changes) {
      const event = this.eventOf(change, generation, receivedAt);
      await this.runner.options.eventLog.append([event], { dedupeKey: event.id });
    }
    await this.keepLease(true);
    const next: WatchState = { ...outcome.next, generation: generation + 1 };
    await this.infra.store.set(this.stateKey, JSON.stringify(next));
    if (!state) this.log.debug({ records: Object.keys(next.records).length, mode: next.mode }, 'watch baseline taken');
    else if (outcome.changes.length > 0) {
      const count = (kind: WatchChange) => outcome.changes.filter((c) => c.change === kind).length;
      this.log.info({ created: count('created'), updated: count('updated'), deleted: count('deleted') }, 'watch saw changes');
    }
  }

  private eventOf(change: Change, generation: number, receivedAt: string): Omit<StoredEvent, 'cursor'> {
    const { platform, service } = this.source;
    const data: WatchEventData = { service, recordId: change.recordId, change: change.change, record: change.record };
    return {
      // Unique per change of this watch: the same change found again by a repeated poll gets the same id (and dedupe key).
      id: `watch:${platform}:${service}:${generation}:${change.recordId}:${change.digest?.slice(0, 16) ?? 'deleted'}`,
      platform,
      type: `${platform}.${service}.${change.change}`,
      occurredAt: change.updatedAt && Number.isFinite(Date.parse(change.updatedAt)) ? new Date(Date.parse(change.updatedAt)).toISOString() : receivedAt,
      receivedAt,
      subject: change.recordId,
      protocol: null,
      data: data as unknown as Record<string, unknown>,
      raw: change.record,
    };
  }

  private async loadState(): Promise<WatchState | undefined> {
    const raw = await this.infra.store.get(this.stateKey);
    if (raw === undefined) return undefined;
    try {
      const state = JSON.parse(raw) as WatchState;
      if (state?.v === 1 && typeof state.generation === 'number' && state.records && typeof state.records === 'object') return state;
    } catch {
      // fall through
    }
    // Unreadable (written by another version): start again from a baseline rather than report every record as new.
    this.log.warn('the stored watch state was unreadable; taking a new baseline');
    return undefined;
  }
}

/** SHA-256 of the record's canonical JSON (keys sorted at every level), base64url. */
export function digestOf(record: unknown): string {
  return createHash('sha256').update(canonicalJson(record)).digest('base64url');
}

/** JSON with object keys sorted at every level, so the same record always gives the same text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

function describe(error: unknown): { code?: string; message: string } {
  if (error instanceof SwitchboardError) return { code: error.code, message: error.message };
  return { message: error instanceof Error ? error.message : String(error) };
}
