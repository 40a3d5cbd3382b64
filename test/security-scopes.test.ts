import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getIntrospectionQuery } from 'graphql';
import { toGlobalId } from '../src/core/graphql/ids.js';
import { startStack, type Stack } from './utils/harness.js';
import { overWebSocket, writeClientsFile, type ClientsFixture } from './utils/security.js';

/**
 * What each client may ask: scopes per platform and kind, `admin` for the
 * mutations that mint credentials or change the gateway's standing, introspection
 * and suggestions in production, the audit trail, and diagnostics for admins.
 * One gateway in production mode (NODE_ENV=production) with three clients.
 */
let stack: Stack;
let clients: ClientsFixture;
const logLines: Record<string, any>[] = [];

beforeAll(async () => {
  clients = writeClientsFile([
    { name: 'reader', scopes: ['cloudlx:read', 'ixc:read'] },
    { name: 'feed', scopes: ['events:subscribe'] },
    { name: 'feedCloudLX', scopes: ['events:subscribe', 'cloudlx:read'] },
    { name: 'writer', scopes: ['cloudlx:read', 'cloudlx:write', 'ixc:read', 'ixc:write', 'exotel:read', 'exotel:write'] },
    { name: 'ops', scopes: ['cloudlx:read', 'cloudlx:write', 'ixc:read', 'ixc:write', 'exotel:read', 'exotel:write', 'cloudcix:read', 'admin', 'introspect', 'events:subscribe'] },
  ]);
  const logs = new PassThrough();
  let pending = '';
  logs.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) if (line.trim()) logLines.push(JSON.parse(line));
  });
  stack = await startStack({ env: { SWITCHBOARD_CLIENTS_FILE: clients.path, NODE_ENV: 'production', LOG_LEVEL: 'info' }, logDestination: logs });
});
afterAll(() => clients.remove());

const as = (name: string) => clients.auth(name);

