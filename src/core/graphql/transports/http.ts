import type { ServerResponse } from 'node:http';
import type { FormattedExecutionResult } from 'graphql';
import type { RequestInfo } from '../../platform.js';
import { httpHeadersOf } from '../../security/errors.js';
import { isRefusal, type OperationPipeline } from '../pipeline.js';

/** One operation as a JSON POST body carries it. */
export interface JsonOperation {
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}

/**
 * The request nearly every GraphQL client sends: one operation, POSTed as
 * `application/json`, asking for a JSON answer. Undefined for anything else
 * (GET, a batch, another media type, `application/graphql-response+json` or
 * multipart answers, a persisted query, a body of another shape): Apollo Server
 * answers those, with its own checks and messages.
 */
export function plainJsonOperation(body: unknown, contentType: string | undefined, accept: string | undefined): JsonOperation | undefined {
  if (!contentType || !/^application\/json\s*(;|$)/i.test(contentType)) return undefined;
  if (!acceptsPlainJson(accept)) return undefined;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const { query, operationName, variables, extensions } = body as Record<string, unknown>;
  if (typeof query !== 'string' || query === '') return undefined;
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') return undefined;
  if (variables !== undefined && variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) return undefined;
  if (extensions !== undefined && (typeof extensions !== 'object' || extensions === null || 'persistedQuery' in extensions)) return undefined;
  return { query, operationName: operationName as string | null | undefined, variables: variables as Record<string, unknown> | null | undefined };
}

/** No Accept, or one a plain JSON answer satisfies (and no preference this path would ignore). */
function acceptsPlainJson(accept: string | undefined): boolean {
  if (accept === undefined || accept === '') return true;
  const wanted = accept.toLowerCase();
  if (wanted.includes('graphql-response') || wanted.includes('multipart') || /;\s*q=0(\.0*)?\s*(,|$)/.test(wanted)) return false;
  return wanted.includes('application/json') || wanted.includes('*/*');
}

/**
 * Runs a plain JSON operation through the pipeline, as WebSocket and SSE
 * operations run, and writes its answer: the status Apollo Server would give
 * (400 for a document that does not parse or validate, a refusal's own status
 * and headers), the JSON serialized once and sent with its length.
 *
 * Apollo Server's request pipeline does the same for this request at about a
 * tenth more CPU per query (its plugin hooks, a SHA-256 of every query text,
 * content negotiation, header maps), which the side-by-side benchmark measures.
 */
export async function answerJsonOperation(pipeline: OperationPipeline, operation: JsonOperation, request: RequestInfo, res: ServerResponse): Promise<void> {
  const startedAt = pipeline.now();
  const prepared = await pipeline.prepare({ transport: 'http', query: operation.query, operationName: operation.operationName, variables: operation.variables, request });
  let status = 200;
  let headers: Readonly<Record<string, string>> = {};
  let result: FormattedExecutionResult;
  if (isRefusal(prepared)) {
    result = pipeline.refusal(prepared, 'http', startedAt);
    status = prepared.status;
    // A refusal's own headers (Retry-After of a rate limit) go with its status.
    for (const error of prepared.refused) headers = { ...headers, ...httpHeadersOf(error) };
  } else {
    result = await pipeline.execute(prepared);
  }
  const body = `${JSON.stringify(result)}\n`;
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
