import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { SimServer, type Fault, type LoggedRequest, type SimRequest, type SimResponse } from '../../core/simulator/server.js';
import type { RunningSimulator, SimulatorOptions } from '../../core/platform.js';
import type { ExotelConfig } from './config.js';
import { exotelOpenApi } from './openapi.js';
import type { ExotelCreatedAppRecord, ExotelCreatedCustomerRecord, ExotelEntity, ExotelEnvelope, ExotelUserRecord } from './types.js';

/**
 * An Exotel integrations core that follows UPSTREAMS.md §2 and seed 003 to the
 * letter: every answer (errors included) in the `{RequestId, Status, Code, Error,
 * Data}` envelope, raw tokens in `Authorization`, a customer token for apps and
 * an app token for one app and its users, reads without the secrets, 400s that
 * name the missing field (in the words of Go's validator, which the real
 * service's zero times suggest it uses), 401 for a wrong id, secret or token.
 * Its data is deterministic: the same options give the same ids every run; only
 * the secrets and tokens are random.
 */

/** The path the real service lives under; the simulator serves the same one. */
export const EXOTEL_SIM_BASE_PATH = '/v2/integrations';

const DEFAULT_TOKEN_TTL_SECONDS = 90 * 86_400;
/** Go's zero time, which Exotel's user reads carry for users it has no dates for. */
const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

const CUSTOMER_NAMES = ['Switchboard Demo Telecom', 'Northwind Contact Centre', 'Globex Support Desk', 'Initech Helpline', 'Hooli Voice'];
const APP_NAMES = ['WebRTC', 'CRM Dialer', 'Helpdesk Click-to-Call', 'Legacy Dialer', 'Field Sales', 'Collections'];
const FIRST_NAMES = ['Asha', 'Ravi', 'Meera', 'Arjun', 'Priya', 'Kiran', 'Neha', 'Vikram', 'Divya', 'Rahul', 'Sneha', 'Anil'];
const DOMAINS = ['mumbai', 'singapore'];

export interface ExotelSimulatorOptions extends SimulatorOptions {
  /** How many seeded customers (default 3); the first is the gateway's own. */
  customers?: number;
  /** Apps of the gateway's customer (default 4); other customers get 2 each. */
  apps?: number;
  /** Users of each seeded app (default 45: three pages at Exotel's default page size of 20). */
  usersPerApp?: number;
  /** Lifetime of the tokens it issues, in seconds (default 90 days, as Exotel documents). */
  tokenTtlSeconds?: number;
}

interface IssuedToken {
  entity: ExotelEntity;
  id: string;
  expiresAt: number;
}

interface StoredUser {
  /** The keyset value `last_value` pages on: Exotel's internal order, never shown in a user. */
  seq: number;
  record: ExotelUserRecord;
}

interface StoredApp {
  record: ExotelCreatedAppRecord;
  users: StoredUser[];
  nextSeq: number;
}

export class ExotelSimulator implements RunningSimulator<ExotelConfig> {
  readonly server = new SimServer('exotel');
  tokenTtlSeconds: number;
  readonly customers = new Map<string, ExotelCreatedCustomerRecord>();
  readonly apps = new Map<string, StoredApp>();
  /** Apps deleted so far, kept so tests can still look for their secrets. */
  readonly deletedApps: StoredApp[] = [];
  /** Counts of tokens handed out, by entity. */
  readonly tokensIssued: Record<ExotelEntity, number> = { customer: 0, app: 0 };
  /** The seeded app whose secret `config` leaves out, so the gateway meets an app it holds no credential for. */
  readonly appWithoutGatewaySecret: string;
  private readonly tokens = new Map<string, IssuedToken>();
  private sequence = 0;

  constructor(private readonly options: ExotelSimulatorOptions = {}) {
    this.tokenTtlSeconds = options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
    this.server.latencyMs = options.latencyMs ?? 0;
    this.appWithoutGatewaySecret = this.seed(options.customers ?? 3, options.apps ?? 4, options.usersPerApp ?? 45);
    this.routes();
  }

  /** Where the API answers: the server's root plus Exotel's base path. */
  get url(): string {
    return `${this.server.url}${EXOTEL_SIM_BASE_PATH}`;
  }

  /** The gateway's customer (the first seeded) and the secrets of its apps but one. */
  get config(): ExotelConfig {
    const customer = this.gatewayCustomer;
    const appSecrets: Record<string, string> = {};
    for (const { record } of this.apps.values()) {
      if (record.CustomerID === customer.CustomerID && record.AppID !== this.appWithoutGatewaySecret) appSecrets[record.AppID] = record.AppSecret;
    }
    return { baseUrl: this.url, customerId: customer.CustomerID, customerSecret: customer.CustomerSecret, appSecrets };
  }

