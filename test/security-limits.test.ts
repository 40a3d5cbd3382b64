import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ManualClock } from '../src/core/clock.js';
import { startStack, type Stack } from './utils/harness.js';
import { overWebSocket, writeClientsFile, type ClientsFixture } from './utils/security.js';

/**
 * What one operation may ask, checked before any resolver runs, over HTTP and
 * WebSocket alike: each limit with its own code and a message naming the limit
 * and what was found. Then what it may spend while it runs: its budget of
 * upstream calls and its deadline. The defaults are the product's, except the
 * call budget, lowered to 20 so a test query can pass it quickly.
 */
let stack: Stack;
let clients: ClientsFixture;

beforeAll(async () => {
  clients = writeClientsFile([{ name: 'app', scopes: ['cloudlx:read', 'ixc:read', 'exotel:read', 'cloudcix:read'] }]);
  stack = await startStack({ env: { SWITCHBOARD_CLIENTS_FILE: clients.path, UPSTREAM_CALLS_PER_OPERATION: '20' } });
});
afterAll(() => clients.remove());

const auth = () => clients.auth('app');

/** `levels` more levels of realms and their sub-realms under `cloudlx { customers { nodes { subRealms … } } }`: depth 5 + levels. */
function deepQuery(levels: number): string {
  const fields = Array.from({ length: levels }, (_, i) => (i % 2 === 0 ? 'realm' : 'subRealms'));
  const inner = fields.reduceRight((selection, field) => `${field} { ${selection} }`, 'name');
  return `{ cloudlx { customers(first: 1) { nodes { subRealms { ${inner} } } } } }`;
}

const LIMITS: { name: string; query: string; code: string; message: RegExp; limit: number; found?: number }[] = [
  { name: 'depth', query: deepQuery(10), code: 'QUERY_TOO_DEEP', message: /^This operation nests 15 levels deep; the limit is 12 \(MAX_QUERY_DEPTH\)\.$/, limit: 12, found: 15 },
  {
    name: 'aliases',
    query: `{ cloudlx { ${Array.from({ length: 51 }, (_, i) => `r${i}: realms { name }`).join(' ')} } }`,
    code: 'TOO_MANY_ALIASES',
    message: /^This operation uses 51 aliases; the limit is 50 \(MAX_ALIASES\)\./,
    limit: 50,
    found: 51,
  },
  {
    name: 'root fields',
    query: `{ ${Array.from({ length: 21 }, () => 'platforms { title }').join(' ')} }`,
    code: 'TOO_MANY_ROOT_FIELDS',
    message: /^This operation has 21 root fields; the limit is 20 \(MAX_ROOT_FIELDS\)\./,
    limit: 20,
    found: 21,
  },
  {
    name: 'directives',
    query: `{ platforms { ${Array.from({ length: 21 }, () => 'title @include(if: true)').join(' ')} } }`,
    code: 'TOO_MANY_DIRECTIVES',
    message: /^This operation uses 21 directives; the limit is 20 \(MAX_DIRECTIVES\)\.$/,
    limit: 20,
    found: 21,
  },
  {
    name: 'tokens',
    query: `{ platforms { ${Array.from({ length: 3000 }, () => 'title').join(' ')} } }`,
    code: 'TOO_MANY_TOKENS',
    message: /^This document has more than 3000 tokens; the limit is 3000 \(MAX_TOKENS\)\.$/,
    limit: 3000,
  },
  {
    name: 'document length',
    query: `# ${'x'.repeat(40_000)}\n{ platforms { title } }`,
    code: 'DOCUMENT_TOO_LARGE',
    message: /^This document is 40026 characters long; the limit is 32768 \(MAX_DOCUMENT_LENGTH\)\.$/,
    limit: 32768,
    found: 40026,
  },
  {
    name: 'cost',
    query: '{ ixc { a: devices(first: 500) { nodes { parameters(prefix: "a") { name } } } b: devices(first: 500) { nodes { parameters(prefix: "b") { name } } } } }',
    code: 'QUERY_TOO_COSTLY',
    message: /^This operation could make about 1002 upstream calls .*the limit is 1000 \(MAX_QUERY_COST\)\./,
    limit: 1000,
    found: 1002,
  },
];

