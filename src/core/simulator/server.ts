import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The HTTP toolkit the platform simulators are built on: a small router, a log of
 * every request received (tests assert batching on it), fixed latency, and fault
 * injection per route. It knows no platform: each simulator adds its routes.
 */

export interface SimRequest {
  method: string;
  /** The path as sent, without the query string. */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** Parsed JSON or form body; the raw text when it is neither; undefined when empty. */
  body: unknown;
  rawBody: string;
  /** Values of `:name` segments in the route pattern. */
  params: Record<string, string>;
}

export interface SimResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type SimHandler = (req: SimRequest) => SimResponse | Promise<SimResponse>;

export interface LoggedRequest {
  method: string;
  path: string;
  query: string;
  /** The route pattern that matched (`GET /api/customers/:id`), or `unmatched`. */
  route: string;
  headers: IncomingMessage['headers'];
  /** The `x-request-id` the caller sent (a gateway sends its operation's), kept in the control API's log where headers are not. */
  requestId?: string;
  body: unknown;
  status: number;
  at: number;
}

export interface Fault {
  /** Answer with this status (and body) instead of running the route. */
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Wait this long before answering (longer than the gateway's timeout hangs it). */
  delayMs?: number;
  /** Destroy the socket without answering. */
  drop?: boolean;
  /** Send the headers (`status`, default 200), then one byte of body every this many milliseconds, never finishing: an upstream that drips. */
  dripMs?: number;
  /** Answer (`status`, default 200) with a JSON body of this many bytes, streamed as the client reads it, without Content-Length: a huge answer that costs the simulator no memory. */
  bodyBytes?: number;
  /** Apply to this many requests, then stop (default: until cleared). */
  times?: number;
}

interface Route {
  method: string;
  pattern: string;
  segments: string[];
  handler: SimHandler;
}

export class SimServer {
  readonly log: LoggedRequest[] = [];
  /** Added to every answer, in milliseconds. */
  latencyMs = 0;
  /** The log keeps the most recent requests only, so a simulator running for days stays small. */
  maxLogEntries = 10_000;
  /**
   * Off (0) unless set. When set, a GET answered 2xx is remembered for this many
   * milliseconds, by path, query and credentials, and the same GET within that
   * time gets the same bytes without the route running again; any other method
   * forgets everything (it may change what a GET answers). Logged, delayed and
   * faulted like any request. For load tests on one machine (the side-by-side
   * benchmark), where the upstreams' CPU is not what is measured: real upstreams
   * run elsewhere and cost the gateway's machine nothing.
   */
  answerCacheMs = 0;
  private readonly answers = new Map<string, { at: number; status: number; headers: Record<string, string>; payload: string }>();
  private readonly routes: Route[] = [];
  private readonly faults = new Map<string, Fault>();
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private baseUrl = '';
  /** Called for requests no route matched; the default answers 404. */
  notFound: SimHandler = (req) => ({ status: 404, body: { message: `No route for ${req.method} ${req.path}` } });

  constructor(readonly name: string) {}

  /** `pattern` like `/api/customers/:id`; a trailing `*` segment matches the rest of the path. */
  route(method: string, pattern: string, handler: SimHandler): this {
    this.routes.push({ method, pattern, segments: split(pattern), handler });
    return this;
  }

  /** Inject a fault on a route, named as `METHOD /pattern` (`GET /api/services`) or `*` for all. */
  inject(route: string, fault: Fault): void {
    this.faults.set(route, { ...fault });
  }

  clearFaults(): void {
    this.faults.clear();
  }

  clearLog(): void {
    this.log.length = 0;
  }

  /** Requests received for one route pattern (`GET /api/customers`). */
  requests(route?: string): LoggedRequest[] {
    return route ? this.log.filter((r) => r.route === route) : [...this.log];
  }

