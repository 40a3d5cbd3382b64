import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt, SignJWT } from 'jose';
import { catalogue, CLOUDCIX_METHODS, type CloudCIXMethod, type CloudCIXService } from '../src/platforms/cloudcix/catalogue.js';
import { CloudCIXSimulator, type CloudCIXSimulatorOptions } from '../src/platforms/cloudcix/simulator.js';
import type { CloudCIXSimRecord } from '../src/platforms/cloudcix/simulator-seed.js';

// The CloudCIX simulator on its own, over real HTTP: UPSTREAMS.md §4 is the contract checked here.

interface Answer {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

const started: CloudCIXSimulator[] = [];

async function startSim(options: CloudCIXSimulatorOptions = {}): Promise<CloudCIXSimulator> {
  const sim = await new CloudCIXSimulator({ requestsPerSecond: 0, ...options }).start();
  started.push(sim);
  return sim;
}

afterAll(async () => {
  await Promise.all(started.map((sim) => sim.close()));
});

async function call(sim: CloudCIXSimulator, token: string | undefined, method: string, path: string, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (token) headers['x-auth-token'] = token;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(sim.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}

async function login(sim: CloudCIXSimulator, user = sim.users[0]!): Promise<string> {
  const res = await call(sim, undefined, 'POST', '/membership/auth/login/', { email: user.email, password: user.password, api_key: user.apiKey });
  expect(res.status).toBe(201);
  return res.body.token;
}

describe('auth', () => {
  let sim: CloudCIXSimulator;
  let clock = Date.UTC(2025, 5, 1, 12, 0, 0);
  beforeAll(async () => {
    sim = await startSim({ clock: () => clock, tokenTtlSeconds: 600 });
  });

  it('logs in with email, password and api_key: 201 and a JWT whose payload is {uid, exp}', async () => {
    const res = await call(sim, undefined, 'POST', '/membership/auth/login/', { email: sim.config.email, password: sim.config.password, api_key: sim.config.apiKey });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body)).toEqual(['token']);
    expect(decodeJwt(res.body.token)).toEqual({ uid: 1, exp: Math.floor(clock / 1000) + 600 });
    expect((await call(sim, res.body.token, 'GET', '/membership/address/1/')).status).toBe(200);
  });

  it('points the gateway at itself with a {application} base URL and the first seeded login', async () => {
    const config = sim.config;
    expect(config.baseUrl).toBe(`${sim.url}/{application}/`);
    expect(config.email).toBe(sim.record('Membership', 'user', 1)!.email);
    expect(config.apiKey).toBe(sim.record('Membership', 'member', 1)!.api_key);
    const token = await login(sim);
    const res = await fetch(`${config.baseUrl!.replace('{application}', 'iaas')}project/2/`, { headers: { 'x-auth-token': token } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).content.id).toBe(2);
  });

  it('refuses bad credentials with 400 membership_token_create_002', async () => {
    const { email, password, apiKey } = sim.users[0]!;
    const other = sim.users[1]!;
    for (const body of [
      { email, password: 'wrong', api_key: apiKey },
      { email, password, api_key: other.apiKey },
      { email: 'nobody@example.com', password, api_key: apiKey },
      { email: other.email, password, api_key: apiKey },
    ]) {
      const res = await call(sim, undefined, 'POST', '/membership/auth/login/', body);
      expect(res.status).toBe(400);
      expect(res.body.error_code).toBe('membership_token_create_002');
      expect(typeof res.body.detail).toBe('string');
    }
    const missing = await call(sim, undefined, 'POST', '/membership/auth/login/', { email });
    expect(missing.status).toBe(400);
    expect(Object.keys(missing.body.errors).sort()).toEqual(['api_key', 'password']);
  });

  it('answers 401 without a token, with garbage, and with a token signed by another key', async () => {
    const none = await call(sim, undefined, 'GET', '/membership/address/');
    expect(none.status).toBe(401);
    expect(typeof none.body.detail).toBe('string');
    expect((await call(sim, 'not-a-jwt', 'GET', '/membership/address/')).status).toBe(401);
    const forged = await new SignJWT({ uid: 1 }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new Uint8Array(32));
    const res = await call(sim, forged, 'GET', '/membership/address/');
    expect(res.status).toBe(401);
    expect(res.body.detail).not.toBe('JWT token is expired. Please login again.');
  });

  it('refreshes with PUT auth/login/: 200 and a token with a later exp', async () => {
    const token = await login(sim);
    clock += 60_000;
    const res = await call(sim, token, 'PUT', '/membership/auth/login/');
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.token).exp).toBe(decodeJwt(token).exp! + 60);
    expect((await call(sim, res.body.token, 'GET', '/membership/member/1/')).status).toBe(200);
    expect((await call(sim, undefined, 'PUT', '/membership/auth/login/')).status).toBe(401);
  });

  it('answers an expired token with 401 and the documented detail, also on refresh; logging in again works', async () => {
    const token = await login(sim);
    clock += 600_000;
    for (const [method, path] of [
      ['GET', '/membership/address/'],
      ['PUT', '/membership/auth/login/'],
    ] as const) {
      const res = await call(sim, token, method, path);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: 'JWT token is expired. Please login again.' });
    }
    expect((await call(sim, await login(sim), 'GET', '/membership/address/')).status).toBe(200);
  });

  it('expireTokens() expires every token issued so far, and a new login in the same instant is valid', async () => {
    const token = await login(sim);
    expect((await call(sim, token, 'GET', '/iaas/vm/')).status).toBe(200);
    sim.expireTokens();
    const res = await call(sim, token, 'GET', '/iaas/vm/');
    expect(res.status).toBe(401);
    expect(res.body.detail).toBe('JWT token is expired. Please login again.');
    expect((await call(sim, await login(sim), 'GET', '/iaas/vm/')).status).toBe(200);
  });

  it('sees which user sent each request: a second login, and issueToken for any user record', async () => {
    sim.clearLog();
    const second = await login(sim, sim.users[1]!);
    expect(decodeJwt(second).uid).toBe(2);
    await call(sim, second, 'GET', '/membership/user/2/');
    await call(sim, await sim.issueToken(5), 'GET', '/membership/user/5/');
    await call(sim, await login(sim), 'GET', '/membership/user/1/');
    expect(sim.seen.filter((s) => s.method === 'GET').map((s) => [s.route, s.uid])).toEqual([
      ['GET /membership/user/:pk/', 2],
      ['GET /membership/user/:pk/', 5],
      ['GET /membership/user/:pk/', 1],
    ]);
    expect(sim.seenUids).toEqual([2, 2, 5, 1, 1]);
  });
});

