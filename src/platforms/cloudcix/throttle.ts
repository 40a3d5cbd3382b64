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
 */
export class RequestThrottle {
  /** Answer times of finished requests still inside the window, oldest first. */
  private readonly recent: number[] = [];
  private readonly waiting: (() => void)[] = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly limit: number,
    readonly windowMs = 1000,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new TypeError(`RequestThrottle: expected a limit of at least 1, got ${limit}`);
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
    return new Promise<void>((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
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
      this.waiting.shift()!();
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

/** One throttle per user; idle ones are dropped so a stream of forwarded tokens does not grow it forever. */
export class ThrottleRegistry {
  private readonly throttles = new Map<string, RequestThrottle>();

  constructor(
    readonly limit: number,
    readonly windowMs = 1000,
    private readonly maxIdle = 1000,
  ) {}

  for(key: string): RequestThrottle {
    let throttle = this.throttles.get(key);
    if (!throttle) {
      if (this.throttles.size >= this.maxIdle) {
        for (const [k, t] of this.throttles) if (t.idle) this.throttles.delete(k);
      }
      throttle = new RequestThrottle(this.limit, this.windowMs);
      this.throttles.set(key, throttle);
    }
    return throttle;
  }
}