  get url(): string {
    return this.baseUrl;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 60_000;
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const address = server.address() as AddressInfo;
    this.baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
    return this.baseUrl;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private control(method: string, action: string, rawBody: string, res: ServerResponse): void {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    let body: Record<string, unknown> = {};
    try {
      body = rawBody ? (JSON.parse(rawBody) as Record<string, unknown>) : {};
    } catch {
      return send(400, { error: 'Expected a JSON body', help: CONTROL_HELP });
    }
    const key = `${method} ${action}`;
    if (key === 'GET requests') return send(200, this.log.map(({ headers: _headers, body: _body, ...entry }) => entry));
    if (key === 'DELETE requests') return (this.clearLog(), send(204, null));
    if (key === 'GET routes') return send(200, this.routes.map((r) => `${r.method} ${r.pattern}`));
    if (key === 'DELETE faults') return (this.clearFaults(), send(204, null));
    if (key === 'PUT latency') {
      if (typeof body.ms !== 'number' || body.ms < 0) return send(400, { error: `Expected {"ms": a number of milliseconds ≥ 0}, got ${JSON.stringify(body)}` });
      this.latencyMs = body.ms;
      return send(200, { latencyMs: this.latencyMs });
    }
    if (key === 'POST faults') {
      const problem = faultProblem(body);
      if (problem) return send(400, { error: problem, help: CONTROL_HELP['POST /__simulator/faults'] });
      const { route, ...fault } = body as unknown as { route: string } & Fault;
      this.inject(route, fault);
      return send(201, { route, ...fault });
    }
    return send(404, { error: `No control action ${method} ${CONTROL_PREFIX}${action}`, help: CONTROL_HELP });
  }

  private match(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
    const parts = split(path);
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const params = matchSegments(route.segments, parts);
      if (params) return { route, params };
    }
    return undefined;
  }

  private takeFault(routeKey: string): Fault | undefined {
    for (const key of [routeKey, '*']) {
      const fault = this.faults.get(key);
      if (!fault) continue;
      if (fault.times !== undefined) {
        fault.times -= 1;
        if (fault.times <= 0) this.faults.delete(key);
      }
      return fault;
    }
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator');
    const rawBody = await readBody(req);
    const method = req.method ?? 'GET';
    if (url.pathname.startsWith(CONTROL_PREFIX)) return this.control(method, url.pathname.slice(CONTROL_PREFIX.length), rawBody, res);
    const found = this.match(method, url.pathname);
    const routeKey = found ? `${method} ${found.route.pattern}` : 'unmatched';
    const entry: LoggedRequest = {
      method,
      path: url.pathname,
      query: url.search,
      route: routeKey,
      headers: req.headers,
      body: parseBody(rawBody, req.headers['content-type']),
      status: 0,
      at: Date.now(),
    };
    const requestId = req.headers['x-request-id'];
    if (typeof requestId === 'string') entry.requestId = requestId;
    this.log.push(entry);
    if (this.log.length > this.maxLogEntries) this.log.splice(0, this.log.length - this.maxLogEntries);
    const fault = this.takeFault(routeKey);
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (res.destroyed) return;
    if (fault?.drop) {
      req.socket.destroy();
      return;
    }
    if (fault?.dripMs !== undefined || fault?.bodyBytes !== undefined) {
      entry.status = fault.status ?? 200;
      res.writeHead(entry.status, { 'content-type': 'application/json', ...fault.headers });
      await (fault.dripMs !== undefined ? drip(res, fault.dripMs) : streamBody(res, fault.bodyBytes!));
      return;
    }
    const cacheKey = this.answerCacheMs > 0 && method === 'GET' ? `${url.pathname}${url.search} ${req.headers.authorization ?? ''} ${req.headers['x-auth-token'] ?? ''}` : undefined;
    if (method !== 'GET' && method !== 'HEAD') this.answers.clear();
    const cached = cacheKey !== undefined && !fault ? this.answers.get(cacheKey) : undefined;
    if (cached && Date.now() - cached.at <= this.answerCacheMs) {
      entry.status = cached.status;
      res.writeHead(cached.status, cached.headers);
      res.end(cached.payload);
      return;
    }
    let response: SimResponse;
    if (fault?.status) {
      response = { status: fault.status, body: fault.body ?? { message: `Injected fault: HTTP ${fault.status}` }, headers: fault.headers };
    } else {
      const simReq: SimRequest = {
        method,
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: entry.body,
        rawBody,
        params: found?.params ?? {},
      };
      try {
        response = found ? await found.route.handler(simReq) : await this.notFound(simReq);
      } catch (error) {
        response = { status: 500, body: { message: `Simulator ${this.name} failed: ${(error as Error).message}` } };
      }
    }
    entry.status = response.status;
    const headers: Record<string, string> = { ...response.headers };
    let payload = '';
    if (response.body !== undefined && response.status !== 204) {
      payload = typeof response.body === 'string' ? response.body : JSON.stringify(response.body);
      headers['content-type'] ??= 'application/json';
    }
    // As a JSON API behind a typical server answers: the length declared, not chunked.
    if (response.status !== 204 && response.status !== 304) headers['content-length'] ??= String(Buffer.byteLength(payload));
    if (cacheKey !== undefined && !fault && response.status >= 200 && response.status < 300) {
      if (this.answers.size >= 1_000) this.answers.clear();
      this.answers.set(cacheKey, { at: Date.now(), status: response.status, headers, payload });
    }
    res.writeHead(response.status, headers);
    res.end(payload);
  }
}

/**
 * The control API, for people and programs outside the test process (a client
 * under development run against `npm run simulate`): inject and clear faults,
 * set latency, read the request log. Under a prefix no platform uses.
 */
export const CONTROL_PREFIX = '/__simulator/';

const CONTROL_HELP = {
  'GET /__simulator/requests': 'the requests received (method, path, query, route, status, at)',
  'DELETE /__simulator/requests': 'clear that log',
  'GET /__simulator/routes': 'the route names faults can be injected on',
  'POST /__simulator/faults': '{"route": "GET /api/services" or "*", "status"?: 500, "body"?: {}, "delayMs"?: 5000, "drop"?: true, "dripMs"?: 1000, "bodyBytes"?: 45000000, "times"?: 1}',
  'DELETE /__simulator/faults': 'clear every fault',
  'PUT /__simulator/latency': '{"ms": 50}: added to every answer',
};

function split(path: string): string[] {
  return path.split('/').filter((s) => s.length > 0);
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const seg = pattern[i]!;
    if (seg === '*') {
      params['*'] = parts.slice(i).join('/');
      return params;
    }
    const part = parts[i];
    if (part === undefined) return undefined;
    if (seg.startsWith(':')) params[seg.slice(1)] = decodeURIComponent(part);
    else if (seg !== part) return undefined;
  }
  return parts.length === pattern.length ? params : undefined;
}