describe('scopes', () => {
  it('a field outside the caller\'s scopes is FORBIDDEN on that field alone; its siblings answer and the platform is not called', async () => {
    const exotel = stack.sim('exotel');
    exotel.server.clearLog();
    const res = await stack.graphql('{ cloudlx { realms { name } } exotel { apps { totalCount } customers { totalCount } } platforms { title } }', undefined, as('reader'));
    expect(res.status).toBe(200);
    expect(res.body.data.cloudlx.realms.length).toBeGreaterThan(0);
    expect(res.body.data.platforms).toHaveLength(4);
    expect(res.body.data.exotel).toEqual({ apps: null, customers: null });
    expect(res.body.errors.map((e: any) => [e.path.join('.'), e.extensions.code, e.extensions.platform])).toEqual([
      ['exotel.apps', 'FORBIDDEN', 'exotel'],
      ['exotel.customers', 'FORBIDDEN', 'exotel'],
    ]);
    expect(res.body.errors[0].message).toBe('Reading Exotel (apps) needs the scope exotel:read; client "reader" (scopes: cloudlx:read, ixc:read) lacks it. Ask the gateway\'s operator to add it to the client.');
    expect(exotel.server.log).toEqual([]);
  });

  it('a field of a nested namespace (cloudcix { membership { … } }) is checked too', async () => {
    const res = await stack.graphql('{ cloudcix { membership { currencies(first: 1) { totalCount } } } ixc { devices(first: 1) { nodes { serialNumber } } } }', undefined, as('writer'));
    expect(res.body.data.cloudcix.membership.currencies).toBeNull();
    expect(res.body.data.ixc.devices.nodes).toHaveLength(1);
    expect(res.body.errors).toEqual([expect.objectContaining({ path: ['cloudcix', 'membership', 'currencies'], extensions: { code: 'FORBIDDEN', platform: 'cloudcix' } })]);
  });

  it('a unified field leaves out only the platforms the caller lacks, with one FORBIDDEN each', async () => {
    const res = await stack.graphql('{ customers(first: 500) { nodes { platform } } }', undefined, as('reader'));
    expect(new Set(res.body.data.customers.nodes.map((n: any) => n.platform))).toEqual(new Set(['CLOUDLX']));
    expect(res.body.errors.map((e: any) => [e.path.join('.'), e.extensions.code, e.extensions.platform]).sort()).toEqual([
      ['customers', 'FORBIDDEN', 'cloudcix'],
      ['customers', 'FORBIDDEN', 'exotel'],
    ]);
    const narrowed = await stack.graphql('{ customers(platforms: [CLOUDLX], first: 5) { nodes { platform } } }', undefined, as('reader'));
    expect(narrowed.body.errors).toBeUndefined();
    expect(narrowed.body.data.customers.nodes).toHaveLength(5);
  });

  it('node and nodes refuse the ids of a platform the caller may not read, one entry at a time', async () => {
    const exotel = stack.sim('exotel');
    const appId = toGlobalId('ExotelApp', exotel.apps.keys().next().value!);
    const cloudlx = await stack.graphql('{ cloudlx { customers(first: 1) { nodes { id name } } } }', undefined, as('reader'));
    const customer = cloudlx.body.data.cloudlx.customers.nodes[0];
    const one = await stack.graphql('query($id: ID!) { node(id: $id) { id } }', { id: appId }, as('reader'));
    expect(one.body.data.node).toBeNull();
    expect(one.body.errors).toEqual([expect.objectContaining({ path: ['node'], extensions: { code: 'FORBIDDEN', platform: 'exotel' } })]);
    const many = await stack.graphql('query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Customer { name } } }', { ids: [customer.id, appId] }, as('reader'));
    expect(many.body.data.nodes).toEqual([{ id: customer.id, name: customer.name }, null]);
    expect(many.body.errors).toEqual([expect.objectContaining({ path: ['nodes', 1], extensions: { code: 'FORBIDDEN', platform: 'exotel' } })]);
  });

  it('a mutation needs <platform>:write; one without it runs nothing', async () => {
    const cloudlx = stack.sim('cloudlx');
    cloudlx.server.clearLog();
    const res = await stack.graphql('mutation { cloudlxUpdateCustomer(input: { platformId: "1", name: "Renamed" }) { customer { name } } }', undefined, as('reader'));
    expect(res.status).toBe(403);
    expect(res.body.data).toBeUndefined();
    expect(res.body.errors).toEqual([
      {
        message: 'The mutation cloudlxUpdateCustomer needs the scope cloudlx:write; client "reader" (scopes: cloudlx:read, ixc:read) lacks it. Nothing in this operation ran.',
        extensions: { code: 'FORBIDDEN', field: 'cloudlxUpdateCustomer', requiredScopes: ['cloudlx:write'] },
      },
    ]);
    expect(cloudlx.server.log).toEqual([]);
  });

  it('the mutations that mint credentials or change the gateway\'s standing need admin on top of write', async () => {
    const ixc = stack.sim('ixc');
    const target = [...ixc.apiClients.values()].find((c) => c.id !== ixc.apiClientId)!;
    ixc.server.clearLog();
    const block = `mutation { ixcUpdateApiClient(input: { platformId: "${target.id}", blocked: true, permissions: ["devices.reboot"] }) { apiClient { name } userErrors { message } } }`;
    const refused = await stack.graphql(block, undefined, as('writer'));
    expect(refused.status).toBe(403);
    expect(refused.body.errors[0]).toMatchObject({ extensions: { code: 'FORBIDDEN', field: 'ixcUpdateApiClient', requiredScopes: ['ixc:write', 'admin'] } });
    expect(refused.body.errors[0].message).toMatch(/^The mutation ixcUpdateApiClient needs the scope admin; client "writer"/);
    expect(ixc.server.log).toEqual([]);
    expect(target.blocked).toBe(false);

    for (const mutation of [
      'mutation { cloudlxCreateApiClient(input: { name: "mine" }) { clientSecret } }',
      'mutation { cloudlxCreateWebhook(input: { url: "https://attacker.example/hook" }) { webhook { url } } }',
      'mutation { exotelCreateCustomer(input: { name: "x", email: "x@example.com" }) { customerSecret } }',
    ]) {
      const res = await stack.graphql(mutation, undefined, as('writer'));
      expect(res.status).toBe(403);
      expect(res.body.errors[0].extensions.requiredScopes).toContain('admin');
    }

    // A mutation that is only a platform write runs with write alone…
    const serial = ixc.devices.keys().next().value!;
    const reboot = await stack.graphql(`mutation { ixcRebootDevice(input: { serialNumber: "${serial}" }) { operation { protocol } userErrors { message } } }`, undefined, as('writer'));
    expect(reboot.body.errors).toBeUndefined();
    expect(reboot.body.data.ixcRebootDevice.operation.protocol).toEqual(expect.any(String));
    // …and the admin one runs for a client with admin.
    const allowed = await stack.graphql(block.replace('blocked: true', 'blocked: false'), undefined, as('ops'));
    expect(allowed.body.errors).toBeUndefined();
    expect(allowed.body.data.ixcUpdateApiClient.apiClient.name).toBe(target.name);
  });
});

