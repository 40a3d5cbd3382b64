import type { Server, ServerResponse } from 'node:http';
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
 * with `Connection: close`; WebSockets are drained by their adapter
 * (`drainSockets`: each closes once its queries and mutations have answered).
 * What is still open when the grace period ends is cut by the caller.
 */
export interface InFlight {
  /** Starts closing connections as they become idle; idle ones close now. Call after `server.close()`. */
  drain(): void;
}

const trackers = new WeakMap<Server, InFlight>();

/** Starts watching the server's requests (idempotent; call before it accepts connections). */
export function watchInFlight(server: Server, drainSockets: () => void): InFlight {
  const existing = trackers.get(server);
  if (existing) return existing;
  let draining = false;
  const responses = new Set<ServerResponse>();

  server.on('request', (_req, res: ServerResponse) => {
    responses.add(res);
    if (draining) res.shouldKeepAlive = false;
    res.once('close', () => {
      responses.delete(res);
      // A response that started before the drain leaves its keep-alive connection idle: close it.
      if (draining) setImmediate(() => server.closeIdleConnections());
    });
  });

  const inFlight: InFlight = {
    drain() {
      if (draining) return;
      draining = true;
      // Answers not yet begun say `Connection: close`, so their connection ends with them.
      for (const res of responses) if (!res.headersSent) res.shouldKeepAlive = false;
      server.closeIdleConnections();
      drainSockets();
    },
  };
  trackers.set(server, inFlight);
  return inFlight;
}

/** The tracker `watchInFlight` set up for this server, if any. */
export function inFlightOf(server: Server): InFlight | undefined {
  return trackers.get(server);
}
