import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer, WebSocket } from 'ws';
import type { Logger } from 'pino';
import { useServer } from 'graphql-ws/use/ws';
import { CloseCode } from 'graphql-ws';
import type { FormattedExecutionResult, GraphQLError, GraphQLFormattedError } from 'graphql';
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
 * are not awaited one by one: it writes while the socket takes them and waits
 * for it to drain when it does not (see `pump`).
 *
 * To graphql-ws this is an iterable that yields nothing and ends with the
 * stream: it then sends `complete` (or, when the stream fails, the error), after
 * every frame written here. A client's `complete` calls `return()`.
 */
class EventFrames implements AsyncGenerator<never> {
  private readonly prefix: Buffer;
  private stopped = false;
  /** What graphql-ws awaits: settles once, when the stream ends or fails. */
  private ended: Promise<IteratorResult<never>> | undefined;
  private settle: { resolve(result: IteratorResult<never>): void; reject(error: unknown): void } | undefined;
  private readonly resume = () => this.pump();
  /** The TCP socket the frames are written to; undefined when ws must send them itself (see `rawSocketOf`). */
  private readonly raw: Duplex | undefined;
  private paused = false;

  constructor(
    private readonly stream: EventStream,
    private readonly socket: WebSocket,
    id: string,
    private readonly pipeline: OperationPipeline,
    private readonly maxBuffered: number,
  ) {
    this.prefix = Buffer.from(`{"id":${JSON.stringify(id)},"type":"next","payload":`);
    this.raw = rawSocketOf(socket);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<never>> {
    this.ended ??= new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
      this.pump();
    });
    return this.ended;
  }

  /**
   * Writes what the stream has at hand, then waits for more without a promise
   * (`waitReady`), or awaits the one step that needs it. An event reaching a
   * thousand subscribers is a thousand synchronous writes, not a thousand chains
   * of promises. At most `SLICE` events in a row: then the other subscribers get
   * their turn, so all of them go through a burst together and share its
   * results. When the socket's buffer is full (its reader is slower than the
   * feed, or catching up a backlog) it waits for the socket to drain: the events
   * wait in the log meanwhile, and a reader that falls more than
   * EVENT_SUBSCRIBER_BUFFER events behind is closed (4429).
   */
  private pump(): void {
    try {
      for (let written = 0; ; written++) {
        if (this.stopped) {
          this.finish();
          return;
        }
        if (this.raw?.writableNeedDrain) {
          this.pauseUntilDrained(this.raw);
          return;
        }
        if (written === SLICE) {
          queueMicrotask(this.resume);
          return;
        }
        let step = this.stream.poll();
        if (step === undefined) {
          if (this.stream.waitReady(this.resume)) return;
          step = this.stream.next();
        }
        if (step instanceof Promise) {
          step.then((next) => void (this.deliver(next) && this.pump())).catch((error: unknown) => this.fail(error));
          return;
        }
        if (!this.deliver(step)) return;
      }
    } catch (error) {
      this.fail(error);
    }
  }

  private pauseUntilDrained(raw: Duplex): void {
    if (this.paused) return;
    this.paused = true;
    raw.once('drain', () => {
      this.paused = false;
      this.pump();
    });
    // While it waits, the log may give up on this reader: it is told why, and let go at once.
    this.stream.whenFailed((error) => {
      if (this.stopped || !this.paused) return;
      const reason = `Slow subscriber: ${error.message}`;
      if (this.socket.readyState === this.socket.OPEN) this.socket.close(SLOW_SUBSCRIBER_CLOSE, truncateReason(reason));
      this.letGo();
    });
  }

  /** Writes one result; false once the stream ended or the subscriber was let go. */
  private deliver(next: IteratorResult<FormattedExecutionResult>): boolean {
    const { socket } = this;
    if (next.done || this.stopped) return this.finish();
    if (socket.readyState !== socket.OPEN) return this.letGo();
    // The hard bound, for a single result larger than it (the drain wait keeps the rest under it).
    if (socket.bufferedAmount > this.maxBuffered) {
      socket.close(SLOW_SUBSCRIBER_CLOSE, truncateReason(`Slow subscriber: over ${this.maxBuffered} bytes waited to be sent; reconnect with your last cursor`));
      return this.letGo();
    }
    sendInTurn(socket, this.raw, this.prefix, this.pipeline.serializeBytes(next.value));
    return true;
  }

  private letGo(): false {
    this.stopped = true;
    this.stream.return(undefined).then(() => this.finish(), (error: unknown) => this.fail(error));
    return false;
  }

  private finish(): false {
    this.stopped = true;
    this.settle?.resolve({ done: true, value: undefined });
    return false;
  }

  private fail(error: unknown): void {
    this.stopped = true;
    this.stream.return(undefined).catch(() => undefined);
    this.settle?.reject(error);
  }

  async return(): Promise<IteratorResult<never>> {
    this.stopped = true;
    await this.stream.return(undefined);
    this.finish();
    return { done: true, value: undefined };
  }

  async throw(error?: unknown): Promise<IteratorResult<never>> {
    this.stopped = true;
    await this.stream.return(undefined);
    this.finish();
    throw error;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.return().then(() => undefined);
  }
}

