import { describe, expect, it, beforeAll } from 'vitest';
import { ManualClock } from '../src/core/clock.js';
import { CLOUDLX_MEDIA_TYPE } from '../src/platforms/cloudlx/client.js';
import { startStack, type Stack } from './utils/harness.js';

const CUSTOMER_FIELDS = `
  id platformId platform name
  currency { name iso2 iso3 }
  country { iso2 name }
  realms { platformId name description }
  subRealms { platformId name hasAccess realm { platformId name } }
`;

describe('CloudLX through the gateway', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });

  it('answers customers exactly as the simulator holds them, realms and sub-realms joined', async () => {
    const sim = stack.sim('cloudlx');
    const res = await stack.graphql(`{ cloudlx { customers(first: 500) { totalCount nodes { ${CUSTOMER_FIELDS} } } } }`);
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    const seeded = [...sim.customers.values()];
    const got = res.body.data.cloudlx.customers;
    expect(got.totalCount).toBe(seeded.length);
    expect(got.nodes).toHaveLength(seeded.length);
    got.nodes.forEach((node: any, i: number) => {
      const c = seeded[i]!;
      expect(node.platformId).toBe(String(c.id));
      expect(node.platform).toBe('CLOUDLX');
      expect(node.name).toBe(c.name);
      expect(node.currency).toEqual({ name: c.currency!.name, iso2: c.currency!.iso_2, iso3: c.currency!.iso_3 });
      expect(node.country).toEqual({ iso2: c.country!.iso_2, name: c.country!.name });
      expect(node.realms.map((r: any) => r.name)).toEqual(c.realms.map((r) => r.name));
      // Realms inside a customer carry no id upstream; the gateway joins them to the Realms API by name.
      for (const realm of node.realms) expect(realm.platformId).toMatch(/^\d+$/);
      expect(node.subRealms.map((s: any) => [s.platformId, s.hasAccess])).toEqual(c.sub_realms.map((s) => [String(s.id), s.has_access]));
      for (const sub of node.subRealms) expect(sub.realm).not.toBeNull();
    });
  });

  it('50 customers with realms and sub-realms cost 3 upstream requests: customers, realms, sub-realms', async () => {
    const sim = stack.sim('cloudlx');
    await stack.graphql('{ cloudlx { realms { name } } }'); // make sure a token is held, so only data requests remain
    sim.server.clearLog();
    const res = await stack.graphql(`{ cloudlx { customers(first: 50) { nodes { ${CUSTOMER_FIELDS} } } } }`);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.cloudlx.customers.nodes).toHaveLength(50);
    expect(sim.server.log.map((r) => r.route).sort()).toEqual(['GET /api/customers', 'GET /api/realms', 'GET /api/sub_realms']);
  });

  it('reads one customer with one GET and many by global id with one list call', async () => {
    const sim = stack.sim('cloudlx');
    const [a, b, c] = [...sim.customers.values()];
    sim.server.clearLog();
    const one = await stack.graphql(`query($id: ID!) { cloudlx { customer(platformId: $id) { name } } }`, { id: String(a!.id) });
    expect(one.body.data.cloudlx.customer.name).toBe(a!.name);
    expect(sim.server.log.map((r) => r.route)).toEqual(['GET /api/customers/:id']);

    const list = await stack.graphql(`{ cloudlx { customers(first: 3) { nodes { id } } } }`);
    const ids = list.body.data.cloudlx.customers.nodes.map((n: any) => n.id);
    sim.server.clearLog();
    const many = await stack.graphql(`query($ids: [ID!]!) { nodes(ids: $ids) { ... on CloudLXCustomer { name } } }`, { ids });
    expect(many.body.data.nodes.map((n: any) => n.name)).toEqual([a!.name, b!.name, c!.name]);
    expect(sim.server.log.map((r) => r.route)).toEqual(['GET /api/customers']);
  });

  it('returns null for a customer that does not exist', async () => {
    const res = await stack.graphql(`{ cloudlx { customer(platformId: "999999") { name } } }`);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.cloudlx.customer).toBeNull();
  });

  it('creates and updates a customer, and reads it back', async () => {
    const sim = stack.sim('cloudlx');
    const created = await stack.graphql(
      `mutation($input: CloudLXCreateCustomerInput!) { cloudlxCreateCustomer(input: $input) { customer { ${CUSTOMER_FIELDS} } userErrors { field message code } } }`,
      {
        input: {
          name: 'Example Company',
          currencyIso: 'GBP',
          countryIso: 'GB',
          realmIds: ['1', '2'],
          shownSubRealmIds: ['313', '328'],
          enabledSubRealmIds: ['313'],
          email: 'j.smith@example.com',
          firstName: 'John',
          lastName: 'Smith',
          roleGroup: 'Admin',
        },
      },
    );
    const payload = created.body.data.cloudlxCreateCustomer;
    expect(payload.userErrors).toEqual([]);
    expect(payload.customer.name).toBe('Example Company');
    expect(payload.customer.currency.iso3).toBe('GBP');
    expect(payload.customer.realms.map((r: any) => r.name)).toEqual(['Networking', 'Voice']);
    expect(payload.customer.subRealms).toEqual([
      { platformId: '313', name: 'SD WAN', hasAccess: true, realm: { platformId: '1', name: 'Networking' } },
      { platformId: '328', name: 'Cloud SBC & Conversion', hasAccess: false, realm: { platformId: '2', name: 'Voice' } },
    ]);
    const id = payload.customer.platformId;
    expect(sim.customers.get(Number(id))?.name).toBe('Example Company');

    const updated = await stack.graphql(
      `mutation($input: CloudLXUpdateCustomerInput!) { cloudlxUpdateCustomer(input: $input) { customer { name currency { iso3 } } userErrors { field } } }`,
      { input: { platformId: id, name: 'Example Company Ltd', currencyIso: 'EUR' } },
    );
    expect(updated.body.data.cloudlxUpdateCustomer).toEqual({ customer: { name: 'Example Company Ltd', currency: { iso3: 'EUR' } }, userErrors: [] });

    const read = await stack.graphql(`query($id: ID!) { node(id: $id) { ... on CloudLXCustomer { name currency { iso3 } } } }`, { id: payload.customer.id });
    expect(read.body.data.node).toEqual({ name: 'Example Company Ltd', currency: { iso3: 'EUR' } });
  });

  it('turns an unknown currency into userErrors and creates nothing', async () => {
    const sim = stack.sim('cloudlx');
    const before = sim.customers.size;
    const res = await stack.graphql(
      `mutation($input: CloudLXCreateCustomerInput!) { cloudlxCreateCustomer(input: $input) { customer { id } userErrors { field message code } } }`,
      {
        input: {
          name: 'Bad Currency Ltd',
          currencyIso: 'XXX',
          countryIso: 'GB',
          realmIds: ['1', '99'],
          email: 'a@example.com',
          firstName: 'A',
          lastName: 'B',
          roleGroup: 'Admin',
        },
      },
    );
    expect(res.body.errors).toBeUndefined();
    const payload = res.body.data.cloudlxCreateCustomer;
    expect(payload.customer).toBeNull();
    expect(payload.userErrors).toContainEqual(expect.objectContaining({ field: ['input', 'currencyIso'], code: 'BAD_USER_INPUT' }));
    expect(payload.userErrors).toContainEqual(expect.objectContaining({ field: ['input', 'realmIds'], code: 'BAD_USER_INPUT' }));
    expect(payload.userErrors.find((e: any) => e.field[1] === 'currencyIso').message).toContain('"XXX"');
    expect(sim.customers.size).toBe(before);
  });

  it('refuses a realm id that is not a number before calling CloudLX', async () => {
    const sim = stack.sim('cloudlx');
    sim.server.clearLog();
    const res = await stack.graphql(
      `mutation { cloudlxUpdateCustomer(input: { platformId: "6900", realmIds: ["networking"] }) { customer { id } userErrors { field message code } } }`,
    );
    expect(res.body.data.cloudlxUpdateCustomer.userErrors).toEqual([
      { field: ['input', 'realmIds'], message: 'expected a whole number, got "networking"', code: 'BAD_USER_INPUT' },
    ]);
    expect(sim.server.requests('PATCH /api/customers/:id')).toHaveLength(0);
  });

  it('creates an API client whose secret is shown once, then updates and deletes it', async () => {
    const created = await stack.graphql(
      `mutation { cloudlxCreateApiClient(input: { name: "Provisioning robot" }) { apiClient { id platformId name clientId } clientSecret userErrors { message } } }`,
    );
    const payload = created.body.data.cloudlxCreateApiClient;
    expect(payload.userErrors).toEqual([]);
    expect(payload.clientSecret).toMatch(/^clxs_[0-9a-f]{32}$/);
    const id = payload.apiClient.platformId;

    const listed = await stack.graphql(`{ cloudlx { apiClients { totalCount nodes { platformId name clientId } } } apiClients(platforms: [CLOUDLX]) { nodes { platformId name } } }`);
    expect(listed.body.data.cloudlx.apiClients.nodes).toContainEqual({ platformId: id, name: 'Provisioning robot', clientId: payload.apiClient.clientId });
    expect(listed.body.data.apiClients.nodes).toContainEqual({ platformId: id, name: 'Provisioning robot' });
    expect(JSON.stringify(listed.body)).not.toContain(payload.clientSecret);

    const renamed = await stack.graphql(`mutation($id: ID!) { cloudlxUpdateApiClient(input: { platformId: $id, name: "Robot" }) { apiClient { name } userErrors { message } } }`, { id });
    expect(renamed.body.data.cloudlxUpdateApiClient).toEqual({ apiClient: { name: 'Robot' }, userErrors: [] });

    const deleted = await stack.graphql(`mutation($id: ID!) { cloudlxDeleteApiClient(input: { platformId: $id }) { deletedId userErrors { message } } }`, { id });
    expect(deleted.body.data.cloudlxDeleteApiClient).toEqual({ deletedId: payload.apiClient.id, userErrors: [] });
    const again = await stack.graphql(`mutation($id: ID!) { cloudlxDeleteApiClient(input: { platformId: $id }) { deletedId userErrors { message code } } }`, { id });
    expect(again.body.data.cloudlxDeleteApiClient).toEqual({ deletedId: null, userErrors: [{ message: 'API client not found.', code: 'NOT_FOUND' }] });
    const gone = await stack.graphql(`query($id: ID!) { cloudlx { apiClient(platformId: $id) { name } } }`, { id });
    expect(gone.body.data.cloudlx.apiClient).toBeNull();
  });

  it('creates, updates, lists and deletes webhooks', async () => {
    const created = await stack.graphql(`mutation { cloudlxCreateWebhook(input: { url: "https://hooks.example.com/clx" }) { webhook { id platformId url active } userErrors { message } } }`);
    const hook = created.body.data.cloudlxCreateWebhook.webhook;
    expect(hook).toMatchObject({ url: 'https://hooks.example.com/clx', active: true });
    const updated = await stack.graphql(`mutation($id: ID!) { cloudlxUpdateWebhook(input: { platformId: $id, active: false }) { webhook { active url } } }`, { id: hook.platformId });
    expect(updated.body.data.cloudlxUpdateWebhook.webhook).toEqual({ active: false, url: 'https://hooks.example.com/clx' });
    const unified = await stack.graphql(`{ webhooks(platforms: [CLOUDLX]) { nodes { __typename id url active platform } } }`);
    expect(unified.body.data.webhooks.nodes).toContainEqual({ __typename: 'CloudLXWebhook', id: hook.id, url: 'https://hooks.example.com/clx', active: false, platform: 'CLOUDLX' });
    const bad = await stack.graphql(`mutation { cloudlxCreateWebhook(input: { url: "not a url" }) { webhook { id } userErrors { field message code } } }`);
    expect(bad.body.data.cloudlxCreateWebhook).toEqual({
      webhook: null,
      userErrors: [{ field: ['input', 'url'], message: 'The url must be a valid http(s) URL.', code: 'BAD_USER_INPUT' }],
    });
    const deleted = await stack.graphql(`mutation($id: ID!) { cloudlxDeleteWebhook(input: { platformId: $id }) { deletedId } }`, { id: hook.platformId });
    expect(deleted.body.data.cloudlxDeleteWebhook.deletedId).toBe(hook.id);
    const read = await stack.graphql(`query($id: ID!) { node(id: $id) { id } }`, { id: hook.id });
    expect(read.body.data.node).toBeNull();
  });

  it('lists services with their ports, paged', async () => {
    const sim = stack.sim('cloudlx');
    const first = await stack.graphql(`{ cloudlx { services(first: 10) { totalCount pageInfo { hasNextPage endCursor } nodes { platformId name vlan nniVlan bandwidth paused expired created cancellationDate port { name switch } } } } }`);
    const page = first.body.data.cloudlx.services;
    expect(page.totalCount).toBe(sim.services.length);
    expect(page.pageInfo.hasNextPage).toBe(true);
    const s0 = sim.services[0]!;
    expect(page.nodes[0]).toEqual({
      platformId: String(s0.id),
      name: s0.name,
      vlan: s0.vlan,
      nniVlan: s0.nni_vlan,
      bandwidth: s0.bandwidth,
      paused: s0.paused,
      expired: s0.expired,
      created: new Date(`${s0.created!.replace(' ', 'T')}Z`).toISOString(),
      cancellationDate: null,
      port: { name: s0.port!.name, switch: s0.port!.switch },
    });
    const second = await stack.graphql(`query($after: String) { cloudlx { services(first: 10, after: $after) { nodes { platformId } } } }`, { after: page.pageInfo.endCursor });
    expect(second.body.data.cloudlx.services.nodes[0].platformId).toBe(String(sim.services[10]!.id));
    const bad = await stack.graphql(`{ cloudlx { services(first: 10, after: "nonsense") { totalCount } } }`);
    expect(bad.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(bad.body.errors[0].message).toContain('"nonsense"');
  });
});