function faultProblem(body: Record<string, unknown>): string | undefined {
  if (typeof body.route !== 'string' || !body.route) return `Expected "route" like "GET /api/services" or "*", got ${JSON.stringify(body.route ?? null)}`;
  if (body.status !== undefined && !(Number.isInteger(body.status) && (body.status as number) >= 100 && (body.status as number) <= 599)) {
    return `Expected "status" to be an HTTP status from 100 to 599, got ${JSON.stringify(body.status)}`;
  }
  for (const key of ['delayMs', 'times', 'dripMs', 'bodyBytes'] as const) {
    if (body[key] !== undefined && !(typeof body[key] === 'number' && (body[key] as number) >= 0)) return `Expected "${key}" to be a number ≥ 0, got ${JSON.stringify(body[key])}`;
  }
  if (body.drop !== undefined && typeof body.drop !== 'boolean') return `Expected "drop" to be true or false, got ${JSON.stringify(body.drop)}`;
  if (body.status === undefined && body.delayMs === undefined && !body.drop && body.dripMs === undefined && body.bodyBytes === undefined) {
    return 'Expected at least one of "status", "delayMs", "drop", "dripMs" or "bodyBytes"';
  }
  return undefined;
}

/** One space (JSON whitespace) every `intervalMs`, until the client hangs up. */
async function drip(res: ServerResponse, intervalMs: number): Promise<void> {
  res.write('[');
  while (!res.destroyed) {
    await sleep(intervalMs);
    if (!res.destroyed) res.write(' ');
  }
}

/** `[` + spaces + `]`, `bytes` in all, written as fast as the client reads and stopped when it hangs up. */
async function streamBody(res: ServerResponse, bytes: number): Promise<void> {
  const piece = Buffer.alloc(64 * 1024, 0x20);
  let left = Math.max(2, bytes) - 2;
  res.write('[');
  while (left > 0 && !res.destroyed) {
    const n = Math.min(left, piece.length);
    left -= n;
    if (!res.write(n === piece.length ? piece : piece.subarray(0, n))) {
      await new Promise<void>((resolve) => {
        const go = () => {
          res.off('drain', go);
          res.off('close', go);
          resolve();
        };
        res.on('drain', go);
        res.on('close', go);
      });
    }
  }
  if (!res.destroyed) res.end(']');
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseBody(raw: string, contentType: string | undefined): unknown {
  if (raw.length === 0) return undefined;
  const type = contentType ?? '';
  if (type.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(raw));
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}
