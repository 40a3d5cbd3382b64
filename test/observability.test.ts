import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { loadConfig } from '../src/config.js';
import { ManualClock } from '../src/core/clock.js';
import { generateWebhookSecret, webhookHeaders } from '../src/core/events/signatures.js';
import type { LoggedRequest } from '../src/core/simulator/server.js';
import type { PlatformKey } from '../src/platforms/index.js';
import { startStack, type Stack } from './utils/harness.js';
import { writeClientsFile, type ClientsFixture } from './utils/security.js';

/**
 * What an operator sees of the gateway from the outside, on a real gateway and
 * the four simulators over HTTP, WebSocket and SSE: the Prometheus exposition
 * (parsed line by line, and moving with the traffic), the request id from the
 * client to the upstreams and the operation's log line, explain's list of
 * upstream calls against what the simulators logged, OpenTelemetry spans (an
 * in-memory exporter here; OTLP over HTTP in a child process), and no
 * configured credential anywhere in all of that.
 */

const WEBHOOK_SECRET = generateWebhookSecret();
const PLATFORMS: readonly PlatformKey[] = ['cloudlx', 'exotel', 'ixc', 'cloudcix'];

let stack: Stack;
let ws: Client;
let logText = '';
const exporter = new InMemorySpanExporter();

