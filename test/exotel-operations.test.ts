import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type GraphQLResponse, type Stack } from './utils/harness.js';
import { exotelSecrets, expectSecretsShownAtMostAtCreation } from './utils/exotel.js';
import type { ExotelSimulator } from '../src/platforms/exotel/simulator.js';

/**
 * Every Exotel operation of the issue, through the real gateway and the Exotel
 * simulator over HTTP. The last test walks every response of this file for the
 * secrets: those a create payload returns appear exactly there, the rest nowhere;
 * and the gateway's log, kept at trace level, holds none of them.
 */

let stack: Stack;
let sim: ExotelSimulator;
/** Secrets a create payload returned (and so may appear in exactly one response). */
const shownOnce = new Set<string>();
let logText = '';

beforeAll(async () => {
  const logs = new PassThrough();
  logs.on('data', (chunk: Buffer) => (logText += chunk.toString()));
  stack = await startStack({ env: { LOG_LEVEL: 'trace' }, logDestination: logs });
  sim = stack.sim('exotel');
});

afterAll(() => stack.close());

const APP_FIELDS = `id platformId platform name customerPlatformId exotelAccountSid exotelDomain isActive createdAt updatedAt`;

describe('Exotel customers', () => {
  it('reads the gateway customer with a customer token sent raw in Authorization', async () => {
    const { body } = await stack.graphql(`{ exotel { customers { nodes { platformId name email platform createdAt } } } }`);
    expect(body.errors).toBeUndefined();
    const gateway = sim.gatewayCustomer;
    expect(body.data.exotel.customers.nodes).toEqual([
      { platformId: gateway.CustomerID, name: gateway.CustomerName, email: gateway.Email, platform: 'EXOTEL', createdAt: new Date(gateway.CreatedAt!).toISOString() },
    ]);
    const read = sim.requests('GET /customer').at(-1)!;
    expect(read.headers.authorization).toMatch(/^[A-Za-z0-9+/]+$/);
    expect(sim.requests('POST /token').at(-1)!.body).toEqual({ Id: gateway.CustomerID, Secret: gateway.CustomerSecret, Entity: 'customer' });
  });

  it('creates a customer, shows its secret once, then reads it with its own token', async () => {
    const created = await stack.graphql(
      `mutation($input: ExotelCreateCustomerInput!) { exotelCreateCustomer(input: $input) { customer { id platformId name email } customerSecret userErrors { field message code } } }`,
      { input: { name: 'Umbrella Voice', email: 'noc@umbrella.example.com' } },
    );
    const payload = created.body.data.exotelCreateCustomer;
    expect(payload.userErrors).toEqual([]);
    expect(payload.customer).toMatchObject({ name: 'Umbrella Voice', email: 'noc@umbrella.example.com' });
    const stored = sim.customers.get(payload.customer.platformId)!;
    expect(payload.customerSecret).toBe(stored.CustomerSecret);
    shownOnce.add(payload.customerSecret);

    const read = await stack.graphql(`query($id: ID!, $gid: ID!) {
      exotel { customer(platformId: $id) { platformId name } customers { nodes { platformId } } }
      node(id: $gid) { ... on ExotelCustomer { name } }
    }`, { id: stored.CustomerID, gid: payload.customer.id });
    expect(read.body.errors).toBeUndefined();
    expect(read.body.data.exotel.customer).toEqual({ platformId: stored.CustomerID, name: 'Umbrella Voice' });
    expect(read.body.data.exotel.customers.nodes.map((c: { platformId: string }) => c.platformId)).toEqual([sim.gatewayCustomer.CustomerID, stored.CustomerID]);
    expect(read.body.data.node).toEqual({ name: 'Umbrella Voice' });
    expect(sim.requests('POST /token').filter((r) => (r.body as { Id: string }).Id === stored.CustomerID)).toHaveLength(1);
  });

  it('answers null for a customer Switchboard holds no credential for, without asking Exotel', async () => {
    const other = [...sim.customers.values()][1]!;
    const before = sim.server.log.length;
    const { body } = await stack.graphql(`query($id: ID!) { exotel { customer(platformId: $id) { name } } }`, { id: other.CustomerID });
    expect(body.errors).toBeUndefined();
    expect(body.data.exotel.customer).toBeNull();
    expect(sim.server.log.length).toBe(before);
  });
});

