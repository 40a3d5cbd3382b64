import type { GatewayExecutor, GatewayInterface } from '@apollo/server-gateway-interface';
import { GraphQLError, Source, execute, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';

export type ExecutorKind = 'jit' | 'graphql-js';

/** Compiled operations kept per gateway; a client sending endless distinct queries only evicts the oldest. */
const MAX_COMPILED = 1_000;

/**
 * Apollo Server parses and validates; this decides how a valid operation runs.
 * Most of a gateway's CPU goes into completing large upstream lists field by
 * field, and graphql-jit compiles each operation once into a function that does
 * it several times faster than graphql-js (see test/bench). `graphql-js` stays
 * available (EXECUTOR=graphql-js) as the reference; a test runs both on the same
 * queries and compares the answers.
 */
export function createExecutorGateway(schema: GraphQLSchema, kind: ExecutorKind): GatewayInterface {
  const compiled = new Map<string, CompiledQuery>();

  const jit: GatewayExecutor = async (request) => {
    const key = `${request.queryHash}:${request.operationName ?? ''}`;
    let query = compiled.get(key);
    if (!query) {
      const result = compileQuery(schema, request.document, request.operationName ?? undefined);
      if (!isCompiledQuery(result)) return result as ExecutionResult;
      query = result;
      if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
      compiled.set(key, query);
    }
    const result = (await query.query(undefined, request.context, request.request.variables ?? {})) as ExecutionResult;
    if (result.errors?.length) return { ...result, errors: result.errors.map((e) => toGraphQLError(e, request.source)) };
    return result;
  };

  const reference: GatewayExecutor = async (request) =>
    execute({
      schema,
      document: request.document,
      operationName: request.operationName,
      variableValues: request.request.variables,
      contextValue: request.context,
    }) as Promise<ExecutionResult>;

  return {
    onSchemaLoadOrUpdate(callback) {
      // The SDL string only feeds Apollo's schema reporting to its cloud, which Switchboard does not use.
      callback({ apiSchema: schema, coreSupergraphSdl: '' });
      return () => undefined;
    },
    load: async () => ({ executor: kind === 'jit' ? jit : reference }),
    stop: async () => undefined,
  };
}

interface JitError {
  message: string;
  locations?: readonly { line: number; column: number }[];
  path?: readonly (string | number)[];
  originalError?: Error | null;
  extensions?: Record<string, unknown>;
}

/**
 * graphql-jit builds its own error objects: they pass `instanceof GraphQLError`
 * but skip its constructor (no `extensions` object), and Apollo's error
 * formatting fails on them.
 * Rebuilt here as real ones, with locations recomputed from the query text.
 */
function toGraphQLError(error: JitError, query: string): GraphQLError {
  let positions: number[] | undefined;
  if (error.locations?.length) {
    const lineStarts = [0];
    for (let i = 0; i < query.length; i++) if (query.charCodeAt(i) === 10) lineStarts.push(i + 1);
    positions = error.locations.map(({ line, column }) => (lineStarts[line - 1] ?? 0) + column - 1);
  }
  return new GraphQLError(error.message, {
    source: positions ? new Source(query) : undefined,
    positions,
    path: error.path,
    originalError: error.originalError ?? undefined,
    extensions: error.extensions,
  });
}