beforeAll(async () => {
  const logs = new PassThrough();
  logs.on('data', (chunk: Buffer) => (logText += chunk.toString()));
  stack = await startStack({
    // Trace level: every upstream call's debug line is in the log the secrets scan reads.
    env: { LOG_LEVEL: 'trace', IXC_WEBHOOK_SECRETS: WEBHOOK_SECRET },
    logDestination: logs,
    tracing: { spanProcessors: [new SimpleSpanProcessor(exporter)] },
  });
  ws = createClient({ url: stack.gateway.websocketUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
});

afterAll(async () => {
  await ws?.dispose();
});

// ---------------------------------------------------------------------------
// The Prometheus text format, read line by line as a scraper would.

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Exposition {
  samples: Sample[];
  /** Family name → its `# TYPE`. */
  types: Map<string, string>;
  help: Map<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

/** Parses the text exposition format (version 0.0.4); throws on the first line that is not in it. */
function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  text.split('\n').forEach((line, index) => {
    const fail = (why: string): never => {
      throw new Error(`line ${index + 1} of /metrics is not in the exposition format (${why}): ${JSON.stringify(line)}`);
    };
    if (line === '') return;
    if (line.startsWith('#')) {
      const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
      if (!meta) return fail('a comment that is neither HELP nor TYPE');
      if (meta[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(meta[3]!)) fail(`unknown type ${meta[3]}`);
        types.set(meta[2]!, meta[3]!);
      } else help.set(meta[2]!, meta[3]!);
      return;
    }
    const name = NAME.exec(line)?.[0] ?? fail('no metric name');
    let rest = line.slice(name.length);
    const labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      rest = rest.slice(1);
      while (!rest.startsWith('}')) {
        const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(rest) ?? fail('a malformed label');
        rest = rest.slice(label[0].length);
        let value = '';
        for (;;) {
          const c = rest[0] ?? fail('an unterminated label value');
          rest = rest.slice(1);
          if (c === '"') break;
          if (c === '\\') {
            const escaped = rest[0];
            rest = rest.slice(1);
            if (escaped === 'n') value += '\n';
            else if (escaped === '\\' || escaped === '"') value += escaped;
            else fail('an unknown escape in a label value');
          } else value += c;
        }
        labels[label[1]!] = value;
        if (rest.startsWith(',')) rest = rest.slice(1);
        else if (!rest.startsWith('}')) fail('labels not separated by commas');
      }
      rest = rest.slice(1);
    }
    const valueText = /^ (\S+)( -?\d+)?$/.exec(rest)?.[1] ?? fail('no value');
    // Prometheus reads values with Go's ParseFloat: NaN and Inf in any case (prom-client writes `Nan`).
    const special = /^([+-]?)(inf|nan)$/i.exec(valueText);
    const value = special ? (special[2]!.toLowerCase() === 'nan' ? Number.NaN : special[1] === '-' ? -Infinity : Infinity) : Number(valueText);
    if (!special && (valueText.trim() === '' || Number.isNaN(value))) fail(`a value that is not a number: ${valueText}`);
    samples.push({ name, labels, value });
  });
  // Every sample belongs to a family that was declared (a histogram's as _bucket, _sum and _count).
  for (const sample of samples) {
    const family = types.has(sample.name) ? sample.name : sample.name.replace(/_(bucket|sum|count)$/, '');
    if (!types.has(family)) throw new Error(`/metrics has a sample of ${sample.name} with no # TYPE line`);
  }
  return { samples, types, help };
}

async function scrape(): Promise<Exposition & { text: string }> {
  const res = await fetch(`${stack.gateway.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { ...parseExposition(text), text };
}

/** The sum of the samples of `name` whose labels include `labels`. */
function value(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  return exposition.samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

// ---------------------------------------------------------------------------
// Requests, and what the simulators saw of them.

interface Answer {
  status: number;
  requestId: string | null;
  body: { data?: any; errors?: any[]; extensions?: Record<string, any> };
}

async function post(query: string, headers: Record<string, string> = {}, variables?: Record<string, unknown>): Promise<Answer> {
  const res = await fetch(stack.gateway.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  stack.responses.push(text);
  return { status: res.status, requestId: res.headers.get('x-request-id'), body: JSON.parse(text) };
}

/** Every request the simulators logged with this request id, by platform. */
function upstreamSaw(requestId: string): Map<PlatformKey, LoggedRequest[]> {
  return new Map(PLATFORMS.map((key) => [key, stack.sim(key).server.log.filter((r) => r.headers['x-request-id'] === requestId)]));
}

/** The 'graphql operation' log lines (pino JSON) so far. */
function operationLines(): Record<string, any>[] {
  return logText
    .split('\n')
    .filter((line) => line.includes('"msg":"graphql operation"'))
    .map((line) => JSON.parse(line) as Record<string, any>);
}

/** Polls a condition the gateway settles asynchronously (a subscription ending on the server), a bounded number of times. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`never happened: ${what}`);
}

const ACROSS_PLATFORMS = `query Across {
  cloudlx { customers(first: 3) { nodes { name realms { name } } } }
  exotel { apps(first: 2) { nodes { name } } }
  ixc { devices(first: 2) { nodes { serialNumber } } }
  cloudcix { membership { addresses(first: 2) { nodes { name } } } }
}`;

// ---------------------------------------------------------------------------

describe('/metrics', () => {
  it('parses line by line and has every family an operator needs, process metrics included', async () => {
    const { types, help } = await scrape();
    const expected: Record<string, string> = {
      switchboard_graphql_requests_total: 'counter',
      switchboard_graphql_operation_duration_seconds: 'histogram',
      switchboard_upstream_request_duration_seconds: 'histogram',
      switchboard_upstream_retries_total: 'counter',
      switchboard_upstream_breakers_open: 'gauge',
      switchboard_upstream_throttle_queued: 'gauge',
      switchboard_upstream_throttle_wait_seconds: 'histogram',
      switchboard_loader_loads_total: 'counter',
      switchboard_loader_cache_hits_total: 'counter',
      switchboard_events_received_total: 'counter',
      switchboard_events_stored_total: 'counter',
      switchboard_events_deduplicated_total: 'counter',
      switchboard_events_delivered_total: 'counter',
      switchboard_subscriptions_active: 'gauge',
      process_cpu_user_seconds_total: 'counter',
      process_resident_memory_bytes: 'gauge',
      nodejs_eventloop_lag_seconds: 'gauge',
      nodejs_heap_size_used_bytes: 'gauge',
    };
    for (const [name, type] of Object.entries(expected)) {
      expect(types.get(name), name).toBe(type);
      expect(help.get(name), name).toBeTruthy();
    }
  });

  it('moves when a query runs over HTTP and over WebSocket: operations by name, transport and outcome; upstream requests by route and status', async () => {
    const sim = stack.sim('cloudlx');
    const query = 'query MetricsMove { cloudlx { customers(first: 3) { nodes { name } } } }';
    const before = await scrape();
    sim.server.clearLog();

    const http = await post(query);
    expect(http.body.errors).toBeUndefined();
    const overWs = await ws.iterate({ query }).next();
    expect(overWs.value?.errors).toBeUndefined();
    expect(overWs.value?.data).toEqual(http.body.data);

    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);
    for (const transport of ['http', 'ws']) {
      expect(delta('switchboard_graphql_operation_duration_seconds_count', { name: 'MetricsMove', operation: 'query', transport, outcome: 'ok' }), transport).toBe(1);
      expect(delta('switchboard_graphql_requests_total', { operation: 'query', transport, outcome: 'ok' }), transport).toBe(1);
    }
    // As many upstream requests in the histogram as the simulator received, each by its route template and status.
    const listed = sim.server.requests('GET /api/customers');
    expect(listed.length).toBe(2);
    expect(delta('switchboard_upstream_request_duration_seconds_count', { platform: 'cloudlx', route: 'GET /api/customers', status: '200' })).toBe(listed.length);
    expect(delta('switchboard_upstream_request_duration_seconds_count', { platform: 'cloudlx' })).toBe(sim.server.log.length);
  });

  it('counts DataLoader cache hits per platform and loader', async () => {
    const id = String([...stack.sim('cloudlx').customers.values()][0]!.id);
    const before = await scrape();
    // The same customer twice in one operation: one key loaded, the second an answer from the loader's cache.
    const res = await post('query Twice($id: ID!) { cloudlx { a: customer(platformId: $id) { name } b: customer(platformId: $id) { name } } }', {}, { id });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.cloudlx.a).toEqual(res.body.data.cloudlx.b);
    const after = await scrape();
    const labels = { platform: 'cloudlx', loader: 'customerById' };
    expect(value(after, 'switchboard_loader_loads_total', labels) - value(before, 'switchboard_loader_loads_total', labels)).toBe(2);
    expect(value(after, 'switchboard_loader_cache_hits_total', labels) - value(before, 'switchboard_loader_cache_hits_total', labels)).toBe(1);
  });

  it('observes the throttle of a platform that has one: each CloudCIX request waited its turn in the queue', async () => {
    const sim = stack.sim('cloudcix');
    const before = await scrape();
    sim.server.clearLog();
    const res = await post('{ cloudcix { membership { addresses(first: 2) { nodes { name } } countries(first: 2) { nodes { platformId } } } } }');
    expect(res.body.errors).toBeUndefined();
    const after = await scrape();
    // Logins and refreshes stay outside the throttle (client.ts); every other request took a slot.
    const throttled = sim.server.log.filter((r) => !r.route.includes('auth/login')).length;
    expect(throttled).toBeGreaterThan(0);
    expect(value(after, 'switchboard_upstream_throttle_wait_seconds_count', { platform: 'cloudcix' }) - value(before, 'switchboard_upstream_throttle_wait_seconds_count', { platform: 'cloudcix' })).toBe(
      throttled,
    );
    // The queue is empty again, and says so.
    expect(after.samples.find((s) => s.name === 'switchboard_upstream_throttle_queued' && s.labels.platform === 'cloudcix')?.value).toBe(0);
  });

  it('counts events received, stored, deduplicated and delivered, and the subscriptions running', async () => {
    const before = await scrape();
    const iterator = ws.iterate<{ events: { type: string; cursor: string } }>({
      query: 'subscription ($after: String) { events(platforms: [IXC], after: $after) { type cursor } }',
      variables: { after: await stack.gateway.events.head() },
    });
    const first = iterator.next();
    const body = JSON.stringify({ event: 'device.rebooted', protocol: randomUUID(), serialNumber: 'ZTEGA1B20000', status: 'success', occurredAt: '2026-01-15T12:00:00Z', data: {} });
    const headers = { 'content-type': 'application/json', ...webhookHeaders(WEBHOOK_SECRET, body) };
    // The same delivery twice, as a sender that did not see the first answer would: stored once.
    for (const expected of ['accepted', 'duplicate']) {
      const res = await fetch(`${stack.gateway.url}/webhooks/ixc`, { method: 'POST', headers, body });
      expect(((await res.json()) as { status: string }).status).toBe(expected);
    }
    const delivered = await first;
    expect(delivered.value?.data?.events.type).toBe('ixc.device.rebooted');

    const during = await scrape();
    const delta = (name: string, labels: Record<string, string>) => value(during, name, labels) - value(before, name, labels);
    expect(delta('switchboard_events_received_total', { platform: 'ixc' })).toBe(2);
    expect(delta('switchboard_events_stored_total', { platform: 'ixc' })).toBe(1);
    expect(delta('switchboard_events_deduplicated_total', { platform: 'ixc' })).toBe(1);
    expect(delta('switchboard_events_delivered_total', { platform: 'ixc' })).toBe(1);
    expect(delta('switchboard_subscriptions_active', { transport: 'ws' })).toBe(1);

    await iterator.return?.();
    await eventually(async () => value(await scrape(), 'switchboard_subscriptions_active', { transport: 'ws' }) === value(before, 'switchboard_subscriptions_active', { transport: 'ws' }), 'the subscription no longer counted');
  });

  it('puts no upstream origin, credential or id in a label value', async () => {
    await post(ACROSS_PLATFORMS);
    const { samples, text } = await scrape();
    for (const key of PLATFORMS) {
      const { url } = stack.sim(key);
      expect(text.includes(url), `${key}'s origin in /metrics`).toBe(false);
      expect(text.includes(new URL(url).host), `${key}'s host in /metrics`).toBe(false);
    }
    const routes = new Set(samples.filter((s) => s.name.startsWith('switchboard_upstream_request_duration_seconds')).map((s) => s.labels.route!));
    expect(routes.size).toBeGreaterThan(4);
    // Route templates only: no id, number or query value in a path segment.
    for (const route of routes) expect(route, route).toMatch(/^(GET|POST|PUT|PATCH|DELETE) [\w/{}.\-?=]*$/);
    for (const route of routes) expect(route.split(/[/?=]/).some((segment) => /^\d+$/.test(segment) || /^[0-9a-f-]{20,}$/i.test(segment)), route).toBe(false);
  });
});

