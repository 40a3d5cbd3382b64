import { request as httpRequest } from 'node:http';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Redis } from 'ioredis';
import { ManualClock } from '../src/core/clock.js';
import { startStack, type Stack } from './utils/harness.js';
import { overSse, overWebSocket, writeClientsFile, type ClientsFixture } from './utils/security.js';

/**
 * What one caller may spend (requests per minute and per day, in memory and in
 * Redis shared by two gateways; a fair share of a platform's budget), and what a
 * browser may do (Host, Origin, CORS, CSRF).
 */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const QUERY = '{ platforms { title } }';

let clients: ClientsFixture;
beforeAll(() => {
  clients = writeClientsFile([
    { name: 'minute', scopes: ['cloudlx:read'], limits: { requestsPerMinute: 3, requestsPerDay: 1000 } },
    { name: 'daily', scopes: ['cloudlx:read'], limits: { requestsPerMinute: 100, requestsPerDay: 2 } },
    { name: 'shared', scopes: ['cloudlx:read'], limits: { requestsPerMinute: 4, requestsPerDay: 1000 } },
    { name: 'other', scopes: ['cloudlx:read'] },
    { name: 'flood', scopes: ['ixc:read'] },
    { name: 'dashboard', scopes: ['ixc:read'] },
  ]);
});
afterAll(() => clients.remove());

describe('requests per client per minute and per day', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { SWITCHBOARD_CLIENTS_FILE: clients.path } });
  });

  it('per minute: the request past the limit is 429 RATE_LIMITED with retryAfter and Retry-After; other clients are unaffected', async () => {
    for (let i = 0; i < 3; i++) expect((await stack.graphql(QUERY, undefined, clients.auth('minute'))).status).toBe(200);
    const res = await fetch(stack.gateway.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...clients.auth('minute') },
      body: JSON.stringify({ query: QUERY }),
    });
    expect(res.status).toBe(429);
    const body = (await res.json()) as any;
    expect(body.data).toBeUndefined();
    expect(body.errors).toHaveLength(1);
    const { retryAfter } = body.errors[0].extensions;
    expect(body.errors[0].extensions).toEqual({ code: 'RATE_LIMITED', retryAfter, limit: 3, window: 'minute' });
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(res.headers.get('retry-after')).toBe(String(retryAfter));
    expect(body.errors[0].message).toBe(`Client "minute" has used its 3 requests per minute; try again in ${retryAfter} s. The limits are set per client in the clients file.`);
    // The same client over WebSocket is refused too (the budget is per client, not per transport)…
    const ws = await overWebSocket(stack.gateway.websocketUrl, clients.auth('minute'), QUERY);
    expect(ws.result?.errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 3, window: 'minute' });
    // …and another client is not.
    expect((await stack.graphql(QUERY, undefined, clients.auth('other'))).status).toBe(200);
  });

  it('per day: the request past the daily limit is refused with a retryAfter of hours', async () => {
    for (let i = 0; i < 2; i++) expect((await stack.graphql(QUERY, undefined, clients.auth('daily'))).status).toBe(200);
    const res = await stack.graphql(QUERY, undefined, clients.auth('daily'));
    expect(res.status).toBe(429);
    expect(res.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 2, window: 'day' });
    expect(res.body.errors[0].extensions.retryAfter).toBeGreaterThan(86_000);
    expect(res.body.errors[0].message).toMatch(/^Client "daily" has used its 2 requests per day; try again in \d+ s\./);
  });

  it('two gateways on one Redis share one budget per client', async () => {
    const prefix = `switchboard-test-${randomBytes(6).toString('hex')}:`;
    const env = { SWITCHBOARD_CLIENTS_FILE: clients.path, REDIS_URL, REDIS_KEY_PREFIX: prefix };
    const a = await startStack({ env });
    const b = await startStack({ env });
    const redis = new Redis(REDIS_URL);
    try {
      const statuses: number[] = [];
      for (const gateway of [a, b, a, b]) statuses.push((await gateway.graphql(QUERY, undefined, clients.auth('shared'))).status);
      expect(statuses).toEqual([200, 200, 200, 200]);
      // The fifth request is over the shared budget of 4 per minute, whichever gateway it reaches.
      const fifth = await b.graphql(QUERY, undefined, clients.auth('shared'));
      expect(fifth.status).toBe(429);
      expect(fifth.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 4, window: 'minute' });
      expect((await a.graphql(QUERY, undefined, clients.auth('shared'))).status).toBe(429);
      expect(await redis.keys(`${prefix}ratelimit*`)).not.toEqual([]);
    } finally {
      await a.close();
      await b.close();
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    }
  });
});

