import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { ManualClock } from '../src/core/clock.js';
import { ConfigError } from '../src/core/env.js';
import { createLogger } from '../src/core/observability/log.js';
import { createMetrics, type Metrics } from '../src/core/observability/metrics.js';
import { MemoryStore } from '../src/core/store/memory.js';
import type { Store } from '../src/core/store/types.js';
import { UpstreamHttp, type UpstreamHttpOptions } from '../src/core/upstream/http.js';
import { type OperationScope, type UpstreamCallRecord } from '../src/core/upstream/operation.js';
import { backoffDelay, retryAfterMs } from '../src/core/upstream/retry.js';
import { RequestThrottle } from '../src/core/upstream/throttle.js';
import { startStack } from './utils/harness.js';

/** What the test upstream saw and sent, per request, in arrival order. */
interface Seen {
  method: string;
  url: string;
  /** Status it answered with; 0 when it dropped the connection or was cut off. */
  status: number;
  /** Body bytes it wrote. */
  bytes: number;
  /** Resolves when the connection closed (finished, or cut off by the gateway). */
  closed: Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void | Promise<void>;

/** A tiny real HTTP upstream on port 0 whose answers each test writes (drips, huge bodies, 503s). */
class TestUpstream {
  readonly seen: Seen[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly waiters: { count: number; resolve: () => void }[] = [];
  url = '';

  constructor(private readonly handler: Handler) {
    this.server = createServer((req, res) => {
      const seen: Seen = { method: req.method ?? '', url: req.url ?? '', status: 0, bytes: 0, closed: once(res, 'close').then(() => undefined) };
      this.seen.push(seen);
      for (const waiter of [...this.waiters]) if (this.seen.length >= waiter.count) waiter.resolve();
      req.resume();
      void this.handler(req, res, seen);
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async start(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Resolves once `count` requests have arrived. */
  arrived(count: number): Promise<void> {
    if (this.seen.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function send(res: ServerResponse, seen: Seen, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  seen.status = status;
  seen.bytes = Buffer.byteLength(text);
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(text);
}

/** Answers in order: one answer per request, the last one repeated. */
function answers(...list: ((res: ServerResponse, seen: Seen) => void)[]): Handler {
  let i = 0;
  return (_req, res, seen) => list[Math.min(i++, list.length - 1)]!(res, seen);
}
const status = (code: number, headers?: Record<string, string>) => (res: ServerResponse, seen: Seen) => send(res, seen, code, { message: `HTTP ${code}` }, headers);
const ok = (body: unknown = { ok: true }) => (res: ServerResponse, seen: Seen) => send(res, seen, 200, body);
const drop = () => (res: ServerResponse) => res.socket?.destroy();

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((close) => close()));
});

async function upstream(handler: Handler): Promise<TestUpstream> {
  const server = await new TestUpstream(handler).start();
  cleanups.push(() => server.close());
  return server;
}

interface ClientParts {
  http: UpstreamHttp;
  clock: ManualClock;
  metrics: Metrics;
  store: Store;
}

/** An UpstreamHttp as a platform client builds it, on a driven clock, with its own metrics registry. */
function client(url: string, options: Partial<UpstreamHttpOptions> & { clock?: ManualClock; store?: Store } = {}): ClientParts {
  const clock = options.clock ?? new ManualClock(Date.UTC(2026, 11, 2, 12, 0, 0));
  const store = options.store ?? new MemoryStore(() => clock.now());
  const metrics = createMetrics(new Registry(), { processMetrics: false });
  const http = new UpstreamHttp({
    platform: 'testp',
    baseUrl: url,
    timeouts: { connectMs: 2_000, headersMs: 10_000, bodyMs: 10_000 },
    connections: 4,
    retries: 2,
    ...options,
    infra: { clock, store, metrics },
  });
  cleanups.push(() => http.close());
  return { http, clock, metrics, store };
}

/** A GraphQL operation's scope, as the pipeline makes one. */
function scope(extra: Partial<OperationScope> = {}): OperationScope {
  return { requestId: 'test-operation', calls: [], ...extra };
}

async function counter(metrics: Metrics, name: 'upstreamRetries', labels: Record<string, string>): Promise<number> {
  const values = (await metrics[name].get()).values;
  return values.filter((v) => Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l)).reduce((sum, v) => sum + v.value, 0);
}

/** Waits for something the test cannot drive (a request crossing a real socket), checking as I/O happens. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1_000 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!condition()) throw new Error(`Timed out waiting until ${what}`);
}

/** Settles a promise's outcome into a value the test can look at without awaiting it. */
function track<T>(promise: Promise<T>): { readonly done: boolean; readonly value?: T; readonly error?: unknown; readonly settled: Promise<void> } {
  const state: { done: boolean; value?: T; error?: unknown; settled: Promise<void> } = { done: false, settled: Promise.resolve() };
  state.settled = promise.then(
    (value) => {
      state.value = value;
      state.done = true;
    },
    (error: unknown) => {
      state.error = error;
      state.done = true;
    },
  );
  return state;
}

describe('the total deadline of an upstream call', () => {
  it('cuts an upstream that drips one byte at a time at the deadline, with UPSTREAM_TIMEOUT', async () => {
    let dripped = 0;
    let enough!: () => void;
    const threeBytes = new Promise<void>((resolve) => (enough = resolve));
    const server = await upstream((_req, res, seen) => {
      seen.status = 200;
      res.writeHead(200, { 'content-type': 'application/json' });
      // One byte every 50 ms of real time: never silent long enough for the body timeout (10 s).
      const timer = setInterval(() => {
        res.write(' ');
        seen.bytes += 1;
        if (++dripped === 3) enough();
      }, 50);
      res.on('close', () => clearInterval(timer));
    });
    const { http, clock } = client(server.url, { deadlineMs: 5_000 });
    const operation = scope();
    const call = track(http.forOperation(operation).request({ method: 'GET', path: '/slow', route: 'GET /slow' }));
    await threeBytes;
    await clock.advance(4_999);
    expect(call.done).toBe(false);
    await clock.advance(1);
    await call.settled;
    expect(call.error).toMatchObject({ code: 'UPSTREAM_TIMEOUT', platform: 'testp' });
    expect((call.error as Error).message).toContain('within 5000 ms (UPSTREAM_DEADLINE_MS, or TESTP_UPSTREAM_DEADLINE_MS');
    await server.seen[0]!.closed; // the gateway hung up: the drip stops
    expect(operation.calls).toEqual([expect.objectContaining({ status: 200, errorCode: 'UPSTREAM_TIMEOUT', attempt: 1, bytes: expect.any(Number) })]);
    expect(operation.calls[0]!.bytes).toBeGreaterThanOrEqual(3);
  });

  it('through the gateway: a platform deadline (CLOUDLX_UPSTREAM_DEADLINE_MS) cuts a dripping CloudLX field, on the gateway clock', async () => {
    const clock = new ManualClock(Date.now());
    const stack = await startStack({ clock, env: { CLOUDLX_UPSTREAM_DEADLINE_MS: '4000' } });
    const sim = stack.sim('cloudlx');
    await stack.graphql('{ cloudlx { realms { name } } }'); // logs in
    sim.server.inject('GET /api/realms', { dripMs: 50, times: 1 });
    const response = track(stack.graphql('{ cloudlx { realms { name } } }'));
    await until(() => sim.server.requests('GET /api/realms').length === 2, 'the dripping request reached CloudLX');
    await clock.advance(3_999);
    expect(response.done).toBe(false);
    await clock.advance(1);
    await response.settled;
    const body = response.value!.body;
    expect(body.data.cloudlx.realms).toBeNull();
    expect(body.errors[0]).toMatchObject({ path: ['cloudlx', 'realms'], extensions: { code: 'UPSTREAM_TIMEOUT', platform: 'cloudlx' } });
    expect(body.errors[0].message).toContain('within 4000 ms (UPSTREAM_DEADLINE_MS, or CLOUDLX_UPSTREAM_DEADLINE_MS');
  });
});

describe('the response size cap', () => {
  it('refuses a 45 MB answer through the gateway with UPSTREAM_BAD_RESPONSE while it streams, and the process does not grow by the body', async () => {
    const total = 45 * 1_000_000;
    const stack = await startStack();
    const sim = stack.sim('cloudlx');
    // A first query logs in and warms the connection, so what is measured next is the big answer alone.
    expect((await stack.graphql('{ cloudlx { realms { name } } }')).body.errors).toBeUndefined();
    // No Content-Length: the gateway can only know the size by counting what arrives.
    sim.server.inject('GET /api/realms', { bodyBytes: total, times: 1 });
    await collectGarbage();
    const before = process.memoryUsage();
    // The high-water mark while the answer streams in, sampled as the event loop turns.
    const peak = { rss: before.rss, arrayBuffers: before.arrayBuffers };
    const sampler = setInterval(() => {
      const now = process.memoryUsage();
      peak.rss = Math.max(peak.rss, now.rss);
      peak.arrayBuffers = Math.max(peak.arrayBuffers, now.arrayBuffers);
    }, 1);
    const res = await stack.graphql('{ cloudlx { realms { name } } }').finally(() => clearInterval(sampler));
    await collectGarbage();
    const after = process.memoryUsage();
    expect(res.body.errors[0]).toMatchObject({ path: ['cloudlx', 'realms'], extensions: { code: 'UPSTREAM_BAD_RESPONSE', platform: 'cloudlx', upstreamStatus: 200 } });
    expect(res.body.errors[0].message).toContain(`the cap is ${16 * 1_048_576} bytes`);
    const mb = (bytes: number) => Math.round(bytes / 100_000) / 10;
    const figures = {
      peakRss: mb(peak.rss - before.rss),
      peakArrayBuffers: mb(peak.arrayBuffers - before.arrayBuffers),
      retainedArrayBuffers: mb(after.arrayBuffers - before.arrayBuffers),
    };
    // Reading the whole answer before judging it costs the body several times over (45 MB of chunks, then
    // the text: some 140 MB). Cut at the 16 MiB cap, the process never grows by the body's size at any
    // moment (measured here: some 20 MB at the peak, the text up to the cap plus chunks not yet collected),
    // and keeps nothing of it afterwards.
    expect(figures.peakRss, 'resident memory while the answer streamed').toBeLessThan(45);
    expect(figures.peakArrayBuffers, 'buffers (live or not yet collected) while the answer streamed').toBeLessThan(45);
    expect(figures.retainedArrayBuffers, 'buffers still held after it was refused').toBeLessThan(5);
  });

  it('stops reading at the default cap (16 MiB): the upstream is cut off long before its 45 MB are sent', async () => {
    const total = 45 * 1_000_000;
    const piece = Buffer.alloc(64 * 1024, 0x20);
    const server = await upstream(async (_req, res, seen) => {
      seen.status = 200;
      res.writeHead(200, { 'content-type': 'application/json' });
      while (seen.bytes < total && !res.destroyed) {
        seen.bytes += piece.length;
        if (!res.write(piece)) await Promise.race([once(res, 'drain'), seen.closed]);
      }
    });
    const { http } = client(server.url);
    const error = await http.request({ method: 'GET', path: '/huge', route: 'GET /huge' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', platform: 'testp', upstreamStatus: 200 });
    expect((error as Error).message).toContain(`more than ${16 * 1_048_576} bytes arrived; the cap is ${16 * 1_048_576} bytes`);
    await server.seen[0]!.closed;
    // What the socket buffers held on top of the cap, at most: far from the whole answer.
    expect(server.seen[0]!.bytes).toBeLessThan(16 * 1_048_576 + 8 * 1_048_576);
  });

  it('refuses an answer whose Content-Length is over the cap before reading it', async () => {
    const server = await upstream((_req, res, seen) => {
      seen.status = 200;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(45 * 1_000_000) });
      res.write('[');
      seen.bytes = 1;
    });
    const { http } = client(server.url, { maxResponseBytes: 1_048_576 });
    const error = await http.request({ method: 'GET', path: '/big', route: 'GET /big' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', platform: 'testp', upstreamStatus: 200 });
    expect((error as Error).message).toContain('declared 45000000 bytes; the cap is 1048576 bytes');
    await server.seen[0]!.closed;
  });

  it('reads an answer of declared length that arrives in pieces, and refuses one cut short of its length', async () => {
    const body = { items: Array.from({ length: 400 }, (_, i) => ({ id: i, name: `item ${i}`, note: 'ü'.repeat(i % 7) })) };
    const text = Buffer.from(JSON.stringify(body));
    const pieces = [text.subarray(0, 1), text.subarray(1, 5000), text.subarray(5000)];
    const server = await upstream(async (req, res, seen) => {
      seen.status = 200;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(text.length) });
      const cut = req.url === '/cut';
      for (const piece of cut ? pieces.slice(0, 2) : pieces) {
        // Each piece is flushed on its own, so the gateway sees several chunks.
        await new Promise<void>((resolve) => res.write(piece, () => setImmediate(resolve)));
        seen.bytes += piece.length;
      }
      if (cut) res.socket?.destroy();
      else res.end();
    });
    const { http } = client(server.url);
    expect((await http.request({ method: 'GET', path: '/pieces' })).body).toEqual(body);
    const error = await http.request({ method: 'POST', path: '/cut', route: 'POST /cut' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ platform: 'testp' });
    expect((error as { code?: string }).code).toMatch(/^UPSTREAM_/);
  });

  it('accepts an answer of exactly the cap', async () => {
    const body = { pad: 'x'.repeat(2000) };
    const size = Buffer.byteLength(JSON.stringify(body));
    const server = await upstream(answers(ok(body)));
    const { http } = client(server.url, { maxResponseBytes: size });
    expect((await http.request({ method: 'GET', path: '/fits' })).body).toEqual(body);
    const { http: smaller } = client(server.url, { maxResponseBytes: size - 1 });
    await expect(smaller.request({ method: 'GET', path: '/fits' })).rejects.toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE' });
  });
});

describe('retries', () => {
  it('honours Retry-After in seconds: no retry before the time, the retry once it has come', async () => {
    const server = await upstream(answers(status(503, { 'retry-after': '3' }), ok({ second: true })));
    const { http, clock, metrics } = client(server.url);
    // Each attempt spends one unit of the operation's budget the moment it starts: a clean signal of "no attempt yet".
    const operation = scope({ callBudget: 10 });
    const call = track(http.forOperation(operation).request({ method: 'GET', path: '/r', route: 'GET /r' }));
    await server.arrived(1);
    await clock.advance(2_999);
    expect(operation.callBudget).toBe(9);
    expect(server.seen).toHaveLength(1);
    expect(call.done).toBe(false);
    await clock.advance(1);
    await call.settled;
    expect(call.value?.body).toEqual({ second: true });
    expect(operation.callBudget).toBe(8);
    expect(server.seen.map((s) => s.status)).toEqual([503, 200]);
    expect(await counter(metrics, 'upstreamRetries', { platform: 'testp', reason: '503' })).toBe(1);
  });

  it('honours Retry-After as an HTTP date, read on the gateway clock', async () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 2, 12, 0, 0));
    const at = new Date(clock.now() + 5_000).toUTCString();
    const server = await upstream(answers(status(429, { 'retry-after': at }), ok({ after: at })));
    const { http } = client(server.url, { clock });
    const operation = scope({ callBudget: 10 });
    const call = track(http.forOperation(operation).request({ method: 'GET', path: '/d' }));
    await server.arrived(1);
    await clock.advance(4_999);
    expect(operation.callBudget).toBe(9);
    expect(call.done).toBe(false);
    await clock.advance(1);
    await call.settled;
    expect(call.value?.body).toEqual({ after: at });
    expect(server.seen.map((s) => s.status)).toEqual([429, 200]);
  });

  it('reads Retry-After as seconds or a date, and ignores what is neither', () => {
    const now = Date.UTC(2026, 0, 1, 0, 0, 0);
    expect(retryAfterMs({ 'retry-after': '120' }, now)).toBe(120_000);
    expect(retryAfterMs({ 'retry-after': 'Thu, 01 Jan 2026 00:00:07 GMT' }, now)).toBe(7_000);
    expect(retryAfterMs({ 'retry-after': 'Wed, 31 Dec 2025 23:00:00 GMT' }, now)).toBe(0);
    expect(retryAfterMs({ 'retry-after': 'soon' }, now)).toBeUndefined();
    expect(retryAfterMs({}, now)).toBeUndefined();
  });

  it('backs off exponentially with full jitter, capped: waits 99, 199, 299, 299 ms at the top of each range', async () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, { baseDelayMs: 100, maxDelayMs: 300 }, () => 0.9999))).toEqual([99, 199, 299, 299, 299]);
    expect([1, 2, 3].map((n) => backoffDelay(n, { baseDelayMs: 100, maxDelayMs: 300 }, () => 0))).toEqual([0, 0, 0]);

