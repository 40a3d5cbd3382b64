import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { generateWebhookSecret, webhookHeaders } from '../src/core/events/signatures.js';
import { startStack, type Stack } from './utils/harness.js';
import { writeClientsFile, type ClientsFixture } from './utils/security.js';

/**
 * Fan-out of one event to many graphql-ws subscribers, on a real gateway over
 * real sockets: subscribers of the same query, variables and client scopes get
 * one shared execution per event (counted in /metrics), every one of them still
 * gets its own events in order, callers with other scopes or another selection
 * get their own result, and a subscriber that stops reading is closed (4429)
 * without holding up the others.
 */

const SECRET = generateWebhookSecret();
const SUBSCRIBER_MAX_BYTES = 16_384;
const SUBSCRIBER_BUFFER = 10;

let stack: Stack;
let clients: ClientsFixture;
const opened: Client[] = [];

beforeAll(async () => {
  clients = writeClientsFile([
    { name: 'noc-wall', scopes: ['events:subscribe', 'ixc:read'] },
    { name: 'field-app', scopes: ['events:subscribe', 'ixc:read', 'cloudlx:read'] },
    { name: 'ops', scopes: ['admin', 'events:subscribe', 'ixc:read', 'ixc:write', 'cloudlx:read', 'exotel:read', 'cloudcix:read'] },
  ]);
  stack = await startStack({
    env: { SWITCHBOARD_CLIENTS_FILE: clients.path, IXC_WEBHOOK_SECRETS: SECRET, EVENT_SUBSCRIBER_MAX_BYTES: String(SUBSCRIBER_MAX_BYTES), EVENT_SUBSCRIBER_BUFFER: String(SUBSCRIBER_BUFFER) },
  });
});

// Each test counts executions of its own subscriptions: the last test's are gone from the gateway before the next starts.
afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.dispose()));
  for (let waited = 0; (await metric('switchboard_subscriptions_active', 'transport="ws"')) > 0; waited += 20) {
    expect(waited).toBeLessThan(5_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
});

afterAll(() => {
  clients?.remove();
});

