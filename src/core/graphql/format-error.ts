import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Logger } from 'pino';
import { SwitchboardError, toGraphQLErrorExtensions } from '../upstream/errors.js';

/**
 * The one place errors take their client-facing shape. Our own errors carry their
 * code and platform; GraphQL's own (parse, validation, coercion) keep theirs;
 * anything else is a bug, logged in full and shown to the client only as an
 * internal error with the request id, so no stack or secret leaks.
 */
export function createErrorFormatter(log: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof SwitchboardError) {
      return { message: original.message, locations: formatted.locations, path: formatted.path, extensions: toGraphQLErrorExtensions(original) };
    }
    const { stacktrace: _drop, ...extensions } = (formatted.extensions ?? {}) as Record<string, unknown>;
    if (original instanceof GraphQLError || (extensions.code && extensions.code !== 'INTERNAL_SERVER_ERROR')) {
      return { ...formatted, extensions };
    }
    log.error({ err: original, path: formatted.path }, 'unexpected error while resolving');
    return {
      message: 'Switchboard hit an internal error resolving this field; it has been logged.',
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}

