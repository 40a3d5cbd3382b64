import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { SecretBox } from '../../core/store/secret-box.js';
import type { Store } from '../../core/store/types.js';
import { KeyedTokens, type IssuedToken } from '../../core/upstream/tokens.js';
import { UpstreamHttp, clientForOperation, retryAfterSeconds, type HttpMethod, type QueryValue, type UpstreamResponse } from '../../core/upstream/http.js';
import {
  ForbiddenError,
  SwitchboardError,
  UnauthenticatedError,
  UpstreamBadResponseError,
  describeShape,
  errorFromStatus,
  expectList,
} from '../../core/upstream/errors.js';
import type { ClientDeps } from '../../core/platform.js';
import type {
  ExotelAppRecord,
  ExotelCreateAppBody,
  ExotelCreateCustomerBody,
  ExotelCreatedAppRecord,
  ExotelCreatedCustomerRecord,
  ExotelCustomerRecord,
  ExotelEntity,
  ExotelEnvelope,
  ExotelRegisterUserBody,
  ExotelTokenBody,
  ExotelUserPage,
  ExotelUserRecord,
} from './types.js';
import type { OperationBound, OperationScope } from '../../core/upstream/operation.js';

/** Tokens last 90 days (UPSTREAMS.md §2); the token answer itself carries no lifetime. */
export const EXOTEL_TOKEN_LIFETIME_MS = 90 * 86_400_000;

export interface ExotelCredentials {
  baseUrl: string;
  /** The gateway's own customer: apps are created under it and listed with its token. */
  customerId: string;
  customerSecret: string;
  /** AppID → AppSecret for apps created before this gateway started. */
  appSecrets: Readonly<Record<string, string>>;
}

interface ExotelCall {
  method: HttpMethod;
  path: string;
  /** A label for metrics and messages (`GET /app?entity=app`). */
  route: string;
  query?: Record<string, QueryValue>;
  json?: unknown;
  headers?: Record<string, string>;
}

export interface ExotelUserPageRequest {
  /** Exotel's keyset value: users after this one. Default 0, the start. */
  lastValue?: string;
  pageSize?: number;
}

/**
 * The Exotel integrations core, one method per endpoint of UPSTREAMS.md §2,
 * returning the `Data` of each envelope. Two kinds of token: a customer token
 * manages apps, an app token reads its app and manages its users. Each goes raw
 * in `Authorization` (no `Bearer`) and is cached per entity id for its 90 days.
 *
 * Secrets are never logged, never returned. The configured customer's and the
 * app secrets of EXOTEL_APP_SECRETS live in memory (they are in the
 * configuration). Those Exotel hands over when this client creates a customer
 * or an app are kept in the gateway's store, sealed (`SecretBox`, bound to their
 * store key): a restart keeps them, and every gateway on the same store can use
 * them. Store keys are `exotel:<hash of the base URL>:<entity>-secret:<id>`.
 */
export class ExotelClient implements OperationBound<ExotelClient> {
  readonly http: UpstreamHttp;
  readonly tokens: KeyedTokens;
  readonly customerId: string;
  /** Secrets from the configuration, learned by this process, or read from the store once (a secret never changes for its id). */
  private readonly customerSecrets = new Map<string, string>();
  private readonly appSecrets = new Map<string, string>();
  private readonly store: Store;
  private readonly secrets: SecretBox;
  private readonly log: Logger;
  /** Where this Exotel's learned secrets sit in the store: one base URL's never mix with another's. */
  private readonly secretPrefix: string;

  constructor(config: ExotelCredentials, deps: ClientDeps) {
    this.http = new UpstreamHttp({
      platform: 'exotel',
      baseUrl: config.baseUrl,
      ...deps,
      defaultHeaders: { accept: 'application/json' },
      readError: readExotelError,
    });
    // Shared by every gateway on the store: one token per Exotel customer or app, not one per process.
    this.tokens = new KeyedTokens({ platform: 'exotel', fetchToken: (key, _previous, operation) => this.forOperation(operation).fetchToken(key), infra: deps.infra, identity: [config.baseUrl] });
    this.customerId = config.customerId;
    this.customerSecrets.set(config.customerId, config.customerSecret);
    for (const [appId, secret] of Object.entries(config.appSecrets)) this.appSecrets.set(appId, secret);
    this.store = deps.infra.store;
    this.secrets = deps.infra.secrets;
    this.log = deps.log;
    this.secretPrefix = `exotel:${createHash('sha256').update(config.baseUrl).digest('base64url')}:`;
  }

