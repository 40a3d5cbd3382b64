import type { Projection } from '../upstream/project-json.js';

/**
 * A per-request memo of one upstream call: the first caller starts it, later
 * callers share the same promise (a list fetched once per request, not once per
 * parent). A failure is shared too, so a broken upstream is asked once.
 */
export function once<T>(load: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined;
  return () => (promise ??= load());
}

/**
 * `once` for a list that may be read projected (only the keys a selection reads,
 * see `ListProjection`): the whole list once, and each projection once. Once the
 * whole list has been asked for, it answers every projection too (its records
 * hold every key), with no further call.
 */
export function oncePerProjection<T>(load: (project?: Projection) => Promise<T>): (project?: Projection) => Promise<T> {
  let whole: Promise<T> | undefined;
  let projected: Map<string, Promise<T>> | undefined;
  return (project) => {
    if (!project || whole) return (whole ??= load());
    projected ??= new Map();
    let promise = projected.get(project.key);
    if (!promise) projected.set(project.key, (promise = load(project)));
    return promise;
  };
}