describe('Exotel apps', () => {
  let appId: string;

  it('lists the gateway customer\'s apps with the customer token, without their secrets', async () => {
    const { body } = await stack.graphql(`{ exotel { apps(first: 10) { totalCount nodes { ${APP_FIELDS} } } } }`);
    expect(body.errors).toBeUndefined();
    const expected = sim.appsOf(sim.gatewayCustomer.CustomerID);
    expect(body.data.exotel.apps.totalCount).toBe(expected.length);
    expect(body.data.exotel.apps.nodes.map((a: { platformId: string; name: string }) => [a.platformId, a.name])).toEqual(expected.map((a) => [a.AppID, a.AppName]));
    expect(body.data.exotel.apps.nodes[0]).toMatchObject({ platform: 'EXOTEL', customerPlatformId: sim.gatewayCustomer.CustomerID, exotelDomain: 'mumbai' });
    expect(sim.requests('GET /app').at(-1)!.query).toBe('?entity=customer');
  });

  it('creates an app, returning AppSecret, ExotelApiKey and ExotelApiToken once in the payload', async () => {
    const input = {
      name: 'Support Line',
      exotelAccountSid: 'umbrella1',
      exotelApiKey: 'key-9f1c2e7a5b3d',
      exotelApiToken: 'token-77aa0c1e52bd',
      exotelDomain: 'singapore',
      isActive: true,
    };
    const { body } = await stack.graphql(
      `mutation($input: ExotelCreateAppInput!) { exotelCreateApp(input: $input) { app { ${APP_FIELDS} customer { platformId } } appSecret exotelApiKey exotelApiToken userErrors { field message code } } }`,
      { input },
    );
    const payload = body.data.exotelCreateApp;
    expect(payload.userErrors).toEqual([]);
    expect(payload.app).toMatchObject({ name: 'Support Line', exotelAccountSid: 'umbrella1', exotelDomain: 'singapore', isActive: true, platform: 'EXOTEL' });
    expect(payload.app.customer).toEqual({ platformId: sim.gatewayCustomer.CustomerID });
    appId = payload.app.platformId;
    expect(payload.appSecret).toBe(sim.apps.get(appId)!.record.AppSecret);
    expect([payload.exotelApiKey, payload.exotelApiToken]).toEqual([input.exotelApiKey, input.exotelApiToken]);
    expect(sim.requests('POST /app').at(-1)!.body).toEqual({
      AppName: 'Support Line',
      ExotelAccountSid: 'umbrella1',
      ExotelApiKey: input.exotelApiKey,
      ExotelApiToken: input.exotelApiToken,
      ExotelDomain: 'singapore',
      IsActive: true,
    });
    for (const secret of [payload.appSecret, input.exotelApiKey, input.exotelApiToken]) shownOnce.add(secret);
  });

  it('reads one app with its own app token (GET /app?entity=app)', async () => {
    sim.server.clearLog();
    const { body } = await stack.graphql(`query($id: ID!) { exotel { app(platformId: $id) { platformId name } } }`, { id: appId });
    expect(body.errors).toBeUndefined();
    expect(body.data.exotel.app).toEqual({ platformId: appId, name: 'Support Line' });
    expect(sim.requests('POST /token').map((r) => r.body)).toEqual([{ Id: appId, Secret: sim.apps.get(appId)!.record.AppSecret, Entity: 'app' }]);
    expect(sim.requests('GET /app').map((r) => r.query)).toEqual(['?entity=app']);
  });

  it('finds apps through node(id) and the unified apps field', async () => {
    const { body } = await stack.graphql(`query($gid: ID!) {
      node(id: $gid) { __typename ... on ExotelApp { platformId } }
      apps(platforms: [EXOTEL], first: 50) { nodes { __typename id platformId platform name } }
    }`, { gid: Buffer.from(`ExotelApp:${appId}`).toString('base64url') });
    expect(body.errors).toBeUndefined();
    expect(body.data.node).toEqual({ __typename: 'ExotelApp', platformId: appId });
    const apps = body.data.apps.nodes;
    expect(apps.every((a: { __typename: string; platform: string }) => a.__typename === 'ExotelApp' && a.platform === 'EXOTEL')).toBe(true);
    expect(apps.map((a: { platformId: string }) => a.platformId)).toEqual(sim.appsOf(sim.gatewayCustomer.CustomerID).map((a) => a.AppID));
  });

  it('registers users (one array body), reads one, and pages through them', async () => {
    const users = [1, 2, 3].map((n) => ({
      appUserId: `crm-${n}`,
      appUsername: `Agent ${n}`,
      email: `agent${n}@umbrella.example.com`,
      exotelAccountSid: 'umbrella1',
      exotelUserName: `agent${n}`,
      ...(n === 2 ? {} : { agentNumber: `+91990000000${n}` }),
      virtualNumber: '01135124165',
    }));
    const registered = await stack.graphql(
      `mutation($input: ExotelRegisterUsersInput!) { exotelRegisterUsers(input: $input) { users { id platformId appPlatformId appUsername agentNumber sipId } userErrors { field message code } } }`,
      { input: { appPlatformId: appId, users } },
    );
    const payload = registered.body.data.exotelRegisterUsers;
    expect(payload.userErrors).toEqual([]);
    expect(payload.users.map((u: { platformId: string; agentNumber: string | null }) => [u.platformId, u.agentNumber])).toEqual([
      ['crm-1', '+919900000001'],
      ['crm-2', null],
      ['crm-3', '+919900000003'],
    ]);
    const body = sim.requests('POST /usermapping').at(-1)!.body as Record<string, unknown>[];
    expect(Array.isArray(body)).toBe(true);
    expect(body[1]).toEqual({ AppUserId: 'crm-2', AppUsername: 'Agent 2', Email: 'agent2@umbrella.example.com', ExotelAccountSid: 'umbrella1', ExotelUserName: 'agent2', VirtualNumber: '01135124165' });

    const one = await stack.graphql(`query($app: ID!, $gid: ID!) {
      exotel { user(appPlatformId: $app, appUserId: "crm-2") { platformId email app { name } } missing: user(appPlatformId: $app, appUserId: "nobody") { platformId } }
      node(id: $gid) { ... on ExotelUser { appUsername } }
    }`, { app: appId, gid: payload.users[2].id });
    expect(one.body.errors).toBeUndefined();
    expect(one.body.data.exotel.user).toEqual({ platformId: 'crm-2', email: 'agent2@umbrella.example.com', app: { name: 'Support Line' } });
    expect(one.body.data.exotel.missing).toBeNull();
    expect(one.body.data.node).toEqual({ appUsername: 'Agent 3' });
    expect(sim.requests('GET /usermapping').at(-1)!.query).toBe('?user_id=crm-3');

    const page = await stack.graphql(`query($id: ID!) { exotel { app(platformId: $id) { users(first: 2) { nodes { platformId } pageInfo { hasNextPage endCursor } } } } }`, { id: appId });
    expect(page.body.data.exotel.app.users.nodes).toEqual([{ platformId: 'crm-1' }, { platformId: 'crm-2' }]);
    expect(page.body.data.exotel.app.users.pageInfo.hasNextPage).toBe(true);
    const rest = await stack.graphql(`query($id: ID!, $after: String) { exotel { app(platformId: $id) { users(first: 2, after: $after) { nodes { platformId } pageInfo { hasNextPage hasPreviousPage } } } } }`, {
      id: appId,
      after: page.body.data.exotel.app.users.pageInfo.endCursor,
    });
    expect(rest.body.data.exotel.app.users).toEqual({ nodes: [{ platformId: 'crm-3' }], pageInfo: { hasNextPage: false, hasPreviousPage: true } });
  });

  it('deletes an app with its app token; it is gone, and a second delete says why it cannot', async () => {
    const mutation = `mutation($id: ID!) { exotelDeleteApp(input: { platformId: $id }) { deletedId userErrors { field message code } } }`;
    const deleted = await stack.graphql(mutation, { id: appId });
    expect(deleted.body.data.exotelDeleteApp).toEqual({ deletedId: Buffer.from(`ExotelApp:${appId}`).toString('base64url'), userErrors: [] });
    expect(sim.apps.has(appId)).toBe(false);
    expect(sim.requests('DELETE /app')).toHaveLength(1);

    const read = await stack.graphql(`query($id: ID!) { exotel { app(platformId: $id) { name } } }`, { id: appId });
    expect(read.body.errors).toBeUndefined();
    expect(read.body.data.exotel.app).toBeNull();

    const again = await stack.graphql(mutation, { id: appId });
    expect(again.body.data.exotelDeleteApp.deletedId).toBeNull();
    expect(again.body.data.exotelDeleteApp.userErrors).toEqual([
      { field: null, code: 'FORBIDDEN', message: expect.stringContaining(`holds no AppSecret for Exotel app ${appId}`) },
    ]);
  });
});