  /** Customers whose secret this gateway holds: the configured one first, then those created through Switchboard (by any gateway on the store). */
  async knownCustomerIds(): Promise<string[]> {
    const prefix = this.storeKey('customer', '');
    const stored = (await this.store.keys(prefix)).map((key) => key.slice(prefix.length)).sort();
    return [...new Set([...this.customerSecrets.keys(), ...stored])];
  }

  async hasCustomerCredential(customerId: string): Promise<boolean> {
    return (await this.lookupSecret('customer', customerId)) !== undefined;
  }

  async hasAppCredential(appId: string): Promise<boolean> {
    return (await this.lookupSecret('app', appId)) !== undefined;
  }

  private storeKey(entity: ExotelEntity, id: string): string {
    return `${this.secretPrefix}${entity}-secret:${id}`;
  }

  private async lookupSecret(entity: ExotelEntity, id: string): Promise<string | undefined> {
    const held = entity === 'customer' ? this.customerSecrets : this.appSecrets;
    const known = held.get(id);
    if (known !== undefined) return known;
    const key = this.storeKey(entity, id);
    const sealed = await this.store.get(key);
    if (sealed === undefined) return undefined;
    const secret = this.secrets.open(sealed, key);
    if (secret === undefined) {
      this.log.warn({ entity, id }, 'an Exotel secret in the store could not be opened: was STORE_SECRET_KEY changed?');
      return undefined;
    }
    held.set(id, secret);
    return secret;
  }

  /** Keeps a secret Exotel handed over at creation: in the store (sealed), and in this process. */
  private async learn(entity: ExotelEntity, id: string, secret: string): Promise<void> {
    (entity === 'customer' ? this.customerSecrets : this.appSecrets).set(id, secret);
    const key = this.storeKey(entity, id);
    try {
      await this.store.set(key, this.secrets.seal(secret, key));
    } catch (error) {
      // The entity exists and its payload carries the secret: the caller can still keep it (EXOTEL_APP_SECRETS).
      this.log.error({ entity, id, err: { message: (error as Error).message } }, 'an Exotel secret could not be stored: this process keeps it until it stops');
    }
  }

  private async forget(entity: ExotelEntity, id: string): Promise<void> {
    (entity === 'customer' ? this.customerSecrets : this.appSecrets).delete(id);
    await this.store.delete(this.storeKey(entity, id)).catch((error: unknown) => {
      this.log.warn({ entity, id, err: { message: (error as Error).message } }, 'a deleted Exotel app\'s secret could not be removed from the store');
    });
  }

  private async secretOf(entity: ExotelEntity, id: string): Promise<string> {
    const secret = await this.lookupSecret(entity, id);
    if (secret !== undefined) return secret;
    throw entity === 'customer'
      ? new ForbiddenError(`Switchboard holds no CustomerSecret for Exotel customer ${id}: only EXOTEL_CUSTOMER_ID and customers created through Switchboard can be read`, { platform: 'exotel' })
      : new ForbiddenError(`Switchboard holds no AppSecret for Exotel app ${id}: create the app through Switchboard, or add "${id}:<AppSecret>" to EXOTEL_APP_SECRETS`, { platform: 'exotel' });
  }

  /** This client with its calls made on behalf of `operation` (see `OperationScope`). */
  forOperation(operation: OperationScope | undefined): ExotelClient {
    return clientForOperation(this, operation);
  }