describe('request ids', () => {
  it('keeps the id a client sends: in the response header, on every upstream request of the operation, and in its log line', async () => {
    const requestId = `obs-${randomUUID()}`;
    const res = await post(ACROSS_PLATFORMS, { 'x-request-id': requestId });
    expect(res.body.errors).toBeUndefined();
    expect(res.requestId).toBe(requestId);
    const seen = upstreamSaw(requestId);
    for (const key of PLATFORMS) expect(seen.get(key)!.length, `${key} got the request id`).toBeGreaterThan(0);
    const line = operationLines().find((l) => l.requestId === requestId);
    expect(line).toMatchObject({ level: 30, operationName: 'Across', operation: 'query', transport: 'http', outcome: 'ok' });
    expect(line!.upstreamCalls).toBe([...seen.values()].reduce((n, requests) => n + requests.length, 0));
    expect(typeof line!.ms).toBe('number');
    expect('client' in line! || line!.client === undefined).toBe(true);
  });

  it('makes one when the client sends none (or an unusable one), and the upstreams get that one', async () => {
    const cases: Record<string, string>[] = [{}, { 'x-request-id': 'not an id; has spaces' }];
    for (const headers of cases) {
      const res = await post('query NoId { cloudlx { realms { name } } }', headers);
      expect(res.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(upstreamSaw(res.requestId!).get('cloudlx')!.length).toBeGreaterThan(0);
      expect(operationLines().find((l) => l.requestId === res.requestId)).toMatchObject({ operationName: 'NoId', transport: 'http' });
    }
  });

  it('answers refusals with the id too, and logs them under it', async () => {
    const requestId = `refused-${randomUUID()}`;
    const res = await post('query Broken { cloudlx { nope } }', { 'x-request-id': requestId });
    expect(res.status).toBe(400);
    expect(res.requestId).toBe(requestId);
    expect(operationLines().find((l) => l.requestId === requestId)).toMatchObject({ outcome: 'refused', transport: 'http' });
  });

  it('returns it on a Server-Sent Events stream, and sends it upstream from there', async () => {
    const requestId = `sse-${randomUUID()}`;
    const res = await fetch(stack.gateway.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-request-id': requestId },
      body: JSON.stringify({ query: 'query OverSse { cloudlx { realms { name } } }' }),
    });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    expect(res.headers.get('x-request-id')).toBe(requestId);
    const text = await res.text();
    expect(text).toContain('event: complete');
    expect(upstreamSaw(requestId).get('cloudlx')!.length).toBeGreaterThan(0);
    expect(operationLines().find((l) => l.requestId === requestId)).toMatchObject({ operationName: 'OverSse', transport: 'sse', outcome: 'ok' });
  });

  it('logs a WebSocket operation under the id its upstream requests carried', async () => {
    const result = await ws.iterate({ query: 'query OverWs { exotel { apps(first: 1) { nodes { name } } } }' }).next();
    expect(result.value?.errors).toBeUndefined();
    const line = operationLines().find((l) => l.operationName === 'OverWs');
    expect(line).toMatchObject({ transport: 'ws', outcome: 'ok' });
    expect(upstreamSaw(line!.requestId).get('exotel')!.length).toBe(line!.upstreamCalls);
  });
});