describe('methods, envelopes and errors', () => {
  let sim: CloudCIXSimulator;
  let token: string;
  beforeAll(async () => {
    sim = await startSim();
    token = await login(sim);
  });

  it('list: 200 with content and _metadata {page, limit, order, total_records, warnings}', async () => {
    const res = await call(sim, token, 'GET', '/membership/address/');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['content', '_metadata']);
    expect(res.body._metadata).toEqual({ page: 0, limit: 50, order: 'id', total_records: 300, warnings: [] });
    expect(res.body.content).toEqual(sim.records('Membership', 'address').slice(0, 50));
  });

  it('read: 200 {content} with the nested objects and a uri of the record', async () => {
    const res = await call(sim, token, 'GET', '/membership/address/42/');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['content']);
    const address = res.body.content;
    expect(address).toEqual(sim.record('Membership', 'address', 42));
    expect(address.uri).toBe(`${sim.url}/membership/address/42/`);
    for (const nested of ['country', 'currency', 'language', 'member']) {
      expect(typeof address[nested].id).toBe('number');
      expect(typeof (address[nested].name ?? address[nested].english_name)).toBe('string');
    }
  });

  it('create: 201 {content}; <x>_id inputs become nested objects; the record is then readable', async () => {
    const res = await call(sim, token, 'POST', '/membership/address/', { name: 'Test Hosting', city: 'Galway', country_id: 1, currency_id: 2, member_id: 3 });
    expect(res.status).toBe(201);
    const created = res.body.content;
    expect(created).toMatchObject({ name: 'Test Hosting', city: 'Galway', country: { id: 1, english_name: 'Ireland' }, currency: { id: 2, name: 'Pound Sterling' }, member: { id: 3 } });
    expect(created.id).toBeGreaterThan(300);
    expect(created.uri).toBe(`${sim.url}/membership/address/${created.id}/`);
    expect((await call(sim, token, 'GET', `/membership/address/${created.id}/`)).body.content).toEqual(created);
    const vm = await call(sim, token, 'POST', '/iaas/vm/', { name: 'vm-new', project_id: 4, image_id: 2, cpu: 2 });
    expect(vm.status).toBe(201);
    expect(vm.body.content).toMatchObject({ name: 'vm-new', project_id: 4, project: { id: 4 }, image_id: 2, image: { id: 2 }, cpu: 2 });
  });

  it('update (PUT) needs the required fields; partial_update (PATCH) changes only what it is sent', async () => {
    const before = structuredClone(sim.record('Membership', 'address', 7)!);
    const put = await call(sim, token, 'PUT', '/membership/address/7/', { city: 'Cork' });
    expect(put.status).toBe(400);
    expect(put.body.errors.name.error_code).toBe('membership_address_update_101');
    const patch = await call(sim, token, 'PATCH', '/membership/address/7/', { city: 'Cork' });
    expect(patch.status).toBe(200);
    expect(Object.keys(patch.body)).toEqual(['content']);
    expect(before.city).not.toBe('Cork');
    expect(patch.body.content).toEqual({ ...before, city: 'Cork' });
    const full = await call(sim, token, 'PUT', '/membership/address/7/', { name: 'Renamed', city: 'Limerick' });
    expect(full.status).toBe(200);
    expect(full.body.content).toMatchObject({ id: 7, name: 'Renamed', city: 'Limerick' });
  });

  it('delete: 204 with an empty body, then 404; a method the service does not list is 405', async () => {
    const del = await call(sim, token, 'DELETE', '/financial/tax_rate/2/');
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    const gone = await call(sim, token, 'GET', '/financial/tax_rate/2/');
    expect(gone.status).toBe(404);
    const notListed = await call(sim, token, 'DELETE', '/membership/address/5/');
    expect(notListed.status).toBe(405);
    expect(Object.keys(notListed.body).sort()).toEqual(['detail', 'error_code']);
    expect(sim.record('Membership', 'address', 5)).toBeDefined();
  });

  it('an unknown or malformed pk is 404 {error_code, detail}', async () => {
    for (const path of ['/membership/address/99999/', '/membership/address/abc/', '/iaas/vm/0/']) {
      const res = await call(sim, token, 'GET', path);
      expect(res.status).toBe(404);
      expect(Object.keys(res.body).sort()).toEqual(['detail', 'error_code']);
      expect(res.body.error_code).toMatch(/^(membership_address|iaas_vm)_read_001$/);
    }
    expect((await call(sim, token, 'PATCH', '/iaas/project/9999/', { name: 'x' })).status).toBe(404);
    const nowhere = await call(sim, token, 'GET', '/nosuchapp/thing/');
    expect(nowhere.status).toBe(404);
    expect(nowhere.body.error_code).toBe('not_found');
  });

  it('field errors: {errors: {field: {error_code, detail}}, detail: "Bad request."} for required, wrong type and dangling ids', async () => {
    const missing = await call(sim, token, 'POST', '/membership/address/', { city: 'Cork' });
    expect(missing.status).toBe(400);
    expect(missing.body.detail).toBe('Bad request.');
    expect(Object.keys(missing.body.errors)).toEqual(['name']);
    expect(missing.body.errors.name.error_code).toBe('membership_address_create_101');
    expect(typeof missing.body.errors.name.detail).toBe('string');

    const wrong = await call(sim, token, 'POST', '/membership/address/', { name: 'X', city: 12, linked: 'yes', country_id: 9999 });
    expect(wrong.status).toBe(400);
    expect(Object.keys(wrong.body.errors).sort()).toEqual(['city', 'country_id', 'linked']);
    expect(wrong.body.errors.city.error_code).toBe('membership_address_create_102');
    expect(wrong.body.errors.country_id.error_code).toBe('membership_address_create_103');

    const vm = await call(sim, token, 'POST', '/iaas/vm/', { name: 'orphan' });
    expect(vm.status).toBe(400);
    expect(Object.keys(vm.body.errors)).toEqual(['project_id']);

    const untyped = await call(sim, token, 'POST', '/financial/tax_rate/', { name: 7 });
    expect(untyped.status).toBe(400);
    expect(untyped.body.errors.name.error_code).toBe('financial_tax_rate_create_102');
    expect(sim.records('Membership', 'address')).toHaveLength(300 + 1); // only the create of the earlier test
  });

  it('an untyped service keeps what it is sent and answers every method with the same envelopes', async () => {
    const created = await call(sim, token, 'POST', '/support/ticket_type/', { name: 'Outage', colour: 'red', sla_hours: 4 });
    expect(created.status).toBe(201);
    const id = created.body.content.id;
    expect(created.body.content).toMatchObject({ id, name: 'Outage', colour: 'red', sla_hours: 4, uri: `${sim.url}/support/ticket_type/${id}/` });
    const list = await call(sim, token, 'GET', '/support/ticket_type/?search[name__iexact]=outage');
    expect(list.body.content.map((r: any) => r.id)).toEqual([id]);
    expect(list.body._metadata.total_records).toBe(1);
    expect((await call(sim, token, 'PUT', `/support/ticket_type/${id}/`, { name: 'Major outage' })).body.content.name).toBe('Major outage');
    expect((await call(sim, token, 'PATCH', `/support/ticket_type/${id}/`, { sla_hours: 2 })).body.content).toMatchObject({ name: 'Major outage', sla_hours: 2 });
    expect((await call(sim, token, 'DELETE', `/support/ticket_type/${id}/`)).status).toBe(204);
    expect((await call(sim, token, 'GET', `/support/ticket_type/${id}/`)).status).toBe(404);
  });

  it('child services live under their parent: a missing parent is 404, a record under another parent is 404', async () => {
    const links = await call(sim, token, 'GET', '/membership/address/1/link/3/');
    expect(links.status).toBe(200);
    expect(links.body.content).toMatchObject({ id: 3, address_id: 1 });
    expect((await call(sim, token, 'GET', '/membership/address/2/link/3/')).status).toBe(404);
    const orphan = await call(sim, token, 'GET', '/membership/address/99999/link/3/');
    expect(orphan.status).toBe(404);
    expect(orphan.body.error_code).toBe('membership_address_link_read_002');
    const created = await call(sim, token, 'POST', '/membership/address/5/link/', { contra_address_id: 9, customer: true });
    expect(created.status).toBe(201);
    expect(created.body.content).toMatchObject({ address_id: 5, contra_address_id: 9, uri: `${sim.url}/membership/address/5/link/${created.body.content.id}/` });
    const storages = await call(sim, token, 'GET', '/iaas/vm/3/storage/');
    expect(storages.body.content.map((s: any) => s.id)).toEqual((sim.record('IAAS', 'vm', 3)!.storages as { id: number }[]).map((s) => s.id));
    expect(storages.body._metadata.total_records).toBe(2);
  });

  it('VMs link to their project by project_id and a nested project{}', async () => {
    for (const vm of sim.records('IAAS', 'vm').slice(0, 20)) {
      const project = sim.record('IAAS', 'project', vm.project_id as number)!;
      expect(vm.project).toEqual({ id: project.id, name: project.name });
    }
    const res = await call(sim, token, 'GET', '/iaas/vm/?search[project_id]=3');
    expect(res.body.content.map((v: any) => v.project.id)).toEqual([3, 3, 3]);
  });
});