  get gatewayCustomer(): ExotelCreatedCustomerRecord {
    return this.customers.values().next().value!;
  }

  /** The apps of one customer, in creation order. */
  appsOf(customerId: string): ExotelCreatedAppRecord[] {
    return [...this.apps.values()].filter((a) => a.record.CustomerID === customerId).map((a) => a.record);
  }

  async start(): Promise<this> {
    await this.server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1');
    return this;
  }

  close(): Promise<void> {
    return this.server.close();
  }

  /** Makes every token issued so far expire now (the next call with one gets 401). */
  expireTokens(): void {
    for (const token of this.tokens.values()) token.expiresAt = 0;
  }

  /** `GET /app` → the logged route `GET /v2/integrations/app`. */
  route(route: string): string {
    const [method, path] = route.split(' ');
    return `${method} ${EXOTEL_SIM_BASE_PATH}${path}`;
  }

  /** Requests received for one route, written without the base path (`GET /app`). */
  requests(route: string): LoggedRequest[] {
    return this.server.requests(this.route(route));
  }

  /**
   * Answers the next `times` requests of a route (`GET /app`, or `*` for all) with a
   * Failure envelope carrying `code`, sent with HTTP `httpStatus` (default: `code`;
   * Exotel may also say Failure under HTTP 200). Returns the envelope's RequestId.
   */
  injectFailure(route: string, failure: { code: number; error: string; httpStatus?: number; times?: number }): string {
    const body = envelope(failure.code, failure.error, null);
    const fault: Fault = { status: failure.httpStatus ?? failure.code, body, times: failure.times };
    this.server.inject(route === '*' ? '*' : this.route(route), fault);
    return body.RequestId;
  }

  /** Every token issued so far, live or not (for tests that look for leaks). */
  issuedTokens(): string[] {
    return [...this.tokens.keys()];
  }

  private seed(customerCount: number, gatewayApps: number, usersPerApp: number): string {
    for (let c = 0; c < customerCount; c++) {
      const customer: ExotelCreatedCustomerRecord = {
        CustomerID: stableUuid(`customer:${c}`),
        CustomerSecret: randomUUID(),
        CustomerName: CUSTOMER_NAMES[c % CUSTOMER_NAMES.length]!,
        Email: `ops${c + 1}@${CUSTOMER_NAMES[c % CUSTOMER_NAMES.length]!.split(' ')[0]!.toLowerCase()}.example.com`,
        CustomerSetting: null,
        CreatedAt: istStamp(Date.UTC(2023, 2, 1 + c, 6, 17, 46)),
        UpdatedAt: istStamp(Date.UTC(2023, 2, 1 + c, 6, 17, 46)),
        DeletedAt: null,
      };
      this.customers.set(customer.CustomerID, customer);
      const appCount = c === 0 ? gatewayApps : 2;
      for (let a = 0; a < appCount; a++) {
        const app = this.storeApp({
          AppID: stableUuid(`app:${c}:${a}`),
          AppSecret: randomUUID(),
          CustomerID: customer.CustomerID,
          AppName: APP_NAMES[(c * 2 + a) % APP_NAMES.length]!,
          ExotelAccountSid: `acme${c}${a}`,
          ExotelApiKey: randomBytes(20).toString('hex'),
          ExotelApiToken: randomBytes(20).toString('hex'),
          ExotelDomain: DOMAINS[a % DOMAINS.length]!,
          IsActive: a % 3 !== 2,
          CreatedAt: istStamp(Date.UTC(2023, 2, 23 + a, 6, 17, 46)),
          UpdatedAt: istStamp(Date.UTC(2023, 2, 23 + a, 6, 17, 46)),
        });
        for (let u = 0; u < usersPerApp; u++) {
          const first = FIRST_NAMES[u % FIRST_NAMES.length]!;
          this.addUser(app, {
            AppUserId: String(u + 1),
            AppUsername: `${first} ${u + 1}`,
            Email: `${first.toLowerCase()}.${u + 1}@${app.record.ExotelAccountSid}.example.in`,
            ExotelAccountSid: app.record.ExotelAccountSid,
            ExotelUserName: `${first} ${u + 1}`,
            AgentNumber: `+9198${String(10_000_000 + c * 100_000 + a * 1000 + u).padStart(8, '0')}`,
            VirtualNumber: `0113512${String(4000 + u).padStart(4, '0')}`,
          }, GO_ZERO_TIME);
        }
      }
    }
    const gatewayAppIds = this.appsOf(this.gatewayCustomer.CustomerID).map((a) => a.AppID);
    return gatewayAppIds[gatewayAppIds.length - 1] ?? '';
  }