describe('a fair share of a platform\'s budget', () => {
  it('a client sending 1,000-alias IXC queries in a loop does not make another client\'s IXC query fail or wait for the window', async () => {
    // IXC allows the gateway 60 requests per minute; each client may hold half. The gateway's clock stands still,
    // so nothing that needs the minute to roll over can finish: whatever completes, completed within the first window.
    const clock = new ManualClock(Date.now());
    const stack = await startStack({
      clock,
      env: {
        SWITCHBOARD_CLIENTS_FILE: clients.path,
        IXC_REQUESTS_PER_MINUTE: '60',
        // The flood gets past the per-operation limits (they would refuse it first), to reach the shared budget.
        MAX_ALIASES: '1000',
        MAX_TOKENS: '50000',
        MAX_DOCUMENT_LENGTH: '200000',
        MAX_QUERY_COST: '100000',
        UPSTREAM_CALLS_PER_OPERATION: '100000',
        OPERATION_DEADLINE_MS: '600000',
      },
    });
    const ixc = stack.sim('ixc');
    const serials = [...ixc.devices.keys()];
    const flood = `{ ixc { ${Array.from({ length: 1000 }, (_, i) => `d${i}: device(serialNumber: "${serials[i % serials.length]}-${i}") { serialNumber }`).join(' ')} } }`;
    let stop = false;
    const floodResults: any[] = [];
    const loop = async () => {
      while (!stop) floodResults.push((await stack.graphql(flood, undefined, clients.auth('flood'))).body);
    };
    const loops = [loop(), loop()];
    try {
      // The flood has taken its half of the window (its first call also fetched the gateway's IXC token).
      for (let i = 0; i < 300 && ixc.server.log.length < 30; i++) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 100));
      expect(ixc.server.log.length).toBe(30);

      const res = await stack.graphql(`{ ixc { device(serialNumber: "${serials[0]}") { serialNumber } } }`, undefined, clients.auth('dashboard'));
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data.ixc.device.serialNumber).toBe(serials[0]);
      // The flood never got more than its share: 30 of its calls, then the dashboard's one.
      expect(ixc.server.log.length).toBe(31);
      expect(ixc.server.log.at(-1)!.path).toBe(`/api/v1/devices/${serials[0]}`);

      // Its waiting calls give up after the wait bound (30 s on the gateway's clock), with RATE_LIMITED naming the share.
      stop = true;
      await clock.advance(30_001);
      await Promise.all(loops);
      const refused = floodResults.flatMap((body) => body.errors ?? []).filter((e: any) => e.extensions.code === 'RATE_LIMITED');
      expect(refused.length).toBeGreaterThan(900);
      expect(refused[0].message).toMatch(/^IXC ACS allows 60 requests per minute for all of this gateway's clients together, and client "flood" may use at most 30 of them/);
      expect(refused[0].extensions).toMatchObject({ code: 'RATE_LIMITED', platform: 'ixc', retryAfter: 60 });
    } finally {
      stop = true;
      await clock.advance(30_001);
      await Promise.allSettled(loops);
      await stack.close();
    }
  }, 60_000);
});

