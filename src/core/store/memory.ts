import type { Store } from './types.js';

export interface Entry {
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
  private readonly windows = new Map<string, number[]>();

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
    if (!uses) this.windows.set(key, (uses = []));
    while (uses.length > 0 && uses[0]! <= now - windowMs) uses.shift();
    if (uses.length < limit) {
      uses.push(now);
      return 0;
    }
    return Math.max(1, uses[0]! + windowMs - now);
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
