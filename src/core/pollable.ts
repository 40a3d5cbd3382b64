/**
 * An async iterator that can also hand over its next value without a promise
 * when it has one at hand: a subscription's event stream, read by a transport
 * that writes many subscribers' events in one turn of the event loop. `poll()`
 * answers the next result, a promise of it (the value is on its way: no need to
 * call `next()`), or undefined when the reader must call `next()` instead.
 */
export interface Pollable<T> {
  poll(): IteratorResult<T> | Promise<IteratorResult<T>> | undefined;
}

export function isPollable<T>(iterator: unknown): iterator is Pollable<T> {
  return typeof (iterator as Partial<Pollable<T>> | null)?.poll === 'function';
}
