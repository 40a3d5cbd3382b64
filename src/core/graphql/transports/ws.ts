import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer, WebSocket } from 'ws';
import type { Logger } from 'pino';
import { useServer } from 'graphql-ws/use/ws';
import { CloseCode } from 'graphql-ws';
import type { GraphQLError, GraphQLFormattedError } from 'graphql';
import type { RequestInfo } from '../../platform.js';
import { SwitchboardError } from '../../upstream/errors.js';
import { isRefusal, type EventStream, type OperationPipeline, type PreparedOperation } from '../pipeline.js';
import { requestHeaders } from './headers.js';

export interface WebSocketAdapterOptions {
  /** How long a client has after connecting to send `connection_init`. */
  connectionInitWaitMs?: number;
  /** Bytes that may wait to be sent to one subscriber; past it the subscriber is disconnected (close 4429). */
  maxBufferedBytes?: number;
  /** Milliseconds between keep-alive pings; a client that misses one is dropped. */
  keepAliveMs?: number;
  /** Where socket errors (a message over the size limit, a broken frame) are logged. */
  log?: Pick<Logger, 'warn'>;
}

/** Close code sent to a subscriber that does not read its events fast enough. */
export const SLOW_SUBSCRIBER_CLOSE = 4429;
/** Close code sent when `connection_init` carries no valid credentials. */
export const UNAUTHORIZED_CLOSE = CloseCode.Unauthorized;

type Extra = {
  socket: WebSocket;
  request: IncomingMessage;
  requestInfo?: RequestInfo;
};

/**
 * GraphQL over WebSocket (graphql-ws): authentication once per connection in
 * `onConnect`, then every operation through the pipeline. A subscriber that
 * falls behind by more than `maxBufferedBytes` is disconnected with a close
 * reason that says so, so one slow reader cannot grow the gateway's memory or
 * hold up the others.
 */
export function useWebSocketAdapter(wss: WebSocketServer, pipeline: OperationPipeline, options: WebSocketAdapterOptions = {}) {
  const maxBuffered = options.maxBufferedBytes ?? 4 * 1_048_576;
  /** Queries and mutations running on each socket, by operation id (subscriptions never finish by themselves, so they are not counted). */
  const running = new Map<WebSocket, Set<string>>();
  let draining = false;
  const closeIfIdle = (socket: WebSocket) => {
    if (draining && !running.get(socket)?.size && socket.readyState === socket.OPEN) socket.close(1001, 'Going away');
  };
  const refusals = new WeakMap<readonly GraphQLError[], readonly GraphQLFormattedError[]>();
  /** Where each subscription's events go: its socket and operation id (set in onSubscribe, read in subscribe). */
  const destinations = new WeakMap<PreparedOperation, { socket: WebSocket; id: string }>();
  const server = useServer<Record<string, unknown>, Extra>(
    {
      connectionInitWaitTimeout: options.connectionInitWaitMs ?? 10_000,
      onConnect: async (ctx) => {
        const headers = requestHeaders(ctx.extra.request.headers);
        // Browsers cannot set WebSocket headers, so connection params stand in for them.
        for (const [key, value] of Object.entries(ctx.connectionParams ?? {})) if (typeof value === 'string') headers[key.toLowerCase()] = value;
        try {
          ctx.extra.requestInfo = await pipeline.authenticate({ headers });
          return true;
        } catch (error) {
          const reason = error instanceof SwitchboardError ? error.message : 'Unauthorized';
          ctx.extra.socket.close(UNAUTHORIZED_CLOSE, truncateReason(reason));
          return false;
        }
      },
      onSubscribe: async (ctx, _id, payload) => {
        const startedAt = pipeline.now();
        const prepared = await pipeline.prepare({
          transport: 'ws',
          query: payload.query,
          operationName: payload.operationName,
          variables: payload.variables,
          request: perOperation(ctx.extra.requestInfo ?? { headers: {} }, _id),
        });
        if (isRefusal(prepared)) {
          // graphql-ws sends GraphQLErrors only; `onError` swaps in the pipeline's formatted ones.
          refusals.set(prepared.refused, pipeline.refusal(prepared, 'ws', startedAt).errors ?? []);
          return prepared.refused;
        }
        if (prepared.operation.operation === 'subscription') destinations.set(prepared, { socket: ctx.extra.socket, id: _id });
        else {
          const socket = ctx.extra.socket;
          if (!running.has(socket)) {
            running.set(socket, new Set());
            socket.once('close', () => running.delete(socket));
          }
          running.get(socket)!.add(_id);
        }
        return {
          schema: pipeline.schema,
          document: prepared.document,
          operationName: prepared.operationName,
          variableValues: prepared.variables,
          contextValue: prepared,
        };
      },
      onComplete: (ctx, id) => {
        const socket = ctx.extra.socket;
        if (running.get(socket)?.delete(id) && draining) {
          // After graphql-ws has sent the operation's `complete`.
          setImmediate(() => closeIfIdle(socket));
        }
      },
      onError: (_ctx, _id, _payload, errors) => {
        const formatted = refusals.get(errors);
        refusals.delete(errors);
        return formatted ? [...formatted] : errors.map((e) => pipeline.formatError(e.toJSON(), e));
      },
      execute: (args) => pipeline.execute(args.contextValue as unknown as PreparedOperation) as never,
      subscribe: async (args) => {
        const prepared = args.contextValue as unknown as PreparedOperation;
        const stream = await pipeline.subscribe(prepared);
        const destination = destinations.get(prepared);
        if (!destination || !(Symbol.asyncIterator in stream)) return stream as never;
        // graphql-ws's \`for await\` sees an iterable that yields nothing: the frames are written by EventFrames.
        return new EventFrames(stream, destination.socket, destination.id, pipeline, maxBuffered) as never;
      },
      // The pipeline's results (queries, mutations, a subscription that could not start) are finished, errors formatted: sent as they are.
      onNext: (_ctx, _id, _payload, _args, result) => result,
    },
    wss,
    options.keepAliveMs ?? 12_000,
  );
  // graphql-ws prints socket errors to the console as "internal errors"; they are a client's
  // (a message over the size limit: ws has already closed the socket with 1009 and says why),
  // so they go to the gateway's log instead, registered after graphql-ws's own listener.
  wss.on('connection', (socket: WebSocket) => {
    socket.removeAllListeners('error');
    socket.on('error', (error: Error & { code?: string }) => {
      options.log?.warn({ code: error.code, reason: error.message }, 'a WebSocket client sent what the gateway refuses; the socket is closed');
      if (socket.readyState === socket.OPEN) socket.close(1008, truncateReason(error.message));
    });
  });
  return {
    dispose: () => server.dispose(),
    /**
     * Shutdown: each socket is closed (1001, "Going away", which graphql-ws
     * clients take as "reconnect elsewhere") once its queries and mutations have
     * sent their results; a socket that carries only subscriptions closes now.
     */
    drain(): void {
      draining = true;
      for (const socket of wss.clients) closeIfIdle(socket);
    },
  };
}