describe('explain', () => {
  it('lists exactly the upstream calls the simulators logged for the operation', async () => {
    const requestId = `explain-${randomUUID()}`;
    const res = await post(ACROSS_PLATFORMS, { 'x-request-id': requestId, 'x-switchboard-explain': '1' });
    expect(res.body.errors).toBeUndefined();
    const calls = res.body.extensions?.upstream as Array<{ platform: string; method: string; status: number; route: string; [field: string]: unknown }>;
    expect(Array.isArray(calls)).toBe(true);
    const seen = upstreamSaw(requestId);
    for (const key of PLATFORMS) {
      const explained = calls.filter((c) => c.platform === key);
      const logged = seen.get(key)!;
      expect(logged.length, key).toBeGreaterThan(0);
      expect(explained.length, `${key}: explained calls vs simulator log`).toBe(logged.length);
      expect(unmatched(explained, logged), key).toEqual([]);
    }
    for (const call of calls) {
      expect(Object.keys(call).sort()).toEqual(expect.arrayContaining(['attempt', 'bytes', 'durationMs', 'method', 'platform', 'route', 'status']));
      expect(call.durationMs).toBeGreaterThanOrEqual(0);
      expect(call.bytes).toBeGreaterThan(0);
      expect(call.attempt).toBe(1);
    }
    // The loaders the operation used, with what their caches answered.
    expect(Array.isArray(res.body.extensions?.loaders)).toBe(true);
  });

  it('says how many keys a batched read carried', async () => {
    const requestId = `batch-${randomUUID()}`;
    // Fields the address's embedded country lacks: the countries are read, in one batch.
    const res = await post('query Batched { cloudcix { membership { addresses(first: 5) { nodes { name country { alpha2Code phonePrefix } } } } } }', {
      'x-request-id': requestId,
      'x-switchboard-explain': '1',
    });
    expect(res.body.errors).toBeUndefined();
    const batched = (res.body.extensions?.upstream as Array<Record<string, any>>).filter((c) => c.batchKeys !== undefined);
    const logged = upstreamSaw(requestId).get('cloudcix')!.filter((r) => new URLSearchParams(r.query).has('search[id__in]'));
    expect(logged.length).toBeGreaterThan(0);
    expect(batched.map((c) => c.batchKeys).sort()).toEqual(logged.map((r) => (JSON.parse(new URLSearchParams(r.query).get('search[id__in]')!) as unknown[]).length).sort());
  });

  it('explains over WebSocket when the connection params ask for it', async () => {
    const explaining = createClient({ url: stack.gateway.websocketUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams: { 'x-switchboard-explain': '1' } });
    try {
      const result = await explaining.iterate({ query: 'query ExplainedOverWs { ixc { devices(first: 3) { nodes { serialNumber } } } }' }).next();
      expect(result.value?.errors).toBeUndefined();
      const calls = result.value?.extensions?.upstream as { platform: string; method: string; status: number; route: string }[];
      const line = operationLines().find((l) => l.operationName === 'ExplainedOverWs');
      expect(line).toMatchObject({ transport: 'ws' });
      const logged = upstreamSaw(line!.requestId).get('ixc')!;
      expect(logged.length).toBeGreaterThan(0);
      expect(calls.length).toBe(logged.length);
      expect(unmatched(calls, logged)).toEqual([]);
    } finally {
      await explaining.dispose();
    }
  });

  it('keeps operations that run at the same time apart: each lists its own calls, and each upstream request carries its own id', async () => {
    // Interleaved on the gateway: every call is made on behalf of the operation whose request scope made it.
    const ids = Array.from({ length: 6 }, (_, i) => `apart-${i}-${randomUUID()}`);
    const answers = await Promise.all(ids.map((requestId) => post(ACROSS_PLATFORMS, { 'x-request-id': requestId, 'x-switchboard-explain': '1' })));
    answers.forEach((res, i) => {
      expect(res.body.errors).toBeUndefined();
      const calls = res.body.extensions?.upstream as Array<{ platform: string; method: string; status: number; route: string }>;
      const seen = upstreamSaw(ids[i]!);
      for (const key of PLATFORMS) {
        const explained = calls.filter((c) => c.platform === key);
        const logged = seen.get(key)!;
        expect(logged.length, `${key}, operation ${i}`).toBeGreaterThan(0);
        expect(explained.length, `${key}, operation ${i}: explained calls vs simulator log`).toBe(logged.length);
        expect(unmatched(explained, logged), `${key}, operation ${i}`).toEqual([]);
      }
      const line = operationLines().find((l) => l.requestId === ids[i]);
      expect(line!.upstreamCalls).toBe(calls.length);
    });
  });

  it('adds nothing without the header', async () => {
    const res = await post('{ cloudlx { realms { name } } }');
    expect(res.body.extensions?.upstream).toBeUndefined();
  });
});

