import { randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { SimServer, type SimRequest, type SimResponse } from '../../core/simulator/server.js';
import type { RunningSimulator, SimulatorOptions } from '../../core/platform.js';
import { catalogue, type CloudCIXApplication, type CloudCIXMethod, type CloudCIXService } from './catalogue.js';
import type { CloudCIXConfig } from './config.js';
import { cloudcixOpenApi } from './openapi.js';
import { buildSeed, parentService, SEED_LOGIN_USERS, storeKey, type CloudCIXSimRecord } from './simulator-seed.js';

/**
 * A CloudCIX that follows UPSTREAMS.md §4 to the letter, generic over the
 * catalogue: every service answers the methods it lists at its own path, under
 * `/<application slug>/` on one port. Services whose fields §4 knows (Address,
 * Member, User, Project, VM …) hold realistic seed data and validate writes;
 * every other service holds a few plain records and stores what it is sent.
 *
 * Every route is registered with the SimServer one per service and method, so the
 * request log's `route` names the service (`GET /membership/address/:pk/`) and a
 * fault can be injected on one service; `routeOf()` builds those names.
 */

export interface CloudCIXSimulatorOptions extends SimulatorOptions {
  /** Lifetime of the JWTs it issues (default 3600). */
  tokenTtlSeconds?: number;
  /** Per user, over a sliding second (default 20, as CloudCIX documents); 0 turns the throttle off. */
  requestsPerSecond?: number;
  /** How many seeded Membership addresses (default 300). */
  addresses?: number;
  /** The simulator's clock in ms (default Date.now): tests move it to expire tokens or refill the throttle without waiting. */
  clock?: () => number;
}

export interface CloudCIXSimUser {
  uid: number;
  email: string;
  /** Generated per start. */
  password: string;
  /** The api_key of the user's member (seed data). */
  apiKey: string;
}

/** One authenticated request as the simulator saw it: who sent it, to which service. */
export interface CloudCIXSeenRequest {
  method: string;
  path: string;
  /** The SimServer route name (`GET /membership/address/`). */
  route: string;
  uid: number;
}

type FieldType =
  | { kind: 'number' | 'string' | 'datetime' | 'boolean' | 'array' | 'null' }
  | { kind: 'object'; fields: Map<string, FieldType> };

/** How a typed service validates writes: required fields, and `<x>_id` inputs that point at another service's record. */
interface WriteSpec {
  required: string[];
  refs: Record<string, { target: string; field?: string; pick: string[]; keepId?: boolean }>;
}

const WRITE_SPECS: Record<string, WriteSpec> = {
  'membership/address': {
    required: ['name'],
    refs: {
      country_id: { target: 'membership/country', field: 'country', pick: ['id', 'english_name', 'alpha_2_code', 'alpha_3_code'] },
      currency_id: { target: 'membership/currency', field: 'currency', pick: ['id', 'name', 'symbol'] },
      language_id: { target: 'membership/language', field: 'language', pick: ['id', 'name'] },
      member_id: { target: 'membership/member', field: 'member', pick: ['id', 'name'] },
      subdivision_id: { target: 'membership/subdivision', field: 'subdivision', pick: ['id', 'name'] },
    },
  },
  'membership/member': {
    required: ['name'],
    refs: { currency_id: { target: 'membership/currency', field: 'currency', pick: ['id', 'name', 'symbol'] } },
  },
  'membership/user': {
    required: ['email'],
    refs: {
      address_id: { target: 'membership/address', field: 'address', pick: ['id', 'name'] },
      member_id: { target: 'membership/member', field: 'member', pick: ['id', 'name'] },
      language_id: { target: 'membership/language', field: 'language', pick: ['id', 'name'] },
    },
  },
  'iaas/project': {
    required: ['name'],
    refs: { address_id: { target: 'membership/address', pick: [], keepId: true } },
  },
  'iaas/vm': {
    required: ['name', 'project_id'],
    refs: {
      project_id: { target: 'iaas/project', field: 'project', pick: ['id', 'name'], keepId: true },
      image_id: { target: 'iaas/image', field: 'image', pick: ['id', 'name'], keepId: true },
    },
  },
};

const READ_ONLY_FIELDS = new Set(['id', 'uri', 'created', 'updated']);

const OPERATORS: Record<string, readonly string[]> = {
  string: ['exact', 'in', 'icontains', 'iendswith', 'iexact', 'istartswith'],
  number: ['exact', 'gt', 'gte', 'in', 'isnull', 'lt', 'lte', 'range'],
  datetime: ['exact', 'gt', 'gte', 'in', 'isnull', 'lt', 'lte', 'range'],
  boolean: ['exact', 'isnull'],
  // A nested object stands for a foreign key, as in Django: `country=1`, `country__in=[1,2]`, `subdivision__isnull=true`.
  object: ['exact', 'in', 'isnull'],
};
const ALL_OPERATORS = new Set(Object.values(OPERATORS).flat());

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 100;

interface Store {
  key: string;
  application: CloudCIXApplication;
  service: CloudCIXService;
  /** By id, in id order (ids only grow, so insertion order is id order). */
  records: Map<number, CloudCIXSimRecord>;
  schema: Map<string, FieldType>;
  parents: { idField: string; store: Store | undefined }[];
  write?: WriteSpec;
  nextId: number;
  /** Shares another service's records (the verbose address list): their uris are the other service's. */
  alias?: boolean;
  /** `membership_address`: the prefix of this service's error codes. */
  codePrefix: string;
}

type Predicate = (record: CloudCIXSimRecord) => boolean;

interface ListQuery {
  search: Predicate[];
  exclude: Predicate[];
  /** From `search[id]` / `search[id__in]`: read these by id instead of scanning. */
  ids?: number[];
  order: string;
  compare?: (a: CloudCIXSimRecord, b: CloudCIXSimRecord) => number;
  limit: number;
  page: number;
  warnings: string[];
}

type Authed = { uid: number } | { response: SimResponse };

export class CloudCIXSimulator implements RunningSimulator<CloudCIXConfig> {
  readonly server = new SimServer('cloudcix');
  tokenTtlSeconds: number;
  requestsPerSecond: number;
  /** Who can log in: users 1 and 2 of the seed, each in its own member. */
  readonly users: CloudCIXSimUser[] = [];
  /** Every authenticated request with the uid of its token (login included), in arrival order. */
  readonly seen: CloudCIXSeenRequest[] = [];
  private readonly stores = new Map<string, Store>();
  private readonly storesByService = new Map<CloudCIXService, Store>();
  private readonly now: () => number;
  /** Rotated by expireTokens(): a token that verifies under a retired key is expired, not invalid. */
  private signingKey = randomBytes(32);
  private retiredKeys: Buffer[] = [];
  private readonly verified = new Map<string, { uid: number; exp: number }>();
  private readonly hits = new Map<number, number[]>();

  constructor(private readonly options: CloudCIXSimulatorOptions = {}) {
    this.tokenTtlSeconds = options.tokenTtlSeconds ?? 3600;
    this.requestsPerSecond = options.requestsPerSecond ?? 20;
    this.now = options.clock ?? Date.now;
    this.seed(options.addresses ?? 300);
    this.routes();
  }

  get url(): string {
    return this.server.url;
  }

  get config(): CloudCIXConfig {
    const user = this.users[0]!;
    return {
      baseUrl: `${this.server.url}/{application}/`,
      email: user.email,
      password: user.password,
      apiKey: user.apiKey,
      // The gateway paces itself to this simulator's throttle; with the throttle off, to the setting's maximum.
      requestsPerSecond: this.requestsPerSecond > 0 ? this.requestsPerSecond : 10_000,
    };
  }

  /** The uid of every authenticated request, in order. */
  get seenUids(): number[] {
    return this.seen.map((s) => s.uid);
  }

  async start(): Promise<this> {
    await this.server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1');
    for (const store of this.stores.values()) {
      if (store.alias) continue;
      for (const record of store.records.values()) record.uri = this.uriOf(store, record);
    }
    return this;
  }

  close(): Promise<void> {
    return this.server.close();
  }

  /** Every token issued so far is expired from now on (the next call with one gets 401); logging in again works at once. */
  expireTokens(): void {
    this.retiredKeys.push(this.signingKey);
    this.signingKey = randomBytes(32);
    this.verified.clear();
  }

  /** A valid token for any user record (not only those who can log in), as a login would give. */
  issueToken(uid: number): Promise<string> {
    return new SignJWT({ uid })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setExpirationTime(Math.floor(this.now() / 1000) + this.tokenTtlSeconds)
      .sign(this.signingKey);
  }

  /** Clears the SimServer log, the seen-uid log and the throttle windows. */
  clearLog(): void {
    this.server.clearLog();
    this.seen.length = 0;
    this.hits.clear();
  }

  /** The live records of one service, in id order (`records('Membership', 'address')`; the slug works too). */
  records(application: string, service: string): CloudCIXSimRecord[] {
    return [...this.store(application, service).records.values()];
  }

  record(application: string, service: string, id: number): CloudCIXSimRecord | undefined {
    return this.store(application, service).records.get(id);
  }

  /** The SimServer route name of one method of one service, for `server.requests()` and `server.inject()`. */
  routeOf(application: string, service: string, method: CloudCIXMethod): string {
    const store = this.store(application, service);
    const base = basePattern(store);
    switch (method) {
      case 'list':
        return `GET ${base}`;
      case 'create':
        return `POST ${base}`;
      case 'read':
        return `GET ${base}:pk/`;
      case 'update':
        return `PUT ${base}:pk/`;
      case 'partial_update':
        return `PATCH ${base}:pk/`;
      case 'delete':
        return `DELETE ${base}:pk/`;
    }
  }

  /** The URL path of a service's collection, parent ids filled in order: `pathOf('Membership', 'address_link', [12])` → `/membership/address/12/link/`. */
  pathOf(application: string, service: string, parentIds: (number | string)[] = []): string {
    const store = this.store(application, service);
    let i = 0;
    return `/${store.application.slug}/${store.service.path.replace(/\{\w+\}/g, () => String(parentIds[i++]))}`;
  }

  private store(application: string, service: string): Store {
    const app = catalogue.applications.find((a) => a.name === application || a.slug === application.toLowerCase());
    const store = app && this.stores.get(`${app.slug}/${service}`);
    if (!store) throw new Error(`No CloudCIX service ${application}.${service} in the catalogue`);
    return store;
  }

  private seed(addresses: number): void {
    const seed = buildSeed(addresses);
    for (const service of catalogue.services) {
      const application = catalogue.applications.find((a) => a.name === service.application)!;
      const key = storeKey(service);
      const records = new Map<number, CloudCIXSimRecord>();
      for (const record of seed.get(key) ?? []) records.set(record.id, record);
      const store: Store = {
        key,
        application,
        service,
        records,
        schema: new Map(),
        parents: [],
        write: WRITE_SPECS[key],
        nextId: 1,
        codePrefix: `${application.slug}_${service.service}`,
      };
      this.stores.set(key, store);
      this.storesByService.set(service, store);
    }
    // The verbose address list is the address list with everything expanded; here they are the same records.
    const verbose = this.stores.get('membership/verbose_address')!;
    verbose.records = this.stores.get('membership/address')!.records;
    verbose.alias = true;
    for (const store of this.stores.values()) {
      store.parents = store.service.parentIds.map((idField) => {
        const parent = parentService(store.service, idField);
        return { idField, store: parent && this.storesByService.get(parent) };
      });
      store.nextId = Math.max(0, ...store.records.keys()) + 1;
      store.schema.set('id', { kind: 'number' });
      store.schema.set('uri', { kind: 'string' });
      for (const record of store.records.values()) mergeSchema(store.schema, record);
    }

    for (let uid = 1; uid <= SEED_LOGIN_USERS; uid++) {
      const user = this.stores.get('membership/user')!.records.get(uid)!;
      const member = this.stores.get('membership/member')!.records.get((user.member as { id: number }).id)!;
      this.users.push({ uid, email: user.email as string, password: `cix_${randomBytes(12).toString('hex')}`, apiKey: member.api_key as string });
    }
  }

  private uriOf(store: Store, record: CloudCIXSimRecord): string {
    return `${this.server.url}/${store.application.slug}/${store.service.path.replace(/\{(\w+)\}/g, (_, name: string) => String(record[name]))}${record.id}/`;
  }

  private routes(): void {
    const routes: { method: string; pattern: string; handler: (req: SimRequest) => Promise<SimResponse> }[] = [];
    for (const store of this.stores.values()) {
      const base = basePattern(store);
      if (store.key === 'membership/token') {
        routes.push({ method: 'POST', pattern: base, handler: (req) => this.login(req) });
        routes.push({ method: 'PUT', pattern: base, handler: (req) => this.refresh(req, `PUT ${base}`) });
        routes.push({ method: 'GET', pattern: base, handler: async () => methodNotAllowed(store, 'GET') });
        continue;
      }
      const add = (method: string, pattern: string, kind: CloudCIXMethod) => {
        const route = `${method} ${pattern}`;
        routes.push({ method, pattern, handler: (req) => this.serve(store, kind, route, req) });
      };
      add('GET', base, 'list');
      add('POST', base, 'create');
      add('GET', `${base}:pk/`, 'read');
      add('PUT', `${base}:pk/`, 'update');
      add('PATCH', `${base}:pk/`, 'partial_update');
      add('DELETE', `${base}:pk/`, 'delete');
    }
    // SimServer takes the first match: the pattern with more literal segments wins
    // (`address/verbose/` before `address/:pk/`).
    const literals = (pattern: string) => pattern.split('/').filter((s) => s && !s.startsWith(':')).length;
    routes.sort((a, b) => literals(b.pattern) - literals(a.pattern));
    for (const route of routes) this.server.route(route.method, route.pattern, route.handler);
    this.server.route('GET', '/openapi.json', () => ({ status: 200, body: cloudcixOpenApi(this.server.url) }));
    this.server.notFound = (req) => ({
      status: 404,
      body: { error_code: 'not_found', detail: `No CloudCIX service answers ${req.method} ${req.path}. Expected /<application>/<service path>/[<pk>/], e.g. /membership/address/1/.` },
    });
  }

  // ---- auth and throttle -------------------------------------------------

  private async login(req: SimRequest): Promise<SimResponse> {
    const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
    const missing = ['email', 'password', 'api_key'].filter((f) => typeof body[f] !== 'string' || body[f] === '');
    if (missing.length) {
      return fieldErrors(Object.fromEntries(missing.map((f) => [f, { error_code: 'membership_token_create_001', detail: `The "${f}" parameter is required.` }])));
    }
    const email = (body.email as string).toLowerCase();
    const user = this.users.find((u) => u.email === email && u.password === body.password && u.apiKey === body.api_key);
    if (!user) {
      return error(400, 'membership_token_create_002', 'The supplied credentials are invalid: no user with that email, password and api_key. Check all three.');
    }
    this.seen.push({ method: req.method, path: req.path, route: `POST ${req.path}`, uid: user.uid });
    return { status: 201, body: { token: await this.issueToken(user.uid) } };
  }

  private async refresh(req: SimRequest, route: string): Promise<SimResponse> {
    const auth = await this.authenticate(req);
    if ('response' in auth) return auth.response;
    this.seen.push({ method: req.method, path: req.path, route, uid: auth.uid });
    return { status: 200, body: { token: await this.issueToken(auth.uid) } };
  }

  private async authenticate(req: SimRequest): Promise<Authed> {
    const header = req.headers['x-auth-token'];
    const token = Array.isArray(header) ? header[0] : header;
    if (!token) return { response: { status: 401, body: { detail: 'Authentication credentials were not provided. Send the header X-Auth-Token: <token from POST /membership/auth/login/>.' } } };
    let claims = this.verified.get(token);
    if (!claims) {
      try {
        const { payload } = await jwtVerify(token, this.signingKey, { algorithms: ['HS256'], currentDate: new Date(this.now()) });
        if (typeof payload.uid !== 'number' || typeof payload.exp !== 'number' || !this.stores.get('membership/user')!.records.has(payload.uid)) {
          return { response: invalidToken() };
        }
        claims = { uid: payload.uid, exp: payload.exp };
        this.verified.set(token, claims);
      } catch (err) {
        if (err instanceof joseErrors.JWTExpired || (await this.signedByRetiredKey(token))) return { response: expiredToken() };
        return { response: invalidToken() };
      }
    }
    if (claims.exp * 1000 <= this.now()) return { response: expiredToken() };
    return { uid: claims.uid };
  }

  private async signedByRetiredKey(token: string): Promise<boolean> {
    for (const key of this.retiredKeys) {
      try {
        // Expiry does not matter here: a retired key's tokens are all expired.
        await jwtVerify(token, key, { algorithms: ['HS256'], currentDate: new Date(0) });
        return true;
      } catch {
        // not this key
      }
    }
    return false;
  }

  /** A sliding one-second window per user; refused requests do not count. */
  private throttle(uid: number): SimResponse | undefined {
    if (this.requestsPerSecond <= 0) return undefined;
    const now = this.now();
    let window = this.hits.get(uid);
    if (!window) this.hits.set(uid, (window = []));
    let expired = 0;
    while (expired < window.length && window[expired]! <= now - 1000) expired++;
    if (expired) window.splice(0, expired);
    if (window.length >= this.requestsPerSecond) {
      const retryAfter = Math.max(1, Math.ceil((window[0]! + 1000 - now) / 1000));
      return {
        status: 429,
        headers: { 'retry-after': String(retryAfter) },
        body: { error_code: 'throttled', detail: `Request was throttled: more than ${this.requestsPerSecond} requests per second for this user. Expected available in ${retryAfter} second${retryAfter === 1 ? '' : 's'}.` },
      };
    }
    window.push(now);
    return undefined;
  }

  // ---- services ----------------------------------------------------------

  private async serve(store: Store, method: CloudCIXMethod, route: string, req: SimRequest): Promise<SimResponse> {
    const auth = await this.authenticate(req);
    if ('response' in auth) return auth.response;
    this.seen.push({ method: req.method, path: req.path, route, uid: auth.uid });
    const throttled = this.throttle(auth.uid);
    if (throttled) return throttled;
    if (!store.service.methods.includes(method)) return methodNotAllowed(store, req.method);

    const parentValues: Record<string, number> = {};
    for (const parent of store.parents) {
      const raw = req.params[parent.idField] ?? '';
      const id = /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (!parent.store?.records.has(id)) {
        const what = parent.store ? parent.store.service.title : parent.idField;
        return error(404, `${store.codePrefix}_${method}_002`, `The "${parent.idField}" path parameter is invalid: no ${what} with id ${JSON.stringify(raw)}.`);
      }
      parentValues[parent.idField] = id;
    }

    if (method === 'list') return this.list(store, parentValues, req.query);
    if (method === 'create') return this.create(store, parentValues, req.body);
    const pk = /^\d+$/.test(req.params.pk ?? '') ? Number(req.params.pk) : NaN;
    const record = store.records.get(pk);
    if (!record || !belongsTo(record, parentValues)) {
      return error(404, `${store.codePrefix}_${method}_001`, `The "pk" path parameter is invalid: no ${store.service.title} with id ${JSON.stringify(req.params.pk)}.`);
    }
    switch (method) {
      case 'read':
        return { status: 200, body: { content: record } };
      case 'update':
      case 'partial_update':
        return this.update(store, record, method, req.body);
      case 'delete':
        store.records.delete(record.id);
        return { status: 204 };
    }
  }

  private list(store: Store, parentValues: Record<string, number>, params: URLSearchParams): SimResponse {
    const query = parseListQuery(store, params);
    let candidates: Iterable<CloudCIXSimRecord>;
    if (query.ids) {
      const ids = [...new Set(query.ids)].sort((a, b) => a - b);
      candidates = ids.map((id) => store.records.get(id)).filter((r): r is CloudCIXSimRecord => r !== undefined);
    } else {
      candidates = store.records.values();
    }
    const matched: CloudCIXSimRecord[] = [];
    for (const record of candidates) {
      if (!belongsTo(record, parentValues)) continue;
      if (!query.search.every((p) => p(record))) continue;
      // Django's exclude(a, b) drops what matches all of them.
      if (query.exclude.length && query.exclude.every((p) => p(record))) continue;
      matched.push(record);
    }
    if (query.compare) matched.sort(query.compare);
    const start = query.page * query.limit;
    return {
      status: 200,
      body: {
        content: matched.slice(start, start + query.limit),
        _metadata: { page: query.page, limit: query.limit, order: query.order, total_records: matched.length, warnings: query.warnings },
      },
    };
  }

  private create(store: Store, parentValues: Record<string, number>, body: unknown): SimResponse {
    if (!isPlainObject(body)) return fieldErrors({ body: { error_code: `${store.codePrefix}_create_100`, detail: `Expected a JSON object body, got ${describe(body)}.` } });
    const values = this.validate(store, 'create', body, true);
    if ('errors' in values) return fieldErrors(values.errors);
    const id = store.nextId++;
    const stamp = new Date(this.now()).toISOString();
    const record: CloudCIXSimRecord = { id };
    for (const [field, type] of store.schema) if (!READ_ONLY_FIELDS.has(field)) record[field] = type.kind === 'array' ? [] : type.kind === 'boolean' ? false : null;
    Object.assign(record, values.fields, parentValues);
    if (store.schema.has('created')) record.created = stamp;
    if (store.schema.has('updated')) record.updated = stamp;
    record.uri = this.uriOf(store, record);
    store.records.set(id, record);
    return { status: 201, body: { content: record } };
  }

  private update(store: Store, record: CloudCIXSimRecord, method: 'update' | 'partial_update', body: unknown): SimResponse {
    if (!isPlainObject(body)) return fieldErrors({ body: { error_code: `${store.codePrefix}_${method}_100`, detail: `Expected a JSON object body, got ${describe(body)}.` } });
    const values = this.validate(store, method, body, method === 'update');
    if ('errors' in values) return fieldErrors(values.errors);
    // Parent ids come from the path; a body cannot move a record to another parent.
    for (const parent of store.parents) delete values.fields[parent.idField];
    Object.assign(record, values.fields);
    if (store.schema.has('updated')) record.updated = new Date(this.now()).toISOString();
    return { status: 200, body: { content: record } };
  }

  /** Field errors in CloudCIX's shape: 101 required, 102 wrong type, 103 a reference to nothing. */
  private validate(
    store: Store,
    method: CloudCIXMethod,
    body: Record<string, unknown>,
    full: boolean,
  ): { fields: Record<string, unknown> } | { errors: Record<string, { error_code: string; detail: string }> } {
    const errors: Record<string, { error_code: string; detail: string }> = {};
    const fields: Record<string, unknown> = {};
    const code = (n: number) => `${store.codePrefix}_${method}_${n}`;
    const spec = store.write;
    if (full && spec) {
      for (const field of spec.required) {
        const value = body[field];
        if (value === undefined || value === null || value === '') errors[field] = { error_code: code(101), detail: `The "${field}" parameter is required.` };
      }
    }
    for (const [field, value] of Object.entries(body)) {
      if (READ_ONLY_FIELDS.has(field) || errors[field]) continue;
      const ref = spec?.refs[field];
      if (ref) {
        if (value === null && !spec!.required.includes(field)) {
          if (ref.field) fields[ref.field] = null;
          if (ref.keepId) fields[field] = null;
          continue;
        }
        const target = this.stores.get(ref.target)!;
        const found = typeof value === 'number' && Number.isInteger(value) ? target.records.get(value) : undefined;
        if (typeof value !== 'number' || !Number.isInteger(value)) {
          errors[field] = { error_code: code(102), detail: `The "${field}" parameter is invalid: expected an integer id, got ${describe(value)}.` };
        } else if (!found) {
          errors[field] = { error_code: code(103), detail: `The "${field}" parameter is invalid: no ${target.service.title} with id ${value}.` };
        } else {
          if (ref.field) fields[ref.field] = Object.fromEntries(ref.pick.map((k) => [k, found[k]]));
          if (ref.keepId) fields[field] = value;
        }
        continue;
      }
      const type = store.schema.get(field);
      if (!type) {
        // Typed services ignore what they do not know, as a serializer does; the others keep it (their fields are undocumented).
        if (!spec) fields[field] = value;
        continue;
      }
      if (value === null) {
        if (spec?.required.includes(field)) errors[field] = { error_code: code(101), detail: `The "${field}" parameter is required.` };
        else fields[field] = null;
        continue;
      }
      if (!valueFits(type, value)) {
        errors[field] = { error_code: code(102), detail: `The "${field}" parameter is invalid: expected ${expected(type)}, got ${describe(value)}.` };
        continue;
      }
      fields[field] = value;
    }
    return Object.keys(errors).length ? { errors } : { fields };
  }
}

export async function startCloudCIXSimulator(options: CloudCIXSimulatorOptions = {}): Promise<CloudCIXSimulator> {
  return new CloudCIXSimulator(options).start();
}

// ---- helpers -------------------------------------------------------------

function basePattern(store: Store): string {
  return `/${store.application.slug}/${store.service.path.replace(/\{(\w+)\}/g, ':$1')}`;
}

function belongsTo(record: CloudCIXSimRecord, parentValues: Record<string, number>): boolean {
  for (const field in parentValues) if (record[field] !== parentValues[field]) return false;
  return true;
}

function error(status: number, errorCode: string, detail: string): SimResponse {
  return { status, body: { error_code: errorCode, detail } };
}

function fieldErrors(errors: Record<string, { error_code: string; detail: string }>): SimResponse {
  return { status: 400, body: { errors, detail: 'Bad request.' } };
}

function methodNotAllowed(store: Store, httpMethod: string): SimResponse {
  return error(
    405,
    'method_not_allowed',
    `${store.application.name} ${store.service.title} does not answer ${httpMethod} here; it lists only: ${store.service.methods.join(', ')}.`,
  );
}

function expiredToken(): SimResponse {
  return { status: 401, body: { detail: 'JWT token is expired. Please login again.' } };
}

function invalidToken(): SimResponse {
  return { status: 401, body: { detail: 'The X-Auth-Token is not a valid token from this CloudCIX. Log in again with POST /membership/auth/login/.' } };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$/;

function typeOf(value: unknown): FieldType {
  if (value === null || value === undefined) return { kind: 'null' };
  if (typeof value === 'number') return { kind: 'number' };
  if (typeof value === 'boolean') return { kind: 'boolean' };
  if (typeof value === 'string') return { kind: ISO_DATE.test(value) ? 'datetime' : 'string' };
  if (Array.isArray(value)) return { kind: 'array' };
  const fields = new Map<string, FieldType>();
  mergeSchema(fields, value as Record<string, unknown>);
  return { kind: 'object', fields };
}

/** Learns field types from records: the first non-null value decides; nested objects merge. */
function mergeSchema(schema: Map<string, FieldType>, record: Record<string, unknown>): void {
  for (const [field, value] of Object.entries(record)) {
    const seen = schema.get(field);
    const type = typeOf(value);
    if (!seen || seen.kind === 'null') schema.set(field, type);
    else if (seen.kind === 'object' && type.kind === 'object') mergeSchema(seen.fields, value as Record<string, unknown>);
  }
}

function valueFits(type: FieldType, value: unknown): boolean {
  switch (type.kind) {
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'string':
      return typeof value === 'string';
    case 'datetime':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value));
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isPlainObject(value);
    case 'null':
      return true;
  }
}

