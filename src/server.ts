import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { AddressInfo, Socket } from 'node:net';
import { HeaderMap } from '@apollo/server';
import { WebSocketServer } from 'ws';
import type { RequestInfo } from './core/platform.js';
import { SwitchboardError, toGraphQLErrorExtensions } from './core/upstream/errors.js';
import type { Infra } from './core/infra.js';
import { ideHtml } from './core/ide.js';
import type { OperationPipeline } from './core/graphql/pipeline.js';
import { createApolloAdapter } from './core/graphql/transports/apollo.js';
import { useWebSocketAdapter } from './core/graphql/transports/ws.js';
import { createSseAdapter, isSseRequest } from './core/graphql/transports/sse.js';
import { requestHeaders } from './core/graphql/transports/headers.js';
import { inFlightOf, listenProblem, watchInFlight } from './core/lifecycle.js';

export interface ReadinessReport {
  ready: boolean;
  platforms: Record<string, { ok: boolean; simulated: boolean; error?: { code: string; message: string } }>;
}

export interface GatewayServerOptions {
  /** The one operation pipeline every transport adapts to. */
  pipeline: OperationPipeline;
  infra: Infra;
  maxRequestBytes: number;
  readiness: () => Promise<ReadinessReport>;
  /** Extra routes (the webhook receiver): return true when handled. */
  extraRoutes?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
}

export interface GatewayServer {
  readonly server: Server;
  listen(port: number, host: string): Promise<string>;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);

/** How long a shutdown waits for requests in flight before closing their connections. */
const SHUTDOWN_GRACE_MS = 5_000;

/** Browser IDE assets, served from node_modules: no CDN, no bundler, no internet needed. */
const IDE_ASSETS: Record<string, { file: string; type: string }> = {
  'react.js': { file: 'react/umd/react.production.min.js', type: 'text/javascript' },
  'react-dom.js': { file: 'react-dom/umd/react-dom.production.min.js', type: 'text/javascript' },
  'graphiql.js': { file: 'graphiql/graphiql.min.js', type: 'text/javascript' },
  'graphiql.css': { file: 'graphiql/graphiql.min.css', type: 'text/css' },
  'graphql-ws.js': { file: 'graphql-ws/umd/graphql-ws.min.js', type: 'text/javascript' },
};