describe('list parameters', () => {
  let sim: CloudCIXSimulator;
  let token: string;
  let addresses: CloudCIXSimRecord[];
  beforeAll(async () => {
    sim = await startSim();
    token = await login(sim);
    addresses = sim.records('Membership', 'address');
  });

  async function list(path: string): Promise<{ ids: number[]; total: number; warnings: string[]; metadata: any }> {
    const res = await call(sim, token, 'GET', path);
    expect(res.status).toBe(200);
    return { ids: res.body.content.map((r: any) => r.id), total: res.body._metadata.total_records, warnings: res.body._metadata.warnings, metadata: res.body._metadata };
  }

  const get = (record: CloudCIXSimRecord, path: string): any => path.split('.').reduce((v: any, k) => (v == null ? v : v[k]), record);
  const lc = (v: unknown) => String(v).toLowerCase();

  // Each case: the query, and the same filter in plain JS over the seeded addresses.
  const cases: [string, (a: CloudCIXSimRecord) => boolean][] = [
    ['search[city]=Dublin', (a) => a.city === 'Dublin'],
    ['search[city__in]=[Dublin,Cork]', (a) => ['Dublin', 'Cork'].includes(a.city as string)],
    ["search[city__in]=('London','Paris')", (a) => ['London', 'Paris'].includes(a.city as string)],
    ['search[name__icontains]=NET', (a) => lc(a.name).includes('net')],
    ['search[name__istartswith]=acme', (a) => lc(a.name).startsWith('acme')],
    ['search[name__iendswith]=TELECOM', (a) => lc(a.name).endsWith('telecom')],
    ['search[city__iexact]=dublin', (a) => lc(a.city) === 'dublin'],
    ['search[id]=17', (a) => a.id === 17],
    ['search[id__gt]=250', (a) => a.id > 250],
    ['search[id__gte]=250', (a) => a.id >= 250],
    ['search[id__lt]=20', (a) => a.id < 20],
    ['search[id__lte]=20', (a) => a.id <= 20],
    ['search[id__in]=[3,1,77]', (a) => [1, 3, 77].includes(a.id)],
    ['search[id__range]=(10,15)', (a) => a.id >= 10 && a.id <= 15],
    ['search[billing_address_id__isnull]=true', (a) => a.billing_address_id === null],
    ['search[billing_address_id__isnull]=false', (a) => a.billing_address_id !== null],
    ['search[billing_address_id__gte]=10', (a) => (a.billing_address_id as number | null) !== null && (a.billing_address_id as number) >= 10],
    ['search[country__id]=1', (a) => get(a, 'country.id') === 1],
    ['search[country]=2', (a) => get(a, 'country.id') === 2],
    ['search[country__in]=[1,2]', (a) => [1, 2].includes(get(a, 'country.id'))],
    ['search[subdivision__isnull]=false', (a) => a.subdivision !== null],
    ['search[country__english_name__icontains]=united', (a) => lc(get(a, 'country.english_name')).includes('united')],
    ['search[member__id__range]=[2,4]', (a) => get(a, 'member.id') >= 2 && get(a, 'member.id') <= 4],
    ['search[linked]=true', (a) => a.linked === true],
    ['exclude[country__id]=1', (a) => get(a, 'country.id') !== 1],
    ['exclude[id__lte]=290', (a) => a.id > 290],
    ['exclude[city__icontains]=o', (a) => !lc(a.city).includes('o')],
    // Django's exclude(a, b): drops only what matches both.
    ['exclude[country__id]=1&exclude[city]=Dublin', (a) => !(get(a, 'country.id') === 1 && a.city === 'Dublin')],
    ['search[country__id__in]=[1,2,3]&exclude[city__in]=[Dublin,London]', (a) => [1, 2, 3].includes(get(a, 'country.id')) && !['Dublin', 'London'].includes(a.city as string)],
  ];

  for (const [query, predicate] of cases) {
    it(`${query}`, async () => {
      const expected = addresses.filter(predicate).map((a) => a.id);
      // A case that matches nothing or everything would not show the filter was applied.
      expect(expected.length).toBeGreaterThan(0);
      expect(expected.length).toBeLessThan(addresses.length);
      const got = await list(`/membership/address/?${query}&limit=100`);
      expect(got.warnings).toEqual([]);
      expect(got.total).toBe(expected.length);
      expect(got.ids).toEqual(expected.slice(0, 100));
    });
  }

  it('date fields take the comparison operators', async () => {
    const vms = sim.records('IAAS', 'vm');
    const pivot = vms[40]!.created as string;
    const got = await list(`/iaas/vm/?search[created__gte]=${pivot}&limit=100`);
    expect(got.warnings).toEqual([]);
    expect(got.ids).toEqual(vms.filter((v) => (v.created as string) >= pivot).map((v) => v.id));
    expect(got.ids.length).toBeLessThan(vms.length);
    // A client that lower-cases the whole URL sends `…t…z`; it means the same instant.
    expect((await list(`/iaas/vm/?search[created__gte]=${pivot.toLowerCase()}&limit=100`)).ids).toEqual(got.ids);
    const day = pivot.slice(0, 10);
    expect((await list(`/iaas/vm/?search[created__lt]=${day}&limit=100`)).ids).toEqual(vms.filter((v) => (v.created as string) < day).map((v) => v.id));
  });

  it('skips invalid filters and reports each in _metadata.warnings, naming it', async () => {
    const invalid = [
      'search[colour]=red', // unknown field
      'search[name__regex]=^A', // unknown operator
      'search[name__gt]=M', // operator not for a string
      'search[id__icontains]=1', // operator not for a number
      'search[id__gt]=abc', // not a number
      'search[id__in]=[1,two]',
      'search[id__range]=(1,2,3)',
      'search[billing_address_id__isnull]=maybe',
      'search[phones__icontains]=353', // a list
      'search[country__flag]=x', // unknown nested field
      'exclude[nope]=1',
    ];
    for (const filter of invalid) {
      const got = await list(`/membership/address/?${filter}&search[id__lte]=10`);
      expect(got.total, filter).toBe(10);
      expect(got.warnings, filter).toHaveLength(1);
      const name = /^(\w+\[[^\]]+\])/.exec(filter)![1]!;
      expect(got.warnings[0], filter).toContain(name);
    }
    const all = await list(`/membership/address/?${invalid.join('&')}`);
    expect(all.total).toBe(300);
    expect(all.warnings).toHaveLength(invalid.length);
  });

  it('limit defaults to 50, allows 1..100, and falls back to 50 when out of range', async () => {
    for (const [limit, expected] of [
      ['', 50],
      ['limit=1', 1],
      ['limit=100', 100],
      ['limit=73', 73],
      ['limit=0', 50],
      ['limit=-5', 50],
      ['limit=101', 50],
      ['limit=5000', 50],
      ['limit=ten', 50],
    ] as const) {
      const got = await list(`/membership/address/?${limit}`);
      expect(got.metadata.limit, limit).toBe(expected);
      expect(got.ids, limit).toEqual(addresses.slice(0, expected).map((a) => a.id));
    }
  });

  it('page is 0-based, and a page past the end is empty with the full total', async () => {
    expect((await list('/membership/address/?limit=100&page=0')).ids).toEqual(addresses.slice(0, 100).map((a) => a.id));
    const second = await list('/membership/address/?limit=100&page=1');
    expect(second.metadata.page).toBe(1);
    expect(second.ids).toEqual(addresses.slice(100, 200).map((a) => a.id));
    const past = await list('/membership/address/?limit=100&page=3');
    expect(past.ids).toEqual([]);
    expect(past.total).toBe(300);
    const filtered = await list('/membership/address/?search[id__gt]=280&limit=15&page=1');
    expect(filtered.ids).toEqual([296, 297, 298, 299, 300]);
  });

  it('order by a field, descending with "-", by a nested field; an invalid order is a warning and id order', async () => {
    const byName = [...addresses].sort((a, b) => ((a.name as string) < (b.name as string) ? -1 : (a.name as string) > (b.name as string) ? 1 : a.id - b.id));
    const asc = await list('/membership/address/?order=name&limit=100');
    expect(asc.metadata.order).toBe('name');
    expect(asc.ids).toEqual(byName.slice(0, 100).map((a) => a.id));
    expect((await list('/membership/address/?order=-id&limit=3')).ids).toEqual([300, 299, 298]);
    const byCountry = await list('/membership/address/?order=-country__english_name&limit=100');
    const countries = byCountry.ids.map((id) => get(addresses[id - 1]!, 'country.english_name'));
    expect(countries).toEqual([...countries].sort().reverse());
    expect(countries[0]).toBe('United States');
    const bad = await list('/membership/address/?order=colour&limit=3');
    expect(bad.ids).toEqual([1, 2, 3]);
    expect(bad.metadata.order).toBe('id');
    expect(bad.warnings).toHaveLength(1);
    expect(bad.warnings[0]).toContain('colour');
  });

  it('reads a batch of ids in one request, in id order, ignoring unknown ids', async () => {
    const got = await list('/membership/address/?search[id__in]=[250,3,99999,5]&limit=100');
    expect(got.ids).toEqual([3, 5, 250]);
    expect(got.total).toBe(3);
  });
});