describe('CloudLX upstream faults', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { UPSTREAM_HEADERS_TIMEOUT_MS: '300', UPSTREAM_BODY_TIMEOUT_MS: '300' } });
  });

  const QUERY = `{ cloudlx { services(first: 1) { totalCount } customers(first: 1) { totalCount } } }`;

  it('a route answering 500 nulls that field with UPSTREAM_UNAVAILABLE; siblings still resolve', async () => {
    const sim = stack.sim('cloudlx');
    sim.server.inject('GET /api/services', { status: 500 });
    try {
      const res = await stack.graphql(QUERY);
      expect(res.status).toBe(200);
      expect(res.body.data.cloudlx.services).toBeNull();
      expect(res.body.data.cloudlx.customers.totalCount).toBe(sim.customers.size);
      expect(res.body.errors).toHaveLength(1);
      expect(res.body.errors[0]).toMatchObject({ path: ['cloudlx', 'services'], extensions: { code: 'UPSTREAM_UNAVAILABLE', platform: 'cloudlx', upstreamStatus: 500 } });
    } finally {
      sim.server.clearFaults();
    }
  });

  it('a route hanging past the timeout gives UPSTREAM_TIMEOUT', async () => {
    const sim = stack.sim('cloudlx');
    sim.server.inject('GET /api/services', { delayMs: 1500 });
    try {
      const res = await stack.graphql(QUERY);
      expect(res.body.data.cloudlx.services).toBeNull();
      expect(res.body.data.cloudlx.customers.totalCount).toBe(sim.customers.size);
      expect(res.body.errors[0]).toMatchObject({ path: ['cloudlx', 'services'], extensions: { code: 'UPSTREAM_TIMEOUT', platform: 'cloudlx' } });
    } finally {
      sim.server.clearFaults();
    }
  });

  it('a dropped connection is retried once (a GET), then gives UPSTREAM_UNAVAILABLE', async () => {
    const sim = stack.sim('cloudlx');
    sim.server.inject('GET /api/services', { drop: true });
    sim.server.clearLog();
    try {
      const res = await stack.graphql(QUERY);
      expect(res.body.data.cloudlx.services).toBeNull();
      expect(res.body.data.cloudlx.customers.totalCount).toBe(sim.customers.size);
      expect(res.body.errors[0]).toMatchObject({ path: ['cloudlx', 'services'], extensions: { code: 'UPSTREAM_UNAVAILABLE', platform: 'cloudlx' } });
      expect(sim.server.requests('GET /api/services')).toHaveLength(2);
    } finally {
      sim.server.clearFaults();
    }
  });

  it('one dropped connection is healed by the retry, unseen by the client', async () => {
    const sim = stack.sim('cloudlx');
    sim.server.inject('GET /api/services', { drop: true, times: 1 });
    const res = await stack.graphql(QUERY);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.cloudlx.services.totalCount).toBe(sim.services.length);
  });

  it('a failing platform in a unified list adds an error with its path and platform', async () => {
    const sim = stack.sim('cloudlx');
    sim.server.inject('GET /api/customers', { status: 503 });
    try {
      const res = await stack.graphql(`{ customers { totalCount } platforms { platform } }`);
      expect(res.status).toBe(200);
      expect(res.body.data.platforms.length).toBeGreaterThan(0);
      expect(res.body.errors).toContainEqual(expect.objectContaining({ path: ['customers'], extensions: expect.objectContaining({ code: 'UPSTREAM_UNAVAILABLE', platform: 'cloudlx' }) }));
    } finally {
      sim.server.clearFaults();
    }
  });

  it('readiness reports an upstream that does not answer', async () => {
    const sim = stack.sim('cloudlx');
    sim.server.inject('GET /api/realms', { status: 502 });
    try {
      const res = await fetch(`${stack.gateway.url}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as any;
      expect(body.platforms.cloudlx).toMatchObject({ ok: false, simulated: true, error: { code: 'UPSTREAM_UNAVAILABLE' } });
    } finally {
      sim.server.clearFaults();
    }
    const healthy = await fetch(`${stack.gateway.url}/readyz`);
    expect(healthy.status).toBe(200);
  });
});

describe('CloudLX tokens', () => {
  it('50 concurrent requests on a cold gateway cause one token fetch', async () => {
    const stack = await startStack();
    const sim = stack.sim('cloudlx');
    const results = await Promise.all(Array.from({ length: 50 }, () => stack.graphql('{ cloudlx { realms { name } } }')));
    for (const res of results) expect(res.body.errors).toBeUndefined();
    expect(sim.tokensIssued).toEqual({ client_credentials: 1, refresh_token: 0 });
    expect(sim.server.requests('POST /api/oauth2/access-token')).toHaveLength(1);
  });

  it('refreshes a short-lived token with the refresh token, unseen by the client', async () => {
    // The gateway's clock and the simulator's token clock move together, 1.1 s on: no sleeping.
    const clock = new ManualClock(Date.now());
    const stack = await startStack({ clock, simulators: { cloudlx: { accessTokenTtlSeconds: 1, clock: () => clock.now() } } });
    const sim = stack.sim('cloudlx');
    expect((await stack.graphql('{ cloudlx { realms { name } } }')).body.errors).toBeUndefined();
    const first = sim.server.requests('GET /api/realms')[0]!.headers.authorization!;
    await clock.advance(1100);
    // The control: CloudLX now refuses the first token, so only a refresh ahead of time avoids a 401.
    const stale = await fetch(`${sim.url}/api/realms`, { headers: { authorization: first, accept: CLOUDLX_MEDIA_TYPE } });
    expect(stale.status).toBe(401);
    sim.server.clearLog();
    const res = await stack.graphql('{ cloudlx { realms { name } } }');
    expect(res.body.errors).toBeUndefined();
    expect(sim.tokensIssued).toEqual({ client_credentials: 1, refresh_token: 1 });
    // The gateway refreshed before its call, which carried a live token: CloudLX never answered 401.
    expect(sim.server.log.map((r) => `${r.route} ${r.status}`)).toEqual(['POST /api/oauth2/refresh-token 200', 'GET /api/realms 200']);
    expect(sim.server.log[1]!.headers.authorization).not.toBe(first);
  });

  it('a token the upstream stops accepting is replaced and the call retried once', async () => {
    const stack = await startStack();
    const sim = stack.sim('cloudlx');
    await stack.graphql('{ cloudlx { realms { name } } }');
    sim.expireAccessTokens();
    sim.server.clearLog();
    const res = await stack.graphql('{ cloudlx { realms { name } } }');
    expect(res.body.errors).toBeUndefined();
    expect(sim.server.log.map((r) => `${r.route} ${r.status}`)).toEqual([
      'GET /api/realms 401',
      'POST /api/oauth2/refresh-token 200',
      'GET /api/realms 200',
    ]);
  });

  it('wrong client credentials give UNAUTHENTICATED without echoing the secret', async () => {
    const upstream = await startStack();
    const sim = upstream.sim('cloudlx');
    const stack = await startStack({ env: { CLOUDLX_BASE_URL: sim.url, CLOUDLX_CLIENT_ID: sim.clientId, CLOUDLX_CLIENT_SECRET: 'wrong-secret-value' } });
    const res = await stack.graphql('{ cloudlx { realms { name } } }');
    expect(res.body.data.cloudlx.realms).toBeNull();
    expect(res.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', platform: 'cloudlx', upstreamStatus: 401 });
    expect(JSON.stringify(res.body)).not.toContain('wrong-secret-value');
    // The refused login is remembered: more requests do not retry the same wrong credentials.
    const again = await Promise.all([1, 2, 3].map(() => stack.graphql('{ cloudlx { realms { name } } }')));
    for (const r of again) expect(r.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(sim.server.requests('POST /api/oauth2/access-token')).toHaveLength(1);
    const platforms = await stack.graphql('{ platforms { platform simulated } }');
    expect(platforms.body.data.platforms).toContainEqual({ platform: 'CLOUDLX', simulated: false });
  });
});

describe('CloudLX circuit breaker', () => {
  it('stops calling a host after consecutive failures, then lets one trial call close it again', async () => {
    // The breaker's cool-down runs on the gateway's clock, moved by the test instead of slept through.
    const clock = new ManualClock(Date.now());
    const stack = await startStack({ clock, env: { UPSTREAM_RETRIES: '0', UPSTREAM_BREAKER_FAILURES: '3', UPSTREAM_BREAKER_COOLDOWN_MS: '3000' } });
    const sim = stack.sim('cloudlx');
    await stack.graphql('{ cloudlx { realms { name } } }');
    sim.server.inject('GET /api/services', { status: 503 });
    sim.server.clearLog();
    for (let i = 0; i < 3; i++) {
      const res = await stack.graphql('{ cloudlx { services { totalCount } } }');
      expect(res.body.errors[0].extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', upstreamStatus: 503 });
    }
    expect(sim.server.requests('GET /api/services')).toHaveLength(3);

    // Open: the next call fails at once, without reaching CloudLX, and says when to retry.
    const open = await stack.graphql('{ cloudlx { services { totalCount } } }');
    expect(open.body.errors[0].extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', platform: 'cloudlx' });
    expect(open.body.errors[0].extensions.retryAfter).toBeGreaterThanOrEqual(1);
    expect(open.body.errors[0].message).toContain('failed 3 times in a row');
    expect(sim.server.log).toHaveLength(3);

    sim.server.clearFaults();
    // Still open 1 ms before the cool-down ends (and CloudLX is not called) …
    await clock.advance(2999);
    expect((await stack.graphql('{ cloudlx { services { totalCount } } }')).body.errors[0].message).toContain('failed 3 times in a row');
    expect(sim.server.log).toHaveLength(3);
    // … and once it has ended, one trial call goes through and closes it.
    await clock.advance(1);
    const healed = await stack.graphql('{ cloudlx { services { totalCount } } }');
    expect(healed.body.errors).toBeUndefined();
    expect(healed.body.data.cloudlx.services.totalCount).toBe(sim.services.length);
    expect(sim.server.requests('GET /api/services')).toHaveLength(4);
  });
});
