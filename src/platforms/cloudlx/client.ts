import { TokenManager, type IssuedToken } from '../../core/upstream/tokens.js';
import { UpstreamHttp, clientForOperation, type UpstreamResponse } from '../../core/upstream/http.js';
import { UpstreamBadResponseError, expectList } from '../../core/upstream/errors.js';
import type { ClientDeps } from '../../core/platform.js';
import type { Projection } from '../../core/upstream/project-json.js';
import type { OperationBound, OperationScope } from '../../core/upstream/operation.js';
import type {
  CloudLXApiClientRecord,
  CloudLXCreateCustomerBody,
  CloudLXCustomerRecord,
  CloudLXRealmRecord,
  CloudLXServiceRecord,
  CloudLXSubRealmRecord,
  CloudLXTokenResponse,
  CloudLXUpdateCustomerBody,
  CloudLXWebhookRecord,
} from './types.js';

export const CLOUDLX_MEDIA_TYPE = 'application/vnd.cloudlx.v1+json';

export interface CloudLXCredentials {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
}

interface CloudLXToken extends IssuedToken {
  refreshToken: string;
  refreshExpiresAt: number;
}

/** Refresh tokens live 7 days (UPSTREAMS.md §1). */
const REFRESH_TOKEN_LIFETIME_MS = 604_800_000;

/**
 * The CloudLX REST API, one method per path of UPSTREAMS.md §1, returning
 * CloudLX's own JSON. Authentication is OAuth client credentials with a refresh
 * token; every call carries CloudLX's versioned media type.
 */
export class CloudLXClient implements OperationBound<CloudLXClient> {
  readonly http: UpstreamHttp;
  readonly tokens: TokenManager<CloudLXToken>;

  constructor(private readonly config: CloudLXCredentials, deps: ClientDeps) {
    this.http = new UpstreamHttp({
      platform: 'cloudlx',
      baseUrl: config.baseUrl,
      ...deps,
      defaultHeaders: { accept: CLOUDLX_MEDIA_TYPE },
      title: 'CloudLX',
    });
    // Shared by every gateway on the store: one CloudLX login per client id, not one per process.
    this.tokens = new TokenManager<CloudLXToken>({ platform: 'cloudlx', fetchToken: (previous, operation) => this.fetchToken(previous, operation), infra: deps.infra, identity: [config.baseUrl, config.clientId] });
  }

  /** This client with its calls made on behalf of `operation` (see `OperationScope`). */
  forOperation(operation: OperationScope | undefined): CloudLXClient {
    return clientForOperation(this, operation);
  }

  private async fetchToken(previous: CloudLXToken | undefined, operation: OperationScope | undefined): Promise<CloudLXToken> {
    const http = this.http.forOperation(operation);
    const credentials = { client_id: this.config.clientId, client_secret: this.config.clientSecret };
    let response: UpstreamResponse<CloudLXTokenResponse> | undefined;
    if (previous && this.http.options.infra.clock.now() < previous.refreshExpiresAt) {
      response = await http
        .request<CloudLXTokenResponse>({
          method: 'POST',
          path: '/api/oauth2/refresh-token',
          form: { grant_type: 'refresh_token', refresh_token: previous.refreshToken, ...credentials },
        })
        // A refused refresh token is not fatal: fall back to the client credentials.
        .catch(() => undefined);
    }
    response ??= await http.request<CloudLXTokenResponse>({
      method: 'POST',
      path: '/api/oauth2/access-token',
      form: { grant_type: 'client_credentials', ...credentials },
    });
    const body = response.body;
    if (!body || typeof body.access_token !== 'string' || typeof body.expires_in !== 'number') {
      throw new UpstreamBadResponseError('CloudLX answered the token request without access_token and expires_in', { platform: 'cloudlx' });
    }
    // The gateway's clock: expires_in is a lifetime, and the token manager reads expiry on this clock.
    const now = this.http.options.infra.clock.now();
    return {
      token: body.access_token,
      expiresAt: now + body.expires_in * 1000,
      refreshToken: body.refresh_token,
      refreshExpiresAt: now + REFRESH_TOKEN_LIFETIME_MS,
    };
  }

