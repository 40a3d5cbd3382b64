import type { Server, ServerResponse } from 'node:http';
import { getOperationAST, parse } from 'graphql';
import type { WebSocket, WebSocketServer } from 'ws';
import { ConfigError } from './env.js';

/**
 * A listen failure that a setting caused, as the one-line configuration problem
 * that names the setting and what to do; undefined for failures no setting
 * explains (out of file descriptors, say), which stay as they are.
 */
export function listenProblem(error: unknown, port: number, host: string): ConfigError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'EADDRINUSE':
      return new ConfigError([`PORT: ${port} is already in use on ${host}; stop what listens there, or set PORT to a free port (0 picks one)`]);
    case 'EACCES':
      return new ConfigError([`PORT: this user may not listen on port ${port}; set PORT to a port above 1023, or grant the permission to bind it`]);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
      return new ConfigError([`HOST: ${JSON.stringify(host)} does not resolve to an address; set HOST to an address of this machine (127.0.0.1, or 0.0.0.0 for every interface)`]);
    case 'EADDRNOTAVAIL':
    case 'EINVAL':
      return new ConfigError([`HOST: ${JSON.stringify(host)} is not an address of this machine; set HOST to one of its addresses (127.0.0.1, or 0.0.0.0 for every interface)`]);
    default:
      return undefined;
  }
}

/**
 * What lets a gateway stop without cutting its users off: once the listener is
 * closed (new connections are refused), each open connection is closed as soon
 * as what it carries has finished. An HTTP request in flight gets its answer
 * with `Connection: close`; a WebSocket is closed (1001, "Going away", which
 * graphql-ws clients treat as "reconnect elsewhere") once its queries and
 * mutations have sent their results. Subscriptions never finish by themselves,
 * so a socket that only carries those is closed at once. What is still open when
 * the grace period ends is cut by the caller.
 */
export interface InFlight {
  /** Starts closing connections as they become idle; idle ones close now. Call after `server.close()`. */
  drain(): void;
}

const trackers = new WeakMap<Server, InFlight>();

/** Starts watching the server's requests and WebSocket operations (idempotent; call before it accepts connections). */
export function watchInFlight(server: Server, wss: WebSocketServer): InFlight {
  const existing = trackers.get(server);
  if (existing) return existing;
  let draining = false;
  const responses = new Set<ServerResponse>();
  const sockets = new Set<OperationSocket>();

  server.on('request', (_req, res: ServerResponse) => {
    responses.add(res);
    if (draining) res.shouldKeepAlive = false;
    res.once('close', () => {
      responses.delete(res);
      // A response that started before the drain leaves its keep-alive connection idle: close it.
      if (draining) setImmediate(() => server.closeIdleConnections());
    });
  });
  wss.on('connection', (socket: WebSocket) => {
    const tracked = new OperationSocket(socket, () => draining);
    sockets.add(tracked);
    socket.once('close', () => sockets.delete(tracked));
  });

  const inFlight: InFlight = {
    drain() {
      if (draining) return;
      draining = true;
      // Answers not yet begun say `Connection: close`, so their connection ends with them.
      for (const res of responses) if (!res.headersSent) res.shouldKeepAlive = false;
      server.closeIdleConnections();
      for (const socket of sockets) socket.closeWhenIdle();
    },
  };
  trackers.set(server, inFlight);
  return inFlight;
}

/** The tracker `watchInFlight` set up for this server, if any. */
export function inFlightOf(server: Server): InFlight | undefined {
  return trackers.get(server);
}

// graphql-ws (graphql-transport-ws protocol) writes server messages as
// `{"id":…,"type":…` and sends `complete` or `error` as an operation's last
// message; only that head is read, never a result's payload.
const SERVER_MESSAGE_HEAD = /^\{"id":("(?:[^"\\]|\\.)*"),"type":"(complete|error)"/;

/** The operations one WebSocket carries, read from the protocol's messages. */
class OperationSocket {
  /** Operation id → its query text and operation name, from `subscribe` until its last message. */
  private readonly operations = new Map<string, Operation>();
  private closing = false;

  constructor(
    private readonly socket: WebSocket,
    private readonly draining: () => boolean,
  ) {
    socket.on('message', (data, isBinary) => {
      if (isBinary) return;
      let message: { type?: unknown; id?: unknown; payload?: { query?: unknown; operationName?: unknown } };
      try {
        message = JSON.parse(String(data)) as typeof message;
      } catch {
        return; // graphql-ws answers it; nothing started
      }
      if (typeof message.id !== 'string') return;
      if (message.type === 'subscribe') {
        const { query, operationName } = message.payload ?? {};
        this.operations.set(message.id, {
          query: typeof query === 'string' ? query : '',
          ...(typeof operationName === 'string' ? { operationName } : {}),
        });
      } else if (message.type === 'complete') {
        this.finished(message.id);
      }
    });
    // graphql-ws sends through `socket.send`; seeing its last message per operation needs the outgoing side.
    const send = socket.send.bind(socket) as (data: unknown, ...rest: unknown[]) => void;
    socket.send = ((data: unknown, ...rest: unknown[]) => {
      send(data, ...rest);
      if (typeof data === 'string') {
        const head = SERVER_MESSAGE_HEAD.exec(data.slice(0, 512));
        if (head) this.finished(JSON.parse(head[1]!) as string);
      }
    }) as WebSocket['send'];
  }

  /** Closes the socket once no query or mutation is running on it (subscriptions do not hold it open). */
  closeWhenIdle(): void {
    if (this.closing) return;
    for (const operation of this.operations.values()) {
      // Read only now, at shutdown, so that running operations cost no second parse.
      operation.subscription ??= isSubscription(operation);
      if (!operation.subscription) return;
    }
    this.closing = true;
    this.socket.close(1001, 'Going away');
  }

  private finished(id: string): void {
    this.operations.delete(id);
    if (this.draining()) this.closeWhenIdle();
  }
}

interface Operation {
  query: string;
  operationName?: string;
  subscription?: boolean;
}

function isSubscription(operation: Operation): boolean {
  try {
    return getOperationAST(parse(operation.query), operation.operationName)?.operation === 'subscription';
  } catch {
    return false; // it will be refused, and finished, at once
  }
}
