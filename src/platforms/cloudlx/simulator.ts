import { randomBytes, randomUUID } from 'node:crypto';
import { request } from 'undici';
import { generateWebhookSecret, webhookHeaders } from '../../core/events/signatures.js';
import { SimServer, type SimRequest, type SimResponse } from '../../core/simulator/server.js';
import type { RunningSimulator, SimulatorOptions } from '../../core/platform.js';
import { CLOUDLX_MEDIA_TYPE } from './client.js';
import type { CloudLXConfig } from './config.js';
import { cloudlxOpenApi } from './openapi.js';
import type {
  CloudLXApiClientRecord,
  CloudLXCurrencyRecord,
  CloudLXCustomerRecord,
  CloudLXRealmRecord,
  CloudLXServiceRecord,
  CloudLXSubRealmRecord,
  CloudLXWebhookRecord,
} from './types.js';

/**
 * A CloudLX that follows UPSTREAMS.md §1 to the letter: the versioned media type
 * and bearer token are checked on every call, a created customer answers 200,
 * validation errors use the (assumed) `{"message", "errors"}` body with 422.
 * Its data is deterministic: the same seed gives the same customers every run.
 */

export const CLOUDLX_SIM_CLIENT_ID = 'switchboard-demo';

const REALMS: Required<CloudLXRealmRecord>[] = [
  { id: 1, name: 'Networking', description: 'Cloud Link Exchange' },
  { id: 2, name: 'Voice', description: 'Use the Voice app to buy geographic, toll free, mobile, and premium rate numbers globally.' },
  { id: 3, name: 'Cloud', description: 'Private and public cloud on-ramps' },
  { id: 7, name: 'Security', description: 'Managed firewalls and DDoS protection' },
];

const SUB_REALMS: Required<Omit<CloudLXSubRealmRecord, 'has_access'>>[] = [
  { id: 301, name: 'Point to Point', description: 'Layer 2 circuits between two ports', realm_id: 1 },
  { id: 305, name: 'Internet Access', description: 'Dedicated internet access', realm_id: 1 },
  { id: 313, name: 'SD WAN', description: null, realm_id: 1 },
  { id: 320, name: 'SIP Trunking', description: 'SIP trunks with number porting', realm_id: 2 },
  { id: 328, name: 'Cloud SBC & Conversion', description: null, realm_id: 2 },
  { id: 333, name: 'Numbers', description: 'Geographic and toll-free numbers', realm_id: 2 },
  { id: 341, name: 'AWS Direct Connect', description: null, realm_id: 3 },
  { id: 342, name: 'Azure ExpressRoute', description: null, realm_id: 3 },
  { id: 350, name: 'Google Cloud Interconnect', description: null, realm_id: 3 },
  { id: 371, name: 'Managed Firewall', description: null, realm_id: 7 },
  { id: 372, name: 'DDoS Protection', description: null, realm_id: 7 },
];

const CURRENCIES: Record<string, CloudLXCurrencyRecord> = {
  GBP: { name: 'GBP - British Pound', iso_2: 'GB', iso_3: 'GBP' },
  EUR: { name: 'EUR - Euro', iso_2: 'EU', iso_3: 'EUR' },
  USD: { name: 'USD - US Dollar', iso_2: 'US', iso_3: 'USD' },
  INR: { name: 'INR - Indian Rupee', iso_2: 'IN', iso_3: 'INR' },
  BRL: { name: 'BRL - Brazilian Real', iso_2: 'BR', iso_3: 'BRL' },
};

const COUNTRIES: Record<string, string> = {
  GB: 'United Kingdom',
  IE: 'Ireland',
  DE: 'Germany',
  FR: 'France',
  NL: 'Netherlands',
  US: 'United States',
  IN: 'India',
  BR: 'Brazil',
};