  private storeApp(record: ExotelCreatedAppRecord): StoredApp {
    const app: StoredApp = { record, users: [], nextSeq: 1 };
    this.apps.set(record.AppID, app);
    return app;
  }

  private addUser(app: StoredApp, body: Record<string, unknown>, stamp: string): ExotelUserRecord {
    const n = ++this.sequence;
    const record: ExotelUserRecord = {
      CustomerId: app.record.CustomerID,
      AppID: app.record.AppID,
      AppUserId: String(body.AppUserId),
      ExotelAccountSid: String(body.ExotelAccountSid),
      ExotelUserId: `exu${n.toString(36)}`,
      AppUsername: String(body.AppUsername),
      ExotelUserName: String(body.ExotelUserName),
      AgentNumber: typeof body.AgentNumber === 'string' ? body.AgentNumber : null,
      ActiveDeviceId: '',
      PhoneDeviceID: String(n % 1000).padStart(3, '0'),
      SipDeviceID: String(9000 + (n % 1000)),
      VirtualNumber: String(body.VirtualNumber),
      Email: String(body.Email),
      OutboundActive: n % 4 === 0,
      Role: n % 10 === 1 ? 'admin' : 'user',
      SipId: `sip:${app.record.ExotelAccountSid}${n}`,
      // As the real reads do, every read of a user carries it; Switchboard must not pass it on.
      SipSecret: randomBytes(12).toString('base64url'),
      IsActive: true,
      UserDetail: null,
      CreatedAt: stamp,
      UpdatedAt: stamp,
    };
    app.users.push({ seq: app.nextSeq++, record });
    return record;
  }

  private routes(): void {
    const s = this.server;
    const p = EXOTEL_SIM_BASE_PATH;
    s.notFound = (req) => fail(404, `no route for ${req.method} ${req.path}`);
    s.route('GET', '/openapi.json', () => ({ status: 200, body: exotelOpenApi(this.url) }));
    s.route('POST', `${p}/token`, (req) => this.issueToken(req));
    s.route('POST', `${p}/customer`, (req) => this.createCustomer(req));
    s.route('GET', `${p}/customer`, this.authed('customer', (_, id) => success(redactCustomer(this.customers.get(id)!))));
    s.route('POST', `${p}/app`, this.authed('customer', (req, id) => this.createApp(req, id)));
    s.route('GET', `${p}/app`, (req) => {
      const entity = req.query.get('entity');
      if (entity === 'app') return this.authed('app', (_, id) => success(redactApp(this.apps.get(id)!.record)))(req);
      if (entity === 'customer') return this.authed('customer', (_, id) => success(this.appsOf(id).map(redactApp)))(req);
      return fail(400, `Key: 'GetAppRequest.Entity' Error:Field validation for 'Entity' failed on the '${entity === null ? 'required' : 'oneof'}' tag`);
    });
    s.route('DELETE', `${p}/app`, this.authed('app', (_, id) => {
      this.deletedApps.push(this.apps.get(id)!);
      // Its tokens die with it: the next call with one is a 401.
      this.apps.delete(id);
      return success('Deleted Successfully');
    }));
    s.route('POST', `${p}/usermapping`, this.authed('app', (req, id) => this.registerUsers(req, this.apps.get(id)!)));
    s.route('GET', `${p}/usermapping`, this.authed('app', (req, id) => this.readUsers(req, this.apps.get(id)!)));
  }

  /** The token goes raw in Authorization; a customer token and an app token are not interchangeable. */
  private authed(entity: ExotelEntity, handler: (req: SimRequest, id: string) => SimResponse): (req: SimRequest) => SimResponse {
    return (req) => {
      const header = req.headers.authorization ?? '';
      if (header === '') return fail(401, 'Authorization header is missing');
      if (/^Bearer\s/i.test(header)) return fail(401, 'Authorization must carry the token itself, without "Bearer"');
      const issued = this.tokens.get(header);
      if (!issued) return fail(401, 'invalid token');
      if (issued.expiresAt <= Date.now()) return fail(401, 'token expired');
      if (issued.entity !== entity) return fail(401, `this endpoint needs a token for entity=${entity}, got one for entity=${issued.entity}`);
      const exists = entity === 'customer' ? this.customers.has(issued.id) : this.apps.has(issued.id);
      if (!exists) return fail(401, `the ${entity} of this token no longer exists`);
      return handler(req, issued.id);
    };
  }