describe('throttle', () => {
  it('answers the 21st request within a second of one user with 429 and Retry-After; other users are not affected', async () => {
    let clock = Date.UTC(2025, 0, 1);
    const sim = await startSim({ clock: () => clock, requestsPerSecond: 20 });
    // The gateway reads its own pace from the simulator's config.
    expect(sim.config.requestsPerSecond).toBe(20);
    const [a, b] = [await login(sim), await login(sim, sim.users[1]!)];
    for (let i = 0; i < 20; i++) expect((await call(sim, a, 'GET', '/membership/currency/')).status).toBe(200);
    const refused = await call(sim, a, 'GET', '/membership/currency/');
    expect(refused.status).toBe(429);
    expect(refused.body.error_code).toBe('throttled');
    expect(typeof refused.body.detail).toBe('string');
    expect(refused.headers.get('retry-after')).toBe('1');
    expect((await call(sim, b, 'GET', '/membership/currency/')).status).toBe(200);
    clock += 999;
    expect((await call(sim, a, 'GET', '/membership/currency/')).status).toBe(429);
    clock += 1;
    expect((await call(sim, a, 'GET', '/membership/currency/')).status).toBe(200);
  });

  it('requestsPerSecond 0 turns it off', async () => {
    const sim = await startSim({ clock: () => 0, requestsPerSecond: 0 });
    const token = await login(sim);
    const statuses = await Promise.all(Array.from({ length: 60 }, () => call(sim, token, 'GET', '/membership/language/').then((r) => r.status)));
    expect(new Set(statuses)).toEqual(new Set([200]));
  });
});

