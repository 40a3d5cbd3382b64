import { AsyncLocalStorage } from 'node:async_hooks';

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
 * What one GraphQL operation carries down to every upstream call it makes,
 * through AsyncLocalStorage (DataLoader batches run in the context of the load
 * that started them, so loaders per request stay inside their operation):
 * the request id sent upstream, the operation's deadline, its budget of calls,
 * who the caller is (for fair shares of a platform's budget), and the list of
 * calls made (for explain and the operation's log line).
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

const storage = new AsyncLocalStorage<OperationScope>();

/** Runs `work` with `scope` as the current operation of every upstream call it makes. */
export function runInOperation<T>(scope: OperationScope, work: () => T): T {
  return storage.run(scope, work);
}

/** The operation the current upstream call belongs to, if any (start-up calls and pings have none). */
export function currentOperation(): OperationScope | undefined {
  return storage.getStore();
}
