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
import { readRequestBody } from './core/request-body.js';
import type { OperationPipeline } from './core/graphql/pipeline.js';
import { createApolloAdapter } from './core/graphql/transports/apollo.js';
import { answerJsonOperation, plainJsonOperation } from './core/graphql/transports/http.js';
import { useWebSocketAdapter } from './core/graphql/transports/ws.js';
import { createSseAdapter, isSseRequest } from './core/graphql/transports/sse.js';
import { requestHeaders } from './core/graphql/transports/headers.js';
import { settleRequestId } from './core/observability/request-id.js';
import { inFlightOf, listenProblem, watchInFlight } from './core/lifecycle.js';
import { httpHeadersOf, type Security, type SecurityError } from './core/security/index.js';

export interface ReadinessReport {
  ready: boolean;
  platforms: Record<string, { ok: boolean; simulated: boolean; error?: { code: string; message: string } }>;
}

export interface GatewayServerOptions {
  /** The one operation pipeline every transport adapts to. */
  pipeline: OperationPipeline;
  infra: Infra;
  maxRequestBytes: number;
  /** Bytes that may wait to be sent to one WebSocket subscriber before it is closed (4429). */
  maxSubscriberBytes?: number;
  readiness: () => Promise<ReadinessReport>;
  /** Extra routes (the webhook receiver): return true when handled. */
  extraRoutes?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
  /** Who may call, and which browsers may reach the gateway (src/core/security/). */
  security?: Security;
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
  const { security } = options;
  const apollo = await createApolloAdapter(pipeline, infra, { allowBatchedHttpRequests: security?.config.allowBatchedRequests ?? false });
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
  const wss = new WebSocketServer({
    server,
    path: '/graphql',
    maxPayload: options.maxRequestBytes,
    // A browser opens a WebSocket to any origin without asking: the page's Origin and the Host it used are checked first.
    verifyClient: security
      ? (info, done) => {
          const refused = security.browser.checkHost(info.req.headers.host) ?? security.browser.checkOrigin(info.origin || undefined, info.req.headers.host);
          if (refused) done(false, refused.httpStatus, `${refused.code}: ${refused.message}`);
          else done(true);
        }
      : undefined,
  });
  const wsCleanup = useWebSocketAdapter(wss, pipeline, { log, maxBufferedBytes: options.maxSubscriberBytes });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gateway');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    // Before any answer, so every GraphQL response carries its request id (refusals, 401s and streams too).
    if (path === '/graphql') settleRequestId(req, res);
    // DNS rebinding: a page on another name that resolves here is refused. Health checks and webhook senders use whatever name they were given.
    if (security && path !== '/healthz' && !path.startsWith('/webhooks/')) {
      const refused = security.browser.checkHost(req.headers.host);
      if (refused) return sendRefusal(res, refused);
    }
    if (path === '/graphql' && security) {
      const origin = req.headers.origin;
      if (req.method === 'OPTIONS') {
        const preflight = security.browser.preflight(origin, req.headers.host);
        res.writeHead(preflight.status, preflight.headers);
        res.end();
        return;
      }
      // A page from another origin may not use the gateway (SSE and plain HTTP alike), unless listed in ALLOWED_ORIGINS.
      const refused = security.browser.checkOrigin(origin, req.headers.host);
      if (refused) return sendRefusal(res, refused);
      for (const [name, value] of Object.entries(security.browser.corsHeaders(origin))) res.setHeader(name, value);
    }
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
      // Upstream error messages name routes and ids: only an admin (or the embedded default) sees them.
      const full = !security || security.config.anonymous || security.mayDiagnose(await security.authenticate(requestHeaders(req.headers)).catch(() => undefined));
      return sendJson(res, report.ready ? 200 : 503, full ? report : redactReadiness(report));
    }
    if (path === '/metrics') {
      if (security && !security.config.anonymous) {
        let principal;
        try {
          principal = await security.authenticate(requestHeaders(req.headers));
        } catch (error) {
          if (!(error instanceof SwitchboardError)) throw error;
          return sendJson(res, 401, { errors: [{ message: error.message, extensions: toGraphQLErrorExtensions(error) }] }, httpHeadersOf(error));
        }
        if (!security.mayDiagnose(principal)) {
          return sendJson(res, 403, graphqlErrorBody('The metrics need a client with the admin scope (Prometheus: `authorization: { credentials: <API key> }`).', 'FORBIDDEN'));
        }
      }
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
      const read = await readRequestBody(req, options.maxRequestBytes);
      if (!read) return sendTooLarge(res, options.maxRequestBytes);
      body = read.toString('utf8');
      const tooLong = security && documentTooLong(security, body);
      if (tooLong) return sendRefusal(res, tooLong);
    }
    return serveSse(req, res, body);
  }

  async function graphql(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    let body: unknown;
    if (req.method === 'POST') {
      const read = await readRequestBody(req, options.maxRequestBytes);
      if (!read) return sendTooLarge(res, options.maxRequestBytes);
      const text = read.toString('utf8');
      const type = String(req.headers['content-type'] ?? '');
      if (type.includes('json')) {
        try {
          body = text.length ? JSON.parse(text) : undefined;
        } catch (error) {
          return sendJson(res, 400, graphqlErrorBody(`Expected a JSON request body; it does not parse: ${(error as Error).message}`, 'BAD_REQUEST'));
        }
      } else {
        body = text;
      }
    }
    // The document's length is checked before anything parses it (WebSocket and SSE: in the pipeline).
    const tooLong = security && (documentTooLong(security, body) ?? (url.searchParams.get('query') !== null ? security.checkSource(url.searchParams.get('query')!) : undefined));
    if (tooLong) return sendRefusal(res, tooLong);
    let request: RequestInfo;
    try {
      request = await pipeline.authenticate({ headers: requestHeaders(req.headers) });
    } catch (error) {
      if (!(error instanceof SwitchboardError)) throw error;
      return sendJson(res, error.code === 'UNAUTHENTICATED' ? 401 : 403, { errors: [{ message: error.message, extensions: toGraphQLErrorExtensions(error) }] }, httpHeadersOf(error));
    }
    // One operation POSTed as JSON (nearly every request): straight to the pipeline. Everything else: Apollo Server.
    const plain = req.method === 'POST' ? plainJsonOperation(body, req.headers['content-type'], req.headers.accept) : undefined;
    if (plain) return answerJsonOperation(pipeline, plain, request, res);
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
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
      watchInFlight(server, () => wsCleanup.drain());
      // ws passes the server's errors on to graphql-ws, which prints them with a stack as internal
      // errors; a failure to listen is this method's to report, once, so they are held back meanwhile.
      const forwarders = server.listeners('error') as ((error: Error) => void)[];
      server.removeAllListeners('error');
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
      } finally {
        for (const forward of forwarders) server.on('error', forward);
      }
      const address = server.address() as AddressInfo;
      return `http://${host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`;
    },
    async close() {
      // New connections are refused from here on; each open one closes once what it carries has
      // finished (an HTTP answer, a WebSocket's queries and mutations), and an idle gateway is done at once.
      const closed = server.listening ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
      inFlightOf(server)?.drain();
      let timer: NodeJS.Timeout | undefined;
      const graceOver = await Promise.race([
        closed.then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), SHUTDOWN_GRACE_MS))),
      ]);
      clearTimeout(timer);
      // What the grace period did not see finish (subscription streams over SSE, a client that never closes) is cut.
      if (graceOver) log.warn({ connections: sockets.size, graceMs: SHUTDOWN_GRACE_MS }, 'shutdown grace period over: cutting the connections still open');
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

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** 413, without reading the rest of the body: the connection closes after the answer. */
function sendTooLarge(res: ServerResponse, limit: number): void {
  sendJson(res, 413, graphqlErrorBody(`Expected a request body of at most ${limit} bytes; got more`, 'PAYLOAD_TOO_LARGE'), { connection: 'close' });
}

