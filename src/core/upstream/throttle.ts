import type { Logger } from 'pino';
import type { Clock, ClockTimer } from '../clock.js';
import type { Metrics } from '../observability/metrics.js';
import type { Store } from '../store/types.js';
import { RateLimitedError } from './errors.js';
import type { UpstreamPolicy } from './chain.js';

/**
 * How long a request may wait for a slot before it fails with RATE_LIMITED: 30 s,
 * a fixed bound (not the upstream timeouts, which measure the platform, not our
 * queue). At 20 requests per second that is some 600 requests of one user queued
 * behind each other; a query that needs more than that is refused rather than parked.
 */
export const DEFAULT_MAX_WAIT_MS = 30_000;
/** Requests one queue may have waiting at once; the next one fails at once with RATE_LIMITED. */
export const DEFAULT_MAX_QUEUED = 10_000;

export interface ThrottleOptions {
  /** Requests per window (CloudCIX: 20 per second per user). */
  limit: number;
  /** Default 1000 (a second). */
  windowMs?: number;
  /** How long a request may wait for a slot (default DEFAULT_MAX_WAIT_MS). */
  maxWaitMs?: number;
  /** How many requests may wait at once (default DEFAULT_MAX_QUEUED). */
  maxQueued?: number;
}

export interface ThrottleDeps {
  /** The platform key: metrics label, error `platform`, and the store key's namespace. */
  platform: string;
  /** The platform's name as its users write it, for messages. Default: the key. */
  title?: string;
  clock: Clock;
  /** Where the budget is counted, shared by every gateway on the same store (Redis with REDIS_URL). */
  store: Store;
  metrics?: Metrics;
  log?: Pick<Logger, 'warn'>;
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
  enqueuedAt: number;
  timer: ClockTimer | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * A platform's rate limit, kept rather than discovered: every request of one
 * upstream user (one queue key) waits in that user's queue, first come first
 * served, for a free slot. CloudCIX (20 requests per second per user, 429
 * beyond, UPSTREAMS.md §4) is the platform that needs it today; any platform
 * client can ask for one.
 *
 * Two counts must both allow a request:
 * - this gateway's: a slot is busy from the moment its request is sent until a
 *   full window after its answer arrived. The platform counts a request when it
 *   arrives, which is after we send it and before we see the answer, so two
 *   requests that share a slot arrive at least a window apart whatever the
 *   network did in between: no more than `limit` arrivals from this gateway fall
 *   in any window, rolling or calendar-aligned;
 * - the store's (`store.takeSlot`), counted when a request is sent, shared by
 *   every gateway on the same store, so several gateways behind a load balancer
 *   share one budget instead of each spending all of it. (Across gateways the
 *   count is by sending time, so network jitter can still bunch arrivals
 *   slightly; the platform's 429 then comes back through the retry step, which
 *   honours its `Retry-After`.)
 *
 * The queue is bounded: a request that waited `maxWaitMs` without a slot, or that
 * finds `maxQueued` requests already waiting, or whose call deadline passes while
 * it waits, fails with RATE_LIMITED instead of being parked for ever behind one
 * enormous query. Time is the gateway's clock.
 */
export class RequestThrottle {
  readonly limit: number;
  readonly windowMs: number;
  readonly maxWaitMs: number;
  readonly maxQueued: number;
  /** Answer times of finished requests still inside the window, oldest first. */
  private readonly recent: number[] = [];
  private readonly waiting: Waiter[] = [];
  private inFlight = 0;
  private wakeTimer: ClockTimer | undefined;
  private wakeAt = Infinity;
  private pumping = false;
  private pumpAgain = false;
  private readonly storeKey: string;
  private readonly title: string;

  constructor(
    options: ThrottleOptions,
    private readonly deps: ThrottleDeps & { key: string },
  ) {
    this.limit = options.limit;
    this.windowMs = options.windowMs ?? 1000;
    this.maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    if (!Number.isInteger(this.limit) || this.limit < 1) throw new TypeError(`RequestThrottle: expected a limit of at least 1, got ${this.limit}`);
    if (!(this.windowMs > 0)) throw new TypeError(`RequestThrottle: expected a window of more than 0 ms, got ${this.windowMs}`);
    this.storeKey = `throttle:${deps.platform}:${deps.key}`;
    this.title = deps.title ?? deps.platform;
  }