describe('Exotel users over keyset paging', () => {
  it('walks a seeded app\'s 45 users in pages of 20, 20 and 5: one GET /usermapping each, in Exotel\'s order', async () => {
    const app = sim.appsOf(sim.gatewayCustomer.CustomerID)[0]!;
    sim.server.clearLog();
    const seen: string[] = [];
    const pages: number[] = [];
    let after: string | null = null;
    for (let guard = 0; guard < 5; guard++) {
      const res: GraphQLResponse = await stack.graphql(
        `query($id: ID!, $after: String) { exotel { app(platformId: $id) { users(first: 20, after: $after) { edges { cursor node { platformId createdAt } } pageInfo { hasNextPage endCursor } } } } }`,
        { id: app.AppID, after },
      );
      expect(res.body.errors).toBeUndefined();
      const users = res.body.data.exotel.app.users;
      pages.push(users.edges.length);
      seen.push(...users.edges.map((e: { node: { platformId: string } }) => e.node.platformId));
      // Exotel's Go zero time means "no date", not the year 1.
      expect(users.edges.every((e: { node: { createdAt: string | null } }) => e.node.createdAt === null)).toBe(true);
      if (!users.pageInfo.hasNextPage) break;
      after = users.pageInfo.endCursor;
    }
    expect(pages).toEqual([20, 20, 5]);
    expect(seen).toEqual(Array.from({ length: 45 }, (_, i) => String(i + 1)));
    expect(sim.requests('GET /usermapping').map((r) => new URLSearchParams(r.query).get('page_size'))).toEqual(['20', '20', '20']);
    expect(sim.requests('GET /usermapping').map((r) => new URLSearchParams(r.query).get('last_value'))).toEqual(['0', '20', '40']);
  });

  it('resumes after a cursor from the middle of a page', async () => {
    const app = sim.appsOf(sim.gatewayCustomer.CustomerID)[0]!;
    const query = `query($id: ID!, $after: String) { exotel { app(platformId: $id) { users(first: 10, after: $after) { edges { cursor node { platformId } } } } } }`;
    const first = await stack.graphql(query, { id: app.AppID, after: null });
    const fourth = first.body.data.exotel.app.users.edges[3].cursor;
    const next = await stack.graphql(query, { id: app.AppID, after: fourth });
    expect(next.body.data.exotel.app.users.edges.map((e: { node: { platformId: string } }) => e.node.platformId)).toEqual(['5', '6', '7', '8', '9', '10', '11', '12', '13', '14']);
  });
});