/** A route's path segments, parameters as `*`: `GET /api/customers/:id` (simulator) and `GET /api/customers/{id}` (gateway) alike. */
function segments(route: string): string[] {
  return route
    .replace(/^[A-Z]+ /, '')
    .replace(/\?.*$/, '')
    .split('/')
    .filter(Boolean)
    .map((segment) => (/^:|^\{.*\}$/.test(segment) ? '*' : segment.toLowerCase()));
}

/**
 * Whether the gateway's route template names the request the simulator logged.
 * The template is relative to the platform's base URL (Exotel's `/app` is the
 * simulator's `/v2/integrations/app`; CloudCIX's `membership/address/` its
 * `/:application/address/`), so it is matched against the end of the path.
 */
function sameRoute(template: string, logged: string): boolean {
  const ours = segments(template);
  const theirs = segments(logged);
  if (ours.length > theirs.length) return false;
  const tail = theirs.slice(theirs.length - ours.length);
  return ours.every((segment, i) => segment === tail[i] || segment === '*' || tail[i] === '*');
}

/** Pairs each explained call with one logged request of the same method, status and route; answers what is left unpaired on either side. */
function unmatched(calls: readonly { method: string; status: number; route: string }[], logged: readonly LoggedRequest[]): string[] {
  const left = [...logged];
  const alone: string[] = [];
  for (const call of calls) {
    const index = left.findIndex((r) => r.method === call.method && r.status === call.status && sameRoute(call.route, r.route));
    if (index < 0) alone.push(`explained only: ${call.method} ${call.route} ${call.status}`);
    else left.splice(index, 1);
  }
  return [...alone, ...left.map((r) => `logged only: ${r.route} ${r.status}`)];
}