  /** Runs `work` once a slot is free; `signal` (the call's deadline) takes the request out of the queue. */
  async run<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  /** True when nothing waits, runs, or still occupies the window (the registry may drop it). */
  get idle(): boolean {
    this.prune(this.deps.clock.now());
    return this.inFlight === 0 && this.waiting.length === 0 && this.recent.length === 0;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  private acquire(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(this.deadlineError());
    if (this.waiting.length >= this.maxQueued) {
      return Promise.reject(
        new RateLimitedError(
          `Switchboard refused this ${this.title} request: ${this.waiting.length} requests of this ${this.title} user are already waiting for ${this.title}'s limit of ${this.limit} per ${this.windowText()}. Ask for less at once (smaller pages, fewer aliases) and try again.`,
          { platform: this.deps.platform, retryAfter: Math.ceil(this.maxWaitMs / 1000) },
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, enqueuedAt: this.deps.clock.now(), timer: undefined, signal, onAbort: undefined };
      waiter.timer = this.deps.clock.setTimeout(() => this.leave(waiter, this.expiredError()), this.maxWaitMs);
      if (signal) {
        waiter.onAbort = () => this.leave(waiter, this.deadlineError());
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiting.push(waiter);
      this.deps.metrics?.upstreamThrottleQueued.inc({ platform: this.deps.platform });
      void this.pump();
    });
  }

  private expiredError(): RateLimitedError {
    return new RateLimitedError(
      `Switchboard gave up on this ${this.title} request after waiting ${Math.round(this.maxWaitMs / 1000)} s for a turn: ${this.title} allows ${this.limit} requests per ${this.windowText()} for this user, and this user's queue (${this.waiting.length} requests) did not reach it in time. Ask for less at once (smaller pages, fewer aliases) and try again.`,
      { platform: this.deps.platform, retryAfter: this.retryAfterEstimate() },
    );
  }

  private deadlineError(): RateLimitedError {
    return new RateLimitedError(
      `The deadline of this ${this.title} request passed while it waited for a turn: ${this.title} allows ${this.limit} requests per ${this.windowText()} for this user, and ${this.waiting.length} requests were queued. Ask for less at once (smaller pages, fewer aliases) and try again.`,
      { platform: this.deps.platform, retryAfter: this.retryAfterEstimate() },
    );
  }

  private retryAfterEstimate(): number {
    return Math.max(1, Math.ceil(((this.waiting.length + 1) / this.limit) * (this.windowMs / 1000)));
  }

  private windowText(): string {
    if (this.windowMs === 1000) return 'second';
    if (this.windowMs === 60_000) return 'minute';
    return `${this.windowMs} ms`;
  }

  /** A waiter leaves the queue without a slot (its wait bound or its deadline passed). */
  private leave(waiter: Waiter, error: Error): void {
    const index = this.waiting.indexOf(waiter);
    if (index < 0) return;
    this.waiting.splice(index, 1);
    this.forget(waiter);
    waiter.reject(error);
  }

  private forget(waiter: Waiter): void {
    this.deps.clock.clearTimeout(waiter.timer);
    if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
    this.deps.metrics?.upstreamThrottleQueued.dec({ platform: this.deps.platform });
  }

  private release(): void {
    this.inFlight--;
    this.recent.push(this.deps.clock.now());
    void this.pump();
  }

  private prune(now: number): void {
    while (this.recent.length > 0 && this.recent[0]! <= now - this.windowMs) this.recent.shift();
  }

  /**
   * Hands free slots to the head of the queue, in order. One pump runs at a time
   * (the store answers asynchronously); a call that comes meanwhile asks the
   * running one to look again.
   */
  private async pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        while (this.waiting.length > 0) {
          const now = this.deps.clock.now();
          this.prune(now);
          if (this.inFlight + this.recent.length >= this.limit) {
            // The oldest answer leaving the window frees a slot; a release wakes the queue sooner.
            if (this.recent.length > 0) this.wakeAfter(this.recent[0]! + this.windowMs - now);
            break;
          }
          const wait = await this.takeSharedSlot();
          if (wait > 0) {
            this.wakeAfter(wait);
            break;
          }
          // The head may have left while the store answered: the slot goes to the next in line
          // (or, with nobody left, is spent unused: the budget errs on the safe side).
          const waiter = this.waiting.shift();
          if (!waiter) break;
          this.forget(waiter);
          this.inFlight++;
          this.deps.metrics?.upstreamThrottleWait.observe({ platform: this.deps.platform }, (this.deps.clock.now() - waiter.enqueuedAt) / 1000);
          waiter.resolve();
        }
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  /**
   * One use of the budget every gateway on this store shares. A store that cannot
   * be reached does not stop the platform's calls: this gateway's own count still
   * holds it to the limit, and the outage is logged.
   */
  private async takeSharedSlot(): Promise<number> {
    try {
      return await this.deps.store.takeSlot(this.storeKey, this.limit, this.windowMs, this.deps.clock.now());
    } catch (error) {
      this.deps.log?.warn(
        { platform: this.deps.platform, err: { message: (error as Error)?.message } },
        'the shared throttle budget could not be read from the store; this gateway keeps to the limit on its own count',
      );
      return 0;
    }
  }

  private wakeAfter(ms: number): void {
    const at = this.deps.clock.now() + Math.max(0, ms);
    if (this.wakeTimer !== undefined && this.wakeAt <= at) return;
    this.deps.clock.clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = this.deps.clock.setTimeout(() => {
      this.wakeTimer = undefined;
      this.wakeAt = Infinity;
      void this.pump();
    }, Math.max(0, ms));
  }
}

/** One throttle per queue key; idle ones are dropped so a stream of forwarded tokens does not grow it for ever. */
export class ThrottleRegistry {
  private readonly throttles = new Map<string, RequestThrottle>();

  constructor(
    private readonly options: ThrottleOptions,
    private readonly deps: ThrottleDeps,
    private readonly maxIdle = 1000,
  ) {}

  get limit(): number {
    return this.options.limit;
  }

  for(key: string): RequestThrottle {
    let throttle = this.throttles.get(key);
    if (!throttle) {
      if (this.throttles.size >= this.maxIdle) {
        for (const [k, t] of this.throttles) if (t.idle) this.throttles.delete(k);
      }
      throttle = new RequestThrottle(this.options, { ...this.deps, key });
      this.throttles.set(key, throttle);
    }
    return throttle;
  }

  /** The queue keys in use (tests check the gateway uses one). */
  keys(): string[] {
    return [...this.throttles.keys()];
  }
}

/** The platform's one queue, for calls that name no upstream user. */
export const SHARED_QUEUE = 'platform';

/** The throttle step: waits for a slot in the call's queue (`request.throttle`) and holds it until the answer is read. */
export function throttlePolicy(registry: ThrottleRegistry): UpstreamPolicy {
  return (call, next) => {
    const key = call.request.throttle;
    if (key === false) return next(call);
    return registry.for(key ?? SHARED_QUEUE).run(() => next(call), call.signal);
  };
}