    const server = await upstream(answers(status(503)));
    const { http, clock, metrics } = client(server.url, { retries: 4, retryDelay: { baseMs: 100, maxMs: 300 }, random: () => 0.9999 });
    const operation = scope({ callBudget: 100 });
    const call = track(http.forOperation(operation).request({ method: 'GET', path: '/down' }));
    await server.arrived(1);
    for (const [i, wait] of [99, 199, 299, 299].entries()) {
      await clock.advance(wait - 1);
      expect(operation.callBudget, `attempt ${i + 2} started early`).toBe(100 - (i + 1));
      await clock.advance(1);
      await server.arrived(i + 2);
    }
    await call.settled;
    expect(call.error).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', upstreamStatus: 503 });
    expect(server.seen).toHaveLength(5);
    expect(await counter(metrics, 'upstreamRetries', { reason: '503' })).toBe(4);
  });

  it('never retries a POST (nor a PATCH), after a 503 or a dropped connection; a GET after a dropped connection is retried', async () => {
    const failing = await upstream(answers(status(503)));
    const { http } = client(failing.url, { retries: 3 });
    await expect(http.request({ method: 'POST', path: '/w', json: { a: 1 } })).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', upstreamStatus: 503 });
    await expect(http.request({ method: 'PATCH', path: '/w', json: { a: 1 } })).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', upstreamStatus: 503 });
    expect(failing.seen.map((s) => s.method)).toEqual(['POST', 'PATCH']);

    const dropping = await upstream(answers(drop(), drop(), ok({ third: true })));
    const { http: dropped, metrics } = client(dropping.url, { retries: 3, random: () => 0 });
    await expect(dropped.request({ method: 'POST', path: '/w', json: { a: 1 } })).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(dropping.seen).toHaveLength(1);
    // The next GET meets the second dropped connection, and is sent again.
    expect((await dropped.request({ method: 'GET', path: '/r' })).body).toEqual({ third: true });
    expect(dropping.seen.map((s) => `${s.method} ${s.status}`)).toEqual(['POST 0', 'GET 0', 'GET 200']);
    expect(await counter(metrics, 'upstreamRetries', {})).toBe(1);
  });

  it('succeeds on a GET that meets a 429 and then a 200, through the gateway', async () => {
    const stack = await startStack();
    const sim = stack.sim('cloudlx');
    await stack.graphql('{ cloudlx { realms { name } } }'); // logs in
    sim.server.clearLog();
    sim.server.inject('GET /api/realms', { status: 429, headers: { 'retry-after': '0' }, times: 1 });
    const res = await stack.graphql('{ cloudlx { realms { name } } }');
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.cloudlx.realms.length).toBeGreaterThan(0);
    expect(sim.server.log.map((r) => `${r.route} ${r.status}`)).toEqual(['GET /api/realms 429', 'GET /api/realms 200']);
  });
});