/** TCP sockets corked until the end of this turn of the event loop (see `sendInTurn`). */
const corked = new WeakSet<Duplex>();
/** Events one subscriber is written in a row before the others get their turn. */
const SLICE = 32;
const CLOSE_BRACE = Buffer.from('}');

/**
 * Sends the message `prefix + payload + "}"` (a graphql-ws `next`: the
 * subscription's own opening, the result's JSON shared by every subscriber of
 * the feed) as one WebSocket text frame, in one write on the TCP socket, left
 * corked until the end of this turn of the event loop.
 *
 * A write is a system call, and at a thousand subscribers it is most of what
 * delivering an event costs: the messages a subscriber gets in one turn (a
 * backlog it catches up on) leave in one call instead of one per event. An
 * event that comes alone waits at most for the rest of its own fan-out.
 *
 * The frame is built here rather than by ws (which would write a header and
 * a body per message, and encode the text for each subscriber): a server's frame
 * is unmasked and this gateway negotiates no compression, so the bytes are the
 * RFC 6455 header and the payload. ws writes its own frames (pings, close) whole
 * and synchronously, so frames never interleave. Without the TCP socket (or
 * with compression negotiated), ws sends the message itself (`rawSocketOf`).
 */
function sendInTurn(socket: WebSocket, raw: Duplex | undefined, prefix: Buffer, payload: Buffer): void {
  if (!raw) {
    socket.send(Buffer.concat([prefix, payload, CLOSE_BRACE]), { binary: false });
    return;
  }
  if (!corked.has(raw)) {
    corked.add(raw);
    raw.cork();
    setImmediate(() => {
      corked.delete(raw);
      raw.uncork();
    });
  }
  raw.write(textFrame(prefix, payload, CLOSE_BRACE));
}

/**
 * The TCP socket under ws's WebSocket (`_socket`), when frames may be written to
 * it directly: not when a compression extension was negotiated (ws would then
 * queue its own frames while compressing, and ours could pass them).
 */
function rawSocketOf(socket: WebSocket): Duplex | undefined {
  const raw = (socket as unknown as { _socket?: Duplex })._socket;
  if (!raw || typeof raw.cork !== 'function' || socket.extensions) return undefined;
  return raw;
}

/** One unmasked, final WebSocket text frame (RFC 6455 §5.2) carrying the parts in order. */
function textFrame(...parts: Buffer[]): Buffer {
  let length = 0;
  for (const part of parts) length += part.length;
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81; // FIN, text
  if (header === 2) frame[1] = length;
  else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  let offset = header;
  for (const part of parts) offset += part.copy(frame, offset);
  return frame;
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
