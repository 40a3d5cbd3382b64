import { ApolloServer, HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { GatewayExecutor, GatewayInterface } from '@apollo/server-gateway-interface';
import { GraphQLError } from 'graphql';
import type { GraphQLContext } from '../../../context.js';
import type { Infra } from '../../infra.js';
import { isRefusal, nameOf, type OperationPipeline } from '../pipeline.js';
import { httpHeadersOf } from '../../security/errors.js';

/**
 * GraphQL over HTTP: Apollo Server handles the protocol (methods, media types,
 * status codes, CSRF prevention) and hands every operation to the pipeline.
 * It parses and validates with the pipeline's options and rules; everything
 * after that (variables, plugins, execution, formatting, partial errors,
 * metrics and the log line) is the pipeline's.
 */
export async function createApolloAdapter(
  pipeline: OperationPipeline,
  infra: Infra,
  options: { allowBatchedHttpRequests?: boolean } = {},
): Promise<ApolloServer<GraphQLContext>> {
  const { log } = infra;
  const executor: GatewayExecutor = async (request) => {
    const context = request.context as GraphQLContext;
    const headers = headersOf(request);
    if (request.requestIsBatched) {
      // Apollo runs each operation of a batch on a shallow copy of the request's one context: each gets
      // platform scopes, errors and warnings of its own, so its upstream calls are made and recorded for it.
      const own = pipeline.createContext({ headers, principal: context.principal });
      Object.assign(context, { running: own.running, platforms: own.platforms, partialErrors: own.partialErrors, warnings: own.warnings });
    }
    const prepared = await pipeline.prepareValidated({
      transport: 'http',
      query: request.source,
      document: request.document,
      // The name the client sent (`request.operationName` is the one Apollo resolved, null when none matched).
      operationName: request.request.operationName,
      variables: request.request.variables,
      context,
      startedAt: context.receivedAt,
      headers,
    });
    if (isRefusal(prepared)) {
      // Apollo reads the status of the answer from `extensions.http` and strips it.
      return { errors: prepared.refused.map((e) => withHttpStatus(e, prepared.status)) };
    }
    return pipeline.executeRaw(prepared);
  };
  const gateway: GatewayInterface = {
    onSchemaLoadOrUpdate(callback) {
      // The SDL string only feeds Apollo's schema reporting to its cloud, which Switchboard does not use.
      callback({ apiSchema: pipeline.schema, coreSupergraphSdl: '' });
      return () => undefined;
    },
    load: async () => ({ executor }),
    stop: async () => undefined,
  };
  const finishPlugin: ApolloServerPlugin<GraphQLContext> = {
    async requestDidStart() {
      return {
        async willSendResponse({ response, contextValue }) {
          if (response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          const operation = pipeline.operationOf(contextValue);
          const ran = result.data !== undefined;
          if (ran && contextValue.partialErrors.length > 0) result.errors = [...(result.errors ?? []), ...pipeline.partialErrors(contextValue)];
          if (ran && contextValue.warnings.length > 0) result.extensions = { ...result.extensions, warnings: [...contextValue.warnings] };
          const outcome = !ran && result.errors?.length ? 'refused' : result.errors?.length ? 'errors' : 'ok';
          pipeline.record(operation, result, outcome, {
            transport: 'http',
            startedAt: contextValue.receivedAt,
            requestId: contextValue.requestId,
            client: nameOf(contextValue.principal),
          });
        },
      };
    },
  };
  const apollo = new ApolloServer<GraphQLContext>({
    gateway,
    formatError: pipeline.formatError,
    validationRules: [...pipeline.validationRules],
    parseOptions: pipeline.parseOptions,
    documentStore: pipeline.documentStore,
    includeStacktraceInErrorResponses: false,
    // Off unless ALLOW_BATCHED_REQUESTS: a batch multiplies what one request may ask.
    allowBatchedHttpRequests: options.allowBatchedHttpRequests ?? false,
    // The IDE and every GraphQL client's tooling rely on introspection; Apollo turns it off under NODE_ENV=production.
    introspection: true,
    // Cache-control hints wrap every field resolver; Switchboard sets no HTTP caching from them.
    plugins: [ApolloServerPluginLandingPageDisabled(), ApolloServerPluginCacheControlDisabled(), finishPlugin],
    logger: {
      debug: (m) => log.debug(m),
      info: (m) => log.debug(m),
      warn: (m) => log.warn(m),
      error: (m) => log.error(m),
    },
  });
  await apollo.start();
  return apollo;
}

function withHttpStatus(error: GraphQLError, status: number): GraphQLError {
  // A refusal's own headers (Retry-After of a rate limit) go with its status.
  const headers = Object.entries(httpHeadersOf(error));
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: { ...error.extensions, http: headers.length ? { status, headers: new HeaderMap(headers) } : { status } },
  });
}

/** The request's headers, lower-cased as the other transports pass them (Apollo's HeaderMap holds them so). */
function headersOf(request: Parameters<GatewayExecutor>[0]): Record<string, string> {
  return Object.fromEntries(request.request.http?.headers ?? []);
}
