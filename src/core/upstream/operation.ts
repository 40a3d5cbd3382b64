/** One upstream call as the policy chain's call hook records it (metrics, explain, traces). */
export interface UpstreamCallRecord {
  platform: string;
  method: string;
  /** The route template (`GET /api/customers/{id}`), never a concrete id or query string. */
  route: string;
  /** HTTP status; 0 when no answer came. */
  status: number;
  durationMs: number;
  /** Bytes of the response body read. */
  bytes: number;
  /** Keys in the batch, for a batched read (`search[id__in]`, `id__in`). */
  batchKeys?: number;
  /** Attempt number, 1 for the first try. */
  attempt: number;
  /** True when only the keys the operation reads were built from the body (a projected list, see `ListProjection`). */
  projected?: boolean;
  /** The stable error code when the call failed (`UPSTREAM_TIMEOUT` …). */
  errorCode?: string;
}

/**
 * What one GraphQL operation carries down to every upstream call it makes: the
 * request id sent upstream, the operation's deadline, its budget of calls, who
 * the caller is (for fair shares of a platform's budget), and the list of calls
 * made (for explain and the operation's log line).
 *
 * It is passed explicitly, never looked up from an async context: each request's
 * platform scope is built with clients bound to its operation (`forOperation`),
 * so every call a resolver or a loader's batch makes knows its operation.
 * (AsyncLocalStorage would do the same implicitly, but on Node 20 it turns on a
 * promise hook that every promise of every request pays for: about a tenth of
 * the gateway's CPU on a query across the four platforms.)
 */
export interface OperationScope {
  readonly requestId: string;
  /** Epoch ms (infra clock) after which no new upstream call starts and waits are cut. */
  readonly deadline?: number;
  /** The caller (a client's name), for per-client shares of upstream budgets; undefined when anonymous. */
  readonly client?: string;
  /** Calls this operation may still start; undefined for no limit. Decremented by the chain. */
  callBudget?: number;
  /** Every upstream call this operation made, in the order they finished. */
  readonly calls: UpstreamCallRecord[];
}

/** A platform client whose calls can be made on behalf of an operation. */
export interface OperationBound<T> {
  /** The same client, its calls made on behalf of `operation` (itself when undefined). */
  forOperation(operation: OperationScope | undefined): T;
}

/** `client` bound to `operation`, when it is a client that makes calls (`OperationBound`); otherwise `client` itself. */
export function forOperation<T>(client: T, operation: OperationScope | undefined): T {
  if (operation === undefined || typeof (client as Partial<OperationBound<T>> | undefined)?.forOperation !== 'function') return client;
  return (client as OperationBound<T>).forOperation(operation);
}

/**
 * A view of `target` that reads `fields` from `overrides` and everything else
 * from `target` itself: its methods, and its state, which stays shared. For
 * clients whose state lives in objects they hold (token managers, pools, maps),
 * never in fields re-assigned after construction: such an assignment through a
 * view would land on the view alone.
 */
export function viewOf<T extends object>(target: T, overrides: Partial<T>): T {
  return Object.assign(Object.create(target) as T, overrides);
}