describe('never past the deadline', () => {
  it('fails at once with the upstream error when its Retry-After would end past the call deadline', async () => {
    const server = await upstream(answers(status(503, { 'retry-after': '60' }), ok()));
    const { http } = client(server.url, { deadlineMs: 10_000 });
    // No clock moves here: the call settles on its own, without waiting.
    const error = await http.request({ method: 'GET', path: '/r' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', upstreamStatus: 503, retryAfter: 60 });
    expect(server.seen).toHaveLength(1);
  });

  it("keeps to the operation's deadline when it is the earlier one", async () => {
    const server = await upstream(answers(status(429, { 'retry-after': '1' }), ok()));
    const { http, clock } = client(server.url, { deadlineMs: 30_000 });
    const operation = scope({ deadline: clock.now() + 500 });
    const error = await http.forOperation(operation).request({ method: 'GET', path: '/r' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'RATE_LIMITED', upstreamStatus: 429, retryAfter: 1 });
    expect(server.seen).toHaveLength(1);
  });

  it('does not take a backoff that would end past the deadline', async () => {
    const server = await upstream(answers(status(502), ok()));
    const { http } = client(server.url, { deadlineMs: 1_000, retryDelay: { baseMs: 5_000, maxMs: 5_000 }, random: () => 0.5 });
    await expect(http.request({ method: 'GET', path: '/r' })).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', upstreamStatus: 502 });
    expect(server.seen).toHaveLength(1);
  });

  it("starts no call once the operation's deadline has passed", async () => {
    const server = await upstream(answers(ok()));
    const { http, clock } = client(server.url);
    const error = await http.forOperation(scope({ deadline: clock.now() - 1 })).request({ method: 'GET', path: '/r', route: 'GET /r' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UPSTREAM_TIMEOUT', platform: 'testp' });
    expect((error as Error).message).toContain("before the operation's deadline");
    expect(server.seen).toHaveLength(0);
  });
});

describe("the operation's call budget", () => {
  it('spends one unit per attempt; at 0 a call fails with UPSTREAM_BUDGET_EXCEEDED without reaching the upstream, and no retry is taken', async () => {
    const server = await upstream(answers(status(503)));
    const { http } = client(server.url, { retries: 3, random: () => 0 });
    const operation = scope({ callBudget: 2 });
    await expect(http.forOperation(operation).request({ method: 'GET', path: '/r' })).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', upstreamStatus: 503 });
    expect(server.seen).toHaveLength(2);
    expect(operation.callBudget).toBe(0);
    const refused = await http.forOperation(operation).request({ method: 'GET', path: '/r', route: 'GET /r' }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'UPSTREAM_BUDGET_EXCEEDED', platform: 'testp' });
    expect((refused as Error).message).toContain('GET /r was not sent');
    expect(server.seen).toHaveLength(2);
  });
});

describe('the throttle, shared through the store', () => {
  async function throttled(shared: boolean) {
    const server = await upstream(answers(ok()));
    const clock = new ManualClock(Date.UTC(2026, 11, 2, 12, 0, 0));
    const store = new MemoryStore(() => clock.now());
    const throttle = { limit: 2, windowMs: 1_000 };
    // Two gateways: each its own UpstreamHttp, throttle and metrics; one store between them, or one each.
    const a = client(server.url, { clock, store, throttle });
    const b = client(server.url, { clock, store: shared ? store : new MemoryStore(() => clock.now()), throttle });
    const calls = [a, a, a, b, b, b].map((g) => g.http.request({ method: 'GET', path: '/n', throttle: 'uid:7' }));
    const queued = () => a.http.throttles!.for('uid:7').queued + b.http.throttles!.for('uid:7').queued;
    return { server, clock, calls, queued, a, b };
  }

  it('two gateways on one store keep one budget between them: 2 per second in all, not 2 each', async () => {
    const { server, clock, calls, queued, a, b } = await throttled(true);
    await server.arrived(2);
    await clock.advance(0);
    expect(server.seen).toHaveLength(2);
    expect(queued()).toBe(4);
    // Each gateway shows its own waiting calls in its metrics.
    const gauge = async (g: ClientParts) => (await g.metrics.upstreamThrottleQueued.get()).values.find((v) => v.labels.platform === 'testp')?.value ?? 0;
    expect((await gauge(a)) + (await gauge(b))).toBe(4);
    await clock.advance(999);
    expect(server.seen).toHaveLength(2);
    await clock.advance(1);
    await server.arrived(4);
    await clock.advance(0);
    expect(server.seen).toHaveLength(4);
    expect(queued()).toBe(2);
    await clock.advance(1_000);
    await Promise.all(calls);
    expect(server.seen).toHaveLength(6);
    expect((await gauge(a)) + (await gauge(b))).toBe(0);
    // Six waits observed in all: two of none, two of a second, two of two seconds.
    const waits = async (g: ClientParts) => (await g.metrics.upstreamThrottleWait.get()).values.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;
    expect((await waits(a)) + (await waits(b))).toBe(6);
  });

  it('(the control) with a store each, each gateway spends the whole budget', async () => {
    const { server, clock, calls, queued } = await throttled(false);
    await server.arrived(4);
    await clock.advance(0);
    expect(server.seen).toHaveLength(4);
    expect(queued()).toBe(2);
    await clock.advance(1_000);
    await Promise.all(calls);
  });

  it('serves one queue first come, first served, one per window', async () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 2, 12, 0, 0));
    const throttle = new RequestThrottle({ limit: 1, windowMs: 1_000 }, { platform: 'testp', key: 'uid:1', clock, store: new MemoryStore(() => clock.now()) });
    const started: string[] = [];
    const runs = ['a', 'b', 'c', 'd'].map((name) => throttle.run(async () => void started.push(name)));
    await clock.advance(0);
    expect(started).toEqual(['a']);
    for (const expected of [['a', 'b'], ['a', 'b', 'c'], ['a', 'b', 'c', 'd']]) {
      await clock.advance(1_000);
      expect(started).toEqual(expected);
    }
    await Promise.all(runs);
  });

  it('keeps to the limit on its own count when the store cannot be reached, and says so in the log', async () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 2, 12, 0, 0));
    const broken = new MemoryStore(() => clock.now());
    broken.takeSlot = () => Promise.reject(new Error('store down'));
    let logged = '';
    const logs = new PassThrough().on('data', (chunk: Buffer) => (logged += chunk.toString()));
    const throttle = new RequestThrottle({ limit: 2, windowMs: 1_000 }, { platform: 'testp', key: 'uid:1', clock, store: broken, log: createLogger('warn', logs) });
    let done = 0;
    const runs = Array.from({ length: 3 }, () => throttle.run(async () => void done++));
    await clock.advance(0);
    expect(done).toBe(2);
    await clock.advance(1_000);
    expect(done).toBe(3);
    await Promise.all(runs);
    await new Promise((resolve) => setImmediate(resolve));
    expect(logged).toContain('could not be read from the store');
  });

  it('fails a call whose deadline passes while it waits for a turn with RATE_LIMITED', async () => {
    const server = await upstream(answers(ok()));
    const { http, clock } = client(server.url, { deadlineMs: 500, throttle: { limit: 1, windowMs: 60_000 } });
    await http.request({ method: 'GET', path: '/first' });
    const second = track(http.request({ method: 'GET', path: '/second' }));
    await clock.advance(499);
    expect(second.done).toBe(false);
    await clock.advance(1);
    await second.settled;
    expect(second.error).toMatchObject({ code: 'RATE_LIMITED', platform: 'testp' });
    expect((second.error as Error).message).toContain('deadline of this testp request passed while it waited for a turn');
    expect(server.seen).toHaveLength(1);
  });
});