const NAME_PARTS = ['Acme', 'Northwind', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark', 'Wayne', 'Tyrell', 'Cyberdyne', 'Soylent', 'Wonka'];
const NAME_SUFFIXES = ['Networks', 'Telecom', 'Hosting', 'Logistics', 'Media'];

export interface CloudLXSimulatorOptions extends SimulatorOptions {
  /** How many seeded customers (default 60). */
  customers?: number;
  /** Lifetime of the access tokens it issues, in seconds (default 3600, as CloudLX documents). */
  accessTokenTtlSeconds?: number;
  /** The simulator's clock for token expiry, in epoch ms (default Date.now): a test moves it with the gateway's to expire tokens without waiting. */
  clock?: () => number;
}

/** One webhook POST the simulator made. */
export interface CloudLXWebhookDelivery {
  webhookId: number;
  url: string;
  webhookType: string;
  /** The receiver's HTTP status, or undefined when it could not be reached. */
  status?: number;
  error?: string;
}

/** What a bandwidth-threshold webhook says (CloudLX's documented example, UPSTREAMS.md §1). */
export interface CloudLXBandwidthAlert {
  portRef?: string;
  portName?: string;
  thresholdAmount?: number;
}

interface IssuedAccess {
  expiresAt: number;
  clientId: string;
}

export class CloudLXSimulator implements RunningSimulator<CloudLXConfig> {
  readonly server = new SimServer('cloudlx');
  readonly clientId = CLOUDLX_SIM_CLIENT_ID;
  /** Generated at each start: nothing real is ever protected by it, and it is never printed. */
  readonly clientSecret = `clx_${randomBytes(18).toString('hex')}`;
  accessTokenTtlSeconds: number;
  readonly customers = new Map<number, CloudLXCustomerRecord>();
  readonly services: CloudLXServiceRecord[] = [];
  readonly apiClients = new Map<number, CloudLXApiClientRecord>();
  readonly webhooks = new Map<number, CloudLXWebhookRecord>();
  /** Counts of tokens handed out, by grant type. */
  readonly tokensIssued = { client_credentials: 0, refresh_token: 0 };
  private readonly accessTokens = new Map<string, IssuedAccess>();
  private readonly refreshTokens = new Map<string, IssuedAccess>();
  private readonly now: () => number;
  private nextCustomerId = 6900;
  private nextApiClientId = 10;
  private nextWebhookId = 20;
  /** Every webhook POST made, in order. */
  readonly deliveries: CloudLXWebhookDelivery[] = [];
  /**
   * The secret deliveries are signed with (Standard Webhooks; CloudLX documents
   * no scheme, UPSTREAMS.md §5). Webhooks created through the API or
   * `deliverWebhooksTo` are delivered to; the seeded one points at an example
   * host and is not.
   */
  private webhookSecret: string;
  private readonly deliverable = new Set<number>();

  constructor(private readonly options: CloudLXSimulatorOptions = {}) {
    this.now = options.clock ?? Date.now;
    this.accessTokenTtlSeconds = options.accessTokenTtlSeconds ?? 3600;
    this.server.latencyMs = options.latencyMs ?? 0;
    this.webhookSecret = options.webhookSecret ?? generateWebhookSecret();
    this.seed(options.customers ?? 60);
    this.routes();
    if (options.webhookUrl) this.deliverWebhooksTo(options.webhookUrl, this.webhookSecret);
  }

  /** The secret the simulator signs its webhooks with (for `npm run simulate`'s settings). */
  get signingSecret(): string {
    return this.webhookSecret;
  }

  /**
   * Registers `url` as a webhook (as an operator does in the portal's "API
   * Applications & Webhooks"), signed with `secret` from now on.
   */
  deliverWebhooksTo(url: string, secret: string): void {
    this.webhookSecret = secret;
    let record = [...this.webhooks.values()].find((w) => w.url === url);
    if (!record) {
      const id = this.nextWebhookId++;
      record = { id, url, active: true, created_at: nowStamp() };
      this.webhooks.set(id, record);
    }
    record.active = true;
    this.deliverable.add(record.id);
  }

  /**
   * A port crossed its bandwidth threshold: POSTs CloudLX's
   * `bandwidth-threshold-port` webhook, signed, to every active webhook.
   * Resolves with the deliveries once each got its answer (a failed one is
   * recorded, never thrown).
   */
  async emitBandwidthThreshold(alert: CloudLXBandwidthAlert = {}): Promise<CloudLXWebhookDelivery[]> {
    const port = this.services[0]?.port;
    const payload = {
      webhook_type: 'bandwidth-threshold-port',
      port_name: alert.portName ?? port?.name ?? 'clxp-port-0',
      port_ref: alert.portRef ?? `clxp-${randomUUID().slice(0, 8)}`,
      threshold_amount: alert.thresholdAmount ?? 70,
      timestamp: nowStamp(),
    };
    const targets = [...this.webhooks.values()].filter((w) => w.active && this.deliverable.has(w.id));
    return Promise.all(targets.map((webhook) => this.deliver(webhook, payload)));
  }

  private async deliver(webhook: CloudLXWebhookRecord, payload: { webhook_type: string }): Promise<CloudLXWebhookDelivery> {
    const body = JSON.stringify(payload);
    const delivery: CloudLXWebhookDelivery = { webhookId: webhook.id, url: webhook.url, webhookType: payload.webhook_type };
    try {
      const response = await request(webhook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'CloudLX-simulator', ...webhookHeaders(this.webhookSecret, body) },
        body,
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      await response.body.dump();
      delivery.status = response.statusCode;
      if (response.statusCode >= 300) this.options.log?.warn({ url: webhook.url, status: response.statusCode }, 'CloudLX simulator: webhook receiver refused a delivery');
    } catch (error) {
      delivery.error = (error as { code?: string }).code ?? (error as Error).message;
      this.options.log?.warn({ url: webhook.url, error: delivery.error }, 'CloudLX simulator: webhook delivery failed');
    }
    this.deliveries.push(delivery);
    return delivery;
  }

  get url(): string {
    return this.server.url;
  }

  get config(): CloudLXConfig {
    return { baseUrl: this.server.url, clientId: this.clientId, clientSecret: this.clientSecret };
  }

  async start(): Promise<this> {
    await this.server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1');
    return this;
  }

  close(): Promise<void> {
    return this.server.close();
  }

  /** Makes every access token issued so far expire now (the next call gets 401). */
  expireAccessTokens(): void {
    for (const access of this.accessTokens.values()) access.expiresAt = 0;
  }

  private seed(count: number): void {
    const currencies = Object.keys(CURRENCIES);
    const countries = Object.keys(COUNTRIES);
    for (let i = 0; i < count; i++) {
      const realmIds = REALMS.filter((_, r) => (i + r) % 3 !== 0).map((r) => r.id);
      const shown = SUB_REALMS.filter((s, k) => realmIds.includes(s.realm_id) && (i + k) % 2 === 0).map((s) => s.id);
      const enabled = shown.filter((_, k) => k % 2 === 0);
      const customer = this.buildCustomer(this.nextCustomerId++, {
        name: `${NAME_PARTS[i % NAME_PARTS.length]} ${NAME_SUFFIXES[Math.floor(i / NAME_PARTS.length) % NAME_SUFFIXES.length]} ${i + 1}`,
        currency_iso: currencies[i % currencies.length]!,
        country_iso: countries[i % countries.length]!,
        realms: realmIds,
        shown_sub_realms: shown,
        enabled_sub_realms: enabled,
      });
      this.customers.set(customer.id, customer);
    }
    for (let i = 0; i < 40; i++) {
      const day = String((i % 28) + 1).padStart(2, '0');
      this.services.push({
        id: 5000 + i,
        name: `${['Point to Point', 'Internet Access', 'SD WAN', 'AWS Direct Connect'][i % 4]} ${1000 + i}`,
        vlan: 100 + i,
        nni_vlan: 2000 + i,
        created: `2025-${String((i % 12) + 1).padStart(2, '0')}-${day} 09:50:38`,
        cancellation_date: i % 10 === 9 ? `2026-12-${day} 00:00:00` : null,
        bandwidth: [100, 250, 500, 1000][i % 4]!,
        paused: i % 7 === 3,
        expired: i % 10 === 9,
        type: ['p2p', 'internet', 'sdwan', 'cloud'][i % 4]!,
        port: { id: 700 + (i % 8), name: `clxp-port-${i % 8}`, index: i % 48, switch: `sw-lon-${1 + (i % 2)}`, slot: 1 + (i % 4), shelf: 1 },
      });
    }
    for (const name of ['Billing system', 'NOC dashboard']) {
      const id = this.nextApiClientId++;
      this.apiClients.set(id, { id, name, client_id: `clx-client-${id}`, created_at: '2025-06-01 12:00:00' });
    }
    const id = this.nextWebhookId++;
    this.webhooks.set(id, { id, url: 'https://noc.example.com/cloudlx/events', active: true, created_at: '2025-06-01 12:00:00' });
  }

  private buildCustomer(
    id: number,
    body: { name: string; currency_iso: string; country_iso: string; realms: number[]; shown_sub_realms: number[]; enabled_sub_realms: number[] },
  ): CloudLXCustomerRecord {
    return {
      id,
      name: body.name,
      currency: { ...CURRENCIES[body.currency_iso]! },
      country: { iso_2: body.country_iso, name: COUNTRIES[body.country_iso]! },
      // As in seed 002: realms inside a customer carry name and description, no id.
      realms: REALMS.filter((r) => body.realms.includes(r.id)).map((r) => ({ name: r.name, description: r.description })),
      sub_realms: SUB_REALMS.filter((s) => body.shown_sub_realms.includes(s.id)).map((s) => ({
        id: s.id,
        name: s.name,
        description: s.description,
        has_access: body.enabled_sub_realms.includes(s.id),
      })),
    };
  }

  private routes(): void {
    const s = this.server;
    s.route('GET', '/openapi.json', () => ok(cloudlxOpenApi(this.url)));
    s.route('POST', '/api/oauth2/access-token', (req) => this.accessToken(req));
    s.route('POST', '/api/oauth2/refresh-token', (req) => this.refreshToken(req));
    s.route('GET', '/api/customers', this.authed(() => ok({ customers: [...this.customers.values()] })));
    s.route('GET', '/api/customers/:id', this.authed((req) => this.found(this.customers.get(Number(req.params.id)), 'Customer')));
    s.route('POST', '/api/customers', this.authed((req) => this.createCustomer(req)));
    s.route('PATCH', '/api/customers/:id', this.authed((req) => this.updateCustomer(req)));
    s.route('GET', '/api/realms', this.authed(() => ok({ realms: REALMS })));
    s.route('GET', '/api/sub_realms', this.authed(() => ok({ sub_realms: SUB_REALMS })));
    s.route('GET', '/api/services', this.authed(() => ok({ services: this.services })));

    s.route('GET', '/api/api-clients', this.authed(() => ok({ api_clients: [...this.apiClients.values()] })));
    s.route('GET', '/api/api-clients/:id', this.authed((req) => this.found(this.apiClients.get(Number(req.params.id)), 'API client')));
    s.route(
      'POST',
      '/api/api-clients',
      this.authed((req) => {
        const name = (req.body as { name?: unknown } | undefined)?.name;
        if (typeof name !== 'string' || name.trim() === '') return invalid({ name: ['The name field is required.'] });
        const id = this.nextApiClientId++;
        const record: CloudLXApiClientRecord = { id, name, client_id: `clx-client-${id}`, created_at: nowStamp() };
        this.apiClients.set(id, record);
        // The secret is in this answer only; CloudLX shows it once.
        return ok({ ...record, client_secret: `clxs_${randomBytes(16).toString('hex')}` });
      }),
    );
    s.route(
      'PATCH',
      '/api/api-clients/:id',
      this.authed((req) => {
        const record = this.apiClients.get(Number(req.params.id));
        if (!record) return notFound('API client');
        const name = (req.body as { name?: unknown } | undefined)?.name;
        if (name !== undefined && (typeof name !== 'string' || name.trim() === '')) return invalid({ name: ['The name must be a non-empty string.'] });
        if (typeof name === 'string') record.name = name;
        return ok(record);
      }),
    );
    s.route('DELETE', '/api/api-clients/:id', this.authed((req) => (this.apiClients.delete(Number(req.params.id)) ? { status: 204 } : notFound('API client'))));

    s.route('GET', '/api/webhooks', this.authed(() => ok({ webhooks: [...this.webhooks.values()] })));
    s.route('GET', '/api/webhooks/:id', this.authed((req) => this.found(this.webhooks.get(Number(req.params.id)), 'Webhook')));
    s.route(
      'POST',
      '/api/webhooks',
      this.authed((req) => {
        const body = (req.body ?? {}) as { url?: unknown; active?: unknown };
        const problem = webhookProblems(body, true);
        if (problem) return invalid(problem);
        const id = this.nextWebhookId++;
        const record: CloudLXWebhookRecord = { id, url: body.url as string, active: body.active !== false, created_at: nowStamp() };
        this.webhooks.set(id, record);
        this.deliverable.add(id);
        return ok(record);
      }),
    );
    s.route(
      'PATCH',
      '/api/webhooks/:id',
      this.authed((req) => {
        const record = this.webhooks.get(Number(req.params.id));
        if (!record) return notFound('Webhook');
        const body = (req.body ?? {}) as { url?: unknown; active?: unknown };
        const problem = webhookProblems(body, false);
        if (problem) return invalid(problem);
        if (typeof body.url === 'string') record.url = body.url;
        if (typeof body.active === 'boolean') record.active = body.active;
        return ok(record);
      }),
    );
    s.route('DELETE', '/api/webhooks/:id', this.authed((req) => (this.webhooks.delete(Number(req.params.id)) ? { status: 204 } : notFound('Webhook'))));
  }

  /** Every CloudLX call must ask for the versioned media type; API calls need a live bearer token. */
  private authed(handler: (req: SimRequest) => SimResponse): (req: SimRequest) => SimResponse {
    return (req) => {
      const media = this.checkAccept(req);
      if (media) return media;
      const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
      const access = match ? this.accessTokens.get(match[1]!) : undefined;
      if (!access) return { status: 401, body: { message: 'Unauthenticated.' } };
      if (access.expiresAt <= this.now()) return { status: 401, body: { message: 'The access token has expired.' } };
      return handler(req);
    };
  }

  private checkAccept(req: SimRequest): SimResponse | undefined {
    if ((req.headers.accept ?? '').includes(CLOUDLX_MEDIA_TYPE)) return undefined;
    return { status: 406, body: { message: `Expected the header Accept: ${CLOUDLX_MEDIA_TYPE}, got ${JSON.stringify(req.headers.accept ?? null)}` } };
  }

  private issue(clientId: string, grant: 'client_credentials' | 'refresh_token'): SimResponse {
    this.tokensIssued[grant] += 1;
    const access = randomBytes(24).toString('base64url');
    const refresh = randomBytes(24).toString('base64url');
    this.accessTokens.set(access, { clientId, expiresAt: this.now() + this.accessTokenTtlSeconds * 1000 });
    this.refreshTokens.set(refresh, { clientId, expiresAt: this.now() + 604_800_000 });
    return ok({ access_token: access, token_type: 'Bearer', expires_in: this.accessTokenTtlSeconds, refresh_token: refresh });
  }

  private credentialsValid(form: Record<string, unknown>): boolean {
    return form.client_id === this.clientId && form.client_secret === this.clientSecret;
  }

  private accessToken(req: SimRequest): SimResponse {
    const media = this.checkAccept(req);
    if (media) return media;
    const form = (req.body ?? {}) as Record<string, unknown>;
    if (form.grant_type !== 'client_credentials') return { status: 400, body: { message: 'The grant_type must be client_credentials.' } };
    if (!this.credentialsValid(form)) return { status: 401, body: { message: 'Client authentication failed.' } };
    return this.issue(this.clientId, 'client_credentials');
  }

  private refreshToken(req: SimRequest): SimResponse {
    const media = this.checkAccept(req);
    if (media) return media;
    const form = (req.body ?? {}) as Record<string, unknown>;
    if (form.grant_type !== 'refresh_token') return { status: 400, body: { message: 'The grant_type must be refresh_token.' } };
    if (!this.credentialsValid(form)) return { status: 401, body: { message: 'Client authentication failed.' } };
    const refresh = this.refreshTokens.get(String(form.refresh_token));
    if (!refresh || refresh.expiresAt <= this.now()) return { status: 401, body: { message: 'The refresh token is invalid.' } };
    this.refreshTokens.delete(String(form.refresh_token));
    return this.issue(refresh.clientId, 'refresh_token');
  }

  private found<T>(record: T | undefined, what: string): SimResponse {
    return record ? ok(record) : notFound(what);
  }

  private createCustomer(req: SimRequest): SimResponse {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const errors = customerProblems(body, true);
    if (errors) return invalid(errors);
    const customer = this.buildCustomer(this.nextCustomerId++, body as never);
    this.customers.set(customer.id, customer);
    return ok(customer);
  }

  private updateCustomer(req: SimRequest): SimResponse {
    const existing = this.customers.get(Number(req.params.id));
    if (!existing) return notFound('Customer');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const errors = customerProblems(body, false);
    if (errors) return invalid(errors);
    const current = {
      name: existing.name,
      currency_iso: existing.currency?.iso_3 ?? 'GBP',
      country_iso: existing.country?.iso_2 ?? 'GB',
      realms: REALMS.filter((r) => existing.realms.some((e) => e.name === r.name)).map((r) => r.id),
      shown_sub_realms: existing.sub_realms.map((s) => s.id),
      enabled_sub_realms: existing.sub_realms.filter((s) => s.has_access).map((s) => s.id),
    };
    const merged = { ...current, ...Object.fromEntries(Object.entries(body).filter(([k]) => k in current)) };
    const updated = this.buildCustomer(existing.id, merged as typeof current);
    this.customers.set(existing.id, updated);
    return ok(updated);
  }
}

function ok(body: unknown): SimResponse {
  return { status: 200, body };
}

function notFound(what: string): SimResponse {
  return { status: 404, body: { message: `${what} not found.` } };
}

function invalid(errors: Record<string, string[]>): SimResponse {
  return { status: 422, body: { message: 'The given data was invalid.', errors } };
}

function nowStamp(): string {
  return new Date().toISOString().slice(0, 19).replace('T', ' ');
}

function isIdList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => Number.isInteger(v));
}