export async function createGatewayServer(options: GatewayServerOptions): Promise<GatewayServer> {
  const { pipeline, infra } = options;
  const { log, metrics } = infra;
  const registry = metrics.registry;
  const apollo = await createApolloAdapter(pipeline, infra);
  const serveSse = createSseAdapter(pipeline, { maxRequestBytes: options.maxRequestBytes });

  const idePage = ideHtml();
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.error({ err: error }, 'request handler failed');
      if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
      else res.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  // The same size limit as HTTP bodies (ws would otherwise accept 100 MiB messages).
  const wss = new WebSocketServer({ server, path: '/graphql', maxPayload: options.maxRequestBytes });
  const wsCleanup = useWebSocketAdapter(wss, pipeline);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gateway');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path === '/graphql') {
      if (req.method === 'GET' && wantsHtml(req) && !url.searchParams.has('query')) return sendHtml(res, idePage);
      if (isSseRequest(req, url)) return sse(req, res);
      return graphql(req, res, url);
    }
    if (path === '/' && req.method === 'GET') {
      res.writeHead(302, { location: '/graphql' });
      res.end();
      return;
    }
    if (path.startsWith('/ide/') && req.method === 'GET') return ideAsset(res, path.slice(5));
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      const report = await options.readiness();
      return sendJson(res, report.ready ? 200 : 503, report);
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(await registry.metrics());
      return;
    }
    if (options.extraRoutes && (await options.extraRoutes(req, res, url))) return;
    sendJson(res, 404, { error: `Nothing at ${req.method} ${url.pathname}. GraphQL is served at /graphql.` });
  }

  async function sse(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: string | undefined;
    if (req.method === 'POST') {
      const read = await readBody(req, options.maxRequestBytes);
      if (read.tooLarge) {
        return sendJson(res, 413, graphqlErrorBody(`Expected a request body of at most ${options.maxRequestBytes} bytes; got more`, 'PAYLOAD_TOO_LARGE'));
      }
      body = read.text;
    }
    return serveSse(req, res, body);
  }

  async function graphql(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    let body: unknown;
    if (req.method === 'POST') {
      const read = await readBody(req, options.maxRequestBytes);
      if (read.tooLarge) {
        return sendJson(res, 413, graphqlErrorBody(`Expected a request body of at most ${options.maxRequestBytes} bytes; got more`, 'PAYLOAD_TOO_LARGE'));
      }
      const type = String(req.headers['content-type'] ?? '');
      if (type.includes('json')) {
        try {
          body = read.text.length ? JSON.parse(read.text) : undefined;
        } catch (error) {
          return sendJson(res, 400, graphqlErrorBody(`Expected a JSON request body; it does not parse: ${(error as Error).message}`, 'BAD_REQUEST'));
        }
      } else {
        body = read.text;
      }
    }
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    let request: RequestInfo;
    try {
      request = await pipeline.authenticate({ headers: requestHeaders(req.headers) });
    } catch (error) {
      if (!(error instanceof SwitchboardError)) throw error;
      return sendJson(res, error.code === 'UNAUTHENTICATED' ? 401 : 403, { errors: [{ message: error.message, extensions: toGraphQLErrorExtensions(error) }] });
    }
    const result = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
      context: async () => pipeline.createContext(request),
    });
    const responseHeaders: Record<string, string> = {};
    for (const [key, value] of result.headers) responseHeaders[key] = value;
    res.writeHead(result.status ?? 200, responseHeaders);
    if (result.body.kind === 'complete') {
      res.end(result.body.string);
      return;
    }
    for await (const chunk of result.body.asyncIterator) res.write(chunk);
    res.end();
  }

  return {
    server,
    async listen(port, host) {
      // Watched from the first connection on, so a shutdown knows what is in flight.
      watchInFlight(server, wss);
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, host, () => {
            server.off('error', reject);
            resolve();
          });
        });
      } catch (error) {
        // A port taken or a HOST that is not this machine's is a setting to fix, not a crash.
        throw listenProblem(error, port, host) ?? error;
      }
      const address = server.address() as AddressInfo;
      return `http://${host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`;
    },
    async close() {
      // New connections are refused from here on; each open one closes once what it carries has
      // finished (an HTTP answer, a WebSocket's queries and mutations), and an idle gateway is done at once.
      const closed = server.listening ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
      inFlightOf(server)?.drain();
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_GRACE_MS)))]);
      clearTimeout(timer);
      // What the grace period did not see finish (subscription streams over SSE, a client that never closes) is cut.
      await wsCleanup.dispose();
      for (const client of wss.clients) client.terminate();
      for (const socket of sockets) socket.destroy();
      await closed;
      await apollo.stop();
    },
  };
}

function wantsHtml(req: IncomingMessage): boolean {
  const accept = String(req.headers.accept ?? '');
  return accept.includes('text/html');
}

function graphqlErrorBody(message: string, code: string) {
  return { errors: [{ message, extensions: { code } }] };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendHtml(res: ServerResponse, html: string): void {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) });
  res.end(html);
}

/**
 * Finds a file inside an installed package by walking node_modules folders the
 * way Node does: these UMD files sit outside the packages' `exports`, so
 * `require.resolve` refuses them.
 */
const packageFiles = new Map<string, string | undefined>();

function packageFile(file: string): string | undefined {
  if (packageFiles.has(file)) return packageFiles.get(file);
  const found = findPackageFile(file);
  packageFiles.set(file, found);
  return found;
}

function findPackageFile(file: string): string | undefined {
  const name = file.split('/')[0]!;
  for (const dir of require.resolve.paths(name) ?? []) {
    const candidate = join(dir, file);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

function ideAsset(res: ServerResponse, name: string): void {
  const asset = IDE_ASSETS[name];
  const file = asset && packageFile(asset.file);
  if (!asset || !file) return sendJson(res, 404, { error: `No IDE asset named ${name}` });
  res.writeHead(200, { 'content-type': `${asset.type}; charset=utf-8`, 'cache-control': 'public, max-age=86400' });
  createReadStream(file).pipe(res);
}

function readBody(req: IncomingMessage, limit: number): Promise<{ text: string; tooLarge: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve({ text: tooLarge ? '' : Buffer.concat(chunks).toString('utf8'), tooLarge }));
    req.on('error', reject);
  });
}