/**
 * A subscription's events written straight to its socket as graphql-ws `next`
 * messages. graphql-ws would serialize every result once per subscriber and wait
 * for each write; here the result's JSON is the one the pipeline made for every
 * subscriber of the same feed, framed with this subscription's id, and writes
 * are not awaited one by one: what the socket cannot take yet waits in its
 * buffer, bounded by `maxBuffered` (past it the subscriber is closed with 4429).
 *
 * To graphql-ws this is an iterable that yields nothing and ends with the
 * stream: it then sends `complete` (or, when the stream fails, the error), after
 * every frame written here. A client's `complete` calls `return()`.
 */
class EventFrames implements AsyncGenerator<never> {
  private readonly prefix: string;
  private stopped = false;

  constructor(
    private readonly stream: EventStream,
    private readonly socket: WebSocket,
    id: string,
    private readonly pipeline: OperationPipeline,
    private readonly maxBuffered: number,
  ) {
    this.prefix = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<never>> {
    const { socket, stream } = this;
    for (;;) {
      // Synchronously while events are at hand (a fan-out, a backlog); else wait for the next one.
      const step = stream.poll() ?? stream.next();
      const next = step instanceof Promise ? await step : step;
      if (next.done || this.stopped) return { done: true, value: undefined };
      if (socket.readyState !== socket.OPEN) {
        await stream.return(undefined);
        return { done: true, value: undefined };
      }
      if (socket.bufferedAmount > this.maxBuffered) {
        socket.close(SLOW_SUBSCRIBER_CLOSE, truncateReason(`Slow subscriber: over ${this.maxBuffered} bytes waited to be sent; reconnect with your last cursor`));
        await stream.return(undefined);
        return { done: true, value: undefined };
      }
      sendInTurn(socket, `${this.prefix}${this.pipeline.serialize(next.value)}}`);
    }
  }

  async return(): Promise<IteratorResult<never>> {
    this.stopped = true;
    await this.stream.return(undefined);
    return { done: true, value: undefined };
  }

  async throw(error?: unknown): Promise<IteratorResult<never>> {
    this.stopped = true;
    await this.stream.return(undefined);
    throw error;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.return().then(() => undefined);
  }
}

/** TCP sockets corked until the end of this turn of the event loop (see `sendInTurn`). */
const corked = new WeakSet<Duplex>();

/**
 * Sends a message, leaving the socket corked until the end of this turn of the
 * event loop, so the messages a subscriber gets in one turn leave in one write.
 * A write is a system call, and at a thousand subscribers it is most of what
 * delivering an event costs: when events come faster than they are written,
 * the backlog a subscriber catches up on in one turn goes out in one call
 * instead of one per event, so delivery keeps up rather than falling behind.
 * An event that comes alone is delayed by at most the rest of its own fan-out.
 * (`_socket` is the TCP socket under ws's WebSocket; without it, a plain send.)
 */
function sendInTurn(socket: WebSocket, message: string): void {
  const raw = (socket as unknown as { _socket?: Duplex })._socket;
  if (raw && typeof raw.cork === 'function' && !corked.has(raw)) {
    corked.add(raw);
    raw.cork();
    setImmediate(() => {
      corked.delete(raw);
      raw.uncork();
    });
  }
  socket.send(message);
}

/**
 * One socket carries many operations: each gets its own request id (the
 * connection's `x-request-id`, when it sent one, suffixed with the operation id),
 * so logs, traces and upstream headers tell them apart.
 */
function perOperation(request: RequestInfo, operationId: string): RequestInfo {
  const connectionId = request.headers['x-request-id'];
  if (!connectionId) return request;
  return { ...request, headers: { ...request.headers, 'x-request-id': `${connectionId}:${operationId}`.slice(0, 128) } };
}

/** A WebSocket close reason is at most 123 bytes. */
function truncateReason(reason: string): string {
  return Buffer.byteLength(reason) <= 123 ? reason : `${Buffer.from(reason).subarray(0, 120).toString('utf8')}...`;
}
