/**
 * What the gateway keeps beyond one request, shared by every gateway process
 * that points at the same store: upstream tokens (so several processes share one
 * login), secrets it learned (Exotel app secrets), throttle budgets, leases.
 *
 * Two implementations: embedded (a file in DATA_DIR, or memory only for tests)
 * and Redis (`REDIS_URL`). Keys are plain strings; callers namespace them
 * (`tokens:cloudlx:…`). Values are strings; secrets go through `SecretBox`
 * (AES-GCM) before they reach a store.
 *
 * A failure to reach the store is a `StoreUnavailableError` (./errors.ts).
 */
export interface Store {
  readonly kind: 'memory' | 'file' | 'redis';
  get(key: string): Promise<string | undefined>;
  /**
   * Writes `value`. With `ifAbsent`, only when the key is missing (a lease);
   * `ttlMs` expires the key. Answers whether it was written.
   */
  set(key: string, value: string, options?: { ttlMs?: number; ifAbsent?: boolean }): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Deletes the key only while it still holds `value` (releasing one's own lease). Answers whether it did. */
  deleteIf(key: string, value: string): Promise<boolean>;
  /**
   * Takes one use of a rolling-window budget (`limit` uses per `windowMs`) shared
   * by every process on this store. Answers 0 when a use was taken, else the
   * milliseconds until one frees. `now` is the caller's clock.
   */
  takeSlot(key: string, limit: number, windowMs: number, now: number): Promise<number>;
  /** The live keys that start with `prefix`, in no particular order (the Exotel secrets the gateway learned, say). */
  keys(prefix: string): Promise<string[]>;
  /** Writes what is pending (the file store) and lets go of connections (Redis). */
  close(): Promise<void>;
}