describe('the breaker', () => {
  it('opens on the gateway clock, shows in the breaker-open gauge, and closes after a trial call', async () => {
    const server = await upstream(answers(status(503), status(503), ok({ healed: true })));
    const { http, clock, metrics } = client(server.url, { retries: 0, breaker: { failures: 2, cooldownMs: 1_000 } });
    const gauge = async () => (await metrics.upstreamBreakerOpen.get()).values.find((v) => v.labels.platform === 'testp')?.value;
    for (let i = 0; i < 2; i++) await expect(http.request({ method: 'GET', path: '/b' })).rejects.toMatchObject({ upstreamStatus: 503 });
    expect(await gauge()).toBe(1);
    await expect(http.request({ method: 'GET', path: '/b' })).rejects.toThrow('failed 2 times in a row');
    expect(server.seen).toHaveLength(2);
    await clock.advance(1_000);
    expect((await http.request({ method: 'GET', path: '/b' })).body).toEqual({ healed: true });
    expect(await gauge()).toBe(0);
  });
});

describe('the call hook', () => {
  it('records each attempt as the upstream saw it: method, status, bytes, attempt, batch keys, error code', async () => {
    const server = await upstream((req, res, seen) => {
      const path = req.url!.split('?')[0]!;
      if (path === '/items' && req.method === 'GET') return send(res, seen, 200, [{ id: 1 }, { id: 2 }, { id: 3 }]);
      if (path === '/items' && req.method === 'POST') return send(res, seen, 201, { id: 4, name: 'made' });
      if (path === '/flaky') return server.seen.filter((s) => s.url === '/flaky').length === 1 ? send(res, seen, 503, { message: 'busy' }) : send(res, seen, 200, { steady: true });
      send(res, seen, 404, { message: 'no such item' });
    });
    const hooked: UpstreamCallRecord[] = [];
    const { http, metrics } = client(server.url, { retries: 1, random: () => 0, callHooks: [(record) => hooked.push(record)] });
    const operation = scope();
    const bound = http.forOperation(operation);
    await bound.request({ method: 'GET', path: '/items', query: { ids: '1,2,3' }, route: 'GET /items', batchKeys: 3 });
    await bound.request({ method: 'GET', path: '/missing/7', route: 'GET /missing/{id}' }).catch(() => undefined);
    await bound.request({ method: 'GET', path: '/flaky', route: 'GET /flaky' });
    await bound.request({ method: 'POST', path: '/items', json: { name: 'made' }, route: 'POST /items' });
    const routes = ['GET /items', 'GET /missing/{id}', 'GET /flaky', 'GET /flaky', 'POST /items'];
    const attempts = [1, 1, 1, 2, 1];
    const codes = [undefined, 'NOT_FOUND', 'UPSTREAM_UNAVAILABLE', undefined, undefined];
    expect(server.seen).toHaveLength(5);
    const expected = server.seen.map((s, i) => ({
      platform: 'testp',
      method: s.method,
      route: routes[i],
      status: s.status,
      bytes: s.bytes,
      attempt: attempts[i],
      ...(i === 0 ? { batchKeys: 3 } : {}),
      ...(codes[i] ? { errorCode: codes[i] } : {}),
    }));
    expect(operation.calls.map(({ durationMs, ...rest }) => (expect(durationMs).toBeGreaterThanOrEqual(0), rest))).toEqual(expected);
    expect(hooked).toEqual(operation.calls);
    const durations = (await metrics.upstreamRequestDuration.get()).values.filter((v) => v.metricName?.endsWith('_count'));
    expect(durations.reduce((sum, v) => sum + v.value, 0)).toBe(5);
    expect(durations.find((v) => v.labels.route === 'GET /flaky' && v.labels.status === '503')?.value).toBe(1);
  });
});

