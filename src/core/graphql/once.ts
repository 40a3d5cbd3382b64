/**
 * A per-request memo of one upstream call: the first caller starts it, later
 * callers share the same promise (a list fetched once per request, not once per
 * parent). A failure is shared too, so a broken upstream is asked once.
 */
export function once<T>(load: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined;
  return () => (promise ??= load());
}