  private async fetchToken(key: string): Promise<IssuedToken> {
    const colon = key.indexOf(':');
    const entity = key.slice(0, colon) as ExotelEntity;
    const id = key.slice(colon + 1);
    const body: ExotelTokenBody = { Id: id, Secret: await this.secretOf(entity, id), Entity: entity };
    let token: unknown;
    try {
      token = await this.send<unknown>({ method: 'POST', path: 'token', route: 'POST /token', json: body });
    } catch (error) {
      if (!(error instanceof UnauthenticatedError)) throw error;
      const setting = entity === 'customer' ? 'EXOTEL_CUSTOMER_ID and EXOTEL_CUSTOMER_SECRET' : 'the AppSecret given for it (EXOTEL_APP_SECRETS)';
      throw new UnauthenticatedError(`Exotel refused the ${entity} credential of ${id} (${error.message}); check ${setting}`, {
        platform: 'exotel',
        upstreamStatus: error.upstreamStatus,
        upstreamRequestId: error.upstreamRequestId,
      });
    }
    if (typeof token !== 'string' || token === '') {
      throw new UpstreamBadResponseError(`Exotel answered POST /token without a token string in Data (got ${describeShape(token)})`, { platform: 'exotel' });
    }
    return { token, expiresAt: this.http.options.infra.clock.now() + EXOTEL_TOKEN_LIFETIME_MS };
  }

  /** The one place the envelope is unwrapped: `Data` on success, one of our errors otherwise. */
  private async send<T>(call: ExotelCall): Promise<T> {
    const response = await this.http.request<unknown>(call);
    const envelope = readEnvelope(response.body);
    if (!envelope) {
      throw new UpstreamBadResponseError(`Exotel answered ${call.route} without its {RequestId, Status, Code, Error, Data} envelope`, { platform: 'exotel' });
    }
    if (envelope.Status !== 'Success') throw errorFromEnvelope(envelope, response);
    return envelope.Data as T;
  }

  /** A call with the token of one customer or app; a rejected token is renewed once. */
  private async authed<T>(entity: ExotelEntity, id: string, call: ExotelCall): Promise<T> {
    await this.secretOf(entity, id);
    return this.tokens.for(`${entity}:${id}`).withToken((token) => this.send<T>({ ...call, headers: { authorization: token } }), this.http.operation);
  }

  async createCustomer(body: ExotelCreateCustomerBody): Promise<ExotelCreatedCustomerRecord> {
    const created = await this.send<ExotelCreatedCustomerRecord>({ method: 'POST', path: 'customer', route: 'POST /customer', json: body });
    if (typeof created?.CustomerID !== 'string' || typeof created.CustomerSecret !== 'string') {
      throw new UpstreamBadResponseError('Exotel answered POST /customer without CustomerID and CustomerSecret', { platform: 'exotel' });
    }
    await this.learn('customer', created.CustomerID, created.CustomerSecret);
    return created;
  }

  getCustomer(customerId: string = this.customerId): Promise<ExotelCustomerRecord> {
    return this.authed('customer', customerId, { method: 'GET', path: 'customer', route: 'GET /customer' });
  }

  async listApps(customerId: string = this.customerId): Promise<ExotelAppRecord[]> {
    const apps = await this.authed<ExotelAppRecord[]>('customer', customerId, {
      method: 'GET',
      path: 'app',
      route: 'GET /app?entity=customer',
      query: { entity: 'customer' },
    });
    return expectList(apps, 'exotel', 'GET /app?entity=customer');
  }

  async createApp(body: ExotelCreateAppBody, customerId: string = this.customerId): Promise<ExotelCreatedAppRecord> {
    const created = await this.authed<ExotelCreatedAppRecord>('customer', customerId, { method: 'POST', path: 'app', route: 'POST /app', json: body });
    if (typeof created?.AppID !== 'string' || typeof created.AppSecret !== 'string') {
      throw new UpstreamBadResponseError('Exotel answered POST /app without AppID and AppSecret', { platform: 'exotel' });
    }
    await this.learn('app', created.AppID, created.AppSecret);
    return created;
  }

  getApp(appId: string): Promise<ExotelAppRecord> {
    return this.authed('app', appId, { method: 'GET', path: 'app', route: 'GET /app?entity=app', query: { entity: 'app' } });
  }

  async deleteApp(appId: string): Promise<void> {
    await this.authed('app', appId, { method: 'DELETE', path: 'app', route: 'DELETE /app' });
    // The app is gone, and with it any use for its secret.
    await this.forget('app', appId);
  }