describe('upstream settings', () => {
  it('take per-platform overrides of the deadline, size cap and retries, and say what is wrong with a bad one', () => {
    const config = loadConfig({ UPSTREAM_DEADLINE_MS: '20000', CLOUDCIX_UPSTREAM_DEADLINE_MS: '5000', EXOTEL_UPSTREAM_MAX_RESPONSE_BYTES: '2048', IXC_UPSTREAM_RETRIES: '0' });
    expect(config.upstream.deadlineMs).toBe(20_000);
    expect(config.upstream.maxResponseBytes).toBe(16 * 1_048_576);
    expect(config.upstream.byPlatform.cloudcix).toMatchObject({ deadlineMs: 5_000, maxResponseBytes: 16 * 1_048_576, retries: 1 });
    expect(config.upstream.byPlatform.exotel).toMatchObject({ deadlineMs: 20_000, maxResponseBytes: 2_048 });
    expect(config.upstream.byPlatform.ixc).toMatchObject({ retries: 0 });
    expect(config.upstream.byPlatform.cloudlx).toMatchObject({ deadlineMs: 20_000, retries: 1, retryDelay: { baseMs: 100, maxMs: 2_000 } });

    let error: unknown;
    try {
      loadConfig({ CLOUDLX_UPSTREAM_DEADLINE_MS: 'soon', UPSTREAM_MAX_RESPONSE_BYTES: '12', UPSTREAM_RETRY_BASE_DELAY_MS: '5000', UPSTREAM_RETRY_MAX_DELAY_MS: '1000' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('CLOUDLX_UPSTREAM_DEADLINE_MS: expected a whole number from 100 to 600000, or nothing for the UPSTREAM_… value; got "soon"');
    expect(message).toContain('UPSTREAM_MAX_RESPONSE_BYTES: expected a whole number from 1024 to 1073741824; got "12"');
  });

  it('refuse a backoff base above its ceiling', () => {
    expect(() => loadConfig({ UPSTREAM_RETRY_BASE_DELAY_MS: '5000', UPSTREAM_RETRY_MAX_DELAY_MS: '1000' })).toThrow(
      'UPSTREAM_RETRY_BASE_DELAY_MS: expected at most UPSTREAM_RETRY_MAX_DELAY_MS (1000)',
    );
  });
});

/**
 * A full garbage collection, so that a memory figure counts what is still held
 * rather than garbage not yet collected (V8's documented flag, turned on at run time).
 */
async function collectGarbage(): Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // Twice, a turn apart: V8 frees the memory behind dead Buffers after the collection that found them.
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
}
