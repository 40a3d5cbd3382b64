import { SwitchboardError } from '../upstream/errors.js';

/**
 * What a client reads when a platform refused or failed: the gateway's own words,
 * the code, and the platform's request id for a support ticket. A platform's own
 * error text can carry what a caller should not see (internal host names, ids,
 * stack traces, another tenant's data) and is written for the gateway's operator,
 * not its clients: it reaches a client only as a validation message in a
 * mutation's `userErrors`, and it stays in the gateway's log for the operator.
 */
const HINTS: Record<string, string> = {
  UNAUTHENTICATED: "refused the credentials it was called with (a token you forwarded, or else the gateway's own: its operator should check that platform's settings)",
  FORBIDDEN: "does not allow this with the gateway's credentials",
  NOT_FOUND: 'has no such object',
  BAD_USER_INPUT: 'refused the request as invalid; check the arguments',
  CONFLICT: 'reported a conflict with the current state',
  RATE_LIMITED: 'is over its rate limit; retry after the time in extensions.retryAfter',
  UPSTREAM_UNAVAILABLE: 'is unavailable; retry later',
  UPSTREAM_TIMEOUT: 'did not answer in time; retry later',
  UPSTREAM_BAD_RESPONSE: 'answered with something it does not document',
};

/** The client-facing message of an error whose message quotes a platform's own words; undefined for the gateway's own messages. */
export function publicUpstreamMessage(error: SwitchboardError, titleOf: (platform: string | undefined) => string): string | undefined {
  if (error.upstreamText === undefined || error.upstreamStatus === undefined) return undefined;
  const title = titleOf(error.platform);
  const hint = HINTS[error.code] ?? 'failed';
  const id = error.upstreamRequestId ? ` ${title}'s request id: ${error.upstreamRequestId}.` : '';
  return `${title} ${hint} (HTTP ${error.upstreamStatus}, ${error.code}).${id}`;
}

/** The SwitchboardError inside an error GraphQL or Apollo wrapped around it. */
export function switchboardErrorIn(error: unknown, depth = 0): SwitchboardError | undefined {
  if (depth > 4 || !error || typeof error !== 'object') return undefined;
  if (error instanceof SwitchboardError) return error;
  return switchboardErrorIn((error as { originalError?: unknown }).originalError, depth + 1);
}
