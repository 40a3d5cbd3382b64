import { createHash } from 'node:crypto';
import { TokenManager, type IssuedToken } from '../../core/upstream/tokens.js';
import { UpstreamHttp, clientForOperation, retryAfterSeconds, type HttpMethod, type UpstreamResponse } from '../../core/upstream/http.js';
import { BadUserInputError, SwitchboardError, UnauthenticatedError, UpstreamBadResponseError, errorFromStatus } from '../../core/upstream/errors.js';
import type { ClientDeps } from '../../core/platform.js';
import { catalogue, type CloudCIXService } from './catalogue.js';
import type { ThrottleRegistry } from '../../core/upstream/throttle.js';
import type { Clock } from '../../core/clock.js';
import type { CloudCIXErrorBody, CloudCIXFilters, CloudCIXListBody, CloudCIXListPage, CloudCIXListParams, CloudCIXRecord, CloudCIXTokenBody } from './types.js';
import type { Projection } from '../../core/upstream/project-json.js';
import type { OperationBound, OperationScope } from '../../core/upstream/operation.js';

export interface CloudCIXCredentials {
  /** A URL template with `{application}` (config.ts). */
  baseUrl: string;
  email: string;
  password: string;
  apiKey: string;
  /** Per user; default 20 (UPSTREAMS.md §4). */
  requestsPerSecond?: number;
  /** How long a request may wait for a throttle slot (default 30 s, src/core/upstream/throttle.ts). */
  maxQueueWaitMs?: number;
  /** How many requests of one user may wait at once (default 10,000, src/core/upstream/throttle.ts). */
  maxQueued?: number;
}

/** The header a GraphQL client sends its own CloudCIX token in, to act as itself. */
export const FORWARDED_TOKEN_HEADER = 'x-cloudcix-token';

/** CloudCIX's page limit: a batch read of ids is chunked to this. */
export const CLOUDCIX_MAX_LIMIT = 100;

const TOKEN_SERVICE = catalogue.services.find((s) => s.application === 'Membership' && s.service === 'token');
const MEMBERSHIP_SLUG = 'membership';

/**
 * The CloudCIX REST API, generic over the catalogue: one method per CRUDL verb,
 * each taking the catalogue's service and the path's parent ids. Returns
 * CloudCIX's own records.
 *
 * `as(token)` gives the same API acting with a token a GraphQL client forwarded
 * (so users act as themselves); without one, the gateway's own login is used,
 * refreshed before it expires. Every request waits its turn in its user's
 * throttle queue.
 */
export class CloudCIXClient implements OperationBound<CloudCIXClient> {
  readonly http: UpstreamHttp;
  readonly tokens: TokenManager;
  readonly throttles: ThrottleRegistry;
  /** The gateway's own API (its login); `as(token)` for a forwarded token. */
  readonly api: CloudCIXApi;
  private readonly bases = new Map<string, string>();
  /**
   * The gateway's one throttle queue, named by the first login (`uid:<uid>` from
   * the token CloudCIX issued to the gateway itself) and never renamed: no
   * request of the gateway queues before that login, so there is only ever one.
   */
  private gatewayQueueKey: string | undefined;
  private readonly clock: Clock;

  constructor(
    private readonly config: CloudCIXCredentials,
    deps: ClientDeps,
  ) {
    this.http = new UpstreamHttp({
      platform: 'cloudcix',
      // Requests carry absolute URLs (one host per application); this base only anchors relative ones.
      baseUrl: this.applicationBase(MEMBERSHIP_SLUG),
      ...deps,
      title: 'CloudCIX',
      readError: readCloudCIXError,
      // CloudCIX's limit, kept per user by the chain's throttle (each retry takes a slot of its own).
      throttle: { limit: config.requestsPerSecond ?? 20, windowMs: 1000, maxWaitMs: config.maxQueueWaitMs, maxQueued: config.maxQueued },
    });
    this.throttles = this.http.throttles!;
    this.clock = deps.infra.clock;
    // Shared by every gateway on the store: one CloudCIX login per user, not one per process. The queue is
    // named once, by the first token this process uses (fetched here or by another gateway): the same login
    // is the same user, and a second name would be a second queue (twice the rate).
    this.tokens = new TokenManager({
      platform: 'cloudcix',
      fetchToken: (previous, operation) => this.forOperation(operation).login(previous),
      infra: deps.infra,
      identity: [config.baseUrl, config.email],
      onToken: (token) => (this.gatewayQueueKey ??= gatewayQueueKey(token.token)),
    });
    this.api = new CloudCIXApi(this, undefined);
  }

