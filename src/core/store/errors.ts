import { UpstreamUnavailableError } from '../upstream/errors.js';

/**
 * The store could not be reached or answered with an error (Redis down, say).
 * It reaches a GraphQL client as `UPSTREAM_UNAVAILABLE`: the store is a service
 * the gateway depends on like any platform, and the answer is the same (retry
 * later; the operator checks the store). The message names the store, never a
 * password in its URL.
 */
export class StoreUnavailableError extends UpstreamUnavailableError {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}