describe('operation limits, before any resolver runs', () => {
  for (const limit of LIMITS) {
    it(`${limit.name}: ${limit.code} over HTTP and WebSocket, and nothing reaches a platform`, async () => {
      const ixc = stack.sim('ixc');
      const cloudlx = stack.sim('cloudlx');
      ixc.server.clearLog();
      cloudlx.server.clearLog();
      const http = await stack.graphql(limit.query, undefined, auth());
      expect(http.status).toBe(400);
      expect(http.body.data).toBeUndefined();
      expect(http.body.errors).toHaveLength(1);
      expect(http.body.errors[0].message).toMatch(limit.message);
      expect(http.body.errors[0].extensions).toEqual({ code: limit.code, limit: limit.limit, ...(limit.found === undefined ? {} : { found: limit.found }) });
      const ws = await overWebSocket(stack.gateway.websocketUrl, auth(), limit.query);
      expect(ws.closed).toBeUndefined();
      expect(ws.result?.errors).toHaveLength(1);
      expect(ws.result?.errors?.[0].message).toMatch(limit.message);
      expect(ws.result?.errors?.[0].extensions.code).toBe(limit.code);
      expect(ixc.server.log).toEqual([]);
      expect(cloudlx.server.log).toEqual([]);
    });
  }

  it('the deepest useful queries and a 45-alias dashboard pass the defaults', async () => {
    const useful = [
      deepQuery(7), // 12 levels, the limit
      '{ cloudcix { membership { addresses(first: 100) { edges { node { name country { englishName subdivisions(first: 5) { edges { node { id } } } } } } } } } }',
      `{ ixc { ${Array.from({ length: 45 }, (_, i) => `d${i}: devices(first: 1, serialNumber: "${i}") { totalCount }`).join(' ')} } }`,
      '{ cloudlx { customers(first: 500) { totalCount nodes { name realms { name } subRealms { name realm { name } } } } } }',
    ];
    for (const query of useful) {
      const res = await stack.graphql(query, undefined, auth());
      expect(res.status).toBe(200);
      // Limits only: this stack's call budget is lowered to 20, which the larger ones meet while they run.
      expect((res.body.errors ?? []).filter((e: any) => e.extensions.code !== 'UPSTREAM_BUDGET_EXCEEDED')).toEqual([]);
    }
  });

  it('cost: a page size given by a variable counts at its value', async () => {
    const query = 'query($n: Int) { ixc { a: devices(first: $n) { nodes { parameters(prefix: "a") { name } } } b: devices(first: $n) { nodes { parameters(prefix: "b") { name } } } } }';
    const small = await stack.graphql(query, { n: 3 }, auth());
    expect(small.status).toBe(200);
    expect(small.body.data.ixc.a.nodes).toHaveLength(3);
    const large = await stack.graphql(query, { n: 501 }, auth());
    expect(large.status).toBe(400);
    expect(large.body.errors[0].extensions).toEqual({ code: 'QUERY_TOO_COSTLY', limit: 1000, found: 1004 });
  });

  it('request body size: 413 PAYLOAD_TOO_LARGE over HTTP; the WebSocket closes with 1009', async () => {
    const pad = 'x'.repeat(1_100_000);
    const http = await stack.graphql('{ platforms { title } }', { pad }, auth());
    expect(http.status).toBe(413);
    expect(http.body.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
    const socket = new WebSocket(stack.gateway.websocketUrl, 'graphql-transport-ws');
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init', payload: auth() }));
    await new Promise((resolve) => socket.once('message', resolve));
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ platforms { title } }', variables: { pad } } }));
    expect(await closed).toBe(1009);
    // The gateway still serves.
    expect((await stack.graphql('{ platforms { title } }', undefined, auth())).status).toBe(200);
  });
});

describe('what an operation may spend while it runs', () => {
  it('a budget of upstream calls: fields past it fail with UPSTREAM_BUDGET_EXCEEDED, saying the budget; the rest answer', async () => {
    const ixc = stack.sim('ixc');
    ixc.server.clearLog();
    // Each device's Wi-Fi is one IXC call (no batch read): 30 devices make 31 calls, past the budget of 20.
    const res = await stack.graphql('{ ixc { devices(first: 30) { nodes { serialNumber wifiNetworks { ssid } } } } }', undefined, auth());
    expect(res.status).toBe(200);
    const nodes = res.body.data.ixc.devices.nodes;
    expect(nodes).toHaveLength(30);
    const failed = res.body.errors.filter((e: any) => e.extensions.code === 'UPSTREAM_BUDGET_EXCEEDED');
    expect(failed.length).toBe(30 - 19);
    expect(res.body.errors).toHaveLength(failed.length);
    expect(failed[0].extensions).toEqual({ code: 'UPSTREAM_BUDGET_EXCEEDED', platform: 'ixc', budget: 20 });
    expect(failed[0].message).toMatch(/used up its budget of upstream calls.*\(the budget is 20 calls per operation: UPSTREAM_CALLS_PER_OPERATION\)$/);
    expect(nodes.filter((n: any) => n.wifiNetworks !== null)).toHaveLength(19);
    // What reached IXC is the budget, not the 31 calls the query asked for.
    expect(ixc.server.log.filter((r) => r.route !== 'POST /api/v1/auth/token')).toHaveLength(20);
  });

  it('a deadline for the whole operation: a hanging platform is cut at OPERATION_DEADLINE_MS (the gateway\'s clock)', async () => {
    const clock = new ManualClock(Date.now());
    const stack = await startStack({ env: { SWITCHBOARD_CLIENTS_FILE: clients.path, OPERATION_DEADLINE_MS: '5000' }, clock });
    const cloudlx = stack.sim('cloudlx');
    cloudlx.server.inject('GET /api/realms', { delayMs: 60_000, times: 1 });
    try {
      const pending = stack.graphql('{ cloudlx { realms { name } } platforms { title } }', undefined, auth());
      // Let the call reach the simulator, then move the gateway's clock past the operation's deadline.
      for (let i = 0; i < 50 && cloudlx.server.requests('GET /api/realms').length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      await clock.advance(5_001);
      const res = await pending;
      expect(res.body.data.cloudlx.realms).toBeNull();
      expect(res.body.data.platforms).toHaveLength(4);
      expect(res.body.errors[0].extensions).toMatchObject({ code: 'UPSTREAM_TIMEOUT', platform: 'cloudlx' });
      expect(res.body.errors[0].message).toMatch(/before the operation's deadline/);
    } finally {
      cloudlx.server.clearFaults();
      await stack.close();
    }
  });
});