function expected(type: FieldType): string {
  return { number: 'a number', string: 'a string', datetime: 'an ISO 8601 date', boolean: 'true or false', array: 'a list', object: 'an object', null: 'anything' }[type.kind];
}

// ---- list parameters -----------------------------------------------------

function parseListQuery(store: Store, params: URLSearchParams): ListQuery {
  const query: ListQuery = { search: [], exclude: [], order: 'id', limit: DEFAULT_LIMIT, page: 0, warnings: [] };
  for (const [key, value] of params) {
    const m = /^(search|exclude)\[([^\]]*)\]$/.exec(key);
    if (m) {
      const kind = m[1] as 'search' | 'exclude';
      const compiled = compileFilter(store, m[2]!, value);
      if (typeof compiled === 'string') {
        query.warnings.push(`${kind}[${m[2]}]=${value} was skipped: ${compiled}`);
        continue;
      }
      if (kind === 'search' && compiled.ids && !query.ids) query.ids = compiled.ids;
      query[kind].push(compiled.predicate);
    } else if (key === 'limit') {
      // Out of range falls back to the default, as CloudCIX does; no warning, as CloudCIX gives none.
      const n = /^\d+$/.test(value) ? Number(value) : NaN;
      query.limit = n >= 1 && n <= MAX_LIMIT ? n : DEFAULT_LIMIT;
    } else if (key === 'page') {
      query.page = /^\d+$/.test(value) ? Number(value) : 0;
    } else if (key === 'order') {
      const descending = value.startsWith('-');
      const path = (descending ? value.slice(1) : value).split('__');
      const type = resolvePath(store.schema, path);
      if (typeof type === 'string' || type.kind === 'array' || type.kind === 'object' || type.kind === 'null') {
        query.warnings.push(`order=${value} was ignored: ${typeof type === 'string' ? type : `"${path.join('__')}" is not a field that can be ordered by`}; ordered by id instead.`);
        continue;
      }
      query.order = value;
      const get = getter(path);
      const sign = descending ? -1 : 1;
      query.compare = (a, b) => {
        const x = get(a) as number | string | boolean | null | undefined;
        const y = get(b) as number | string | boolean | null | undefined;
        // Nulls last ascending and first descending, as PostgreSQL orders them; ties by id.
        if (x === y || (x == null && y == null)) return a.id - b.id;
        if (x == null) return sign;
        if (y == null) return -sign;
        return (x < y ? -1 : 1) * sign;
      };
    }
  }
  if (query.order === 'id') query.compare = undefined;
  return query;
}