describe('subscriptions', () => {
  it('need events:subscribe: refused before they start over WebSocket and SSE; a client with it subscribes', async () => {
    const refused = await overWebSocket(stack.gateway.websocketUrl, as('writer'), 'subscription { events { id } }');
    expect(refused.result?.errors).toEqual([
      expect.objectContaining({ extensions: { code: 'FORBIDDEN', field: 'events', requiredScopes: ['events:subscribe'] } }),
    ]);
    const sse = await fetch(stack.gateway.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...as('writer') },
      body: JSON.stringify({ query: 'subscription { events { id } }' }),
    });
    expect(await sse.text()).toContain('"code":"FORBIDDEN"');
    // Query.events (the same log, as history) needs the same scope; it cannot be null, so it is refused whole.
    const history = await stack.graphql('{ events(first: 1) { edges { cursor } } }', undefined, as('writer'));
    expect(history.status).toBe(403);
    expect(history.body.errors[0].extensions).toEqual({ code: 'FORBIDDEN', field: 'events', requiredScopes: ['events:subscribe'] });
    expect((await stack.graphql('{ events(first: 1) { edges { cursor } } }', undefined, as('ops'))).status).toBe(200);
    const deadLetters = await stack.graphql('{ deadLetters(first: 1) { edges { cursor } } }', undefined, as('writer'));
    expect(deadLetters.body.errors[0].extensions.requiredScopes).toEqual(['admin']);
  });
});

describe('the event feed', () => {
  it("holds only the platforms the caller may read: an IXC event is not shown to a client without ixc:read", async () => {
    // A device no other test of this file acts on (a device runs one action at a time).
    const serial = [...stack.sim('ixc').devices.values()].filter((d) => d.record.online).at(-1)!.record.serialNumber;
    const reboot = await stack.graphql(
      'mutation ($serial: String!) { ixcRebootDevice(input: { serialNumber: $serial }) { operation { protocol } userErrors { message } } }',
      { serial },
      as('writer'),
    );
    expect(reboot.body.data.ixcRebootDevice.userErrors, JSON.stringify(reboot.body)).toEqual([]);
    const protocol = reboot.body.data.ixcRebootDevice.operation.protocol as string;
    expect(stack.sim('ixc').completeOperation(protocol)).toBe(true);
    const ixcEvents = '{ events(first: 50, filter: { platforms: [IXC] }) { edges { node { type subject } } } }';
    // The simulator's signed webhook reaches the log on its own schedule: wait for the event itself, as a client with ixc:read sees it.
    let seen: { type: string; subject: string }[] = [];
    for (let attempt = 0; attempt < 2_000 && !seen.some((e) => e.subject === serial); attempt++) {
      seen = (await stack.graphql(ixcEvents, undefined, as('ops'))).body.data.events.edges.map((e: { node: unknown }) => e.node);
    }
    expect(seen).toContainEqual({ type: 'ixc.device.rebooted', subject: serial });

    // 'reader' may read CloudLX and IXC but not subscribe: 'feed' may subscribe and read no platform at all.
    const nothing = await stack.graphql('{ events(first: 50) { edges { node { platform type subject } } } }', undefined, as('feed'));
    expect(nothing.body.errors[0]).toMatchObject({ message: expect.stringContaining('needs the read scope of at least one platform'), extensions: { code: 'FORBIDDEN' } });
    const cloudlxOnly = await stack.graphql('{ events(first: 50) { edges { node { platform type subject } } } }', undefined, as('feedCloudLX'));
    expect(cloudlxOnly.body.errors).toBeUndefined();
    expect(cloudlxOnly.body.data.events.edges.filter((e: { node: { platform: string } }) => e.node.platform !== 'CLOUDLX')).toEqual([]);
    const named = await stack.graphql(ixcEvents, undefined, as('feed'));
    expect(named.body.errors[0]).toMatchObject({ message: 'Reading IXC ACS events needs the scope ixc:read', extensions: { code: 'FORBIDDEN' } });

    const follow = await overWebSocket(stack.gateway.websocketUrl, as('feed'), 'subscription ($protocol: ID!) { operation(protocol: $protocol) { status } }', { protocol });
    expect(follow.result?.errors?.[0]).toMatchObject({ message: 'Following a IXC ACS operation needs the scope ixc:read', extensions: { code: 'FORBIDDEN' } });
  });
});

