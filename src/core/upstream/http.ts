import { Pool } from 'undici';
import type { Logger } from 'pino';
import { CircuitBreaker, type BreakerOptions } from './breaker.js';
import type { Dispatcher } from 'undici';
import {
  BadUserInputError,
  SwitchboardError,
  UpstreamBadResponseError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
  errorFromStatus,
} from './errors.js';
import type { Metrics } from '../observability/metrics.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type QueryValue = string | number | boolean | undefined | null;

export interface UpstreamRequest {
  method: HttpMethod;
  /** Relative to the base URL (a leading slash is allowed), or absolute (`http://…`). */
  path: string;
  query?: Record<string, QueryValue> | URLSearchParams;
  headers?: Record<string, string>;
  json?: unknown;
  form?: Record<string, string>;
  /** A label for metrics and logs, e.g. `GET /api/customers/{id}`; defaults to method and path. */
  route?: string;
}

export interface UpstreamResponse<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
}

export interface UpstreamTimeouts {
  /** Milliseconds to open a TCP (and TLS) connection. */
  connectMs: number;
  /** Milliseconds from sending the request to the end of the response headers. */
  headersMs: number;
  /** Milliseconds the body may stay silent between two chunks. */
  bodyMs: number;
}

export interface UpstreamHttpOptions {
  /** The platform key, carried by every error. */
  platform: string;
  baseUrl: string;
  timeouts: UpstreamTimeouts;
  /** Connections per upstream origin. */
  connections: number;
  /**
   * How many times a GET is retried after a dropped connection or a 502/503/504.
   * Writes are never retried: the upstream may have applied them.
   */
  retries: number;
  /** When to stop calling a host that keeps failing (see breaker.ts). Default: 5 failures, 5 s. */
  breaker?: BreakerOptions;
  /** Where each upstream call is logged at debug level: route, status and time, never headers or bodies. */
  log?: Pick<Logger, 'debug'>;
  /** The platform's name as its users write it (`IXC ACS`), for messages. Default: the key. */
  title?: string;
  /** Headers sent on every request (an `Accept` media type, say). */
  defaultHeaders?: Record<string, string>;
  /**
   * Turns an upstream error answer into one of our errors, for a platform whose
   * error envelope is its own; the default is described at `readError` below.
   */
  readError?: (response: UpstreamResponse<unknown>) => SwitchboardError;
  /** Where upstream calls are counted (the gateway's registry, from `infra`). */
  infra?: { metrics: Metrics };
}

const RETRYABLE_STATUS = new Set([502, 503, 504]);
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * The one way a platform client talks HTTP: a keep-alive undici pool per upstream
 * origin (CloudCIX has one host per application), gateway-sized timeouts, one
 * parse of each body, and every failure turned into a `SwitchboardError`.
 */
export class UpstreamHttp {
  private readonly pools = new Map<string, Pool>();
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly base: URL;
  private closed = false;

  constructor(readonly options: UpstreamHttpOptions) {
    this.base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
  }

  url(path: string): URL {
    // An id of ".." would otherwise be resolved away by the URL parser and send the
    // request (with the gateway's credentials) to another endpoint of the platform.
    const pathPart = path.split(/[?#]/, 1)[0]!;
    const dotted = pathPart.split('/').find((segment) => segment === '.' || segment === '..');
    if (dotted !== undefined) {
      throw new BadUserInputError(`Expected an identifier, got ${JSON.stringify(dotted)}: "." and ".." are not ids on ${this.options.platform}`, {
        platform: this.options.platform,
      });
    }
    return /^https?:\/\//i.test(path) ? new URL(path) : new URL(path.replace(/^\/+/, ''), this.base);
  }

  async request<T = unknown>(req: UpstreamRequest): Promise<UpstreamResponse<T>> {
    const attempts = req.method === 'GET' ? this.options.retries + 1 : 1;
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const response = await this.send(req);
        if (response.status >= 400) {
          const error = this.readError(response);
          if (attempt < attempts && RETRYABLE_STATUS.has(response.status)) {
            lastError = error;
            continue;
          }
          throw error;
        }
        return response as UpstreamResponse<T>;
      } catch (error) {
        if (error instanceof SwitchboardError) throw error;
        const mapped = this.mapTransportError(error, req);
        lastError = mapped;
        if (!(mapped instanceof UpstreamUnavailableError) || attempt >= attempts) throw mapped;
      }
    }
    throw lastError;
  }

