import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { describe, expect, it, beforeAll } from 'vitest';
import { serverAudits } from 'graphql-http';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { loadConfig } from '../src/config.js';
import { ConfigError } from '../src/core/env.js';
import { startStack, type Stack } from './utils/harness.js';

describe('the gateway over HTTP', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });

  it('passes every MUST of the GraphQL-over-HTTP audit (graphql-http serverAudits)', async () => {
    const audits = serverAudits({ url: stack.gateway.graphqlUrl });
    const results = await Promise.all(audits.map((audit) => audit.fn()));
    const failedMusts = results.filter((r) => r.name.startsWith('MUST') && r.status !== 'ok').map((r) => `${r.name}: ${r.status === 'ok' ? '' : r.reason}`);
    expect(failedMusts).toEqual([]);
    expect(results.filter((r) => r.name.startsWith('MUST')).length).toBeGreaterThan(10);
  });

  it('answers a malformed query with 400 and GRAPHQL_PARSE_FAILED', async () => {
    const res = await stack.graphql('{ cloudlx { customers { ');
    expect(res.status).toBe(400);
    expect(res.body.errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(res.body.errors[0].message).toMatch(/Syntax Error/);
  });

  it('answers an unknown field with GRAPHQL_VALIDATION_FAILED naming it', async () => {
    const res = await stack.graphql('{ cloudlx { customerz { totalCount } } }');
    expect(res.status).toBe(400);
    expect(res.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(res.body.errors[0].message).toContain('customerz');
  });

  it('answers a body that is not JSON with 400 saying so', async () => {
    const res = await fetch(stack.gateway.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as any;
    expect(body.errors[0].message).toMatch(/^Expected a JSON request body/);
  });

  it('refuses a body over the size limit with 413', async () => {
    const res = await fetch(stack.gateway.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ platforms { title } }`, variables: { pad: 'x'.repeat(2 * 1024 * 1024) } }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
    // The gateway is still serving.
    expect((await stack.graphql('{ platforms { title } }')).status).toBe(200);
  });

  it('answers 413 to a body declared over the limit without waiting for it, and to a chunked one once it passes the limit', async () => {
    // 50 MB declared (or streamed without a length), a few bytes sent: the answer comes before the rest would.
    for (const declared of [true, false]) {
      const answer = await new Promise<{ status: number; connection?: string; body: string }>((resolve, reject) => {
        const req = httpRequest(stack.gateway.graphqlUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(declared ? { 'content-length': String(50_000_000) } : {}) },
        });
        req.on('response', (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, body }));
        });
        req.on('error', reject);
        req.write(`{"query":"{ __typename }","variables":{"pad":"${'x'.repeat(declared ? 1000 : 1_100_000)}`);
      });
      expect(answer.status, declared ? 'declared' : 'chunked').toBe(413);
      expect(answer.connection).toBe('close');
      expect(JSON.parse(answer.body).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
    }
    expect((await stack.graphql('{ platforms { title } }')).status).toBe(200);
  });

  it('answers a bad global id with BAD_USER_INPUT', async () => {
    const res = await stack.graphql('{ node(id: "!!not-an-id") { id } }');
    expect(res.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(res.body.errors[0].message).toContain('"!!not-an-id"');
  });

  it('nodes(ids) nulls only the entries it cannot read, each with its own error', async () => {
    const list = await stack.graphql('{ cloudlx { customers(first: 2) { nodes { id name } } } }');
    const [a, b] = list.body.data.cloudlx.customers.nodes;
    const res = await stack.graphql('query($ids: [ID!]!) { nodes(ids: $ids) { id ... on CloudLXCustomer { name } } }', { ids: [a.id, 'garbage!!', b.id] });
    expect(res.body.data.nodes).toEqual([a, null, b]);
    expect(res.body.errors).toHaveLength(1);
    expect(res.body.errors[0]).toMatchObject({ path: ['nodes', 1], extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('refuses "." and ".." as ids instead of letting them reach another upstream path', async () => {
    const sim = stack.sim('cloudlx');
    sim.server.clearLog();
    const res = await stack.graphql('{ cloudlx { apiClient(platformId: "..") { name } webhook(platformId: ".") { url } } }');
    expect(res.body.data.cloudlx).toEqual({ apiClient: null, webhook: null });
    expect(res.body.errors.map((e: any) => e.extensions.code)).toEqual(['BAD_USER_INPUT', 'BAD_USER_INPUT']);
    expect(res.body.errors[0].message).toBe('Expected an identifier, got "..": "." and ".." are not ids on cloudlx');
    expect(sim.server.requests().filter((r) => r.route !== 'POST /api/oauth2/access-token')).toEqual([]);
  });

  it('serves GET queries as well as POST', async () => {
    const url = `${stack.gateway.graphqlUrl}?query=${encodeURIComponent('{ platforms { platform } }')}`;
    const res = await fetch(url, { headers: { accept: 'application/json', 'apollo-require-preflight': 'true' } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).data.platforms).toContainEqual({ platform: 'CLOUDLX' });
  });

  it('serves the IDE page and every asset it loads from the gateway itself', async () => {
    const page = await fetch(stack.gateway.graphqlUrl, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/ide\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBe(5);
    for (const asset of assets) {
      const res = await fetch(`${stack.gateway.url}${asset}`);
      expect(res.status, asset).toBe(200);
      expect((await res.arrayBuffer()).byteLength, asset).toBeGreaterThan(1000);
    }
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)[a-z]/i);
  });

  it('answers health, readiness and metrics', async () => {
    expect(await (await fetch(`${stack.gateway.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${stack.gateway.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as any).ready).toBe(true);
    await stack.graphql('{ cloudlx { realms { name } } }');
    const metrics = await (await fetch(`${stack.gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/switchboard_upstream_request_duration_seconds_count\{platform="cloudlx",route="GET \/api\/realms",status="200"\} \d+/);
  });

  it('runs operations over graphql-ws on the same path', async () => {
    const client = createClient({ url: stack.gateway.websocketUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
    try {
      const result = await new Promise<any>((resolve, reject) => {
        let value: unknown;
        client.subscribe(
          { query: '{ cloudlx { customers(first: 2) { nodes { name } } } }' },
          { next: (v) => (value = v), error: reject, complete: () => resolve(value) },
        );
      });
      const sim = stack.sim('cloudlx');
      expect(result.data.cloudlx.customers.nodes.map((n: any) => n.name)).toEqual([...sim.customers.values()].slice(0, 2).map((c) => c.name));
    } finally {
      await client.dispose();
    }
  });

  it('formats errors over graphql-ws the same way as over HTTP', async () => {
    const sim = stack.sim('cloudlx');
    sim.server.inject('GET /api/services', { status: 500, times: 2 });
    const client = createClient({ url: stack.gateway.websocketUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
    try {
      const result = await new Promise<any>((resolve, reject) => {
        let value: unknown;
        client.subscribe({ query: '{ cloudlx { services { totalCount } } }' }, { next: (v) => (value = v), error: reject, complete: () => resolve(value) });
      });
      expect(result.data.cloudlx.services).toBeNull();
      expect(result.errors[0]).toMatchObject({ path: ['cloudlx', 'services'], extensions: { code: 'UPSTREAM_UNAVAILABLE', platform: 'cloudlx' } });
    } finally {
      sim.server.clearFaults();
      await client.dispose();
    }
  });
});

describe('configuration', () => {
  it('names the variable, what was expected and what came', () => {
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(ConfigError);
    try {
      loadConfig({ PORT: 'abc', UPSTREAM_RETRIES: '9', CLOUDLX_BASE_URL: 'ftp://nope' });
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toContain('PORT: expected a whole number from 0 to 65535; got "abc"');
      expect(message).toContain('UPSTREAM_RETRIES: expected a whole number from 0 to 5; got "9"');
      expect(message).toContain('CLOUDLX_BASE_URL: expected an http(s) URL');
    }
  });

  it('never echoes a secret it refuses', () => {
    try {
      loadConfig({ CLOUDLX_BASE_URL: 'https://cloudlx.example.com', CLOUDLX_CLIENT_ID: 'id', CLOUDLX_CLIENT_SECRET: '   ' });
      expect.unreachable();
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toContain('CLOUDLX_CLIENT_SECRET');
      expect(message).toContain('not shown: it is a secret');
    }
  });

  it('exits non-zero at start with the message when a setting is wrong', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], {
      env: { ...process.env, PORT: 'eighty', LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(78);
    expect(stderr).toContain('PORT: expected a whole number from 0 to 65535; got "eighty"');
  });
});