describe('faults and the request log', () => {
  it('logs each request under its service route, and injects faults on one service', async () => {
    const sim = await startSim();
    const token = await login(sim);
    sim.clearLog();
    const list = sim.routeOf('Membership', 'address', 'list');
    expect(list).toBe('GET /membership/address/');
    sim.server.inject(list, { status: 503, body: { error_code: 'unavailable', detail: 'maintenance' }, times: 1 });
    expect((await call(sim, token, 'GET', '/membership/address/')).status).toBe(503);
    expect((await call(sim, token, 'GET', '/membership/address/')).status).toBe(200);
    await call(sim, token, 'GET', '/membership/address/verbose/');
    await call(sim, token, 'GET', '/membership/address/4/');
    await call(sim, token, 'GET', '/membership/address/4/link/');
    expect(sim.server.requests(list)).toHaveLength(2);
    expect(sim.server.requests(sim.routeOf('Membership', 'verbose_address', 'list'))).toHaveLength(1);
    expect(sim.server.requests(sim.routeOf('Membership', 'address', 'read'))).toHaveLength(1);
    expect(sim.server.log.map((r) => r.route)).toEqual([list, list, 'GET /membership/address/verbose/', 'GET /membership/address/:pk/', 'GET /membership/address/:address_id/link/']);
  });
});

