import type { Store } from './types.js';

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
  private readonly windows = new Map<string, number[]>();

  constructor(protected readonly now: () => number = Date.now) {}

  async get(key: string): Promise<string | undefined> {
    return this.live(key)?.value;
  }

  async set(key: string, value: string, options: { ttlMs?: number; ifAbsent?: boolean } = {}): Promise<boolean> {
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
    let uses = this.windows.get(key);
    if (!uses) this.windows.set(key, (uses = []));
    while (uses.length > 0 && uses[0]! <= now - windowMs) uses.shift();
    if (uses.length < limit) {
      uses.push(now);
      return 0;
    }
    return Math.max(1, uses[0]! + windowMs - now);
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
