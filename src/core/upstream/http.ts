import { StringDecoder } from 'node:string_decoder';
import { Pool, type Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Metrics } from '../observability/metrics.js';
import type { Store } from '../store/types.js';
import { CircuitBreaker, breakerPolicy, type BreakerOptions } from './breaker.js';
import { retryAfterMs } from './retry.js';
import {
  admissionPolicy,
  callHookPolicy,
  composePolicies,
  headersAtSendPolicy,
  type CallHandler,
  type UpstreamCall,
  type UpstreamCallHook,
  type UpstreamPolicy,
  type UpstreamRequest,
  type UpstreamResponse,
} from './chain.js';
import {
  BadUserInputError,
  SwitchboardError,
  UpstreamBadResponseError,
  UpstreamNetworkError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
  errorFromStatus,
} from './errors.js';
import { viewOf, type OperationBound, type OperationScope } from './operation.js';
import { projectJson, projectValue, type Projection } from './project-json.js';
import { retryPolicy } from './retry.js';
import { ThrottleRegistry, throttlePolicy, type ThrottleOptions } from './throttle.js';

export type { HttpMethod, QueryValue, UpstreamRequest, UpstreamResponse, UpstreamCall, UpstreamPolicy, UpstreamCallHook } from './chain.js';

export interface UpstreamTimeouts {
  /** Milliseconds to open a TCP (and TLS) connection. */
  connectMs: number;
  /** Milliseconds from sending the request to the end of the response headers. */
  headersMs: number;
  /** Milliseconds the body may stay silent between two chunks. */
  bodyMs: number;
}

/**
 * What the configuration decides about a platform's upstream calls (global
 * `UPSTREAM_*` settings, overridden per platform by `<PLATFORM>_UPSTREAM_*`).
 */
export interface UpstreamSettings {
  timeouts: UpstreamTimeouts;
  /** Connections per upstream origin. */
  connections: number;
  /** Retries of a read after a dropped connection, a 429 or a 502/503/504 (see retry.ts). Writes are never retried. */
  retries: number;
  /** Capped exponential backoff between retries, with full jitter, when the platform gave no `Retry-After`. */
  retryDelay: { baseMs: number; maxMs: number };
  /** When to stop calling a host that keeps failing (see breaker.ts). */
  breaker: BreakerOptions;
  /** Milliseconds a whole call may take, retries and waits included; cut with UPSTREAM_TIMEOUT. */
  deadlineMs: number;
  /** Largest response body accepted, in bytes; a larger one is refused with UPSTREAM_BAD_RESPONSE while it streams. */
  maxResponseBytes: number;
  /** Whether a call's `project` is applied (UPSTREAM_PROJECTION); default true. Off: every answer is parsed whole. */
  projection?: boolean;
}

export const DEFAULT_DEADLINE_MS = 30_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1_048_576;

export interface UpstreamHttpOptions extends Omit<UpstreamSettings, 'retryDelay' | 'breaker' | 'deadlineMs' | 'maxResponseBytes'> {
  /** The platform key, carried by every error. */
  platform: string;
  baseUrl: string;
  /** Default 100 ms base, 2 s ceiling. */
  retryDelay?: UpstreamSettings['retryDelay'];
  /** Default: 5 failures, 5 s. */
  breaker?: BreakerOptions;
  /** Default DEFAULT_DEADLINE_MS. */
  deadlineMs?: number;
  /** Default DEFAULT_MAX_RESPONSE_BYTES. */
  maxResponseBytes?: number;
  /** A rate limit kept per upstream user (see throttle.ts); none when undefined. */
  throttle?: ThrottleOptions;
  /** Each client's share of that rate limit (src/core/security/fairness.ts); none when undefined. */
  fairShare?: FairShareFactory;
  /** Where each upstream call is logged at debug level: route, status, time and size, never headers or bodies. */
  log?: Pick<Logger, 'debug' | 'warn'>;
  /** The platform's name as its users write it (`IXC ACS`), for messages. Default: the key. */
  title?: string;
  /** Headers sent on every request (an `Accept` media type, say). */
  defaultHeaders?: Record<string, string>;
  /**
   * Turns an upstream error answer into one of our errors, for a platform whose
   * error envelope is its own; the default is described at `readError` below.
   */
  readError?: (response: UpstreamResponse<unknown>) => SwitchboardError;
  /** The gateway's clock (deadlines, backoff, breaker, throttle), store (shared throttle budget) and metrics. */
  infra: { readonly clock: Clock; readonly store: Store; readonly metrics?: Metrics };
  /** Observers of every attempt beyond metrics and the log (traces, explain). */
  callHooks?: readonly UpstreamCallHook[];
  /** The backoff's random source, [0, 1). Default Math.random; tests fix it. */
  random?: () => number;
}