  private issueToken(req: SimRequest): SimResponse {
    const body = asObject(req.body);
    if (!body) return fail(400, 'expected a JSON object {"Id", "Secret", "Entity"}');
    const missing = requiredProblems('TokenRequest', body, ['Id', 'Secret', 'Entity']);
    if (missing) return fail(400, missing);
    if (body.Entity !== 'customer' && body.Entity !== 'app') return fail(400, "Key: 'TokenRequest.Entity' Error:Field validation for 'Entity' failed on the 'oneof' tag");
    const entity = body.Entity as ExotelEntity;
    const secret = entity === 'customer' ? this.customers.get(String(body.Id))?.CustomerSecret : this.apps.get(String(body.Id))?.record.AppSecret;
    if (secret === undefined || secret !== body.Secret) return fail(401, 'invalid entity id or secret');
    this.tokensIssued[entity] += 1;
    // Shaped like the tokens in Exotel's examples: base64 of a UUID.
    const token = Buffer.from(randomUUID()).toString('base64').replace(/=+$/, '');
    this.tokens.set(token, { entity, id: String(body.Id), expiresAt: Date.now() + this.tokenTtlSeconds * 1000 });
    return success(token);
  }

  private createCustomer(req: SimRequest): SimResponse {
    const body = asObject(req.body);
    if (!body) return fail(400, 'expected a JSON object {"CustomerName", "Email"}');
    const problems = requiredProblems('CreateCustomerRequest', body, ['CustomerName', 'Email']);
    if (problems) return fail(400, problems);
    if (!isEmail(body.Email)) return fail(400, "Key: 'CreateCustomerRequest.Email' Error:Field validation for 'Email' failed on the 'email' tag");
    const now = istStamp(Date.now());
    const customer: ExotelCreatedCustomerRecord = {
      CustomerID: randomUUID(),
      CustomerSecret: randomUUID(),
      CustomerName: String(body.CustomerName),
      Email: String(body.Email),
      CustomerSetting: null,
      CreatedAt: now,
      UpdatedAt: now,
      DeletedAt: null,
    };
    this.customers.set(customer.CustomerID, customer);
    return success(customer);
  }

  private createApp(req: SimRequest, customerId: string): SimResponse {
    const body = asObject(req.body);
    if (!body) return fail(400, 'expected a JSON object with AppName, ExotelAccountSid, ExotelApiKey, ExotelApiToken, ExotelDomain, IsActive');
    const problems = requiredProblems('CreateAppRequest', body, ['AppName', 'ExotelAccountSid', 'ExotelApiKey', 'ExotelApiToken', 'ExotelDomain', 'IsActive']);
    if (problems) return fail(400, problems);
    if (typeof body.IsActive !== 'boolean') return fail(400, `json: cannot unmarshal ${typeof body.IsActive} into Go struct field CreateAppRequest.IsActive of type bool`);
    const now = istStamp(Date.now());
    const record: ExotelCreatedAppRecord = {
      AppID: randomUUID(),
      AppSecret: randomUUID(),
      CustomerID: customerId,
      AppName: String(body.AppName),
      ExotelAccountSid: String(body.ExotelAccountSid),
      ExotelApiKey: String(body.ExotelApiKey),
      ExotelApiToken: String(body.ExotelApiToken),
      ExotelDomain: String(body.ExotelDomain),
      IsActive: body.IsActive,
      CreatedAt: now,
      UpdatedAt: now,
    };
    this.storeApp(record);
    // Seed 003: the create answer is the one that carries AppSecret, ExotelApiKey and ExotelApiToken.
    return success(record);
  }