describe('production mode', () => {
  it('introspection needs the introspect scope, over HTTP and WebSocket', async () => {
    const refused = await stack.graphql('{ __schema { queryType { name } } }', undefined, as('reader'));
    expect(refused.status).toBe(403);
    expect(refused.body.errors).toEqual([
      {
        message: 'Introspection (__schema, __type) needs the scope introspect; client "reader" (scopes: cloudlx:read, ixc:read) lacks it. The schema is also printed by `npm run schema`.',
        extensions: { code: 'INTROSPECTION_DISABLED' },
      },
    ]);
    const ws = await overWebSocket(stack.gateway.websocketUrl, as('reader'), '{ __type(name: "Query") { name } }');
    expect(ws.result?.errors?.[0].extensions.code).toBe('INTROSPECTION_DISABLED');
    const allowed = await stack.graphql(getIntrospectionQuery(), undefined, as('ops'));
    expect(allowed.status).toBe(200);
    expect(allowed.body.data.__schema.types.length).toBeGreaterThan(900);
    // __typename is not introspection.
    expect((await stack.graphql('{ __typename }', undefined, as('reader'))).body.data).toEqual({ __typename: 'Query' });
  });

  it('refuses batched HTTP requests (ALLOW_BATCHED_REQUESTS is off)', async () => {
    const res = await fetch(stack.gateway.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...as('reader') },
      body: JSON.stringify([{ query: '{ platforms { title } }' }, { query: '{ platforms { title } }' }]),
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/batching/i);
  });

  it('gives no "Did you mean" suggestions, over HTTP and WebSocket', async () => {
    const http = await stack.graphql('{ cloudlx { realmz { name } } }', undefined, as('reader'));
    expect(http.status).toBe(400);
    expect(http.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(http.body.errors[0].message).toBe('Cannot query field "realmz" on type "CloudLXQuery".');
    const ws = await overWebSocket(stack.gateway.websocketUrl, as('reader'), '{ cloudlx { realmz { name } } }');
    expect(ws.result?.errors?.[0].message).toBe('Cannot query field "realmz" on type "CloudLXQuery".');
    const variables = await stack.graphql('query($p: [Platform!]) { customers(platforms: $p) { totalCount } }', { p: ['CLOUDLZ'] }, as('reader'));
    expect(variables.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(variables.body.errors[0].message).not.toMatch(/Did you mean/);
  });

  it('a bad variable never echoes a write-only value (exotelCreateApp\'s API key and token), over HTTP and WebSocket', async () => {
    const mutation = 'mutation($input: ExotelCreateAppInput!) { exotelCreateApp(input: $input) { app { name } } }';
    const missingName = { exotelAccountSid: 'sid1', exotelApiKey: 'KEY-7f3a9c-not-for-eyes', exotelApiToken: 'TOKEN-51b2e8-not-for-eyes', exotelDomain: 'mumbai', isActive: true };
    const http = await stack.graphql(mutation, { input: missingName }, as('writer'));
    expect(http.status).toBe(400);
    expect(http.body.errors).toEqual([
      expect.objectContaining({ message: 'Variable "$input" got an invalid value; Field "name" of required type "String!" was not provided.', extensions: { code: 'BAD_USER_INPUT' } }),
    ]);
    const wrongType = { ...missingName, name: 'app', exotelApiKey: 987654321 };
    const typed = await stack.graphql(mutation, { input: wrongType }, as('writer'));
    expect(typed.body.errors[0].message).toBe('Variable "$input" got an invalid value at "input.exotelApiKey" (not shown: it is write-only); expected a value of type String.');
    const ws = await overWebSocket(stack.gateway.websocketUrl, as('writer'), mutation, { input: missingName });
    expect(ws.result?.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    const everything = JSON.stringify([http.body, typed.body, ws.result]);
    for (const secret of ['KEY-7f3a9c-not-for-eyes', 'TOKEN-51b2e8-not-for-eyes', '987654321']) expect(everything).not.toContain(secret);
    // A value that is not write-only is still quoted, to say what came.
    const notSecret = await stack.graphql(mutation, { input: { ...missingName, name: 'app', isActive: 'yes' } }, as('writer'));
    expect(notSecret.body.errors[0].message).toBe('Variable "$input" got invalid value "yes" at "input.isActive"; Boolean cannot represent a non boolean value: "yes"');
  });
});

describe('the audit trail', () => {
  it('records every mutation (client, operation, field, redacted arguments, time, outcome) in the log and in the event log', async () => {
    const ixc = stack.sim('ixc');
    const serial = [...ixc.devices.keys()][1]!;
    const password = 'wifi-pass-9d2c4e1b';
    logLines.length = 0;
    const res = await stack.graphql(
      'mutation SetWifi($input: IxcUpdateWifiNetworkInput!) { ixcUpdateWifiNetwork(input: $input) { wifiNetwork { ssid } userErrors { message } } }',
      { input: { serialNumber: serial, networkId: '1', ssid: 'Office', password } },
      as('ops'),
    );
    expect(res.body.errors).toBeUndefined();
    const refused = await stack.graphql(`mutation Block { ixcDeleteApiClient(input: { platformId: "x" }) { deletedId } }`, undefined, as('writer'));
    expect(refused.status).toBe(403);

    const audits = logLines.filter((l) => l.audit).map((l) => l.audit);
    expect(audits).toEqual([
      {
        at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        client: 'ops',
        via: 'api-key',
        requestId: expect.any(String),
        transport: 'http',
        operationName: 'SetWifi',
        field: 'ixcUpdateWifiNetwork',
        arguments: { input: { serialNumber: serial, networkId: '1', ssid: 'Office', password: '[redacted]' } },
        outcome: 'ok',
      },
      expect.objectContaining({ client: 'writer', operationName: 'Block', field: 'ixcDeleteApiClient', outcome: 'refused', errorCode: 'FORBIDDEN' }),
    ]);
    expect(JSON.stringify(logLines)).not.toContain(password);

    const events = await stack.gateway.events.read({ limit: 1000, filter: { platforms: ['switchboard'] } });
    const recorded = events.filter((e) => e.type === 'switchboard.audit.mutation').map((e) => e.data);
    expect(recorded).toEqual(expect.arrayContaining([expect.objectContaining({ client: 'ops', field: 'ixcUpdateWifiNetwork', outcome: 'ok' }), expect.objectContaining({ client: 'writer', outcome: 'refused' })]));
    expect(JSON.stringify(events)).not.toContain(password);

    // Through the graph: platform SWITCHBOARD, for admins only.
    const audit = '{ events(first: 100, filter: { platforms: [SWITCHBOARD] }) { edges { node { platform type subject ... on GenericEvent { data } } } } }';
    const seen = (await stack.graphql(audit, undefined, as('ops'))).body.data.events.edges.map((e: any) => e.node);
    expect(seen).toEqual(expect.arrayContaining([{ platform: 'SWITCHBOARD', type: 'switchboard.audit.mutation', subject: 'ixcUpdateWifiNetwork', data: expect.objectContaining({ client: 'ops', outcome: 'ok' }) }]));
    expect(JSON.stringify(seen)).not.toContain(password);
    const notAdmin = await stack.graphql(audit, undefined, as('feedCloudLX'));
    expect(notAdmin.body.errors[0]).toMatchObject({ message: 'Reading Switchboard audit events needs the scope admin', extensions: { code: 'FORBIDDEN' } });
    // Without a filter, the feed of a client without admin holds no audit record.
    const feed = await stack.graphql('{ events(first: 100) { edges { node { platform } } } }', undefined, as('feedCloudLX'));
    expect(feed.body.data.events.edges.map((e: any) => e.node.platform)).not.toContain('SWITCHBOARD');
  });
});

describe('diagnostics', () => {
  it('/metrics needs a client with admin', async () => {
    const url = `${stack.gateway.url}/metrics`;
    expect((await fetch(url)).status).toBe(401);
    const reader = await fetch(url, { headers: as('reader') });
    expect(reader.status).toBe(403);
    expect(((await reader.json()) as any).errors[0].extensions.code).toBe('FORBIDDEN');
    const admin = await fetch(url, { headers: as('ops') });
    expect(admin.status).toBe(200);
    expect(await admin.text()).toContain('# TYPE');
  });

  it('/readyz shows an upstream\'s error message only to an admin', async () => {
    const cloudlx = stack.sim('cloudlx');
    cloudlx.server.inject('*', { status: 500, body: { message: 'db01.internal.cloudlx:5432 refused' } });
    try {
      const url = `${stack.gateway.url}/readyz`;
      const anyone = await fetch(url);
      expect(anyone.status).toBe(503);
      const text = await anyone.text();
      expect(JSON.parse(text).platforms.cloudlx).toEqual({ ok: false, simulated: true, error: { code: 'UPSTREAM_UNAVAILABLE', message: 'details are shown to clients with the admin scope' } });
      expect(text).not.toContain(cloudlx.url.replace('http://', ''));
      expect(text).not.toContain('db01');
      const admin = (await (await fetch(url, { headers: as('ops') })).json()) as any;
      expect(admin.platforms.cloudlx.error.message).toEqual(expect.any(String));
      expect(admin.platforms.cloudlx.error.message).not.toBe('details are shown to clients with the admin scope');
    } finally {
      cloudlx.server.clearFaults();
    }
  });

  it('an upstream\'s own error text is not relayed: the client gets the gateway\'s message, the code and the platform\'s request id', async () => {
    const cloudlx = stack.sim('cloudlx');
    cloudlx.server.inject('GET /api/realms', { status: 500, body: { message: 'PG::ConnectionBad at db01.internal.cloudlx:5432 (tenant 4411)' }, times: 2 });
    const res = await stack.graphql('{ cloudlx { realms { name } } }', undefined, as('reader'));
    expect(res.body.data.cloudlx.realms).toBeNull();
    expect(res.body.errors).toEqual([
      expect.objectContaining({
        message: 'CloudLX is unavailable; retry later (HTTP 500, UPSTREAM_UNAVAILABLE).',
        path: ['cloudlx', 'realms'],
        extensions: { code: 'UPSTREAM_UNAVAILABLE', platform: 'cloudlx', upstreamStatus: 500 },
      }),
    ]);
    expect(JSON.stringify(res.body)).not.toContain('db01');
    // The operator still has the platform's words, in the log.
    expect(logLines.some((l) => l.upstreamMessage?.includes('db01.internal.cloudlx'))).toBe(true);
    // Exotel's request id reaches the client for a support ticket.
    const exotel = stack.sim('exotel');
    const requestId = exotel.injectFailure('GET /app', { code: 500, error: 'panic: nil map in handler.go:88', times: 1 });
    const apps = await stack.graphql('{ exotel { apps { totalCount } } }', undefined, as('writer'));
    expect(apps.body.errors[0].message).toBe(`Exotel is unavailable; retry later (HTTP 500, UPSTREAM_UNAVAILABLE). Exotel's request id: ${requestId}.`);
    expect(JSON.stringify(apps.body)).not.toContain('handler.go');
  });
});