describe('seed data', () => {
  it('is the same on every start, apart from the per-start login passwords and uris', () => {
    const strip = (sim: CloudCIXSimulator) =>
      catalogue.services.filter((s) => s.service !== 'token').map((s) => sim.records(s.application, s.service).map(({ uri: _uri, ...rest }) => rest));
    const a = new CloudCIXSimulator();
    const b = new CloudCIXSimulator();
    expect(strip(a)).toEqual(strip(b));
    expect(a.users[0]!.password).not.toBe(b.users[0]!.password);
    expect(new CloudCIXSimulator({ addresses: 120 }).records('Membership', 'address')).toHaveLength(120);
  });

  it('holds real countries and currencies, members with credentials, projects and VMs, and records for every service', () => {
    const sim = new CloudCIXSimulator();
    const countries = sim.records('Membership', 'country');
    expect(countries.length).toBeGreaterThanOrEqual(40);
    expect(countries.find((c) => c.alpha_2_code === 'IE')).toMatchObject({ alpha_3_code: 'IRL', english_name: 'Ireland', phone_prefix: '353' });
    expect(new Set(countries.map((c) => c.alpha_3_code)).size).toBe(countries.length);
    const currencies = sim.records('Membership', 'currency');
    expect(currencies.length).toBeGreaterThanOrEqual(15);
    expect(currencies.find((c) => c.name === 'Euro')).toMatchObject({ symbol: '€' });
    const addresses = sim.records('Membership', 'address');
    expect(addresses).toHaveLength(300);
    for (const address of addresses) {
      expect(countries.find((c) => c.id === (address.country as any).id)!.english_name).toBe((address.country as any).english_name);
      expect(currencies.find((c) => c.id === (address.currency as any).id)!.name).toBe((address.currency as any).name);
    }
    const addressFields = 'address1 address2 address3 billing_address_id city cloud_region country currency email full_address gln id language link linked member name phones postcode subdivision vat_number website'.split(' ');
    expect(Object.keys(addresses[0]!).sort()).toEqual(addressFields.sort());
    for (const member of sim.records('Membership', 'member')) {
      expect(member.api_key).toMatch(/^[0-9a-f]{32}$/);
      expect(member.secret).toMatch(/^[0-9a-f]{40}$/);
    }
    expect(sim.records('IAAS', 'project').length).toBeGreaterThanOrEqual(10);
    expect(sim.records('IAAS', 'vm').length).toBeGreaterThanOrEqual(30);
    for (const service of catalogue.services) {
      if (service.service === 'token') continue;
      expect(sim.records(service.application, service.service).length, `${service.application}.${service.service}`).toBeGreaterThanOrEqual(3);
    }
  });
});

