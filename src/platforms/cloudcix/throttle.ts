import { RateLimitedError } from '../../core/upstream/errors.js';

/**
 * How long a request may wait for a slot before it fails with RATE_LIMITED: 30 s,
 * a fixed bound (not the upstream timeouts, which measure CloudCIX, not our queue).
 * At 20 requests per second that is some 600 requests of one user queued behind
 * each other; a query that needs more than that is refused rather than parked.
 */
export const DEFAULT_MAX_WAIT_MS = 30_000;
/** Requests one user may have waiting at once; the next one fails at once with RATE_LIMITED. */
export const DEFAULT_MAX_QUEUED = 10_000;

export interface ThrottleOptions {
  /** Requests per window (CloudCIX: 20 per second per user). */
  limit: number;
  windowMs?: number;
  /** How long a request may wait for a slot (default DEFAULT_MAX_WAIT_MS). */
  maxWaitMs?: number;
  /** How many requests may wait at once (default DEFAULT_MAX_QUEUED). */
  maxQueued?: number;
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * CloudCIX allows 20 requests per second per user and answers 429 past that
 * (UPSTREAMS.md §4). The client keeps under it rather than discovering it: every
 * request of one user waits in that user's queue for a free slot.
 *
 * A slot is busy from the moment its request is sent until a full window after
 * its answer arrived. CloudCIX counts a request when it arrives, which is after
 * we send it and before we see the answer, so two requests that share a slot
 * arrive at least a window apart whatever the network did in between: no more
 * than `limit` arrivals fall in any window, rolling or calendar-aligned.
 *
 * The queue is bounded: a request that waited `maxWaitMs` without a slot, or that
 * finds `maxQueued` requests already waiting, fails with RATE_LIMITED instead of
 * being parked for ever behind one enormous query.
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
  private timer: NodeJS.Timeout | undefined;

  constructor(options: ThrottleOptions) {
    this.limit = options.limit;
    this.windowMs = options.windowMs ?? 1000;
    this.maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    if (!Number.isInteger(this.limit) || this.limit < 1) throw new TypeError(`RequestThrottle: expected a limit of at least 1, got ${this.limit}`);
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  /** True when nothing waits, runs, or still occupies the window (the registry may drop it). */
  get idle(): boolean {
    this.prune(Date.now());
    return this.inFlight === 0 && this.waiting.length === 0 && this.recent.length === 0;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  private acquire(): Promise<void> {
    if (this.waiting.length === 0 && this.hasFreeSlot()) {
      this.inFlight++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.maxQueued) {
      return Promise.reject(
        new RateLimitedError(
          `Switchboard refused this CloudCIX request: ${this.waiting.length} requests of this CloudCIX user are already waiting for CloudCIX's limit of ${this.limit} per second. Ask for less at once (smaller pages, fewer aliases) and try again.`,
          { platform: 'cloudcix', retryAfter: Math.ceil(this.maxWaitMs / 1000) },
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined };
      waiter.timer = setTimeout(() => this.expire(waiter), this.maxWaitMs);
      this.waiting.push(waiter);
      this.schedule();
    });
  }

  /** A waiter's deadline passed: it leaves the queue with RATE_LIMITED. Deadlines are FIFO, so it is almost always the head. */
  private expire(waiter: Waiter): void {
    const index = this.waiting.indexOf(waiter);
    if (index < 0) return;
    this.waiting.splice(index, 1);
    waiter.reject(
      new RateLimitedError(
        `Switchboard gave up on this CloudCIX request after waiting ${Math.round(this.maxWaitMs / 1000)} s for a turn: CloudCIX allows ${this.limit} requests per second for this user, and this user's queue (${this.waiting.length + 1} requests) did not reach it in time. Ask for less at once (smaller pages, fewer aliases) and try again.`,
        { platform: 'cloudcix', retryAfter: Math.max(1, Math.ceil(((this.waiting.length + 1) / this.limit) * (this.windowMs / 1000))) },
      ),
    );
  }

  private release(): void {
    this.inFlight--;
    this.recent.push(Date.now());
    this.pump();
  }

  private prune(now: number): void {
    while (this.recent.length > 0 && this.recent[0]! <= now - this.windowMs) this.recent.shift();
  }

  private hasFreeSlot(): boolean {
    this.prune(Date.now());
    return this.inFlight + this.recent.length < this.limit;
  }

  private pump(): void {
    while (this.waiting.length > 0 && this.hasFreeSlot()) {
      this.inFlight++;
      const waiter = this.waiting.shift()!;
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
    this.schedule();
  }

  /** Wakes the queue when the oldest answer leaves the window; a release wakes it sooner. */
  private schedule(): void {
    if (this.timer || this.waiting.length === 0 || this.recent.length === 0) return;
    const wait = Math.max(0, this.recent[0]! + this.windowMs - Date.now()) + 1;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, wait);
  }
}

/** One throttle per queue key; idle ones are dropped so a stream of forwarded tokens does not grow it forever. */
export class ThrottleRegistry {
  private readonly throttles = new Map<string, RequestThrottle>();

  constructor(
    private readonly options: ThrottleOptions,
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
      throttle = new RequestThrottle(this.options);
      this.throttles.set(key, throttle);
    }
    return throttle;
  }

  /** The queue keys in use (tests check the gateway uses one). */
  keys(): string[] {
    return [...this.throttles.keys()];
  }
}
