import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Metrics } from '../observability/metrics.js';
import { SwitchboardError, UpstreamBudgetExceededError, UpstreamTimeoutError } from './errors.js';
import type { OperationScope, UpstreamCallRecord } from './operation.js';
import type { Projection } from './project-json.js';

/**
 * The policy chain every upstream call passes (DESIGN.md: throttle → retry →
 * breaker → call hook). Each step is a plain function `(call, next)`, composed
 * once per platform client by `UpstreamHttp` from the platform's settings.
 *
 * Why a chain of our own functions rather than undici's dispatcher interceptors
 * (`Dispatcher.compose` and its retry interceptor): every step needs things an
 * interceptor does not see or cannot use. Waits and deadlines run on the
 * gateway's clock (`infra.clock`, a `ManualClock` in tests), where undici's retry
 * interceptor sleeps on real timers; the throttle keys its queue by the upstream
 * user and counts in the shared store; the CloudCIX token must be taken only
 * once a throttle slot is held; the call hook records route templates and batch
 * sizes for the GraphQL operation that made the call. Interceptors would receive
 * all of that smuggled through request options; here it is typed, and the chain
 * is a dozen lines that a test can drive step by step.
 */

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type QueryValue = string | number | boolean | undefined | null;

export interface UpstreamRequest {
  method: HttpMethod;
  /** Relative to the base URL (a leading slash is allowed), or absolute (`http://…`). */
  path: string;
  query?: Record<string, QueryValue> | URLSearchParams;
  headers?: Record<string, string>;
  json?: unknown;
  form?: Record<string, string>;
  /** A label for metrics and logs, e.g. `GET /api/customers/{id}`; defaults to method and path. */
  route?: string;
  /**
   * The throttle queue this call waits in, when the platform has a throttle: the
   * upstream user it acts as (CloudCIX counts requests per user). Undefined: the
   * platform's one shared queue. `false`: outside the throttle (a login, which runs
   * from inside a call that already holds a slot and would deadlock behind it).
   */
  throttle?: string | false;
  /**
   * Headers computed for each attempt once it holds its throttle slot: a token
   * read after a long wait in the queue cannot have expired during that wait.
   */
  headersAtSend?: (signal: AbortSignal) => Promise<Record<string, string>>;
  /** Keys this call reads at once (`search[id__in]`, `serialNumbers`), for the call record. */
  batchKeys?: number;
  /**
   * Only these keys of a successful JSON answer are built (`projectJson`): a list
   * asked for a few fields of each record is not decoded whole. An error answer is read whole.
   */
  project?: Projection;
}

export interface UpstreamResponse<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
}

/** One attempt of one upstream call, as the chain's steps see it. */
export interface UpstreamCall {
  readonly platform: string;
  readonly request: UpstreamRequest;
  readonly method: HttpMethod;
  /** The absolute URL, query included. */
  readonly url: URL;
  /** The route template (metrics label, log field, call record). */
  readonly route: string;
  /** Infra-clock epoch ms by which the whole call (every attempt, wait and backoff) is over. */
  readonly deadline: number;
  /** Aborted at the deadline, with `timeoutError()` as its reason. */
  readonly signal: AbortSignal;
  /** The UPSTREAM_TIMEOUT error to report when the deadline passes (it says which deadline, and what to change). */
  readonly timeoutError: () => UpstreamTimeoutError;
  /** The GraphQL operation that made the call, if any (start-up calls and pings have none). */
  readonly operation: OperationScope | undefined;
  /** 1 for the first try; the retry step numbers the others. */
  attempt: number;
  /** Set by the last step when the answer was projected (only the keys `request.project` names were built). */
  projected?: boolean;
  /** What is sent: the request's headers and, after `headersAtSend`, the late ones. */
  headers: Record<string, string>;
  readonly body: string | undefined;
  /** The answer's status once headers arrived; 0 until then (set by the transport). */
  status: number;
  /** Response body bytes read so far (set by the transport, read by the call hook even after a failure). */
  bytes: number;
}

export type CallHandler = (call: UpstreamCall) => Promise<UpstreamResponse>;
export type UpstreamPolicy = (call: UpstreamCall, next: CallHandler) => Promise<UpstreamResponse>;