describe('Exotel apps Switchboard holds no secret for', () => {
  it('still shows the app from the customer list; its users fail with FORBIDDEN saying what to configure', async () => {
    const id = sim.appWithoutGatewaySecret;
    const { body } = await stack.graphql(`query($id: ID!) { exotel { app(platformId: $id) { platformId users(first: 1) { nodes { platformId } } } } }`, { id });
    expect(body.data.exotel.app).toEqual({ platformId: id, users: null });
    expect(body.errors).toEqual([
      expect.objectContaining({
        path: ['exotel', 'app', 'users'],
        message: expect.stringContaining('EXOTEL_APP_SECRETS'),
        extensions: expect.objectContaining({ code: 'FORBIDDEN', platform: 'exotel' }),
      }),
    ]);
  });
});

describe('Exotel secrets', () => {
  it('no query can ask for a secret', async () => {
    for (const [type, field] of [
      ['ExotelApp', 'appSecret'],
      ['ExotelApp', 'exotelApiKey'],
      ['ExotelApp', 'exotelApiToken'],
      ['ExotelCustomer', 'customerSecret'],
      ['ExotelUser', 'sipSecret'],
    ]) {
      const { body } = await stack.graphql(`{ __type(name: "${type}") { fields { name } } }`);
      expect(body.data.__type.fields.map((f: { name: string }) => f.name)).not.toContain(field);
    }
  });

  it('every response of this file: a secret returned by a create payload appears there once, every other secret nowhere', async () => {
    // Read everything once more, so the walk covers lists, nodes and users after the creations.
    const apps = await stack.graphql(`{ apps { nodes { id name } } customers { nodes { id name } } exotel { customers { nodes { name } } apps { nodes { users(first: 50) { nodes { sipId email } } } } } }`);
    expect(apps.body.data.apps.nodes.length).toBeGreaterThan(0);
    expect(shownOnce.size).toBe(4);
    const checked = expectSecretsShownAtMostAtCreation(stack, sim, shownOnce);
    // 3 customers + 1 created; 8 seeded apps + 1 created (3 secrets each); 8 × 45 + 3 users; the tokens.
    expect(checked).toBeGreaterThan(4 + 9 * 3 + 8 * 45 + 3);
  });

  it('the gateway\'s log, at trace level, holds none of them', async () => {
    await new Promise((resolve) => setImmediate(resolve));
    expect(logText).toContain('upstream request'); // the log really was captured
    const logged = [...exotelSecrets(sim)].filter(([value]) => logText.includes(value)).map(([, what]) => what);
    expect(logged).toEqual([]);
  });
});