  private registerUsers(req: SimRequest, app: StoredApp): SimResponse {
    if (!Array.isArray(req.body)) return fail(400, `expected a JSON array of users, got ${req.body === undefined ? 'no body' : Array.isArray(req.body) ? 'an array' : typeof req.body}`);
    const items = req.body as unknown[];
    if (items.length === 0) return fail(400, 'expected at least one user in the array');
    const problems: string[] = [];
    const seen = new Set(app.users.map((u) => u.record.AppUserId));
    items.forEach((item, i) => {
      const body = asObject(item);
      if (!body) {
        problems.push(`[${i}]: expected a JSON object`);
        return;
      }
      const missing = requiredProblems(`[${i}]`, body, ['AppUserId', 'AppUsername', 'Email', 'ExotelAccountSid', 'ExotelUserName', 'VirtualNumber']);
      if (missing) problems.push(missing);
      else if (!isEmail(body.Email)) problems.push(`Key: '[${i}].Email' Error:Field validation for 'Email' failed on the 'email' tag`);
      else if (seen.has(String(body.AppUserId))) problems.push(`Key: '[${i}].AppUserId' Error:Field validation for 'AppUserId' failed on the 'unique' tag`);
      else seen.add(String(body.AppUserId));
    });
    if (problems.length) return fail(400, problems.join('\n'));
    const now = new Date().toISOString().slice(0, 19) + 'Z';
    return success(items.map((item) => this.addUser(app, item as Record<string, unknown>, now)));
  }

  private readUsers(req: SimRequest, app: StoredApp): SimResponse {
    const userId = req.query.get('user_id');
    if (userId !== null) {
      if (userId === '') return fail(400, "Key: 'GetUserRequest.UserId' Error:Field validation for 'UserId' failed on the 'required' tag");
      const found = app.users.find((u) => u.record.AppUserId === userId);
      return found ? success(found.record) : fail(404, `no user with user_id ${userId} in this app`);
    }
    const lastValue = intParam(req.query.get('last_value'), 0);
    const pageSize = intParam(req.query.get('page_size'), 20);
    if (lastValue === undefined || lastValue < 0) return fail(400, `last_value must be a whole number of 0 or more, got ${JSON.stringify(req.query.get('last_value'))}`);
    if (pageSize === undefined || pageSize < 1) return fail(400, `page_size must be a whole number of 1 or more, got ${JSON.stringify(req.query.get('page_size'))}`);
    const after = app.users.filter((u) => u.seq > lastValue);
    const page = after.slice(0, pageSize);
    const more = after.length > page.length;
    return success({
      Users: page.map((u) => u.record),
      PageSize: pageSize,
      LastEvaluatedValue: more ? String(page[page.length - 1]!.seq) : '',
    });
  }
}

function envelope(code: number, error: string, data: unknown): ExotelEnvelope {
  return { RequestId: randomUUID(), Status: code < 400 ? 'Success' : 'Failure', Code: code, Error: error, Data: data };
}

function success(data: unknown): SimResponse {
  return { status: 200, body: envelope(200, '', data) };
}

function fail(status: number, error: string): SimResponse {
  return { status, body: envelope(status, error, null) };
}

function redactCustomer(customer: ExotelCreatedCustomerRecord): Omit<ExotelCreatedCustomerRecord, 'CustomerSecret'> {
  const { CustomerSecret: _secret, ...rest } = customer;
  return rest;
}

/** Seed 003: reads of an app leave out ExotelApiKey, ExotelApiToken and AppSecret. */
function redactApp(app: ExotelCreatedAppRecord) {
  const { AppSecret: _secret, ExotelApiKey: _key, ExotelApiToken: _token, ...rest } = app;
  return rest;
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** Go's validator treats a zero value ("" for a string) as missing. */
function requiredProblems(struct: string, body: Record<string, unknown>, fields: string[]): string | undefined {
  const lines = fields
    .filter((f) => body[f] === undefined || body[f] === null || (typeof body[f] === 'string' && (body[f] as string).trim() === ''))
    .map((f) => `Key: '${struct}.${f}' Error:Field validation for '${f}' failed on the 'required' tag`);
  return lines.length ? lines.join('\n') : undefined;
}

function isEmail(value: unknown): boolean {
  return typeof value === 'string' && /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value);
}

function intParam(raw: string | null, fallback: number): number | undefined {
  if (raw === null || raw === '') return fallback;
  return /^\d+$/.test(raw) ? Number(raw) : undefined;
}

/** A UUID derived from a name, so seeded ids are the same every run. */
function stableUuid(name: string): string {
  const hex = createHash('sha256').update(`exotel-sim:${name}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${((parseInt(hex[16]!, 16) & 3) | 8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Exotel writes times in India Standard Time with the offset: "2023-03-23T11:47:46+05:30". */
function istStamp(epochMs: number): string {
  return `${new Date(epochMs + 5.5 * 3_600_000).toISOString().slice(0, 19)}+05:30`;
}

export async function startExotelSimulator(options: ExotelSimulatorOptions = {}): Promise<ExotelSimulator> {
  return new ExotelSimulator(options).start();
}