/** The field type at a `__` path, or why there is none. */
function resolvePath(schema: Map<string, FieldType>, path: string[]): FieldType | string {
  let fields = schema;
  let type: FieldType | undefined;
  for (let i = 0; i < path.length; i++) {
    type = fields.get(path[i]!);
    if (!type) return `"${path.slice(0, i + 1).join('__')}" is not a field of this service`;
    if (i < path.length - 1) {
      if (type.kind !== 'object') return `"${path.slice(0, i + 1).join('__')}" has no fields inside it`;
      fields = type.fields;
    }
  }
  return type!;
}

function getter(path: string[]): (record: CloudCIXSimRecord) => unknown {
  if (path.length === 1) {
    const field = path[0]!;
    return (record) => record[field];
  }
  return (record) => {
    let value: unknown = record;
    for (const field of path) {
      if (value === null || typeof value !== 'object') return undefined;
      value = (value as Record<string, unknown>)[field];
    }
    return value;
  };
}

/** A predicate for one `search`/`exclude` entry, or the reason it is skipped. */
function compileFilter(store: Store, spec: string, raw: string): { predicate: Predicate; ids?: number[] } | string {
  const parts = spec.split('__');
  // The longest prefix that names a field; what is left is the operator.
  let fieldPath = parts;
  let op = 'exact';
  if (parts.length > 1 && ALL_OPERATORS.has(parts[parts.length - 1]!)) {
    fieldPath = parts.slice(0, -1);
    op = parts[parts.length - 1]!;
  }
  const type = resolvePath(store.schema, fieldPath);
  if (typeof type === 'string') {
    const prefix = parts.length > 1 ? resolvePath(store.schema, parts.slice(0, -1)) : undefined;
    if (prefix && typeof prefix !== 'string' && prefix.kind !== 'object') return `"${parts[parts.length - 1]}" is not a known operator`;
    return type;
  }
  if (type.kind === 'object' && !type.fields.has('id') && op !== 'isnull') return `"${fieldPath.join('__')}" is an object; filter on one of its fields with "__"`;
  const allowed = type.kind === 'array' || type.kind === 'null' ? [] : OPERATORS[type.kind]!;
  if (!allowed.includes(op)) {
    if (type.kind === 'array') return `"${fieldPath.join('__')}" is a list and cannot be filtered on`;
    return `the operator "${op}" does not apply to the ${type.kind} field "${fieldPath.join('__')}" (allowed: ${allowed.filter((o) => o !== 'exact').join(', ')})`;
  }
  const field = fieldPath.join('__');
  const get = type.kind === 'object' ? idGetter(getter(fieldPath)) : getter(fieldPath);
  const scalar = type.kind === 'object' ? 'number' : type.kind;

  if (op === 'isnull') {
    const flag = parseBoolean(raw);
    if (flag === undefined) return `"${raw}" is not true or false`;
    return { predicate: (r) => (get(r) == null) === flag };
  }
  if (op === 'in' || op === 'range') {
    const items = parseList(raw);
    const values = items.map((item) => parseScalar(scalar, item));
    if (values.some((v) => v === undefined)) return `"${raw}" is not a list of ${expectedScalar(scalar)} like [1,2] or (1,2)`;
    if (op === 'range') {
      if (values.length !== 2) return `"${raw}" is not a range of two values like (10,15)`;
      const [low, high] = values as (number | string)[];
      return { predicate: (r) => inOrder(low!, get(r)) && inOrder(get(r), high!) };
    }
    const set = new Set(values);
    return {
      predicate: (r) => set.has(get(r) as never),
      ids: field === 'id' ? (values as number[]) : undefined,
    };
  }
  if (op === 'icontains' || op === 'istartswith' || op === 'iendswith' || op === 'iexact') {
    const needle = raw.toLowerCase();
    const test =
      op === 'icontains'
        ? (s: string) => s.includes(needle)
        : op === 'istartswith'
          ? (s: string) => s.startsWith(needle)
          : op === 'iendswith'
            ? (s: string) => s.endsWith(needle)
            : (s: string) => s === needle;
    return {
      predicate: (r) => {
        const v = get(r);
        return typeof v === 'string' && test(v.toLowerCase());
      },
    };
  }
  const value = parseScalar(scalar, raw);
  if (value === undefined) return `"${raw}" is not ${expectedScalar(scalar)}`;
  switch (op) {
    case 'exact':
      return { predicate: (r) => get(r) === value, ids: field === 'id' ? [value as number] : undefined };
    case 'gt':
      return { predicate: (r) => compare(get(r), value) > 0 };
    case 'gte':
      return { predicate: (r) => compare(get(r), value) >= 0 };
    case 'lt':
      return { predicate: (r) => compare(get(r), value) < 0 };
    case 'lte':
      return { predicate: (r) => compare(get(r), value) <= 0 };
  }
  return `"${op}" is not a known operator`;
}