describe('browsers', () => {
  let stack: Stack;
  let port: number;
  beforeAll(async () => {
    stack = await startStack({ env: { SWITCHBOARD_CLIENTS_FILE: clients.path, ALLOWED_ORIGINS: 'https://ops.example.com' } });
    port = Number(new URL(stack.gateway.url).port);
  });

  /** A raw HTTP request, so the Host header is what the test says (as after DNS rebinding). */
  const raw = (path: string, headers: Record<string, string>, method = 'POST', body = JSON.stringify({ query: QUERY })) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, method, headers: { 'content-type': 'application/json', ...clients.auth('other'), ...headers } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
      });
      req.on('error', reject);
      req.end(method === 'GET' || method === 'OPTIONS' ? undefined : body);
    });

  /** Opens a WebSocket with the given headers; answers the handshake's HTTP status when refused, or 101. */
  const upgrade = (headers: Record<string, string>) =>
    new Promise<number>((resolve) => {
      const socket = new WebSocket(stack.gateway.websocketUrl, 'graphql-transport-ws', { headers });
      socket.once('open', () => {
        socket.close();
        resolve(101);
      });
      socket.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        socket.terminate();
      });
      socket.once('error', () => undefined);
    });

  it('a foreign Host is refused (DNS rebinding), on HTTP and WebSocket; the loopback names pass', async () => {
    const rebound = await raw('/graphql', { host: `rebind.attacker.example:${port}` });
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body).errors[0]).toEqual({
      message: 'This gateway does not answer to the host name in this request; expected one of localhost, 127.0.0.1, ::1, [::1]. If clients reach it under another name, add that name to ALLOWED_HOSTS.',
      extensions: { code: 'HOST_NOT_ALLOWED' },
    });
    expect((await raw('/readyz', { host: 'rebind.attacker.example' }, 'GET')).status).toBe(403);
    expect(await upgrade({ host: `rebind.attacker.example:${port}` })).toBe(403);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`]) expect((await raw('/graphql', { host })).status).toBe(200);
    // A load balancer's health check may use any name.
    expect((await raw('/healthz', { host: '10.0.0.7' }, 'GET')).status).toBe(200);
  });

  it('a foreign Origin is refused on WebSocket, SSE and HTTP; the gateway\'s own and the configured ones pass, with CORS for the configured', async () => {
    expect(await upgrade({ origin: 'https://evil.example' })).toBe(403);
    expect(await upgrade({ origin: `http://127.0.0.1:${port}` })).toBe(101);
    const sse = await overSse(stack.gateway.graphqlUrl, QUERY, { ...clients.auth('other'), origin: 'https://evil.example' });
    expect(sse.status).toBe(403);
    expect(JSON.parse(sse.text).errors[0].extensions.code).toBe('ORIGIN_NOT_ALLOWED');
    const ws = await overWebSocket(stack.gateway.websocketUrl, clients.auth('other'), QUERY, undefined, { origin: 'https://evil.example' });
    expect(ws.result).toBeUndefined();

    const foreign = await raw('/graphql', { origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body).errors[0]).toEqual({
      message: 'Requests from the web page at origin https://evil.example are not allowed; a page must be served by this gateway or its origin listed in ALLOWED_ORIGINS.',
      extensions: { code: 'ORIGIN_NOT_ALLOWED' },
    });
    const own = await raw('/graphql', { origin: `http://127.0.0.1:${port}` });
    expect(own.status).toBe(200);
    expect(own.headers['access-control-allow-origin']).toBeUndefined();
    const configured = await raw('/graphql', { origin: 'https://ops.example.com' });
    expect(configured.status).toBe(200);
    expect(configured.headers['access-control-allow-origin']).toBe('https://ops.example.com');

    const preflight = await raw('/graphql', { origin: 'https://ops.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' }, 'OPTIONS');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-headers']).toContain('authorization');
    expect((await raw('/graphql', { origin: 'https://evil.example', 'access-control-request-method': 'POST' }, 'OPTIONS')).status).toBe(403);
  });

  it('Apollo\'s CSRF prevention still holds: a "simple" cross-site request is refused even with a valid key', async () => {
    const simple = await raw('/graphql', { 'content-type': 'text/plain' });
    expect(simple.status).toBe(400);
    expect(simple.body).toMatch(/CSRF/);
  });
});