function connect(client: string): Client {
  const ws = createClient({ url: stack.gateway.websocketUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${clients.keys[client]}` } });
  opened.push(ws);
  return ws;
}

/** Collects a subscription's results; `live()` (below) says when the gateway has it running. */
function collect(ws: Client, query: string, variables: Record<string, unknown> = {}) {
  let results: any[] = [];
  let resolveNext: (() => void) | undefined;
  const done = new Promise<void>((resolve, reject) => {
    ws.subscribe(
      { query, variables },
      {
        next: (value) => {
          results.push(value);
          resolveNext?.();
        },
        error: reject,
        complete: resolve,
      },
    );
  });
  done.catch(() => undefined);
  return {
    get results() {
      return results;
    },
    done,
    /** Forgets what came so far: the warm-up events. */
    reset() {
      results = [];
    },
    async count(n: number): Promise<any[]> {
      while (results.length < n) await new Promise<void>((resolve) => (resolveNext = resolve));
      return results;
    },
  };
}

type Feed = ReturnType<typeof collect>;

async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${stack.gateway.url}/metrics`, { headers: clients.auth('ops') })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** Posts a signed IXC `device.added` webhook; answers the stored event's cursor. */
async function webhook(serial: string, data: Record<string, unknown> = {}): Promise<string> {
  const body = JSON.stringify({ event: 'device.added', protocol: null, serialNumber: serial, status: 'success', occurredAt: new Date().toISOString(), data: { model: 'F670L', ...data } });
  const res = await fetch(`${stack.gateway.url}/webhooks/ixc`, { method: 'POST', headers: { 'content-type': 'application/json', ...webhookHeaders(SECRET, body) }, body });
  const answer = (await res.json()) as { status: string; cursors: string[] };
  expect(res.status).toBe(200);
  return answer.cursors[0]!;
}

/** The event a result carries, told by its cursor, or by its id when the selection has no cursor. */
async function eventIdOf(cursor: string): Promise<string> {
  const [event] = await stack.gateway.events.read({ after: String(BigInt(cursor) - 1n), limit: 1 });
  return event!.id;
}

/**
 * Subscriptions start a moment after they are sent: warm-up events are posted
 * until one reaches every feed (each feed then has nothing more to come from
 * before), and what they brought is forgotten.
 */
async function allLive(feeds: Feed[], label: string): Promise<void> {
  for (let k = 0; ; k++) {
    expect(k).toBeLessThan(50);
    const cursor = await webhook(`${label}-${k}`);
    const id = await eventIdOf(cursor);
    const seen = () => feeds.every((f) => f.results.some((r) => r.data?.events?.cursor === cursor || r.data?.events?.id === id));
    for (let waited = 0; !seen() && waited < 500; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    if (seen()) break;
  }
  for (const feed of feeds) feed.reset();
}

const FEED = `subscription Feed($types: [String!]) { events(types: $types) { id cursor type ... on IxcDeviceAddedEvent { serialNumber } } }`;

describe('one event, many subscribers', () => {
  it('executes an event once for every subscriber of the same query, variables and client, and each still gets it', async () => {
    const wall = connect('noc-wall');
    const types = ['ixc.device.added'];
    const same = Array.from({ length: 12 }, () => collect(wall, FEED, { types }));
    // Another selection and other variables: results of their own.
    const other = collect(wall, `subscription { events(types: ["ixc.device.added"]) { id platform } }`);
    const wider = collect(wall, FEED, { types: ['ixc.device.added', 'ixc.device.removed'] });
    await allLive([...same, other, wider], 'FANOUT-WARM');

    const executed = await metric('switchboard_subscription_event_results_total', 'how="executed"');
    const shared = await metric('switchboard_subscription_event_results_total', 'how="shared"');
    const cursors = [await webhook('FANOUT-1'), await webhook('FANOUT-2')];
    const got = await Promise.all(same.map((f) => f.count(2)));
    for (const results of got) {
      expect(results.map((r) => [r.data.events.cursor, r.data.events.serialNumber])).toEqual([
        [cursors[0], 'FANOUT-1'],
        [cursors[1], 'FANOUT-2'],
      ]);
    }
    expect((await other.count(2)).map((r) => r.data.events)).toEqual([
      { id: expect.any(String), platform: 'IXC' },
      { id: expect.any(String), platform: 'IXC' },
    ]);
    expect((await wider.count(2))[1].data.events.serialNumber).toBe('FANOUT-2');
    // Per event: one execution for the twelve, one for each of the other two; eleven shared.
    expect((await metric('switchboard_subscription_event_results_total', 'how="executed"')) - executed).toBe(2 * 3);
    expect((await metric('switchboard_subscription_event_results_total', 'how="shared"')) - shared).toBe(2 * 11);
  });

  it('does not share a result between clients with different scopes', async () => {
    const wall = collect(connect('noc-wall'), FEED);
    const field = collect(connect('field-app'), FEED);
    await allLive([wall, field], 'SCOPES-WARM');
    const executed = await metric('switchboard_subscription_event_results_total', 'how="executed"');
    await webhook('SCOPES-1');
    expect((await wall.count(1))[0].data.events.serialNumber).toBe('SCOPES-1');
    expect((await field.count(1))[0].data.events.serialNumber).toBe('SCOPES-1');
    expect((await metric('switchboard_subscription_event_results_total', 'how="executed"')) - executed).toBe(2);
  });

  it('closes a subscriber that stops reading (4429, saying why) and goes on delivering to the others', async () => {
    const reader = collect(connect('noc-wall'), `subscription { events(types: ["ixc.device.added"]) { cursor raw } }`);
    // A subscriber that stops reading its socket after subscribing: what the gateway sends it piles up.
    const stalled = new WebSocket(stack.gateway.websocketUrl, 'graphql-transport-ws');
    opened.push({ dispose: () => stalled.terminate() } as unknown as Client);
    const closed = new Promise<{ code: number; reason: string }>((resolve) => stalled.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    let stalledGot = 0;
    stalled.on('message', (data) => {
      const message = JSON.parse(data.toString());
      if (message.type === 'connection_ack') stalled.send(JSON.stringify({ id: 'slow', type: 'subscribe', payload: { query: 'subscription { events(types: ["ixc.device.added"]) { cursor raw } }' } }));
      if (message.type === 'next') stalledGot += 1;
    });
    await new Promise((resolve) => stalled.once('open', resolve));
    stalled.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${clients.keys['noc-wall']}` } }));
    await allLive([reader], 'SLOW-WARM');
    // The stalled subscriber's subscription is running once it got an event too.
    for (let k = 0; stalledGot < 1; k++) {
      expect(k).toBeLessThan(50);
      await webhook(`SLOW-WARM-MORE-${k}`);
      for (let waited = 0; stalledGot < 1 && waited < 500; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    reader.reset();
    (stalled as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();

    // ~12 MB in 60 events of 200 KB: past what the kernel's socket buffers hold, then past the gateway's bound.
    const bulk = 'x'.repeat(200_000);
    const cursors: string[] = [];
    for (let i = 0; i < 60; i++) cursors.push(await webhook(`SLOW-${i}`, { notes: bulk }));
    const received = await reader.count(60);
    expect(received.map((r) => r.data.events.cursor)).toEqual(cursors);

    (stalled as unknown as { _socket: { resume(): void } })._socket.resume();
    // Its socket filled; the events waited in the log until it was more than EVENT_SUBSCRIBER_BUFFER behind.
    const { code, reason } = await closed;
    expect(code).toBe(4429);
    expect(reason).toMatch(/^Slow subscriber: This subscriber fell more than 10 events behind the live stream/);
    expect(stalledGot).toBeLessThan(61);
    // The gateway is unaffected: it answers, and the reader still gets what comes next.
    const after = await webhook('SLOW-AFTER');
    expect((await reader.count(61))[60].data.events.cursor).toBe(after);
    expect((await stack.graphql('{ __typename }', {}, clients.auth('ops'))).body.data).toEqual({ __typename: 'Query' });

    // A reader that keeps up, replaying those ~12 MB from a cursor, gets all of it: the gateway waits for its
    // socket to drain rather than taking a full buffer for a slow reader.
    const before = String(BigInt(cursors[0]!) - 1n);
    const replay = collect(connect('noc-wall'), `subscription Replay($after: String) { events(types: ["ixc.device.added"], after: $after) { cursor raw } }`, { after: before });
    const replayed = await replay.count(61);
    expect(replayed.map((r) => r.data.events.cursor)).toEqual([...cursors, after]);
  });
});
