import type { Store } from './types.js';

export /** Windows kept before the spent ones are swept. */
const SWEEP_AT = 10_000;

interface Entry {
  value: string;
  /** Epoch ms after which the entry is gone; Infinity when it does not expire. */
  expiresAt: number;
}

/**
 * A store in this process's memory: for tests, and the base of the embedded
 * file store. Expiry is checked on read against the wall clock of `now`.
 */
export class MemoryStore implements Store {
  readonly kind: Store['kind'] = 'memory';
  protected readonly entries = new Map<string, Entry>();
  private readonly windows = new Map<string, { windowMs: number; times: number[] }>();

  constructor(protected readonly now: () => number = Date.now) {}

  async get(key: string): Promise<string | undefined> {
    return this.live(key)?.value;
  }

  async set(key: string, value: string, options: { ttlMs?: number; ifAbsent?: boolean } = {}): Promise<boolean> {
    checkTtl(options.ttlMs);
    if (options.ifAbsent && this.live(key)) return false;
    this.entries.set(key, { value, expiresAt: options.ttlMs !== undefined ? this.now() + options.ttlMs : Infinity });
    this.changed();
    return true;
  }

  async delete(key: string): Promise<void> {
    if (this.entries.delete(key)) this.changed();
  }

  async deleteIf(key: string, value: string): Promise<boolean> {
    if (this.live(key)?.value !== value) return false;
    this.entries.delete(key);
    this.changed();
    return true;
  }

  async takeSlot(key: string, limit: number, windowMs: number, now: number): Promise<number> {
    checkWindow(limit, windowMs);
    let uses = this.windows.get(key);
    if (!uses) {
      // One window per budget key, and forwarded CloudCIX tokens make many keys: spent windows are swept before one is added.
      if (this.windows.size >= SWEEP_AT) this.sweepWindows(now);
      this.windows.set(key, (uses = { windowMs, times: [] }));
    }
    uses.windowMs = windowMs;
    const times = uses.times;
    while (times.length > 0 && times[0]! <= now - windowMs) times.shift();
    if (times.length < limit) {
      times.push(now);
      return 0;
    }
    return Math.max(1, times[0]! + windowMs - now);
  }

  /** Drops windows with no use left in them, and expired entries (which are otherwise dropped only when read). */
  private sweepWindows(now: number): void {
    for (const [key, window] of this.windows) {
      const last = window.times[window.times.length - 1];
      if (last === undefined || last <= now - window.windowMs) this.windows.delete(key);
    }
    for (const key of [...this.entries.keys()]) this.live(key);
  }

  async keys(prefix: string): Promise<string[]> {
    const found: string[] = [];
    for (const key of [...this.entries.keys()]) if (key.startsWith(prefix) && this.live(key)) found.push(key);
    return found;
  }

  async close(): Promise<void> {}

  /** Called after every write (the file store persists here). */
  protected changed(): void {}

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }
}

/** A budget of no uses, or a window of no time, is a caller's bug: said at once rather than answered with NaN. */
export function checkWindow(limit: number, windowMs: number): void {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`takeSlot: expected a whole number of uses of at least 1, got ${limit}`);
  if (!(windowMs > 0) || !Number.isFinite(windowMs)) throw new RangeError(`takeSlot: expected a window of more than 0 ms, got ${windowMs}`);
}

/** A value that expires at once would be written for nothing: a caller's bug (every store says so alike). */
export function checkTtl(ttlMs: number | undefined): void {
  if (ttlMs !== undefined && !(ttlMs > 0 && Number.isFinite(ttlMs))) throw new RangeError(`set: expected ttlMs of more than 0, got ${ttlMs}`);
}
