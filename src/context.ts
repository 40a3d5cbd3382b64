import type { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import type { PlatformModule, RequestInfo } from './core/platform.js';
import { newRequestId } from './core/graphql/pipeline.js';
import type { PlatformScopes } from './platforms/index.js';
import { forOperation, type OperationScope } from './core/upstream/operation.js';

/**
 * An error that does not fail its field: one platform of a unified list failed
 * (or the caller may not read it), the others answered. Kept as the error itself
 * (with its path), and formatted by the pipeline's one formatter like any other.
 */
export type PartialError = GraphQLError;

/**
 * Something the client should see though nothing failed: CloudCIX skips a filter
 * it cannot apply and says so in `_metadata.warnings`. Sent in the response's
 * `extensions.warnings`, so a typo in a filter is visible.
 */
export interface ResponseWarning {
  message: string;
  path: readonly (string | number)[];
  platform: string;
}

export interface GraphQLContext {
  readonly requestId: string;
  /** Who is calling, as the pipeline's authentication found it (undefined: anonymous). */
  readonly principal?: unknown;
  /** When the request arrived, on the gateway's clock (epoch ms). */
  readonly receivedAt: number;
  readonly log: Logger;
  /** Per-request loaders and clients of each platform. */
  readonly platforms: PlatformScopes;
  /** Keys of the platforms served by their embedded simulator. */
  readonly simulated: ReadonlySet<string>;
  /** Errors to add to the response beside the data (see `PartialError`). */
  readonly partialErrors: PartialError[];
  /** Warnings to add to the response's `extensions.warnings` (see `ResponseWarning`). */
  readonly warnings: ResponseWarning[];
  /**
   * The operation this context runs, set by the pipeline once it is prepared:
   * each platform's scope, built on first use, makes its calls on its behalf.
   * (A holder, since Apollo Server hands resolvers a shallow copy of the context.)
   */
  readonly running: { operation?: OperationScope };
}

/**
 * The context a platform's resolvers see: everything of `GraphQLContext`, but
 * only their own platform's scope, so a resolver of one platform cannot reach
 * into another's loaders (cross-platform fields go through the core).
 */
export type PlatformContext<K extends string, S> = Omit<GraphQLContext, 'platforms'> & { readonly platforms: { readonly [P in K]: S } };

export interface ContextFactoryOptions {
  platforms: readonly PlatformModule[];
  /** Each started platform's client. */
  clients: ReadonlyMap<PlatformModule, unknown>;
  simulated: ReadonlySet<string>;
  log: Logger;
  /** The gateway's clock (epoch ms). */
  now: () => number;
}

/**
 * The one context factory, for HTTP requests and WebSocket operations alike. Each
 * platform's per-request scope (its loaders) is built on first use, so a query
 * that touches one platform pays for one; scopes are never shared between
 * requests, so one user's data never answers another's.
 */
export function createContextFactory(options: ContextFactoryOptions) {
  /**
   * The per-request scopes: one getter per platform, defined once here on a
   * class of their own rather than on every request's object, so a request
   * allocates only the object and each platform's scope when first read.
   */
  class Scopes {
    readonly #built: unknown[] = [];
    readonly #request: RequestInfo;
    readonly #running: GraphQLContext['running'];
    constructor(request: RequestInfo, running: GraphQLContext['running']) {
      this.#request = request;
      this.#running = running;
    }
    static scopeOf(scopes: Scopes, index: number, platform: PlatformModule): unknown {
      return (scopes.#built[index] ??= platform.createScope(forOperation(options.clients.get(platform), scopes.#running.operation), scopes.#request));
    }
  }
  options.platforms.forEach((platform, index) => {
    Object.defineProperty(Scopes.prototype, platform.key, {
      enumerable: true,
      get(this: Scopes) {
        return Scopes.scopeOf(this, index, platform);
      },
    });
  });
  return (request: RequestInfo): GraphQLContext => {
    const requestId = newRequestId(request.headers);
    const running: GraphQLContext['running'] = {};
    return {
      requestId,
      principal: request.principal,
      receivedAt: options.now(),
      log: options.log.child({ requestId }),
      platforms: new Scopes(request, running) as unknown as PlatformScopes,
      simulated: options.simulated,
      partialErrors: [],
      warnings: [],
      running,
    };
  };
}