describe('every catalogue service answers every method it lists', () => {
  let sim: CloudCIXSimulator;
  let token: string;
  beforeAll(async () => {
    sim = await startSim();
    token = await login(sim);
  });

  const bodies: Record<string, Record<string, unknown>> = {
    'Membership/user': { email: 'new.user@example.com', first_name: 'New' },
    'IAAS/vm': { name: 'vm-catalogue', project_id: 1 },
  };

  function methodCall(method: CloudCIXMethod): string {
    return { list: 'GET', read: 'GET', create: 'POST', update: 'PUT', partial_update: 'PATCH', delete: 'DELETE' }[method];
  }

  async function exercise(service: CloudCIXService): Promise<void> {
    const label = `${service.application}.${service.service}`;
    const seeded = sim.records(service.application, service.service)[0]!;
    // Parent ids from a seeded child record: they name a parent that exists.
    const base = sim.pathOf(service.application, service.service, service.parentIds.map((p) => seeded[p] as number));
    const body = bodies[`${service.application}/${service.service}`] ?? { name: `${service.title} via test` };
    const alias = service.service === 'verbose_address';
    sim.clearLog();
    const expectedRoutes: string[] = [];
    let createdId: number | undefined;

    for (const method of service.methods) {
      expectedRoutes.push(sim.routeOf(service.application, service.service, method));
      let res: Answer;
      switch (method) {
        case 'list':
          res = await call(sim, token, 'GET', base);
          expect(res.status, label).toBe(200);
          expect(Array.isArray(res.body.content), label).toBe(true);
          expect(res.body.content.length, label).toBeGreaterThan(0);
          expect(Object.keys(res.body._metadata).sort(), label).toEqual(['limit', 'order', 'page', 'total_records', 'warnings']);
          if (!alias) for (const r of res.body.content) expect(r.uri, label).toBe(`${sim.url}${base}${r.id}/`);
          break;
        case 'read':
          res = await call(sim, token, 'GET', `${base}${seeded.id}/`);
          expect(res.status, label).toBe(200);
          expect(res.body.content.id, label).toBe(seeded.id);
          expect(res.body.content.uri, label).toBe(`${sim.url}${base}${seeded.id}/`);
          break;
        case 'create':
          res = await call(sim, token, 'POST', base, body);
          expect(res.status, label).toBe(201);
          createdId = res.body.content.id;
          expect(res.body.content.uri, label).toBe(`${sim.url}${base}${createdId}/`);
          for (const parent of service.parentIds) expect(res.body.content[parent], label).toBe(seeded[parent]);
          break;
        case 'update':
        case 'partial_update':
          res = await call(sim, token, methodCall(method), `${base}${createdId ?? seeded.id}/`, body);
          expect(res.status, label).toBe(200);
          expect(Object.keys(res.body), label).toEqual(['content']);
          expect(res.body.content.id, label).toBe(createdId ?? seeded.id);
          break;
        case 'delete': {
          const id = createdId ?? seeded.id;
          res = await call(sim, token, 'DELETE', `${base}${id}/`);
          expect(res.status, label).toBe(204);
          expect(res.text, label).toBe('');
          expect(sim.record(service.application, service.service, id), label).toBeUndefined();
          break;
        }
      }
    }
    const unlisted = CLOUDCIX_METHODS.find((m) => !service.methods.includes(m));
    if (unlisted) {
      expectedRoutes.push(sim.routeOf(service.application, service.service, unlisted));
      const path = unlisted === 'list' || unlisted === 'create' ? base : `${base}${seeded.id}/`;
      const res = await call(sim, token, methodCall(unlisted), path, unlisted === 'list' || unlisted === 'read' ? undefined : body);
      expect(res.status, `${label} ${unlisted}`).toBe(405);
      expect(res.body.error_code, label).toBe('method_not_allowed');
    }
    // Every request was routed to this service, under the name routeOf() gives.
    expect(sim.server.log.map((r) => r.route), label).toEqual(expectedRoutes);
  }

  for (const application of catalogue.applications) {
    it(`${application.name}`, async () => {
      const services = catalogue.services.filter((s) => s.application === application.name && !(s.application === 'Membership' && s.service === 'token'));
      expect(services.length).toBeGreaterThan(0);
      for (const service of services) await exercise(service);
    });
  }
});
