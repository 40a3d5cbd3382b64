import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHandler, type Request as SseRequest } from 'graphql-sse';
import type { RequestInfo } from '../../platform.js';
import { SwitchboardError, toGraphQLErrorExtensions } from '../../upstream/errors.js';
import { isRefusal, type OperationPipeline, type PreparedOperation } from '../pipeline.js';
import { httpHeadersOf } from '../../security/errors.js';
import { requestHeaders } from './headers.js';

interface SseContext {
  res: ServerResponse;
}

/**
 * GraphQL over Server-Sent Events (graphql-sse), on the same /graphql path, for
 * clients that cannot hold a WebSocket or sit behind a proxy that drops them.
 * Both of its modes work: distinct connections (a POST or GET with
 * `Accept: text/event-stream`) and a single connection (a PUT reserves a
 * stream token, operations are POSTed with `x-graphql-event-stream-token`).
 * Every operation goes through the pipeline; the body is read with the same
 * size limit as any other request.
 */
export function createSseAdapter(pipeline: OperationPipeline, options: { maxRequestBytes: number }) {
  const requests = new WeakMap<IncomingMessage, RequestInfo>();
  const handler = createHandler<IncomingMessage, SseContext>({
    authenticate: async (req) => {
      try {
        requests.set(req.raw, await pipeline.authenticate({ headers: requestHeaders(req.raw.headers) }));
      } catch (error) {
        if (!(error instanceof SwitchboardError)) throw error;
        const body = JSON.stringify({ errors: [{ message: error.message, extensions: toGraphQLErrorExtensions(error) }] });
        return [body, { status: error.code === 'UNAUTHENTICATED' ? 401 : 403, statusText: error.code, headers: { ...httpHeadersOf(error), 'content-type': 'application/json; charset=utf-8' } }];
      }
      // graphql-sse's own behaviour: a stream token from the header or the URL, or a new one for a reservation.
      const headerToken = req.headers.get('x-graphql-event-stream-token');
      if (headerToken) return headerToken;
      const urlToken = new URL(req.url ?? '', 'http://gateway/').searchParams.get('token');
      return urlToken ?? crypto.randomUUID();
    },
    onSubscribe: async (req, params) => {
      const startedAt = pipeline.now();
      const prepared = await pipeline.prepare({
        transport: 'sse',
        query: params.query as string,
        operationName: params.operationName,
        variables: params.variables,
        request: requests.get(req.raw) ?? { headers: requestHeaders(req.raw.headers) },
      });
      if (isRefusal(prepared)) {
        // Sent in the event stream, as graphql-sse does with its own validation errors, so the client reads them gracefully.
        const result = pipeline.refusal(prepared, 'sse', startedAt);
        return (async function* () {
          yield result;
        })() as never;
      }
      return {
        schema: pipeline.schema,
        document: prepared.document,
        operationName: prepared.operationName,
        variableValues: prepared.variables,
        contextValue: prepared as never,
      };
    },
    execute: (args) => pipeline.execute(args.contextValue as unknown as PreparedOperation) as never,
    subscribe: (args) => pipeline.subscribe(args.contextValue as unknown as PreparedOperation) as never,
  });

  return async function serveSse(req: IncomingMessage, res: ServerResponse, body: string | undefined): Promise<void> {
    const [responseBody, init] = await handler({
      method: req.method!,
      url: req.url!,
      headers: {
        get(key) {
          const header = req.headers[key];
          return Array.isArray(header) ? header.join('\n') : header;
        },
      },
      body: () => body ?? '',
      raw: req,
      context: { res },
    } satisfies SseRequest<IncomingMessage, SseContext>);
    res.writeHead(init.status ?? 200, init.statusText, init.headers as Record<string, string>);
    if (!responseBody || typeof responseBody === 'string') {
      res.end(responseBody);
      return;
    }
    const stop = () => void responseBody.return(undefined);
    res.once('close', stop);
    try {
      for await (const chunk of responseBody) {
        if (!res.writable) break;
        // Backpressure: wait for the socket to take the chunk before pulling the next event.
        if (!res.write(chunk)) await new Promise<void>((resolve) => res.once('drain', resolve).once('close', resolve));
      }
    } finally {
      res.off('close', stop);
      res.end();
    }
  };
}

/** True for the requests graphql-sse serves: an event stream is asked for, or a stream token is used or reserved. */
export function isSseRequest(req: IncomingMessage, url: URL): boolean {
  return (
    String(req.headers.accept ?? '').includes('text/event-stream') ||
    req.headers['x-graphql-event-stream-token'] !== undefined ||
    url.searchParams.has('token') ||
    req.method === 'PUT' ||
    req.method === 'DELETE'
  );
}