  /** The API acting as the holder of `token`; the gateway's own login when it is empty. */
  as(token: string | undefined): CloudCIXApi {
    return token ? new CloudCIXApi(this, token) : this.api;
  }

  /** This client with its calls made on behalf of `operation`. */
  forOperation(operation: OperationScope | undefined): CloudCIXClient {
    const view = clientForOperation(this, operation);
    // Its own gateway API, so that `api` calls (a watch's) are made for the operation too.
    if (view !== this) (view as { api: CloudCIXApi }).api = new CloudCIXApi(view, undefined);
    return view;
  }

  /** `https://{application}.api.cloudcix.com/` with the application filled in, lower-cased as CloudCIX requires. */
  applicationBase(slug: string): string {
    let base = this.bases.get(slug);
    if (!base) {
      base = this.config.baseUrl.replace(/\{application\}/g, slug).toLowerCase();
      if (!base.endsWith('/')) base += '/';
      this.bases.set(slug, base);
    }
    return base;
  }

  /** The URL of a service (and of one record with `pk`), the whole of it lower-cased (UPSTREAMS.md §4). */
  serviceUrl(service: CloudCIXService, parents: readonly string[], pk?: string): string {
    const slug = service.application.toLowerCase();
    let i = 0;
    const path = service.path.replace(/\{[^}]+\}/g, () => {
      const id = parents[i++];
      if (id === undefined || id === '') {
        throw new BadUserInputError(`CloudCIX ${service.application}.${service.service} needs ${service.parentIds.join(', ')} (its URL is ${service.path})`, {
          platform: 'cloudcix',
        });
      }
      return encodeURIComponent(id);
    });
    return `${this.applicationBase(slug)}${path}${pk === undefined ? '' : `${encodeURIComponent(pk)}/`}`.toLowerCase();
  }

  /**
   * Sends one request as `forwarded` or as the gateway, through the chain: it
   * waits for a slot in that user's throttle queue, and a read that meets a
   * dropped connection, a 429 or a 502/503/504 is sent again (UPSTREAM_RETRIES),
   * each attempt in a slot of its own, so retries count against the user's rate
   * like any other request.
   *
   * The gateway's token is taken once the slot is held (`headersAtSend`), so a
   * long wait never sends a token that expired meanwhile; after a 401 it takes a
   * fresh token and tries once more (in a new slot). A forwarded token that
   * CloudCIX refuses is the client's to renew: its 401 goes back unchanged.
   */
  async send<T>(
    forwarded: string | undefined,
    method: HttpMethod,
    url: string,
    route: string,
    init: { query?: URLSearchParams; json?: unknown; batchKeys?: number; project?: Projection } = {},
  ): Promise<UpstreamResponse<T>> {
    const base = { method, path: url, route, query: init.query, json: init.json, batchKeys: init.batchKeys, project: init.project };
    if (forwarded) return this.http.request<T>({ ...base, throttle: forwardedQueueKey(forwarded), headers: { 'x-auth-token': forwarded } });
    const throttle = await this.gatewayQueue();
    let sent: string | undefined;
    let loginFailed = false;
    const headersAtSend = async (signal: AbortSignal) => {
      try {
        sent = await this.tokens.get(signal, this.http.operation);
      } catch (error) {
        loginFailed = true;
        throw error;
      }
      return { 'x-auth-token': sent };
    };
    const request = () => this.http.request<T>({ ...base, throttle, headersAtSend });
    try {
      return await request();
    } catch (error) {
      // Only a token CloudCIX refused is worth a second try; a refused login is not.
      if (!(error instanceof UnauthenticatedError) || loginFailed || sent === undefined) throw error;
      this.tokens.invalidate(sent);
      return request();
    }
  }

  /**
   * The gateway's queue key. Before the first request the gateway logs in (outside
   * the throttle, as always), so the queue is named by the uid of a token the
   * gateway obtained itself.
   */
  private async gatewayQueue(): Promise<string> {
    if (this.gatewayQueueKey === undefined) await this.tokens.get(undefined, this.http.operation);
    return this.gatewayQueueKey ?? GATEWAY_QUEUE;
  }

  /**
   * Login and refresh stay outside the throttle queue: they run from inside a
   * request that already holds its slot (queueing them behind that request could
   * deadlock), and they happen once per token lifetime.
   */
  private async login(previous: IssuedToken | undefined): Promise<IssuedToken> {
    const url = `${this.applicationBase(MEMBERSHIP_SLUG)}${TOKEN_SERVICE?.path ?? 'auth/login/'}`;
    if (previous && this.clock.now() < previous.expiresAt) {
      // Refresh while the token is still valid (UPSTREAMS.md §4: PUT with a valid token).
      const refreshed = await this.http
        .request<CloudCIXTokenBody>({ method: 'PUT', path: url, route: 'PUT membership/auth/login/', headers: { 'x-auth-token': previous.token }, throttle: false })
        .catch(() => undefined);
      if (refreshed) return issuedToken(refreshed.body);
    }
    const response = await this.http
      .request<CloudCIXTokenBody>({
        method: 'POST',
        path: url,
        route: 'POST membership/auth/login/',
        json: { email: this.config.email, password: this.config.password, api_key: this.config.apiKey },
        throttle: false,
      })
      .catch((error: SwitchboardError) => {
        // The login is the gateway's configuration, not the GraphQL client's input.
        if (error.code === 'BAD_USER_INPUT' || error.code === 'UNAUTHENTICATED') {
          throw new UnauthenticatedError(
            `CloudCIX refused the gateway's login (${error.message}); check CLOUDCIX_EMAIL, CLOUDCIX_PASSWORD and CLOUDCIX_API_KEY, or send your own token in the ${FORWARDED_TOKEN_HEADER} header`,
            { platform: 'cloudcix', upstreamStatus: error.upstreamStatus, upstreamCode: error.upstreamCode },
          );
        }
        throw error;
      });
    return issuedToken(response.body);
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

/** The CRUDL verbs of every service, acting as one user. */
export class CloudCIXApi {
  constructor(
    private readonly client: CloudCIXClient,
    /** A token the GraphQL client forwarded; undefined for the gateway's own login. */
    readonly forwardedToken: string | undefined,
  ) {}

  /** The operation this API's calls are made for, if any. */
  get operation(): OperationScope | undefined {
    return this.client.http.operation;
  }

  /** `project`, or none when UPSTREAM_PROJECTION is off (see `UpstreamHttp.projection`). */
  projection(project: Projection | undefined): Projection | undefined {
    return this.client.http.projection(project);
  }

  /** One page of a list; with a projection (of the whole body, see `listResolver` in resolvers.ts), only the keys of each record that it names. */
  async list(service: CloudCIXService, parents: readonly string[], params: CloudCIXListParams, project?: Projection): Promise<CloudCIXListPage> {
    const query = new URLSearchParams();
    query.set('page', String(params.page));
    query.set('limit', String(params.limit));
    if (params.order) query.set('order', params.order);
    appendFilters(query, 'search', params.search);
    appendFilters(query, 'exclude', params.exclude);
    const ids = params.search?.id__in;
    const response = await this.client.send<CloudCIXListBody>(this.forwardedToken, 'GET', this.client.serviceUrl(service, parents), routeOf('GET', service, false), {
      query,
      batchKeys: Array.isArray(ids) ? ids.length : undefined,
      project,
    });
    const body = response.body;
    if (!body || !Array.isArray(body.content)) {
      throw new UpstreamBadResponseError(`CloudCIX answered the ${service.application}.${service.service} list without its "content" list`, { platform: 'cloudcix' });
    }
    const total = body._metadata?.total_records;
    return { records: body.content, totalRecords: typeof total === 'number' ? total : null, warnings: body._metadata?.warnings ?? [] };
  }

  async read(service: CloudCIXService, parents: readonly string[], pk: string): Promise<CloudCIXRecord> {
    const response = await this.client.send<{ content?: CloudCIXRecord }>(this.forwardedToken, 'GET', this.client.serviceUrl(service, parents, pk), routeOf('GET', service, true));
    return contentOf(response.body, service);
  }

  async create(service: CloudCIXService, parents: readonly string[], body: object): Promise<CloudCIXRecord> {
    const response = await this.client.send<{ content?: CloudCIXRecord }>(this.forwardedToken, 'POST', this.client.serviceUrl(service, parents), routeOf('POST', service, false), { json: body });
    return contentOf(response.body, service);
  }

  /** `partial` is PATCH (only the fields given), otherwise PUT (the whole record). */
  async update(service: CloudCIXService, parents: readonly string[], pk: string, body: object, partial: boolean): Promise<CloudCIXRecord> {
    const method = partial ? 'PATCH' : 'PUT';
    const response = await this.client.send<{ content?: CloudCIXRecord }>(this.forwardedToken, method, this.client.serviceUrl(service, parents, pk), routeOf(method, service, true), { json: body });
    return contentOf(response.body, service);
  }

  async delete(service: CloudCIXService, parents: readonly string[], pk: string): Promise<void> {
    await this.client.send(this.forwardedToken, 'DELETE', this.client.serviceUrl(service, parents, pk), routeOf('DELETE', service, true));
  }
}

/** Metric and log label: `GET membership/address/{address_id}/link/{pk}/`. */
function routeOf(method: HttpMethod, service: CloudCIXService, withPk: boolean): string {
  return `${method} ${service.application.toLowerCase()}/${service.path}${withPk ? '{pk}/' : ''}`;
}

/**
 * `{"content": {...}}` for reads and writes; the login service answers `{"token"}`
 * bare, so a body without `content` is the record itself.
 */
function contentOf(body: { content?: CloudCIXRecord } | null, service: CloudCIXService): CloudCIXRecord {
  if (body && typeof body === 'object') {
    if (body.content && typeof body.content === 'object') return body.content;
    if (!('content' in body)) return body as CloudCIXRecord;
  }
  throw new UpstreamBadResponseError(`CloudCIX answered ${service.application}.${service.service} without a record`, { platform: 'cloudcix' });
}

/**
 * `search[field__op]=value` (deepObject). Lists go as CloudCIX reads them,
 * `[1,2]`; a string such as `(10,15)` for `range` passes through as written.
 */
export function appendFilters(query: URLSearchParams, name: 'search' | 'exclude', filters: CloudCIXFilters | undefined): void {
  if (filters === undefined || filters === null) return;
  if (typeof filters !== 'object' || Array.isArray(filters)) {
    throw new BadUserInputError(`Expected \`${name}\` to be an object of CloudCIX filters such as {"name__icontains": "cix"}, got ${JSON.stringify(filters)}`, {
      platform: 'cloudcix',
    });
  }
  for (const [key, value] of Object.entries(filters)) {
    if (value === undefined) continue;
    query.append(`${name}[${key}]`, filterValue(value));
  }
}

function filterValue(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (typeof v === 'string' && !/^-?\d+(\.\d+)?$/.test(v) ? JSON.stringify(v) : String(v))).join(',')}]`;
  if (value === null) return 'null';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The gateway's queue when its token names no user (CloudCIX's always do). */
const GATEWAY_QUEUE = 'gateway';

/**
 * The gateway's queue key: the `uid` of the token CloudCIX issued to the gateway's
 * own login. Read without verifying, but the gateway obtained the token itself.
 */
function gatewayQueueKey(token: string): string {
  const uid = decodeJwtPayload(token)?.uid;
  return uid === undefined || uid === null ? GATEWAY_QUEUE : `uid:${String(uid)}`;
}

/**
 * A forwarded token's queue key: a hash of the token itself. Its `uid` claim is not
 * verified here (CloudCIX verifies it), so keying by it would let a forged token
 * fill another user's queue; a token can only ever fill its own.
 */
function forwardedQueueKey(token: string): string {
  return `token:${createHash('sha256').update(token).digest('hex')}`;
}

function decodeJwtPayload(token: string): { uid?: unknown; exp?: unknown } | undefined {
  const part = token.split('.')[1];
  if (!part) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    return payload && typeof payload === 'object' ? (payload as { uid?: unknown; exp?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}

function issuedToken(body: CloudCIXTokenBody | null): IssuedToken {
  const token = body?.token;
  const exp = typeof token === 'string' ? decodeJwtPayload(token)?.exp : undefined;
  if (typeof token !== 'string' || typeof exp !== 'number') {
    throw new UpstreamBadResponseError('CloudCIX answered the login without a token whose payload has an expiry (exp)', { platform: 'cloudcix' });
  }
  return { token, expiresAt: exp * 1000 };
}

/** CloudCIX's error bodies (UPSTREAMS.md §4), field errors included, into our errors. */
export function readCloudCIXError(response: UpstreamResponse): SwitchboardError {
  const body = (response.body && typeof response.body === 'object' ? response.body : {}) as CloudCIXErrorBody;
  let fieldErrors: Record<string, string[]> | undefined;
  let fieldCode: string | undefined;
  if (body.errors && typeof body.errors === 'object') {
    fieldErrors = {};
    for (const [field, problem] of Object.entries(body.errors)) {
      if (typeof problem === 'string') fieldErrors[field] = [problem];
      else if (Array.isArray(problem)) fieldErrors[field] = problem.map(String);
      else {
        fieldErrors[field] = [typeof problem?.detail === 'string' ? problem.detail : 'refused by CloudCIX'];
        fieldCode ??= problem?.error_code;
      }
    }
  }
  const detail = typeof body.detail === 'string' && body.detail ? body.detail : undefined;
  const message = detail ? `CloudCIX: ${detail}` : `CloudCIX answered HTTP ${response.status}`;
  return errorFromStatus(response.status, message, {
    platform: 'cloudcix',
    fieldErrors,
    upstreamCode: typeof body.error_code === 'string' ? body.error_code : fieldCode,
    retryAfter: retryAfterSeconds(response.headers),
    upstreamText: detail,
  });
}