/**
 * A platform client with its calls made on behalf of `operation`: a view of it
 * (`viewOf`) whose `http` is bound to the operation; the client itself when there
 * is none. The one implementation of each platform client's `forOperation`.
 */
export function clientForOperation<T extends { readonly http: UpstreamHttp }>(client: T, operation: OperationScope | undefined): T {
  const http = client.http.forOperation(operation);
  return http === client.http ? client : viewOf<T>(client, { http } as Partial<T>);
}

/** Builds the steps that hold each client to its share of a throttle: `before` it and `after` it in the chain. */
export type FairShareFactory = (platform: string, title: string | undefined, throttle: ThrottleOptions) => { before: UpstreamPolicy; after: UpstreamPolicy };

function throttleSteps(throttles: ThrottleRegistry, fair: { before: UpstreamPolicy; after: UpstreamPolicy } | undefined): UpstreamPolicy[] {
  return fair ? [fair.before, throttlePolicy(throttles), fair.after] : [throttlePolicy(throttles)];
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * The one way a platform client talks HTTP: a keep-alive undici pool per upstream
 * origin (CloudCIX has one host per application), and one chain of policies every
 * call passes, composed here from the platform's settings:
 *
 *   retry → admission (deadline, call budget) → throttle → late headers → breaker → call hook → transport
 *
 * The retry step is the outermost so that each attempt goes through the rest
 * again: its own throttle slot (the platform counts it), the breaker, its own
 * record. Every call has a total deadline (the earlier of the platform's and the
 * GraphQL operation's) and a response size cap, both enforced while the body
 * streams; each body is parsed once, and every failure becomes a `SwitchboardError`.
 */
export class UpstreamHttp implements OperationBound<UpstreamHttp> {
  /** The operation this view's calls are made for (`forOperation`); undefined: start-up calls, pings, logins of their own. */
  readonly operation: OperationScope | undefined = undefined;
  private readonly pools = new Map<string, Pool>();
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly base: URL;
  private readonly handler: CallHandler;
  private readonly clock: Clock;
  private readonly deadlineMs: number;
  private readonly maxResponseBytes: number;
  /** The throttle's queues, when the platform has one. */
  readonly throttles: ThrottleRegistry | undefined;
  private closed = false;

  constructor(readonly options: UpstreamHttpOptions) {
    this.base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
    const { platform, infra } = options;
    this.clock = infra.clock;
    this.deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    const delay = options.retryDelay ?? { baseMs: 100, maxMs: 2_000 };
    this.throttles = options.throttle
      ? new ThrottleRegistry(options.throttle, { platform, title: options.title, clock: infra.clock, store: infra.store, metrics: infra.metrics, log: options.log })
      : undefined;
    const policies: UpstreamPolicy[] = [
      retryPolicy({ retries: options.retries, baseDelayMs: delay.baseMs, maxDelayMs: delay.maxMs, random: options.random }, { platform, clock: infra.clock, metrics: infra.metrics }),
      admissionPolicy(infra.clock),
      ...(this.throttles ? throttleSteps(this.throttles, options.fairShare?.(platform, options.title, options.throttle!)) : []),
      headersAtSendPolicy,
      breakerPolicy((origin) => this.breaker(origin)),
      callHookPolicy({ platform, metrics: infra.metrics, log: options.log, hooks: options.callHooks, errorCodeOf: (response) => this.readError(response).code }),
    ];
    this.handler = composePolicies(policies, (call) => this.transport(call));
  }

  /** This client with its calls made on behalf of `operation`: its request id, deadline, call budget and call records. */
  forOperation(operation: OperationScope | undefined): UpstreamHttp {
    return operation === undefined || operation === this.operation ? this : viewOf<UpstreamHttp>(this, { operation });
  }

  /**
   * The projection a list call should use: `project` itself, or none when
   * UPSTREAM_PROJECTION is off. Loaders ask this before they plan their caching
   * around a projection, so that off is the behaviour of whole records throughout.
   */
  projection(project: Projection | undefined): Projection | undefined {
    return this.options.projection === false ? undefined : project;
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
    const platform = this.options.platform;
    if (this.closed) throw new UpstreamUnavailableError('The gateway is shutting down', { platform });
    // An empty id ("" for `{id}`) would turn a read of one record into a read of the list (or a write to it).
    if (req.route && /\{\w+\}\/?$/.test(req.route) && /\/(?:[?#]|$)/.test(req.path) && !/\/$/.test(req.route)) {
      throw new BadUserInputError(`Expected an identifier for ${req.route}, got an empty one`, { platform });
    }
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
    const operation = this.operation;
    // The operation's request id goes upstream on every call it makes (retries and logins included),
    // so a platform's own logs can be matched with the gateway's log line and the client's id.
    if (operation) headers['x-request-id'] = operation.requestId;
    const now = this.clock.now();
    const own = now + this.deadlineMs;
    const byOperation = operation?.deadline !== undefined && operation.deadline < own;
    const deadline = byOperation ? operation!.deadline! : own;
    const title = this.options.title ?? platform;
    const timeoutError = () =>
      new UpstreamTimeoutError(
        byOperation
          ? `${title} did not finish ${route} before the operation's deadline`
          : `${title} did not finish ${route} within ${this.deadlineMs} ms (UPSTREAM_DEADLINE_MS, or ${platform.toUpperCase()}_UPSTREAM_DEADLINE_MS for this platform)`,
        { platform },
      );
    const controller = new AbortController();
    const timer = deadline > now ? this.clock.setTimeout(() => controller.abort(timeoutError()), deadline - now) : undefined;
    try {
      const response = await this.handler({
        platform,
        request: req,
        method: req.method,
        url,
        route,
        deadline,
        signal: controller.signal,
        timeoutError,
        operation,
        attempt: 1,
        headers,
        body,
        status: 0,
        bytes: 0,
      });
      if (response.status >= 400) throw this.readError(response);
      return response as UpstreamResponse<T>;
    } finally {
      this.clock.clearTimeout(timer);
    }
  }

  /**
   * The last step: one HTTP exchange. The body is read as it streams and counted,
   * so an answer past the size cap is cut as soon as it passes it (an upstream's
   * 45 MB answer costs the gateway at most the cap, not 45 MB twice over); the
   * deadline's signal cuts an answer that drips in too slowly.
   */
  private async transport(call: UpstreamCall): Promise<UpstreamResponse> {
    const { signal } = call;
    // A call that waited (throttle, backoff) across close() must not open a new pool.
    if (this.closed) throw new UpstreamUnavailableError('The gateway is shutting down', { platform: this.options.platform });
    let res: Dispatcher.ResponseData;
    try {
      res = await this.pool(call.url.origin).request({
        method: call.method as Dispatcher.HttpMethod,
        path: call.url.pathname + call.url.search,
        headers: call.headers,
        body: call.body,
        signal,
        headersTimeout: this.options.timeouts.headersMs,
        bodyTimeout: this.options.timeouts.bodyMs,
      });
    } catch (error) {
      throw this.transportError(error, call);
    }
    call.status = res.statusCode;
    const declared = Number(res.headers['content-length']);
    if (declared > this.maxResponseBytes) {
      res.body.destroy();
      throw this.tooLarge(call, `declared ${declared} bytes`);
    }
    let raw: Buffer | string;
    try {
      raw = Number.isInteger(declared) && declared > 0 ? await this.readDeclared(res, call, declared) : await this.readStreamed(res, call);
    } catch (error) {
      if (error instanceof SwitchboardError) throw error;
      throw this.transportError(error, call);
    }
    const project = res.statusCode < 300 ? this.projection(call.request.project) : undefined;
    if (project) call.projected = true;
    return { status: res.statusCode, headers: res.headers, body: parseBody(raw, res.headers['content-type'], this.options.platform, call.route, project) };
  }

  /**
   * A body of declared length, in one buffer (its one chunk, or the chunks copied into one of that size), to be decoded
   * once (the text is one flat string, which JSON.parse reads fastest: a string
   * built chunk by chunk is a rope it must flatten first) or projected from the
   * bytes without decoding what is not asked. Read with the stream's events, one
   * promise per body rather than two per chunk as an async iterator costs.
   */
  private readDeclared(res: Dispatcher.ResponseData, call: UpstreamCall, declared: number): Promise<Buffer> {
    const stream = res.body;
    return new Promise<Buffer>((resolve, reject) => {
      // A body that comes in one chunk is that chunk; one in several is copied into a buffer of the declared size.
      let only: Buffer | undefined;
      let body: Buffer | undefined;
      let length = 0;
      let settled = false;
      const done = (error?: unknown) => {
        if (settled) return;
        settled = true;
        stream.off('data', onData);
        stream.off('end', onEnd);
        stream.off('error', done);
        stream.off('close', onClose);
        if (error !== undefined) reject(error);
        else resolve(only ?? (body === undefined ? Buffer.alloc(0) : length === declared ? body : body.subarray(0, length)));
      };
      const onData = (chunk: Buffer) => {
        call.bytes += chunk.length;
        if (length + chunk.length > declared) {
          // undici's parser does not let a body pass its Content-Length; should one, it is not the answer it declared.
          stream.destroy();
          done(
            new UpstreamBadResponseError(`${this.options.title ?? this.options.platform} answered ${call.route} with more bytes than its Content-Length (${declared})`, {
              platform: this.options.platform,
              upstreamStatus: call.status || undefined,
            }),
          );
          return;
        }
        if (length === 0 && chunk.length === declared) {
          only = chunk;
          length = declared;
          return;
        }
        body ??= Buffer.allocUnsafe(declared);
        chunk.copy(body, length);
        length += chunk.length;
      };
      const onEnd = () => done();
      // Closed without its end or an error (destroyed quietly): the body is cut short.
      const onClose = () => done(new Error(`the body closed after ${length} of ${declared} bytes`));
      stream.on('data', onData);
      stream.once('end', onEnd);
      stream.once('error', done);
      stream.once('close', onClose);
    });
  }

  /**
   * A body of unknown length (chunked). Its first MiB is kept as Buffers and
   * decoded once, into one flat string; past that it is decoded chunk by chunk
   * rather than kept: a chunk read from a socket is a view on a larger read
   * buffer, so holding many would hold up to twice the body, where the text is
   * held once (a multi-byte character split across chunks is kept whole). Cut
   * as soon as it passes the size cap.
   */
  private async readStreamed(res: Dispatcher.ResponseData, call: UpstreamCall): Promise<Buffer | string> {
    const decoder = new StringDecoder('utf8');
    let kept: Buffer[] | undefined = [];
    let keptBytes = 0;
    let text = '';
    const take = (chunk: Buffer) => {
      if (call.bytes > this.maxResponseBytes) {
        res.body.destroy();
        throw this.tooLarge(call, `more than ${this.maxResponseBytes} bytes arrived`);
      }
      if (kept && keptBytes + chunk.length <= STREAMED_KEPT_BYTES) {
        kept.push(chunk);
        keptBytes += chunk.length;
        return;
      }
      if (kept) {
        for (const held of kept) text += decoder.write(held);
        kept = undefined;
      }
      text += decoder.write(chunk);
    };
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      call.bytes += chunk.length;
      take(chunk);
    }
    if (kept) return kept.length === 1 ? kept[0]! : Buffer.concat(kept, keptBytes);
    return text + decoder.end();
  }

  private tooLarge(call: UpstreamCall, what: string): UpstreamBadResponseError {
    const platform = this.options.platform;
    return new UpstreamBadResponseError(
      `${this.options.title ?? platform} answered ${call.route} with a body larger than Switchboard accepts (${what}; the cap is ${this.maxResponseBytes} bytes, UPSTREAM_MAX_RESPONSE_BYTES or ${platform.toUpperCase()}_UPSTREAM_MAX_RESPONSE_BYTES). Ask for a smaller page.`,
      { platform, upstreamStatus: call.status || undefined },
    );
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
      retryAfter: retryAfterSeconds(response.headers, this.clock.now()),
      upstreamText: text,
    });
  }

  private transportError(error: unknown, call: UpstreamCall): SwitchboardError {
    // Our own deadline: the signal's reason says which deadline passed.
    if (call.signal.aborted && call.signal.reason instanceof SwitchboardError) return call.signal.reason;
    if (error instanceof SwitchboardError) return error;
    const code = (error as { code?: string } | null)?.code ?? '';
    const platform = this.options.platform;
    if (TIMEOUT_CODES.has(code)) {
      return new UpstreamTimeoutError(`${platform} did not answer ${call.route} in time (${code.replace('UND_ERR_', '').toLowerCase()})`, {
        platform,
        cause: error,
      });
    }
    return new UpstreamNetworkError(
      `${platform} could not be reached for ${call.route}: ${code || (error as Error)?.message || 'connection failed'}`,
      code || 'connection_failed',
      { platform, cause: error },
    );
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
      breaker = new CircuitBreaker(this.options.platform, origin, this.options.breaker ?? { failures: 5, cooldownMs: 5_000 }, this.clock, this.options.infra.metrics);
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

/** Adds `query` after any query the path has, in one assignment (each `searchParams.append` re-serializes the whole URL). */
function appendQuery(url: URL, query: Record<string, string | number | boolean | undefined | null> | URLSearchParams): void {
  let params = query;
  if (!(params instanceof URLSearchParams)) {
    params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null) params.append(key, String(value));
    }
  }
  const extra = params.toString();
  if (extra === '') return;
  url.search = url.search.length > 1 ? `${url.search.slice(1)}&${extra}` : extra;
}

/** How much of a chunked body is kept as Buffers to be decoded at once (see `readStreamed`). */
const STREAMED_KEPT_BYTES = 1_048_576;

/**
 * An answer's body: JSON parsed once (only the projected keys built, when the
 * call names a projection), anything else as text.
 */
function parseBody(raw: Buffer | string, contentType: string | string[] | undefined, platform: string, route: string, project: Projection | undefined): unknown {
  if (raw.length === 0) return null;
  const type = String(contentType ?? '');
  const first = typeof raw === 'string' ? raw.charCodeAt(0) : raw[0];
  if (type.includes('json') || first === 0x7b || first === 0x5b) {
    try {
      if (project) return typeof raw === 'string' ? projectValue(JSON.parse(raw), project) : projectJson(raw, project);
      return JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
    } catch {
      throw new UpstreamBadResponseError(`${platform} answered ${route} with a body that is not valid JSON`, { platform });
    }
  }
  return typeof raw === 'string' ? raw : raw.toString('utf8');
}

/** `Retry-After` in whole seconds (delay-seconds or an HTTP date), for `extensions.retryAfter`. `now`: the gateway's clock. */
export function retryAfterSeconds(headers: Record<string, string | string[] | undefined>, now: number = Date.now()): number | undefined {
  const ms = retryAfterMs(headers, now);
  return ms === undefined ? undefined : Math.ceil(ms / 1000);
}