  private async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    if (this.closed) throw new UpstreamUnavailableError('The gateway is shutting down', { platform: this.options.platform });
    const url = this.url(req.path);
    if (req.query) appendQuery(url, req.query);
    const headers: Record<string, string> = { ...this.options.defaultHeaders, ...req.headers };
    let body: string | undefined;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers['content-type'] ??= 'application/json';
    } else if (req.form) {
      body = new URLSearchParams(req.form).toString();
      headers['content-type'] ??= 'application/x-www-form-urlencoded';
    }
    const route = req.route ?? `${req.method} ${url.pathname}`;
    const breaker = this.breaker(url.origin);
    breaker.enter();
    const stopTimer = this.options.infra?.metrics.upstreamRequestDuration.startTimer({ platform: this.options.platform, route });
    const started = performance.now();
    let status = 0;
    try {
      const res = await this.pool(url.origin).request({
        method: req.method as Dispatcher.HttpMethod,
        path: url.pathname + url.search,
        headers,
        body,
        headersTimeout: this.options.timeouts.headersMs,
        bodyTimeout: this.options.timeouts.bodyMs,
      });
      status = res.statusCode;
      const text = await res.body.text();
      if (RETRYABLE_STATUS.has(status)) breaker.failed();
      else breaker.succeeded();
      return { status, headers: res.headers, body: parseBody(text, res.headers['content-type'], this.options.platform, route) };
    } catch (error) {
      // No answer, or an answer whose body never arrived whole: both count against the host
      // (and a trial call that ends this way must settle the breaker, or it would stay half-open).
      breaker.failed();
      throw error;
    } finally {
      stopTimer?.({ status: String(status) });
      this.options.log?.debug({ platform: this.options.platform, route, status, ms: Math.round(performance.now() - started) }, 'upstream request');
    }
  }

  /**
   * Without a platform reader, the common REST error body is read:
   * `{"message" (or "detail"), "errors": {field: [messages]}}` (CloudLX and IXC ACS use it).
   */
  private readError(response: UpstreamResponse): SwitchboardError {
    if (this.options.readError) return this.options.readError(response);
    const body = (response.body && typeof response.body === 'object' ? response.body : {}) as { message?: unknown; detail?: unknown; errors?: unknown };
    const text = typeof body.message === 'string' && body.message ? body.message : typeof body.detail === 'string' && body.detail ? body.detail : undefined;
    return errorFromStatus(response.status, text ?? `${this.options.title ?? this.options.platform} answered HTTP ${response.status}`, {
      platform: this.options.platform,
      fieldErrors: isFieldErrors(body.errors) ? body.errors : undefined,
      retryAfter: retryAfterSeconds(response.headers),
    });
  }

  private mapTransportError(error: unknown, req: UpstreamRequest): SwitchboardError {
    const code = (error as { code?: string } | null)?.code ?? '';
    const platform = this.options.platform;
    const what = `${req.method} ${this.url(req.path).pathname}`;
    if (TIMEOUT_CODES.has(code)) {
      return new UpstreamTimeoutError(`${platform} did not answer ${what} in time (${code.replace('UND_ERR_', '').toLowerCase()})`, {
        platform,
        cause: error,
      });
    }
    return new UpstreamUnavailableError(`${platform} could not be reached for ${what}: ${code || (error as Error)?.message || 'connection failed'}`, {
      platform,
      cause: error,
    });
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.options.connections,
        connect: { timeout: this.options.timeouts.connectMs },
        headersTimeout: this.options.timeouts.headersMs,
        bodyTimeout: this.options.timeouts.bodyMs,
        keepAliveTimeout: 30_000,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  private breaker(origin: string): CircuitBreaker {
    let breaker = this.breakers.get(origin);
    if (!breaker) {
      breaker = new CircuitBreaker(this.options.platform, origin, this.options.breaker ?? { failures: 5, cooldownMs: 5_000 });
      this.breakers.set(origin, breaker);
    }
    return breaker;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.pools.values()].map((pool) => pool.close().catch(() => pool.destroy())));
    this.pools.clear();
  }
}

function isFieldErrors(value: unknown): value is Record<string, string[]> {
  return Boolean(value) && typeof value === 'object' && !Array.isArray(value) && Object.values(value as object).every((v) => Array.isArray(v));
}

function appendQuery(url: URL, query: Record<string, QueryValue> | URLSearchParams): void {
  if (query instanceof URLSearchParams) {
    for (const [key, value] of query) url.searchParams.append(key, value);
    return;
  }
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null) url.searchParams.append(key, String(value));
  }
}

function parseBody(text: string, contentType: string | string[] | undefined, platform: string, route: string): unknown {
  if (text.length === 0) return null;
  const type = String(contentType ?? '');
  if (type.includes('json') || text[0] === '{' || text[0] === '[') {
    try {
      return JSON.parse(text);
    } catch {
      throw new UpstreamBadResponseError(`${platform} answered ${route} with a body that is not valid JSON`, { platform });
    }
  }
  return text;
}

export function retryAfterSeconds(headers: Record<string, string | string[] | undefined>): number | undefined {
  const raw = headers['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, Math.ceil((date - Date.now()) / 1000)) : undefined;
}