/** A refusal by the gateway before any GraphQL work (host, origin, document length), as a GraphQL error body. */
function sendRefusal(res: ServerResponse, error: SecurityError): void {
  sendJson(res, error.httpStatus, { errors: [{ message: error.message, extensions: { ...error.extensions } }] }, error.httpHeaders);
}

/** The document of a request body (one operation, or each of a batch) over the length limit, if any. */
function documentTooLong(security: Security, body: unknown): SecurityError | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined; // the transport answers a body that is not JSON
    }
  }
  for (const entry of Array.isArray(parsed) ? parsed : [parsed]) {
    const query = (entry as { query?: unknown } | null)?.query;
    const refused = typeof query === 'string' ? security.checkSource(query) : undefined;
    if (refused) return refused;
  }
  return undefined;
}

/** What /readyz shows a caller who is not an admin: each platform's state and error code, no message (messages name routes and ids). */
function redactReadiness(report: ReadinessReport): ReadinessReport {
  return {
    ready: report.ready,
    platforms: Object.fromEntries(
      Object.entries(report.platforms).map(([key, entry]) => [key, { ok: entry.ok, simulated: entry.simulated, ...(entry.error ? { error: { code: entry.error.code, message: 'details are shown to clients with the admin scope' } } : {}) }]),
    ),
  };
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
