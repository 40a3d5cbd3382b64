import type { IncomingMessage, ServerResponse } from 'node:http';
import { newRequestId } from '../graphql/pipeline.js';

export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Settles the request id of one GraphQL HTTP request (plain, or a Server-Sent
 * Events stream) before anything reads it: the client's own `x-request-id` when
 * it sends a usable one, a new UUID otherwise. The id is written back into the
 * request's headers, so every layer that reads them (Apollo, graphql-sse, the
 * context factory, authentication) sees the same id, and into the response's,
 * so the client can quote it whatever the answer is (a refusal, a 401, a stream).
 * The same id goes upstream on every call the operation makes (upstream/http.ts)
 * and is in the operation's log line.
 */
export function settleRequestId(req: IncomingMessage, res: ServerResponse): string {
  const given = req.headers[REQUEST_ID_HEADER];
  const id = newRequestId({ [REQUEST_ID_HEADER]: Array.isArray(given) ? given[0] : given });
  req.headers[REQUEST_ID_HEADER] = id;
  res.setHeader(REQUEST_ID_HEADER, id);
  return id;
}