function idGetter(get: (record: CloudCIXSimRecord) => unknown): (record: CloudCIXSimRecord) => unknown {
  return (record) => {
    const value = get(record);
    return value === null || value === undefined ? value : (value as { id?: unknown }).id;
  };
}

/** NaN when either side is null, so every comparison with it is false. */
function compare(a: unknown, b: unknown): number {
  if (a === null || a === undefined || b === null || b === undefined) return NaN;
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
}

function inOrder(a: unknown, b: unknown): boolean {
  return compare(a, b) <= 0;
}

/** `[1,2]`, `(1,2)`, `['a','b']`, or a bare `1,2`. */
function parseList(raw: string): string[] {
  const trimmed = raw.trim();
  const inner = /^[[(].*[\])]$/s.test(trimmed) ? trimmed.slice(1, -1) : trimmed;
  if (inner.trim() === '') return [];
  return inner.split(',').map((item) => item.trim().replace(/^(['"])(.*)\1$/s, '$2'));
}

function parseScalar(kind: string, raw: string): number | string | boolean | undefined {
  switch (kind) {
    case 'number':
      return /^-?\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : undefined;
    case 'boolean':
      return parseBoolean(raw);
    case 'datetime':
      // Upper-cased because clients that lower-case the whole URL send `2024-01-05t10:00:00z`.
      return ISO_DATE.test(raw.trim().toUpperCase()) ? raw.trim().toUpperCase() : undefined;
    default:
      return raw;
  }
}

function expectedScalar(kind: string): string {
  return kind === 'number' ? 'a number' : kind === 'boolean' ? 'true or false' : kind === 'datetime' ? 'an ISO 8601 date' : 'a string';
}

function parseBoolean(raw: string): boolean | undefined {
  const v = raw.trim().toLowerCase();
  return v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : undefined;
}