describe('OpenTelemetry', () => {
  it('makes a span per operation and one per upstream call under it, each with the request id and the route template', async () => {
    const requestId = `trace-${randomUUID()}`;
    const res = await post(ACROSS_PLATFORMS, { 'x-request-id': requestId });
    expect(res.body.errors).toBeUndefined();
    const spans = exporter.getFinishedSpans();
    const operation = spans.find((s) => s.attributes['switchboard.request_id'] === requestId && s.name === 'query Across');
    expect(operation).toBeDefined();
    expect(operation!.attributes).toMatchObject({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'Across', 'switchboard.transport': 'http', 'switchboard.outcome': 'ok' });
    const children = spans.filter((s) => parentOf(s) === operation!.spanContext().spanId);
    const seen = [...upstreamSaw(requestId).values()].flat();
    expect(children.length).toBe(seen.length);
    expect(operation!.attributes['switchboard.upstream_calls']).toBe(seen.length);
    for (const child of children) {
      expect(child.attributes['switchboard.request_id']).toBe(requestId);
      expect(child.spanContext().traceId).toBe(operation!.spanContext().traceId);
      expect(child.name).toBe(child.attributes['url.template']);
    }
    const asCalls = children.map((c) => ({ method: String(c.attributes['http.request.method']), status: Number(c.attributes['http.response.status_code']), route: c.name }));
    expect(unmatched(asCalls, seen)).toEqual([]);
  });

  it('loads nothing of OpenTelemetry without OTEL_EXPORTER_OTLP_ENDPOINT, and sends spans over OTLP with it', async () => {
    // A child process each: this one loaded the SDK for the in-memory exporter.
    const collected: unknown[] = [];
    const collector = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        collected.push({ path: req.url, body: JSON.parse(body) });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    try {
      const without = await runChildGateway({});
      expect(without.status).toBe(200);
      // prom-client itself loads @opentelemetry/api (for exemplars); the SDK and its exporters stay unloaded.
      expect(without.loaded.filter((file) => !file.includes('/@opentelemetry/api/'))).toEqual([]);
      expect(without.loaded.filter((file) => file.includes('/@opentelemetry/sdk-'))).toEqual([]);
      const withOtlp = await runChildGateway({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
      expect(withOtlp.status).toBe(200);
      expect(withOtlp.loaded.some((file) => file.includes('/@opentelemetry/sdk-node/'))).toBe(true);
    } finally {
      await new Promise<void>((resolve) => collector.close(() => resolve()));
    }
    const spans = collected
      .filter((c) => (c as { path: string }).path === '/v1/traces')
      .flatMap((c) => (c as { body: any }).body.resourceSpans.flatMap((r: any) => r.scopeSpans.flatMap((s: any) => s.spans)));
    const attribute = (span: any, key: string) => span.attributes.find((a: any) => a.key === key)?.value?.stringValue;
    const operation = spans.find((s: any) => s.name === 'query ChildCheck');
    expect(operation).toBeDefined();
    expect(attribute(operation, 'switchboard.request_id')).toBe('child-check-1');
    const calls = spans.filter((s: any) => s.parentSpanId === operation.spanId);
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) expect(attribute(call, 'switchboard.request_id')).toBe('child-check-1');
  }, 60_000);
});

describe('OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('is checked at start: an http(s) URL, or the start stops naming it', () => {
    expect(loadConfig({ DATA_DIR: '.data/test', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }).otlpEndpoint).toBe('http://127.0.0.1:4318');
    expect(loadConfig({ DATA_DIR: '.data/test' }).otlpEndpoint).toBeUndefined();
    expect(() => loadConfig({ DATA_DIR: '.data/test', OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://collector:4317' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT: expected the http:\/\/ or https:\/\/ URL of an OpenTelemetry collector, such as http:\/\/127\.0\.0\.1:4318 \(the scheme is grpc:\)/,
    );
  });
});