/** The validation CloudLX documents for a customer; null when the body is acceptable. */
function customerProblems(body: Record<string, unknown>, creating: boolean): Record<string, string[]> | null {
  const errors: Record<string, string[]> = {};
  const add = (field: string, message: string) => (errors[field] ??= []).push(message);
  const required = creating ? ['name', 'currency_iso', 'country_iso', 'realms', 'email', 'first_name', 'last_name', 'role_group'] : [];
  for (const field of required) if (body[field] === undefined || body[field] === null || body[field] === '') add(field, `The ${field.replace(/_/g, ' ')} field is required.`);
  for (const field of ['name', 'email', 'first_name', 'last_name', 'role_group']) {
    if (body[field] !== undefined && (typeof body[field] !== 'string' || (body[field] as string).trim() === '')) add(field, `The ${field.replace(/_/g, ' ')} must be a non-empty string.`);
  }
  if (typeof body.email === 'string' && body.email && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(body.email)) add('email', 'The email must be a valid email address.');
  if (body.currency_iso !== undefined && !(String(body.currency_iso) in CURRENCIES)) {
    add('currency_iso', `The selected currency iso is invalid: ${JSON.stringify(body.currency_iso)} is not one of ${Object.keys(CURRENCIES).join(', ')}.`);
  }
  if (body.country_iso !== undefined && !(String(body.country_iso) in COUNTRIES)) {
    add('country_iso', `The selected country iso is invalid: ${JSON.stringify(body.country_iso)} is not a known ISO 3166 alpha-2 code.`);
  }
  for (const [field, known] of [
    ['realms', REALMS.map((r) => r.id)],
    ['shown_sub_realms', SUB_REALMS.map((s) => s.id)],
    ['enabled_sub_realms', SUB_REALMS.map((s) => s.id)],
  ] as const) {
    const value = body[field];
    if (value === undefined) continue;
    if (!isIdList(value)) add(field, `The ${field.replace(/_/g, ' ')} must be an array of integer ids.`);
    else for (const id of value) if (!(known as readonly number[]).includes(id)) add(field, `The selected ${field.replace(/_/g, ' ')} id ${id} is invalid.`);
  }
  if (isIdList(body.enabled_sub_realms) && isIdList(body.shown_sub_realms)) {
    const shown = body.shown_sub_realms;
    for (const id of body.enabled_sub_realms) if (!shown.includes(id)) add('enabled_sub_realms', `Sub-realm ${id} is enabled but not shown.`);
  }
  return Object.keys(errors).length ? errors : null;
}

function webhookProblems(body: { url?: unknown; active?: unknown }, creating: boolean): Record<string, string[]> | null {
  if (creating && (body.url === undefined || body.url === '')) return { url: ['The url field is required.'] };
  if (body.url !== undefined && (typeof body.url !== 'string' || !/^https?:\/\/\S+$/.test(body.url))) return { url: ['The url must be a valid http(s) URL.'] };
  if (body.active !== undefined && typeof body.active !== 'boolean') return { active: ['The active field must be true or false.'] };
  return null;
}

export async function startCloudLXSimulator(options: CloudLXSimulatorOptions = {}): Promise<CloudLXSimulator> {
  return new CloudLXSimulator(options).start();
}
