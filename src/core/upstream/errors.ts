/**
 * Every failure that can reach a GraphQL client is one of these classes. Each has
 * a stable `code` (what clients match on, and what `extensions.code` carries) and
 * knows which platform it came from. They are mapped to GraphQL errors in one
 * place: `toGraphQLErrorExtensions` below, used by the server's `formatError`.
 *
 * Messages are written by us, never copied from a request we sent: an upstream's
 * own error text may be quoted (it is what the user needs to fix their input),
 * but headers, tokens, credentials and stack traces never are.
 */

export type ErrorCode =
  | 'UPSTREAM_TIMEOUT'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_BAD_RESPONSE'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'RATE_LIMITED'
  | 'CONFLICT'
  | 'UPSTREAM_BUDGET_EXCEEDED';

export interface ErrorDetails {
  /** The platform's key (`cloudlx`, `exotel`, `ixc`, `cloudcix`), or undefined for the gateway itself. */
  platform?: string;
  /** The HTTP status the upstream answered with, when it answered. */
  upstreamStatus?: number;
  /** The upstream's own request id (Exotel's `RequestId`), for support tickets. */
  upstreamRequestId?: string;
  /** Seconds to wait before retrying, from the upstream's `Retry-After`. */
  retryAfter?: number;
  /** Field-level problems reported by the upstream: field name → messages. */
  fieldErrors?: Record<string, string[]>;
  /** The upstream's machine-readable error code (CloudCIX `error_code`). */
  upstreamCode?: string;
  /**
   * The platform's own words, when the message quotes them. Clients then get the
   * gateway's message instead (src/core/security/upstream-text.ts); they stay in the log.
   */
  upstreamText?: string;
  cause?: unknown;
}

export abstract class SwitchboardError extends Error {
  abstract readonly code: ErrorCode;
  readonly platform?: string;
  readonly upstreamStatus?: number;
  readonly upstreamRequestId?: string;
  readonly retryAfter?: number;
  readonly fieldErrors?: Record<string, string[]>;
  readonly upstreamCode?: string;
  readonly upstreamText?: string;

  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.platform = details.platform;
    this.upstreamStatus = details.upstreamStatus;
    this.upstreamRequestId = details.upstreamRequestId;
    this.retryAfter = details.retryAfter;
    this.fieldErrors = details.fieldErrors;
    this.upstreamCode = details.upstreamCode;
    this.upstreamText = details.upstreamText;
  }
}

export class UpstreamTimeoutError extends SwitchboardError {
  readonly code = 'UPSTREAM_TIMEOUT' as const;
}
export class UpstreamUnavailableError extends SwitchboardError {
  readonly code = 'UPSTREAM_UNAVAILABLE' as const;
}
/**
 * No answer because the connection failed (refused, reset, dropped mid-answer):
 * `UPSTREAM_UNAVAILABLE` to clients, and the one kind of thrown failure the retry
 * policy sends again (a timeout, an open breaker or a store outage is not this).
 */
export class UpstreamNetworkError extends UpstreamUnavailableError {
  /** The transport's code (`ECONNRESET`, `UND_ERR_SOCKET` …), the retry metric's reason. */
  readonly networkCode: string;
  constructor(message: string, networkCode: string, details: ErrorDetails = {}) {
    super(message, details);
    this.networkCode = networkCode;
  }
}
export class UpstreamBadResponseError extends SwitchboardError {
  readonly code = 'UPSTREAM_BAD_RESPONSE' as const;
}
export class UnauthenticatedError extends SwitchboardError {
  readonly code = 'UNAUTHENTICATED' as const;
}
export class ForbiddenError extends SwitchboardError {
  readonly code = 'FORBIDDEN' as const;
}
export class NotFoundError extends SwitchboardError {
  readonly code = 'NOT_FOUND' as const;
}
export class BadUserInputError extends SwitchboardError {
  readonly code = 'BAD_USER_INPUT' as const;
}
export class RateLimitedError extends SwitchboardError {
  readonly code = 'RATE_LIMITED' as const;
}
export class ConflictError extends SwitchboardError {
  readonly code = 'CONFLICT' as const;
}
/** The operation used up its budget of upstream calls (`OperationScope.callBudget`); the call was not sent. */
export class UpstreamBudgetExceededError extends SwitchboardError {
  readonly code = 'UPSTREAM_BUDGET_EXCEEDED' as const;
}

/**
 * The default reading of an upstream HTTP status. Platforms call this after they
 * have pulled their own message and field errors out of the body.
 */
export function errorFromStatus(status: number, message: string, details: ErrorDetails): SwitchboardError {
  const d = { ...details, upstreamStatus: status };
  if (status === 400 || status === 422) return new BadUserInputError(message, d);
  if (status === 401) return new UnauthenticatedError(message, d);
  if (status === 403) return new ForbiddenError(message, d);
  if (status === 404) return new NotFoundError(message, d);
  if (status === 409) return new ConflictError(message, d);
  if (status === 429) return new RateLimitedError(message, d);
  if (status >= 500) return new UpstreamUnavailableError(message, d);
  return new UpstreamBadResponseError(`${message} (unexpected HTTP status ${status})`, d);
}

/** The `extensions` of a GraphQL error for one of our errors. */
export function toGraphQLErrorExtensions(error: SwitchboardError): Record<string, unknown> {
  const extensions: Record<string, unknown> = { code: error.code };
  if (error.platform) extensions.platform = error.platform;
  if (error.upstreamStatus !== undefined) extensions.upstreamStatus = error.upstreamStatus;
  if (error.upstreamRequestId) extensions.upstreamRequestId = error.upstreamRequestId;
  if (error.upstreamCode) extensions.upstreamCode = error.upstreamCode;
  if (error.retryAfter !== undefined) extensions.retryAfter = error.retryAfter;
  if (error.fieldErrors) extensions.fieldErrors = error.fieldErrors;
  return extensions;
}

export function isSwitchboardError(value: unknown): value is SwitchboardError {
  return value instanceof SwitchboardError;
}

/** Says what kind of value came, without quoting it: an upstream body may hold a secret. */
export function describeShape(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? 'a string' : `a ${typeof value}`;
}

/** The list an upstream documents at `what`, or UPSTREAM_BAD_RESPONSE saying it was missing. */
export function expectList<T>(value: T[] | undefined, platform: string, what: string): T[] {
  if (Array.isArray(value)) return value;
  throw new UpstreamBadResponseError(`${platform} answered without the list it documents at ${what} (got ${describeShape(value)})`, { platform });
}