  async registerUsers(appId: string, users: ExotelRegisterUserBody[]): Promise<ExotelUserRecord[]> {
    const registered = await this.authed<ExotelUserRecord[]>('app', appId, { method: 'POST', path: 'usermapping', route: 'POST /usermapping', json: users });
    return expectList(registered, 'exotel', 'POST /usermapping');
  }

  getUser(appId: string, appUserId: string): Promise<ExotelUserRecord> {
    return this.authed('app', appId, { method: 'GET', path: 'usermapping', route: 'GET /usermapping?user_id', query: { user_id: appUserId } });
  }

  async listUsers(appId: string, page: ExotelUserPageRequest = {}): Promise<ExotelUserPage> {
    const data = await this.authed<ExotelUserPage>('app', appId, {
      method: 'GET',
      path: 'usermapping',
      route: 'GET /usermapping?last_value',
      query: { last_value: page.lastValue ?? '0', page_size: page.pageSize },
    });
    if (!data || typeof data !== 'object' || !Array.isArray(data.Users)) {
      throw new UpstreamBadResponseError(`Exotel answered GET /usermapping without the "Users" list it documents (got ${describeShape(data)})`, { platform: 'exotel' });
    }
    return data;
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

function readEnvelope(body: unknown): ExotelEnvelope | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const envelope = body as Partial<ExotelEnvelope>;
  return envelope.Status === 'Success' || envelope.Status === 'Failure' ? (envelope as ExotelEnvelope) : undefined;
}

/** HTTP 4xx/5xx: read the envelope Exotel sends with them (a bare status when it sent none). */
function readExotelError(response: UpstreamResponse): SwitchboardError {
  const envelope = readEnvelope(response.body);
  if (envelope) return errorFromEnvelope(envelope, response);
  return errorFromStatus(response.status, `Exotel answered HTTP ${response.status}`, { platform: 'exotel', retryAfter: retryAfterSeconds(response.headers) });
}

/**
 * `Status: Failure` may come with HTTP 200 and the real status in `Code`; the
 * HTTP status wins when it is itself an error. `RequestId` goes into the error
 * for support tickets.
 */
function errorFromEnvelope(envelope: ExotelEnvelope, response: UpstreamResponse): SwitchboardError {
  const status = response.status >= 400 ? response.status : Number(envelope.Code);
  const reason = typeof envelope.Error === 'string' && envelope.Error.trim() ? envelope.Error.trim() : '';
  const details = {
    platform: 'exotel',
    upstreamRequestId: typeof envelope.RequestId === 'string' && envelope.RequestId ? envelope.RequestId : undefined,
    fieldErrors: validationErrors(reason),
    retryAfter: retryAfterSeconds(response.headers),
    upstreamText: reason || undefined,
  };
  if (!(status >= 400)) {
    return new UpstreamBadResponseError(`Exotel reported Status "Failure" with Code ${JSON.stringify(envelope.Code)}${reason ? `: ${reason}` : ''}`, details);
  }
  return errorFromStatus(status, reason ? `Exotel: ${reason}` : `Exotel answered HTTP ${status}`, details);
}

const VALIDATION = /Key: '([^']*)' Error:Field validation for '(\w+)' failed on the '(\w+)' tag/g;

/**
 * Exotel's 400s name the field at fault the way Go's validator writes it
 * ("Key: 'CreateApp.AppName' Error:Field validation for 'AppName' failed on the
 * 'required' tag"; assumed from the service's Go zero times). Read them into
 * field errors keyed by the field, or `[index].Field` inside an array body.
 */
export function validationErrors(text: string): Record<string, string[]> | undefined {
  const errors: Record<string, string[]> = {};
  for (const [, key, field, tag] of text.matchAll(VALIDATION)) {
    const index = /\[(\d+)\]/.exec(key!)?.[1];
    const name = index === undefined ? field! : `[${index}].${field}`;
    (errors[name] ??= []).push(tag === 'required' ? `${field} is required` : `${field} is invalid (it fails the "${tag}" rule)`);
  }
  return Object.keys(errors).length ? errors : undefined;
}