/** `[a, b, c]` around `last` is `a(call, b(call, c(call, last)))`: the first policy is the outermost. */
export function composePolicies(policies: readonly UpstreamPolicy[], last: CallHandler): CallHandler {
  return policies.reduceRight<CallHandler>((next, policy) => (call) => policy(call, next), last);
}

/**
 * First step of every attempt: no attempt starts once the deadline has passed
 * (the operation's, or the call's own), and each attempt spends one unit of the
 * operation's call budget, so a query that would fan out into thousands of
 * upstream calls stops at its budget instead of at the platform's rate limit.
 */
export function admissionPolicy(clock: Clock): UpstreamPolicy {
  return (call, next) => {
    if (call.signal.aborted) return Promise.reject(call.signal.reason);
    if (clock.now() >= call.deadline) return Promise.reject(call.timeoutError());
    const operation = call.operation;
    if (operation?.callBudget !== undefined) {
      if (operation.callBudget <= 0) {
        return Promise.reject(
          new UpstreamBudgetExceededError(
            `This operation used up its budget of upstream calls, so ${call.route} was not sent to ${call.platform}. Ask for less in one operation (fewer fields or aliases, smaller pages).`,
            { platform: call.platform },
          ),
        );
      }
      operation.callBudget -= 1;
    }
    return next(call);
  };
}

/** Adds the late headers (a token taken once the throttle slot is held) to this attempt. */
export const headersAtSendPolicy: UpstreamPolicy = (call, next) => {
  const late = call.request.headersAtSend;
  if (!late) return next(call);
  return late(call.signal).then((headers) => {
    Object.assign(call.headers, headers);
    return next(call);
  });
};

/** Observers of every finished attempt, beyond metrics and the log (traces and explain plug in here). */
export type UpstreamCallHook = (record: UpstreamCallRecord, call: UpstreamCall) => void;

export interface CallHookOptions {
  platform: string;
  metrics?: Metrics;
  log?: Pick<Logger, 'debug' | 'warn'> & { isLevelEnabled?: Logger['isLevelEnabled'] };
  /** The code an error answer becomes (the platform's error reader), for the record. */
  errorCodeOf: (response: UpstreamResponse) => string;
  hooks?: readonly UpstreamCallHook[];
}

/**
 * The innermost step: records each attempt as it ends, whatever the outcome, as
 * an `UpstreamCallRecord` on the current operation (explain, the operation's log
 * line), in the request-duration histogram, in the debug log (route, status,
 * time, size: never headers or bodies), and for any extra hook.
 */
export function callHookPolicy(options: CallHookOptions): UpstreamPolicy {
  const { platform, metrics, log, hooks = [] } = options;
  return async (call, next) => {
    const started = performance.now();
    let response: UpstreamResponse | undefined;
    let failure: unknown;
    try {
      response = await next(call);
      return response;
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      const durationMs = performance.now() - started;
      const record: UpstreamCallRecord = {
        platform,
        method: call.method,
        route: call.route,
        status: call.status,
        durationMs,
        bytes: call.bytes,
        attempt: call.attempt,
      };
      if (call.request.batchKeys !== undefined) record.batchKeys = call.request.batchKeys;
      if (call.projected) record.projected = true;
      const errorCode =
        failure !== undefined ? (failure instanceof SwitchboardError ? failure.code : 'INTERNAL_SERVER_ERROR') : response && response.status >= 400 ? options.errorCodeOf(response) : undefined;
      if (errorCode !== undefined) record.errorCode = errorCode;
      call.operation?.calls.push(record);
      metrics?.upstreamRequestDuration.observe({ platform, route: call.route, status: String(call.status) }, durationMs / 1000);
      // The line's object is built only when debug lines are written (pino's level check, else always).
      if (log && (log.isLevelEnabled?.('debug') ?? true)) {
        log.debug({ platform, route: call.route, status: call.status, ms: Math.round(durationMs), bytes: call.bytes, attempt: call.attempt, code: errorCode }, 'upstream request');
      }
      for (const hook of hooks) {
        try {
          hook(record, call);
        } catch (error) {
          // An observer's bug must not fail the user's call.
          log?.warn({ err: { message: (error as Error)?.message } }, 'an upstream call hook failed');
        }
      }
    }
  };
}