  private call<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, route: string, json?: unknown, project?: Projection): Promise<T> {
    return this.tokens.withToken(async (token) => {
      const response = await this.http.request<T>({ method, path, route, json, project, headers: { authorization: `Bearer ${token}` } });
      return response.body;
    }, this.http.operation);
  }

  /** Every customer; with a projection (`CUSTOMERS_LIST`), only the keys of each that it names. */
  async listCustomers(project?: Projection): Promise<CloudLXCustomerRecord[]> {
    const body = await this.call<{ customers: CloudLXCustomerRecord[] }>('GET', '/api/customers', 'GET /api/customers', undefined, project);
    return expectList(body?.customers, 'cloudlx', 'GET /api/customers');
  }

  getCustomer(id: number | string): Promise<CloudLXCustomerRecord> {
    return this.call('GET', `/api/customers/${encodeURIComponent(id)}`, 'GET /api/customers/{id}');
  }

  createCustomer(body: CloudLXCreateCustomerBody): Promise<CloudLXCustomerRecord> {
    return this.call('POST', '/api/customers', 'POST /api/customers', body);
  }

  updateCustomer(id: number | string, body: CloudLXUpdateCustomerBody): Promise<CloudLXCustomerRecord> {
    return this.call('PATCH', `/api/customers/${encodeURIComponent(id)}`, 'PATCH /api/customers/{id}', body);
  }

  async listRealms(): Promise<CloudLXRealmRecord[]> {
    const body = await this.call<{ realms: CloudLXRealmRecord[] }>('GET', '/api/realms', 'GET /api/realms');
    return expectList(body?.realms, 'cloudlx', 'GET /api/realms');
  }

  async listSubRealms(): Promise<CloudLXSubRealmRecord[]> {
    const body = await this.call<{ sub_realms: CloudLXSubRealmRecord[] }>('GET', '/api/sub_realms', 'GET /api/sub_realms');
    return expectList(body?.sub_realms, 'cloudlx', 'GET /api/sub_realms');
  }

  /** Every service; with a projection (`SERVICES_LIST`), only the keys of each that it names. */
  async listServices(project?: Projection): Promise<CloudLXServiceRecord[]> {
    const body = await this.call<{ services: CloudLXServiceRecord[] }>('GET', '/api/services', 'GET /api/services', undefined, project);
    return expectList(body?.services, 'cloudlx', 'GET /api/services');
  }

  async listApiClients(): Promise<CloudLXApiClientRecord[]> {
    const body = await this.call<{ api_clients: CloudLXApiClientRecord[] }>('GET', '/api/api-clients', 'GET /api/api-clients');
    return expectList(body?.api_clients, 'cloudlx', 'GET /api/api-clients');
  }

  getApiClient(id: number | string): Promise<CloudLXApiClientRecord> {
    return this.call('GET', `/api/api-clients/${encodeURIComponent(id)}`, 'GET /api/api-clients/{id}');
  }

  createApiClient(body: { name: string }): Promise<CloudLXApiClientRecord> {
    return this.call('POST', '/api/api-clients', 'POST /api/api-clients', body);
  }

  updateApiClient(id: number | string, body: { name: string }): Promise<CloudLXApiClientRecord> {
    return this.call('PATCH', `/api/api-clients/${encodeURIComponent(id)}`, 'PATCH /api/api-clients/{id}', body);
  }

  async deleteApiClient(id: number | string): Promise<void> {
    await this.call('DELETE', `/api/api-clients/${encodeURIComponent(id)}`, 'DELETE /api/api-clients/{id}');
  }

  async listWebhooks(): Promise<CloudLXWebhookRecord[]> {
    const body = await this.call<{ webhooks: CloudLXWebhookRecord[] }>('GET', '/api/webhooks', 'GET /api/webhooks');
    return expectList(body?.webhooks, 'cloudlx', 'GET /api/webhooks');
  }

  getWebhook(id: number | string): Promise<CloudLXWebhookRecord> {
    return this.call('GET', `/api/webhooks/${encodeURIComponent(id)}`, 'GET /api/webhooks/{id}');
  }

  createWebhook(body: { url: string; active?: boolean }): Promise<CloudLXWebhookRecord> {
    return this.call('POST', '/api/webhooks', 'POST /api/webhooks', body);
  }

  updateWebhook(id: number | string, body: { url?: string; active?: boolean }): Promise<CloudLXWebhookRecord> {
    return this.call('PATCH', `/api/webhooks/${encodeURIComponent(id)}`, 'PATCH /api/webhooks/{id}', body);
  }

  async deleteWebhook(id: number | string): Promise<void> {
    await this.call('DELETE', `/api/webhooks/${encodeURIComponent(id)}`, 'DELETE /api/webhooks/{id}');
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

