import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { toGlobalId } from '../src/core/graphql/ids.js';
import { IXC_SIM_API_CLIENT_ID, type IxcSimulator } from '../src/platforms/ixc/simulator.js';
import { startStack, type Stack } from './utils/harness.js';

/**
 * IXC ACS API clients and their webhooks through the real gateway and simulator:
 * CRUD with every field of seed 001, IXC in the unified `apiClients` and
 * `webhooks`, one platform down beside the others, and the per-client
 * permissions (403) and rate limits per minute and per day (429, Retry-After).
 */

const PUBLIC_KEY = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE7IoSje2KCaVGfrJiJLiwUVodtwkn
MdGYsI+OGpZVZrBlXruY7ZGDFzhOvDdF77Z3fWEOro6Xgw8XseOM4GcnOg==
-----END PUBLIC KEY-----
`;
const FIELDS = `id platformId platform name type publicKey tokenExpirationSeconds requestsPerMinute requestsPerDay blocked permissions createdAt
  webhook { id platformId url active events invalidCertificateAllowed apiClient { platformId } }`;
const CREATE = `mutation($input: IxcCreateApiClientInput!) { ixcCreateApiClient(input: $input) { apiClient { ${FIELDS} } userErrors { field message code } } }`;
const UPDATE = `mutation($input: IxcUpdateApiClientInput!) { ixcUpdateApiClient(input: $input) { apiClient { ${FIELDS} } userErrors { field message code } } }`;
const DELETE = 'mutation($id: ID!) { ixcDeleteApiClient(input: { platformId: $id }) { deletedId userErrors { field message code } } }';

let stack: Stack;
let sim: IxcSimulator;
beforeAll(async () => {
  // The simulator's rate-limit windows are counted at a fixed time mid-minute, so no test request lands on either side of a window's edge.
  const midMinute = Date.UTC(2026, 11, 2, 12, 0, 30);
  stack = await startStack({ simulators: { ixc: { rateLimitNow: () => midMinute } } });
  sim = stack.sim('ixc');
});
afterAll(() => stack.close());

describe('IXC ACS API clients', () => {
  it('lists the seeded clients with every field of seed 001', async () => {
    const res = await stack.graphql(`{ ixc { apiClients { totalCount nodes { ${FIELDS} } } } }`);
    expect(res.body.errors).toBeUndefined();
    const provider = res.body.data.ixc.apiClients.nodes.find((a: { type: string }) => a.type === 'IXC_PROVIDER');
    expect(provider).toEqual({
      id: toGlobalId('IxcApiClient', '9a3b5c7d-1e2f-4a6b-8c9d-0e1f2a3b4c5d'),
      platformId: '9a3b5c7d-1e2f-4a6b-8c9d-0e1f2a3b4c5d',
      platform: 'IXC',
      name: 'Integration IXC Provider',
      type: 'IXC_PROVIDER',
      publicKey: PUBLIC_KEY,
      tokenExpirationSeconds: 86400,
      requestsPerMinute: 120,
      requestsPerDay: 100000,
      blocked: false,
      permissions: ['devices.read', 'devices.write', 'devices.reboot', 'devices.diagnostics'],
      createdAt: '2025-06-01T12:00:00.000Z',
      webhook: {
        id: toGlobalId('IxcWebhook', '9a3b5c7d-1e2f-4a6b-8c9d-0e1f2a3b4c5d'),
        platformId: '9a3b5c7d-1e2f-4a6b-8c9d-0e1f2a3b4c5d',
        url: 'http://provedor.example.com.br/api-module/acs/webhook',
        active: true,
        events: ['DEVICE_REBOOTED', 'DEVICE_RESET', 'DEVICE_PARAMETERS_CHANGED', 'DIAGNOSTIC_FINISHED', 'OPERATION_TIMEOUT'],
        invalidCertificateAllowed: true,
        apiClient: { platformId: '9a3b5c7d-1e2f-4a6b-8c9d-0e1f2a3b4c5d' },
      },
    });
    expect(res.body.data.ixc.apiClients.nodes).toHaveLength(sim.apiClients.size);
    expect(res.body.data.ixc.apiClients.totalCount).toBe(sim.apiClients.size);
  });

  it('creates, reads, updates and deletes an API client', async () => {
    const created = await stack.graphql(CREATE, {
      input: {
        name: 'NOC dashboard',
        type: 'GENERIC',
        publicKey: PUBLIC_KEY,
        tokenExpirationSeconds: 7200,
        requestsPerMinute: 30,
        requestsPerDay: 5000,
        webhookActive: true,
        webhookUri: 'https://noc.example.com/ixc',
        invalidCertificateAllowed: false,
        webhookEvents: ['DEVICE_ADDED', 'OPERATION_TIMEOUT'],
        permissions: ['devices.read'],
      },
    });
    const apiClient = created.body.data.ixcCreateApiClient.apiClient;
    expect(created.body.data.ixcCreateApiClient.userErrors).toEqual([]);
    expect(apiClient).toMatchObject({
      name: 'NOC dashboard',
      type: 'GENERIC',
      tokenExpirationSeconds: 7200,
      requestsPerMinute: 30,
      requestsPerDay: 5000,
      blocked: false,
      permissions: ['devices.read'],
      webhook: { url: 'https://noc.example.com/ixc', active: true, events: ['DEVICE_ADDED', 'OPERATION_TIMEOUT'], invalidCertificateAllowed: false },
    });
    expect(sim.server.requests('POST /api/v1/api-clients')[0]!.body).toEqual({
      name: 'NOC dashboard',
      type: 'generic',
      publicKey: PUBLIC_KEY,
      tokenExpiration: 7200,
      requestsPerMinute: 30,
      requestsPerDay: 5000,
      webhookActive: true,
      webhookUri: 'https://noc.example.com/ixc',
      invalidCertificateAllowed: false,
      webhookEvents: ['device.added', 'operation.timeout'],
      permissions: ['devices.read'],
    });
    const id = apiClient.platformId;

    const read = await stack.graphql('query($id: ID!, $gid: ID!) { ixc { apiClient(platformId: $id) { name } } node(id: $gid) { ... on IxcApiClient { name } } }', {
      id,
      gid: apiClient.id,
    });
    expect(read.body.data).toEqual({ ixc: { apiClient: { name: 'NOC dashboard' } }, node: { name: 'NOC dashboard' } });

    const updated = await stack.graphql(UPDATE, { input: { platformId: id, name: 'NOC wallboard', blocked: true, webhookUri: null, webhookActive: false } });
    expect(updated.body.data.ixcUpdateApiClient).toMatchObject({ apiClient: { name: 'NOC wallboard', blocked: true, webhook: null, requestsPerMinute: 30 }, userErrors: [] });
    // Left out stays; null clears.
    expect(sim.server.requests('PATCH /api/v1/api-clients/:id')[0]!.body).toEqual({ name: 'NOC wallboard', blocked: true, webhookUri: null, webhookActive: false });

    const deleted = await stack.graphql(DELETE, { id });
    expect(deleted.body.data.ixcDeleteApiClient).toEqual({ deletedId: apiClient.id, userErrors: [] });
    const gone = await stack.graphql('query($id: ID!) { ixc { apiClient(platformId: $id) { name } } }', { id });
    expect(gone.body.data.ixc.apiClient).toBeNull();
    const again = await stack.graphql(DELETE, { id });
    expect(again.body.data.ixcDeleteApiClient).toEqual({ deletedId: null, userErrors: [{ field: null, message: `API client ${id} not found.`, code: 'NOT_FOUND' }] });
  });

  it('refuses a token expiration over 86,400 s and an IXC Provider client without public key, on the input fields', async () => {
    const res = await stack.graphql(CREATE, { input: { name: 'Too long', tokenExpirationSeconds: 86401 } });
    expect(res.body.data.ixcCreateApiClient).toEqual({
      apiClient: null,
      userErrors: [{ field: ['input', 'tokenExpirationSeconds'], message: 'Expected a whole number from 60 to 86400; got 86401.', code: 'BAD_USER_INPUT' }],
    });
    const provider = await stack.graphql(CREATE, { input: { name: 'Provider', type: 'IXC_PROVIDER' } });
    expect(provider.body.data.ixcCreateApiClient.userErrors).toEqual([
      { field: ['input', 'publicKey'], message: 'The public key generated in IXC Provider is required for an IXC Provider client.', code: 'BAD_USER_INPUT' },
    ]);
    const active = await stack.graphql(CREATE, { input: { name: 'Hook', webhookActive: true } });
    expect(active.body.data.ixcCreateApiClient.userErrors).toEqual([
      { field: ['input', 'webhookUri'], message: 'The webhook URI is required when the webhook is active.', code: 'BAD_USER_INPUT' },
    ]);
  });

  it('refuses a private key offered as the public key, and never echoes it', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const privatePem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const res = await stack.graphql(CREATE, { input: { name: 'Oops', publicKey: privatePem } });
    expect(res.body.data.ixcCreateApiClient.userErrors).toEqual([
      { field: ['input', 'publicKey'], message: expect.stringMatching(/^Expected a public key; this is a private key/), code: 'BAD_USER_INPUT' },
    ]);
    const body = privatePem.split('\n')[1]!;
    expect(stack.responses.some((r) => r.includes(body))).toBe(false);
  });
});

describe('IXC in the unified fields', () => {
  afterEach(() => {
    sim.server.clearFaults();
    stack.sim('cloudlx').server.clearFaults();
  });

  it('apiClients and webhooks answer for CloudLX and IXC together', async () => {
    const res = await stack.graphql(`{
      apiClients(first: 100) { nodes { __typename platform name } }
      webhooks(first: 100) { nodes { __typename platform url active ... on IxcWebhook { events } } }
      ixcOnly: apiClients(platforms: [IXC]) { totalCount }
    }`);
    expect(res.body.errors).toBeUndefined();
    const types = new Set(res.body.data.apiClients.nodes.map((n: { __typename: string }) => n.__typename));
    expect([...types]).toEqual(expect.arrayContaining(['CloudLXApiClient', 'IxcApiClient']));
    expect(res.body.data.ixcOnly.totalCount).toBe(sim.apiClients.size);
    const ixcHooks = res.body.data.webhooks.nodes.filter((n: { platform: string }) => n.platform === 'IXC');
    expect(ixcHooks).toContainEqual({ __typename: 'IxcWebhook', platform: 'IXC', url: 'https://erp.example.com/hooks/ixc-acs', active: true, events: ['DEVICE_ADDED', 'DEVICE_REMOVED'] });
    expect(res.body.data.webhooks.nodes.some((n: { __typename: string }) => n.__typename === 'CloudLXWebhook')).toBe(true);
  });

  it('IXC down: an error with its path and extensions.platform, the others still answer', async () => {
    sim.server.inject('*', { status: 503 });
    const res = await stack.graphql('{ apiClients(first: 100) { nodes { __typename } } webhooks(first: 100) { nodes { __typename } } }');
    expect(res.body.errors).toEqual([
      expect.objectContaining({ path: ['apiClients'], extensions: expect.objectContaining({ code: 'UPSTREAM_UNAVAILABLE', platform: 'ixc' }) }),
      expect.objectContaining({ path: ['webhooks'], extensions: expect.objectContaining({ code: 'UPSTREAM_UNAVAILABLE', platform: 'ixc' }) }),
    ]);
    expect(res.body.data.apiClients.nodes.some((n: { __typename: string }) => n.__typename === 'CloudLXApiClient')).toBe(true);
    expect(res.body.data.apiClients.nodes.some((n: { __typename: string }) => n.__typename === 'IxcApiClient')).toBe(false);
  });

  it('CloudLX down: IXC still answers', async () => {
    stack.sim('cloudlx').server.inject('*', { status: 503 });
    const res = await stack.graphql('{ apiClients(first: 100) { nodes { __typename } } }');
    expect(res.body.errors).toEqual([expect.objectContaining({ path: ['apiClients'], extensions: expect.objectContaining({ platform: 'cloudlx' }) })]);
    expect(res.body.data.apiClients.nodes.some((n: { __typename: string }) => n.__typename === 'IxcApiClient')).toBe(true);
  });
});

describe('IXC permissions and rate limits', () => {
  const gatewayClient = () => sim.apiClients.get(IXC_SIM_API_CLIENT_ID)!;
  const oneDevice = () => stack.graphql('query($s: String!) { ixc { device(serialNumber: $s) { serialNumber } } }', { s: [...sim.devices.keys()][0] });
  let saved: { permissions: string[]; requestsPerMinute: number; requestsPerDay: number };

  beforeAll(() => {
    const c = gatewayClient();
    saved = { permissions: [...c.permissions], requestsPerMinute: c.requestsPerMinute, requestsPerDay: c.requestsPerDay };
  });
  afterEach(() => {
    Object.assign(gatewayClient(), structuredClone(saved));
    sim.resetRateLimits();
  });

  it('a permission the API client lacks: 403, a FORBIDDEN userError naming it', async () => {
    const without = saved.permissions.filter((p) => p !== 'devices.reboot');
    const update = await stack.graphql(UPDATE, { input: { platformId: IXC_SIM_API_CLIENT_ID, permissions: without } });
    expect(update.body.data.ixcUpdateApiClient.apiClient.permissions).toEqual(without);
    const res = await stack.graphql('mutation($s: String!) { ixcRebootDevice(input: { serialNumber: $s }) { operation { protocol } userErrors { field message code } } }', {
      s: [...sim.devices.keys()][0],
    });
    expect(res.body.data.ixcRebootDevice).toEqual({
      operation: null,
      userErrors: [{ field: null, message: `API client ${IXC_SIM_API_CLIENT_ID} lacks the permission devices.reboot.`, code: 'FORBIDDEN' }],
    });
  });

  it('requests per minute: the next one is 429 with Retry-After, a RATE_LIMITED error with extensions.retryAfter', async () => {
    const update = await stack.graphql(UPDATE, { input: { platformId: IXC_SIM_API_CLIENT_ID, requestsPerMinute: 3 } });
    expect(update.body.data.ixcUpdateApiClient.apiClient.requestsPerMinute).toBe(3);
    sim.resetRateLimits();
    for (let i = 0; i < 3; i++) expect((await oneDevice()).body.errors).toBeUndefined();
    const limited = await oneDevice();
    expect(limited.body.errors).toEqual([
      expect.objectContaining({
        path: ['ixc', 'device'],
        // IXC's own text stays in the gateway's log; the client reads the gateway's words (issue 9).
        message: 'IXC ACS is over its rate limit; retry after the time in extensions.retryAfter (HTTP 429, RATE_LIMITED).',
        extensions: expect.objectContaining({ code: 'RATE_LIMITED', platform: 'ixc', upstreamStatus: 429, retryAfter: expect.any(Number) }),
      }),
    ]);
    const retryAfter = limited.body.errors![0]!.extensions!.retryAfter as number;
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const refused = sim.server.requests().filter((r) => r.status === 429);
    expect(refused).toHaveLength(1);
  });

  it('requests per day: 429 with a Retry-After up to the end of the UTC day', async () => {
    Object.assign(gatewayClient(), { requestsPerDay: 2 });
    sim.resetRateLimits();
    for (let i = 0; i < 2; i++) expect((await oneDevice()).body.errors).toBeUndefined();
    const limited = await oneDevice();
    const error = limited.body.errors![0]!;
    expect(error).toMatchObject({ message: 'IXC ACS is over its rate limit; retry after the time in extensions.retryAfter (HTTP 429, RATE_LIMITED).', extensions: { code: 'RATE_LIMITED', platform: 'ixc' } });
    expect(error.extensions!.retryAfter).toBeGreaterThanOrEqual(1);
    expect(error.extensions!.retryAfter).toBeLessThanOrEqual(86_400);
  });
});
