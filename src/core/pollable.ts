/**
 * An async iterator that can also be read without a promise per value: a
 * subscription's event stream, read by a transport that writes a thousand
 * subscribers' events as each one lands. The reader loops:
 *
 *   poll() → a result: use it, poll again;
 *          → a promise of one: the value is on its way (no need to call next());
 *          → undefined: nothing at hand. Then waitReady(callback) → true: the
 *            callback runs once something may be there (an event, the end, a
 *            failure), and the reader polls again; → false: call next() instead
 *            (a failure to throw, a read to await, or the event loop's turn to yield).
 */
export interface Pollable<T> {
  poll(): IteratorResult<T> | Promise<IteratorResult<T>> | undefined;
  waitReady(callback: () => void): boolean;
  /**
   * Calls back once if the stream fails (its reader fell too far behind), even
   * while nobody reads it: a reader paused on a full socket learns it at once.
   */
  whenFailed(callback: (error: Error) => void): void;
}

export function isPollable<T>(iterator: unknown): iterator is Pollable<T> {
  const candidate = iterator as Partial<Pollable<T>> | null;
  return typeof candidate?.poll === 'function' && typeof candidate.waitReady === 'function' && typeof candidate.whenFailed === 'function';
}