function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

/**
 * Starts a gateway in a child process with `env`, asks it one query, and
 * answers which OpenTelemetry modules that process loaded.
 */
async function runChildGateway(env: Record<string, string>): Promise<{ status: number; loaded: string[] }> {
  const src = (file: string) => JSON.stringify(fileURLToPath(new URL(`../src/${file}`, import.meta.url)));
  const script = `
    import { createRequire } from 'node:module';
    const { loadConfig } = await import(${src('config.ts')});
    const { startGateway } = await import(${src('gateway.ts')});
    const { createInfra } = await import(${src('core/infra.ts')});
    const { createLogger } = await import(${src('core/observability/log.ts')});
    const { platforms } = await import(${src('platforms/index.ts')});
    const config = loadConfig({ ...process.env, PORT: '0', LOG_LEVEL: 'silent', DATA_DIR: '.data/test', WATCH_INTERVAL_MS: '0', EVENT_LOG: 'memory', STORE_SECRET_KEY: ${JSON.stringify(randomBytes(32).toString('base64'))} });
    const gateway = await startGateway({ config, platforms, infra: createInfra({ log: createLogger('silent'), secretKey: config.store.secretKey }) });
    const res = await fetch(gateway.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'child-check-1' }, body: JSON.stringify({ query: 'query ChildCheck { cloudlx { realms { name } } }' }) });
    await res.text();
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((file) => file.includes('@opentelemetry'));
    await gateway.close();
    process.stdout.write(JSON.stringify({ status: res.status, loaded }) + '\\n');
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`the child gateway failed (${code}): ${err}`);
  return JSON.parse(out.trim().split('\n').pop()!) as { status: number; loaded: string[] };
}

describe('no secret reaches metrics, logs, explain or spans', () => {
  it('finds none of the credentials the simulators were configured with, nor the tokens sent upstream', async () => {
    // Traffic on every platform with explain on, so its answers are scanned too.
    const res = await post(ACROSS_PLATFORMS, { 'x-switchboard-explain': '1' });
    expect(res.body.extensions?.upstream.length).toBeGreaterThan(0);
    const cloudlx = stack.sim('cloudlx').config;
    const cloudcix = stack.sim('cloudcix').config;
    const exotel = stack.sim('exotel').config;
    const configured = [cloudlx.clientSecret, cloudcix.password, cloudcix.apiKey, exotel.customerSecret, ...Object.values(exotel.appSecrets), WEBHOOK_SECRET, WEBHOOK_SECRET.slice('whsec_'.length)];
    const sent = PLATFORMS.flatMap((key) =>
      stack.sim(key).server.log.flatMap((r) => {
        const bearer = /^Bearer (.+)$/.exec(String(r.headers.authorization ?? ''))?.[1];
        const token = r.headers['x-auth-token'];
        return [bearer, typeof token === 'string' ? token : undefined];
      }),
    );
    const secrets = [...new Set([...configured, ...sent].filter((v): v is string => typeof v === 'string' && v.length >= 8))];
    expect(secrets.length).toBeGreaterThan(configured.length);

    const metrics = (await scrape()).text;
    await new Promise((resolve) => setImmediate(resolve));
    expect(logText).toContain('upstream request');
    const spans = JSON.stringify(exporter.getFinishedSpans().map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status })));
    const places: Record<string, string> = { metrics, logs: logText, spans, responses: stack.responses.join('\n') };
    for (const secret of secrets) {
      for (const [place, text] of Object.entries(places)) expect(text.includes(secret), `a secret reached the ${place}`).toBe(false);
    }
  });
});

describe('breaker and retries, on a gateway clock', () => {
  let policyStack: Stack;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    policyStack = await startStack({ clock, env: { UPSTREAM_BREAKER_FAILURES: '2', UPSTREAM_BREAKER_COOLDOWN_MS: '5000' } });
  });

  async function policyScrape(): Promise<Exposition> {
    const res = await fetch(`${policyStack.gateway.url}/metrics`);
    return parseExposition(await res.text());
  }

  it('counts the retry, shows the breaker open, and closed again after its trial call', async () => {
    const sim = policyStack.sim('cloudlx');
    await policyStack.graphql('{ cloudlx { realms { name } } }'); // a token is held: only realm reads from here on
    const before = await policyScrape();
    // Retry-After: 0 asks for the retry at once, so no backoff waits on the clock.
    sim.server.inject('GET /api/realms', { status: 503, headers: { 'retry-after': '0' }, times: 2 });
    const failed = await policyStack.graphql('{ cloudlx { realms { name } } }');
    expect(failed.body.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    const open = await policyScrape();
    expect(value(open, 'switchboard_upstream_retries_total', { platform: 'cloudlx', reason: '503' }) - value(before, 'switchboard_upstream_retries_total', { platform: 'cloudlx', reason: '503' })).toBe(1);
    expect(value(open, 'switchboard_upstream_breakers_open', { platform: 'cloudlx' })).toBe(1);
    expect(value(open, 'switchboard_upstream_request_duration_seconds_count', { platform: 'cloudlx', route: 'GET /api/realms', status: '503' }) - value(before, 'switchboard_upstream_request_duration_seconds_count', { platform: 'cloudlx', route: 'GET /api/realms', status: '503' })).toBe(2);

    await clock.advance(5_000);
    const healed = await policyStack.graphql('{ cloudlx { realms { name } } }');
    expect(healed.body.errors).toBeUndefined();
    expect(value(await policyScrape(), 'switchboard_upstream_breakers_open', { platform: 'cloudlx' })).toBe(0);
  });

  it('keeps operation names in the duration histogram to a bounded set', async () => {
    const names = Array.from({ length: 505 }, (_, i) => `Name${i}`);
    for (let i = 0; i < names.length; i += 50) await Promise.all(names.slice(i, i + 50).map((name) => policyStack.graphql(`query ${name} { __typename }`)));
    const exposition = await policyScrape();
    // Named operations only ('' is every anonymous one).
    const counted = new Set(exposition.samples.filter((s) => s.name === 'switchboard_graphql_operation_duration_seconds_count' && s.labels.name).map((s) => s.labels.name));
    expect(counted.size).toBe(501);
    expect(counted.has('(other)')).toBe(true);
    expect(value(exposition, 'switchboard_graphql_operation_duration_seconds_count', { name: '(other)' })).toBeGreaterThanOrEqual(5);
  });
});

describe('explain with clients configured', () => {
  let securedStack: Stack;
  let clients: ClientsFixture;
  let securedLog = '';

  beforeAll(async () => {
    clients = writeClientsFile([
      { name: 'app', scopes: ['cloudlx:read'] },
      { name: 'ops', scopes: ['cloudlx:read', 'admin'] },
    ]);
    const logs = new PassThrough();
    logs.on('data', (chunk: Buffer) => (securedLog += chunk.toString()));
    securedStack = await startStack({ env: { SWITCHBOARD_CLIENTS_FILE: clients.path, LOG_LEVEL: 'trace' }, logDestination: logs });
  });
  afterAll(() => clients.remove());

  const REALMS = 'query Realms { cloudlx { realms { name } } }';

  it('refuses a client without the admin scope with FORBIDDEN, before any upstream call', async () => {
    const sim = securedStack.sim('cloudlx');
    sim.server.clearLog();
    const res = await securedStack.graphql(REALMS, undefined, { ...clients.auth('app'), 'x-switchboard-explain': '1' });
    expect(res.status).toBe(403);
    expect(res.body.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(res.body.errors[0].message).toMatch(/x-switchboard-explain .* admin scope/);
    expect(res.body.data).toBeUndefined();
    expect(sim.server.log).toEqual([]);
    // Without the header, the same client is served as ever.
    const plain = await securedStack.graphql(REALMS, undefined, clients.auth('app'));
    expect(plain.body.errors).toBeUndefined();
    expect(plain.body.extensions?.upstream).toBeUndefined();
  });

  it('explains to an admin client, and logs the operation under its name', async () => {
    const res = await securedStack.graphql(REALMS, undefined, { ...clients.auth('ops'), 'x-switchboard-explain': '1', 'x-request-id': 'ops-explain-1' });
    expect(res.body.errors).toBeUndefined();
    const calls = res.body.extensions?.upstream as { platform: string; route: string }[];
    const logged = securedStack.sim('cloudlx').server.log.filter((r) => r.headers['x-request-id'] === 'ops-explain-1');
    expect(calls.length).toBe(logged.length);
    expect(calls.map((c) => c.route)).toContain('GET /api/realms');
    await new Promise((resolve) => setImmediate(resolve));
    const line = securedLog.split('\n').find((l) => l.includes('"msg":"graphql operation"') && l.includes('ops-explain-1'));
    expect(JSON.parse(line!)).toMatchObject({ requestId: 'ops-explain-1', client: 'ops', operationName: 'Realms', transport: 'http', outcome: 'ok', upstreamCalls: logged.length });
    for (const key of Object.values(clients.keys)) {
      expect(securedLog.includes(key), 'an API key reached the logs').toBe(false);
      expect(securedStack.responses.join('\n').includes(key), 'an API key reached a response').toBe(false);
    }
  });
});
