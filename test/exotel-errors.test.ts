import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './utils/harness.js';
import { expectSecretsShownAtMostAtCreation } from './utils/exotel.js';
import { ExotelSimulator } from '../src/platforms/exotel/simulator.js';
import { loadConfig } from '../src/config.js';
import { ConfigError } from '../src/core/env.js';

/**
 * Exotel's documented statuses (200, 400, 401, 500), `Status: Failure` under HTTP
 * 200, token expiry, and one platform down in the unified fields, each through
 * the real gateway and simulator. The contract of the simulator itself (the
 * envelope on every answer, 400 naming the field, 401 for a wrong secret) is
 * checked against it directly.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function call(sim: ExotelSimulator, method: string, path: string, init: { body?: unknown; token?: string } = {}) {
  const res = await fetch(`${sim.config.baseUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(init.token ? { authorization: init.token } : {}) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: res.status, body: (await res.json()) as { RequestId: string; Status: string; Code: number; Error: string; Data: unknown } };
}

describe('the Exotel simulator\'s contract', () => {
  let sim: ExotelSimulator;
  beforeAll(async () => {
    sim = await new ExotelSimulator({ usersPerApp: 3 }).start();
  });
  afterAll(() => sim.close());

  it('answers every request, errors included, in the {RequestId, Status, Code, Error, Data} envelope', async () => {
    const customer = sim.gatewayCustomer;
    const token = (await call(sim, 'POST', '/token', { body: { Id: customer.CustomerID, Secret: customer.CustomerSecret, Entity: 'customer' } })).body;
    expect(token).toEqual({ RequestId: expect.stringMatching(UUID), Status: 'Success', Code: 200, Error: '', Data: expect.any(String) });
    const answers = await Promise.all([
      call(sim, 'GET', '/customer', { token: token.Data as string }),
      call(sim, 'GET', '/app?entity=customer', { token: token.Data as string }),
      call(sim, 'GET', '/app?entity=app', { token: token.Data as string }),
      call(sim, 'GET', '/nowhere'),
    ]);
    expect(answers.map((a) => [a.status, a.body.Status, a.body.Code])).toEqual([
      [200, 'Success', 200],
      [200, 'Success', 200],
      [401, 'Failure', 401],
      [404, 'Failure', 404],
    ]);
    for (const { body } of answers) expect(Object.keys(body).sort()).toEqual(['Code', 'Data', 'Error', 'RequestId', 'Status']);
  });

  it('reads apps and customers without their secrets, as Exotel does', async () => {
    const customer = sim.gatewayCustomer;
    const token = (await call(sim, 'POST', '/token', { body: { Id: customer.CustomerID, Secret: customer.CustomerSecret, Entity: 'customer' } })).body.Data as string;
    const apps = (await call(sim, 'GET', '/app?entity=customer', { token })).body.Data as Record<string, unknown>[];
    const me = (await call(sim, 'GET', '/customer', { token })).body.Data as Record<string, unknown>;
    expect(apps.length).toBe(4);
    expect(apps.flatMap((a) => ['AppSecret', 'ExotelApiKey', 'ExotelApiToken'].filter((k) => k in a))).toEqual([]);
    expect('CustomerSecret' in me).toBe(false);
  });

  it('400 names the missing field; 401 for a wrong secret, a wrong id, a Bearer prefix or the other entity\'s token', async () => {
    const customer = sim.gatewayCustomer;
    const missing = await call(sim, 'POST', '/token', { body: { Id: customer.CustomerID, Entity: 'customer' } });
    expect(missing.status).toBe(400);
    expect(missing.body.Error).toContain("'Secret' failed on the 'required' tag");
    const wrongSecret = await call(sim, 'POST', '/token', { body: { Id: customer.CustomerID, Secret: 'not-it', Entity: 'customer' } });
    const wrongId = await call(sim, 'POST', '/token', { body: { Id: '00000000-0000-4000-8000-000000000000', Secret: customer.CustomerSecret, Entity: 'customer' } });
    expect([wrongSecret.status, wrongId.status]).toEqual([401, 401]);
    const token = (await call(sim, 'POST', '/token', { body: { Id: customer.CustomerID, Secret: customer.CustomerSecret, Entity: 'customer' } })).body.Data as string;
    const bearer = await call(sim, 'GET', '/customer', { token: `Bearer ${token}` });
    expect([bearer.status, bearer.body.Error]).toEqual([401, 'Authorization must carry the token itself, without "Bearer"']);
    const noAppName = await call(sim, 'POST', '/app', { token, body: { ExotelAccountSid: 'a', ExotelApiKey: 'k', ExotelApiToken: 't', ExotelDomain: 'mumbai', IsActive: true } });
    expect([noAppName.status, noAppName.body.Error]).toEqual([400, "Key: 'CreateAppRequest.AppName' Error:Field validation for 'AppName' failed on the 'required' tag"]);
    const customerTokenForUsers = await call(sim, 'POST', '/usermapping', { token, body: [] });
    expect([customerTokenForUsers.status, customerTokenForUsers.body.Error]).toEqual([401, 'this endpoint needs a token for entity=app, got one for entity=customer']);
    const app = sim.appsOf(customer.CustomerID)[0]!;
    const appToken = (await call(sim, 'POST', '/token', { body: { Id: app.AppID, Secret: app.AppSecret, Entity: 'app' } })).body.Data as string;
    const notArray = await call(sim, 'POST', '/usermapping', { token: appToken, body: { AppUserId: '1' } });
    expect([notArray.status, notArray.body.Error]).toEqual([400, 'expected a JSON array of users, got object']);
    const noVirtualNumber = await call(sim, 'POST', '/usermapping', {
      token: appToken,
      body: [{ AppUserId: 'x', AppUsername: 'X', Email: 'x@example.com', ExotelAccountSid: 'acme', ExotelUserName: 'x' }],
    });
    expect([noVirtualNumber.status, noVirtualNumber.body.Error]).toEqual([400, "Key: '[0].VirtualNumber' Error:Field validation for 'VirtualNumber' failed on the 'required' tag"]);
  });

  it('pages users by keyset: LastEvaluatedValue leads to the next page and is empty after the last', async () => {
    const app = sim.appsOf(sim.gatewayCustomer.CustomerID)[0]!;
    const token = (await call(sim, 'POST', '/token', { body: { Id: app.AppID, Secret: app.AppSecret, Entity: 'app' } })).body.Data as string;
    const first = (await call(sim, 'GET', '/usermapping?page_size=2', { token })).body.Data as { Users: { AppUserId: string }[]; LastEvaluatedValue: string };
    expect(first.Users.map((u) => u.AppUserId)).toEqual(['1', '2']);
    const last = (await call(sim, 'GET', `/usermapping?page_size=2&last_value=${first.LastEvaluatedValue}`, { token })).body.Data as typeof first;
    expect(last.Users.map((u) => u.AppUserId)).toEqual(['3']);
    expect(last.LastEvaluatedValue).toBe('');
    const bad = await call(sim, 'GET', '/usermapping?page_size=many', { token });
    expect([bad.status, bad.body.Error]).toEqual([400, 'page_size must be a whole number of 1 or more, got "many"']);
  });
});

describe('Exotel errors through the gateway', () => {
  let stack: Stack;
  let sim: ExotelSimulator;
  beforeAll(async () => {
    stack = await startStack();
    sim = stack.sim('exotel');
  });
  afterAll(() => stack.close());

  it('400: a field Exotel requires comes back as a userError on that input field', async () => {
    const { body } = await stack.graphql(
      `mutation($input: ExotelCreateAppInput!) { exotelCreateApp(input: $input) { app { id } appSecret userErrors { field message code } } }`,
      { input: { name: ' ', exotelAccountSid: 'acme', exotelApiKey: 'k-1', exotelApiToken: 't-1', exotelDomain: '', isActive: false } },
    );
    expect(body.data.exotelCreateApp).toEqual({
      app: null,
      appSecret: null,
      userErrors: [
        { field: ['input', 'name'], message: 'AppName is required', code: 'BAD_USER_INPUT' },
        { field: ['input', 'exotelDomain'], message: 'ExotelDomain is required', code: 'BAD_USER_INPUT' },
      ],
    });
    expect(sim.requests('POST /app').at(-1)!.status).toBe(400);
  });

  it('400 on one of several users points at that user\'s field, and registers none', async () => {
    const app = sim.appsOf(sim.gatewayCustomer.CustomerID)[1]!;
    const before = sim.apps.get(app.AppID)!.users.length;
    const user = (n: number, email: string) => ({ appUserId: `new-${n}`, appUsername: `New ${n}`, email, exotelAccountSid: 'acme', exotelUserName: `new${n}`, virtualNumber: '0113' });
    const { body } = await stack.graphql(
      `mutation($input: ExotelRegisterUsersInput!) { exotelRegisterUsers(input: $input) { users { platformId } userErrors { field message code } } }`,
      { input: { appPlatformId: app.AppID, users: [user(1, 'one@example.com'), user(2, 'not-an-email')] } },
    );
    expect(body.data.exotelRegisterUsers).toEqual({
      users: null,
      userErrors: [{ field: ['input', 'users', '1', 'email'], message: 'Email is invalid (it fails the "email" rule)', code: 'BAD_USER_INPUT' }],
    });
    expect(sim.apps.get(app.AppID)!.users.length).toBe(before);
  });

  it('500: UPSTREAM_UNAVAILABLE on the field, with Exotel\'s RequestId in extensions for support', async () => {
    const requestId = sim.injectFailure('GET /app', { code: 500, error: 'There was an issue getting the application.', times: 1 });
    const { body } = await stack.graphql(`{ exotel { apps { totalCount } customers { nodes { name } } } }`);
    expect(body.data.exotel.apps).toBeNull();
    expect(body.data.exotel.customers.nodes).toEqual([{ name: sim.gatewayCustomer.CustomerName }]);
    expect(body.errors).toEqual([
      {
        // Exotel's own text stays in the gateway's log; the client reads the gateway's words and the RequestId (issue 9).
        message: `Exotel is unavailable; retry later (HTTP 500, UPSTREAM_UNAVAILABLE). Exotel's request id: ${requestId}.`,
        locations: expect.any(Array),
        path: ['exotel', 'apps'],
        extensions: { code: 'UPSTREAM_UNAVAILABLE', platform: 'exotel', upstreamStatus: 500, upstreamRequestId: requestId },
      },
    ]);
  });

  it('Status "Failure" under HTTP 200 is an error too, by its Code', async () => {
    const requestId = sim.injectFailure('GET /customer', { code: 400, httpStatus: 200, error: 'invalid request', times: 1 });
    const { body } = await stack.graphql(`{ exotel { customers { nodes { name } } } }`);
    expect(body.data.exotel.customers).toBeNull();
    expect(body.errors[0].extensions).toEqual({ code: 'BAD_USER_INPUT', platform: 'exotel', upstreamStatus: 400, upstreamRequestId: requestId });
  });

  it('an expired token is renewed once, transparently, and the renewed one is cached', async () => {
    await stack.graphql(`{ exotel { customers { nodes { name } } } }`);
    const issued = sim.tokensIssued.customer;
    sim.expireTokens();
    sim.server.clearLog();
    const { body } = await stack.graphql(`{ exotel { customers { nodes { name } } } }`);
    expect(body.errors).toBeUndefined();
    expect(sim.requests('GET /customer').map((r) => r.status)).toEqual([401, 200]);
    expect(sim.tokensIssued.customer).toBe(issued + 1);
    await stack.graphql(`{ exotel { customers { nodes { name } } } }`);
    expect(sim.tokensIssued.customer).toBe(issued + 1);
  });

  it('tokens are cached per entity id: many reads of one app fetch its token once', async () => {
    const app = sim.appsOf(sim.gatewayCustomer.CustomerID)[2]!;
    sim.server.clearLog();
    for (let i = 0; i < 3; i++) await stack.graphql(`query($id: ID!) { exotel { app(platformId: $id) { name } } }`, { id: app.AppID });
    expect(sim.requests('POST /token').map((r) => (r.body as { Id: string }).Id)).toEqual([app.AppID]);
    expect(sim.requests('GET /app')).toHaveLength(3);
  });

  it('a cursor that is not one gets BAD_USER_INPUT saying what was expected', async () => {
    const app = sim.appsOf(sim.gatewayCustomer.CustomerID)[0]!;
    const { body } = await stack.graphql(`query($id: ID!) { exotel { app(platformId: $id) { users(after: "page-2") { nodes { platformId } } } } }`, { id: app.AppID });
    expect(body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(body.errors[0].message).toBe('Expected `after` to be a cursor from this connection\'s pageInfo.endCursor, got "page-2"');
  });

  it('Exotel down: the unified fields still answer with the other platforms, and say which one failed', async () => {
    sim.injectFailure('*', { code: 503, error: 'Service Unavailable' });
    try {
      const { body } = await stack.graphql(`{ customers { nodes { platform } } apps { nodes { platform } } }`);
      expect(body.data.customers.nodes.length).toBeGreaterThan(0);
      expect(body.data.customers.nodes.some((c: { platform: string }) => c.platform === 'EXOTEL')).toBe(false);
      expect(body.data.apps.nodes.some((c: { platform: string }) => c.platform === 'EXOTEL')).toBe(false);
      const exotelErrors = body.errors.filter((e: { extensions: { platform: string } }) => e.extensions.platform === 'exotel');
      const failures = exotelErrors.map((e: { path: string[]; extensions: { code: string } }) => `${e.path.join('.')} ${e.extensions.code}`).sort();
      expect(failures).toEqual(['apps UPSTREAM_UNAVAILABLE', 'customers UPSTREAM_UNAVAILABLE']);
    } finally {
      sim.server.clearFaults();
    }
  });

  it('no response carried a secret (none of these operations returns one)', () => {
    expectSecretsShownAtMostAtCreation(stack, sim, new Set());
  });
});

describe('Exotel with a credential it refuses', () => {
  let sim: ExotelSimulator;
  let stack: Stack;
  beforeAll(async () => {
    sim = await new ExotelSimulator({ usersPerApp: 2 }).start();
    const app = sim.appsOf(sim.gatewayCustomer.CustomerID)[0]!;
    stack = await startStack({
      env: {
        EXOTEL_BASE_URL: sim.config.baseUrl!,
        EXOTEL_CUSTOMER_ID: sim.gatewayCustomer.CustomerID,
        EXOTEL_CUSTOMER_SECRET: 'wrong-customer-secret',
        EXOTEL_APP_SECRETS: `${app.AppID}:wrong-app-secret`,
      },
    });
  });
  afterAll(async () => {
    await stack.close();
    await sim.close();
  });

  it('401: UNAUTHENTICATED naming the setting to check, never the secret', async () => {
    const app = sim.appsOf(sim.gatewayCustomer.CustomerID)[0]!;
    const { body } = await stack.graphql(`query($id: ID!) { exotel { customers { nodes { name } } app(platformId: $id) { name } } }`, { id: app.AppID });
    expect(body.data.exotel).toEqual({ customers: null, app: null });
    const byPath = Object.fromEntries(body.errors.map((e: { path: string[] }) => [e.path.join('.'), e]));
    expect(byPath['exotel.customers'].extensions).toEqual({ code: 'UNAUTHENTICATED', platform: 'exotel', upstreamStatus: 401, upstreamRequestId: expect.stringMatching(UUID) });
    expect(byPath['exotel.customers'].message).toContain('check EXOTEL_CUSTOMER_ID and EXOTEL_CUSTOMER_SECRET');
    expect(byPath['exotel.app'].extensions.code).toBe('UNAUTHENTICATED');
    expect(byPath['exotel.app'].message).toContain(`Exotel refused the app credential of ${app.AppID}`);
    expect(stack.responses.join('\n')).not.toMatch(/wrong-customer-secret|wrong-app-secret/);
    expect(sim.requests('POST /token').map((r) => r.status)).toEqual([401, 401]);
  });

  it('the unified customers field answers with the other platforms', async () => {
    const { body } = await stack.graphql(`{ customers { nodes { platform } } }`);
    expect(body.data.customers.nodes.length).toBeGreaterThan(0);
    expect(body.errors.map((e: { path: string[]; extensions: { platform: string; code: string } }) => [e.path, e.extensions.platform, e.extensions.code])).toEqual([
      [['customers'], 'exotel', 'UNAUTHENTICATED'],
    ]);
  });
});

describe('Exotel tokens that expire at once', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ simulators: { exotel: { tokenTtlSeconds: 0, usersPerApp: 1 } } });
  });
  afterAll(() => stack.close());

  it('a token refused twice is an UNAUTHENTICATED error after exactly one renewal, not a loop', async () => {
    const sim = stack.sim('exotel');
    const { body } = await stack.graphql(`{ exotel { customers { nodes { name } } } }`);
    expect(body.data.exotel.customers).toBeNull();
    expect(body.errors[0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED', platform: 'exotel', upstreamStatus: 401 } });
    expect(body.errors[0].message).toMatch(/^Exotel refused the credentials it was called with .*\(HTTP 401, UNAUTHENTICATED\)/);
    expect(sim.tokensIssued.customer).toBe(2);
    expect(sim.requests('GET /customer').map((r) => r.status)).toEqual([401, 401]);
  });
});

describe('Exotel configuration', () => {
  it('needs the customer credential when EXOTEL_BASE_URL is set', () => {
    expect(() => loadConfig({ EXOTEL_BASE_URL: 'https://integrationscore.mum1.exotel.com/v2/integrations' })).toThrow(
      /EXOTEL_CUSTOMER_ID: expected the customer credential from POST \/customer, since EXOTEL_BASE_URL is set; it is not set/,
    );
  });

  it('refuses a malformed EXOTEL_APP_SECRETS without echoing it', () => {
    let error: unknown;
    try {
      loadConfig({ EXOTEL_APP_SECRETS: 'app-1:s3cr3t-value,just-an-id' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('EXOTEL_APP_SECRETS: expected comma-separated AppID:AppSecret pairs; entry 2 of 2 is not of that form');
    expect(message).not.toContain('s3cr3t-value');
  });

  it('reads EXOTEL_APP_SECRETS into pairs', () => {
    const config = loadConfig({ EXOTEL_APP_SECRETS: ' app-1:secret-a , app-2:secret:with:colons ' });
    expect(config.platforms.exotel.appSecrets).toEqual({ 'app-1': 'secret-a', 'app-2': 'secret:with:colons' });
  });
});
