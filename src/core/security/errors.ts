import { GraphQLError } from 'graphql';
import { UnauthenticatedError } from '../upstream/errors.js';

/**
 * The codes a caller meets when the gateway itself refuses (as opposed to an
 * upstream refusing): each limit has its own, so a client can tell which rule it
 * broke without reading the message.
 */
export type SecurityCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'RATE_LIMITED'
  | 'HOST_NOT_ALLOWED'
  | 'ORIGIN_NOT_ALLOWED'
  | 'QUERY_TOO_DEEP'
  | 'TOO_MANY_ALIASES'
  | 'TOO_MANY_ROOT_FIELDS'
  | 'TOO_MANY_DIRECTIVES'
  | 'TOO_MANY_TOKENS'
  | 'DOCUMENT_TOO_LARGE'
  | 'PAYLOAD_TOO_LARGE'
  | 'QUERY_TOO_COSTLY'
  | 'INTROSPECTION_DISABLED'
  | 'BATCHING_DISABLED'
  | 'UPSTREAM_BUDGET_EXCEEDED';

export interface RefusalOptions {
  /** HTTP status for transports that have one (HTTP, SSE); WebSocket carries the code only. */
  status?: number;
  /** HTTP headers to send with it (`WWW-Authenticate`, `Retry-After`). */
  headers?: Readonly<Record<string, string>>;
  /** Extra `extensions` (`retryAfter`, `limit`, `found`). */
  extensions?: Record<string, unknown>;
}

/**
 * A refusal by the gateway, as a GraphQL error that can go straight into a
 * response's `errors`. The HTTP status and headers ride beside it, not in
 * `extensions`, so a transport adapter sets them and the client never sees them
 * twice.
 */
export class SecurityError extends GraphQLError {
  readonly code: SecurityCode;
  readonly httpStatus: number;
  readonly httpHeaders: Readonly<Record<string, string>>;

  constructor(code: SecurityCode, message: string, options: RefusalOptions = {}) {
    super(message, { extensions: { code, ...options.extensions } });
    this.name = 'SecurityError';
    this.code = code;
    this.httpStatus = options.status ?? 400;
    this.httpHeaders = options.headers ?? {};
  }
}

export function isSecurityError(error: unknown): error is SecurityError {
  return error instanceof SecurityError;
}

/**
 * A refused credential: UNAUTHENTICATED, as the transports already answer every
 * SwitchboardError of that code (HTTP and SSE 401, WebSocket close 4401), with the
 * `WWW-Authenticate` header HTTP needs beside it.
 */
export class AuthenticationError extends UnauthenticatedError {
  readonly httpStatus = 401;
  constructor(
    message: string,
    readonly httpHeaders: Readonly<Record<string, string>>,
  ) {
    super(message);
    this.name = 'AuthenticationError';
  }
}

/** HTTP headers a refusal carries (`WWW-Authenticate`, `Retry-After`), whatever its class; empty when none. */
export function httpHeadersOf(error: unknown): Readonly<Record<string, string>> {
  const own = (error as { httpHeaders?: Readonly<Record<string, string>> } | undefined)?.httpHeaders;
  if (own) return own;
  const original = (error as { originalError?: unknown } | undefined)?.originalError;
  return original && original !== error ? httpHeadersOf(original) : {};
}
