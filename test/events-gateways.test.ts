import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createClient, type Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWebhookSecret, webhookHeaders } from '../src/core/events/signatures.js';
import { spawnGateway, type GatewayProcess } from './utils/gateway-process.js';

/**
 * Several gateways on one Redis: two real gateway processes (`node --import tsx
 * src/main.ts start`, each its own DATA_DIR and embedded simulators) share the
 * event log through REDIS_URL and one key prefix. A webhook accepted by either
 * reaches the subscribers of both, once, in the same order, with the same
 * cursors; the same webhook-id delivered to both at once is stored once. Then
 * one process dies with SIGKILL while its subscribers are connected, and a
 * subscriber that reconnects to the other with its last cursor gets every event
 * it missed, once, in order, then the live ones.
 *
 * Nothing waits on the wall clock for an outcome: every wait is for a condition
 * (an event received, a process exited, a subscription registered), bounded so
 * that a failure shows as a clear timeout rather than a hung run.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Every key this file's gateways write to Redis starts with this; all of it is deleted at the end. */
const PREFIX = `switchboard-test:events-gateways:${randomBytes(6).toString('hex')}:`;
const STORE_SECRET_KEY = randomBytes(32).toString('base64');
const SECRET = generateWebhookSecret();
const TYPE = 'ixc.device.rebooted';
/** How long a condition may take on a loaded machine before the test fails. */
const WAIT_MS = 30_000;

const running = new Set<GatewayProcess>();
const clients = new Set<Client>();
let dir: string;

afterAll(async () => {
  await Promise.all([...clients].map((client) => client.dispose()));
  await Promise.all(
    [...running].map((gateway) => {
      gateway.child.kill('SIGKILL');
      return gateway.exited;
    }),
  );
  if (dir) await rm(dir, { recursive: true, force: true });
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}, 60_000);

// ---- waiting for conditions ------------------------------------------------------------------

/** Resolves with `promise`, or fails after `ms` with what was awaited: a bound on a failure, not a pause. */
async function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---- gateway processes -----------------------------------------------------------------------

interface NamedGateway extends GatewayProcess {
  readonly name: string;
}

/** A gateway as `npm run dev` runs it (the code `npm start` compiles), on port 0, sharing Redis (store and event log) under this file's prefix. */
async function startGatewayProcess(name: string): Promise<NamedGateway> {
  const gateway = await within(
    spawnGateway({
      DATA_DIR: await mkdtemp(join(dir, `${name}-`)),
      REDIS_URL,
      REDIS_KEY_PREFIX: PREFIX,
      STORE_SECRET_KEY,
      IXC_WEBHOOK_SECRETS: SECRET,
    }),
    `gateway ${name} to start`,
    90_000,
  );
  running.add(gateway);
  void gateway.exited.then(() => running.delete(gateway));
  return { ...gateway, name };
}

/** The gateway's `switchboard_subscriptions_active` over WebSocket, as /metrics shows it (the embedded default lets anyone read it). */
async function activeSubscriptions(gateway: NamedGateway): Promise<number> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  const match = /^switchboard_subscriptions_active\{transport="ws"\} (\d+)/m.exec(text);
  return match ? Number(match[1]) : 0;
}

/**
 * Waits until the gateway runs `count` subscriptions: each one's log follower is
 * registered before the gauge counts it, so what is posted afterwards reaches it live.
 */
async function subscriptionsRegistered(gateway: NamedGateway, count: number): Promise<void> {
  await within(
    (async () => {
      while ((await activeSubscriptions(gateway)) < count) await delay(20);
    })(),
    `${count} subscriptions on gateway ${gateway.name}`,
  );
}

// ---- webhooks --------------------------------------------------------------------------------

interface Delivery {
  body: string;
  headers: Record<string, string>;
  serial: string;
}

/** An IXC `device.rebooted` delivery (the shape src/platforms/ixc/webhooks.ts reads), signed with the configured secret. */
function rebooted(serial: string): Delivery {
  const body = JSON.stringify({ event: 'device.rebooted', protocol: randomUUID(), serialNumber: serial, status: 'success', occurredAt: new Date().toISOString(), data: {} });
  return { body, serial, headers: { 'content-type': 'application/json', ...webhookHeaders(SECRET, body) } };
}

interface Accepted {
  status: string;
  cursors: string[];
}

async function post(gateway: NamedGateway, delivery: Delivery): Promise<Accepted> {
  const res = await fetch(`${gateway.url}/webhooks/ixc`, { method: 'POST', headers: delivery.headers, body: delivery.body });
  const answer = (await res.json()) as Accepted;
  expect(res.status, `gateway ${gateway.name} answered ${JSON.stringify(answer)}`).toBe(200);
  expect(answer.cursors).toHaveLength(1);
  return answer;
}

/** Stream ids (`<ms>-<seq>`) in log order. */
function compareCursors(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}

// ---- subscribers -----------------------------------------------------------------------------

interface Received {
  cursor: string;
  subject: string;
  id: string;
}

const EVENTS = `subscription Events($types: [String!], $after: String) {
  events(types: $types, after: $after) {
    __typename id cursor subject type
    ... on IxcDeviceRebootedEvent { serialNumber status }
  }
}`;

/**
 * One subscriber on its own WebSocket: every event it receives, in order, and
 * how its subscription ended (the socket closing when its gateway dies).
 */
class Subscriber {
  readonly received: Received[] = [];
  readonly ended: Promise<string>;
  private wake: () => void = () => undefined;
  private endedWith: string | undefined;

  constructor(
    readonly gateway: NamedGateway,
    after?: string,
  ) {
    const client = createClient({ url: `${gateway.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    clients.add(client);
    this.ended = new Promise<string>((resolve) => {
      client.subscribe<{ events: Received & { __typename: string; type: string; serialNumber: string | null; status: string | null } }>(
        { query: EVENTS, variables: { types: [TYPE], ...(after === undefined ? {} : { after }) } },
        {
          next: (result) => {
            if (result.errors) {
              this.finish(`errors: ${JSON.stringify(result.errors)}`, resolve);
              return;
            }
            const event = result.data!.events;
            // Typed as the documented event, its fields read from the payload; anything else fails the comparisons.
            const typed = event.__typename === 'IxcDeviceRebootedEvent' && event.type === TYPE && event.serialNumber === event.subject && event.status === 'SUCCESS';
            this.received.push({ cursor: event.cursor, subject: typed ? event.subject : `not typed: ${JSON.stringify(event)}`, id: event.id });
            this.wake();
          },
          error: (error) => this.finish(`error: ${(error as { code?: number }).code ?? String(error)}`, resolve),
          complete: () => this.finish('complete', resolve),
        },
      );
    });
  }

  private finish(how: string, resolve: (how: string) => void): void {
    this.endedWith ??= how;
    resolve(how);
    this.wake();
  }

  /** Waits until it has received `count` events (or its subscription ended), and answers what it has. */
  async receivedAtLeast(count: number): Promise<Received[]> {
    await within(
      (async () => {
        while (this.received.length < count && this.endedWith === undefined) await new Promise<void>((resolve) => (this.wake = resolve));
      })(),
      `${count} events at a subscriber of gateway ${this.gateway.name} (it has ${this.received.length})`,
    );
    if (this.received.length < count) throw new Error(`the subscription ended (${this.endedWith}) after ${this.received.length} of ${count} events`);
    return [...this.received];
  }
}

const view = (events: readonly { cursor: string; subject: string }[]) => events.map(({ cursor, subject }) => ({ cursor, subject }));

// ---- the test --------------------------------------------------------------------------------

describe('two gateway processes sharing the event log on Redis', () => {
  let a: NamedGateway;
  let b: NamedGateway;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchboard-events-gateways-'));
    [a, b] = await Promise.all([startGatewayProcess('A'), startGatewayProcess('B')]);
  }, 120_000);

  it('deliver a webhook accepted by either to the subscribers of both, once, in order; a subscriber of a killed gateway resumes on the other', { timeout: 180_000 }, async () => {
    // A first event, before anyone subscribes: neither kind of subscriber below may see it.
    const seed = rebooted('SEED');
    const [seedCursor] = (await post(a, seed)).cursors;

    // On each gateway, one subscriber from now on and one after the seed's cursor.
    const subscribers = {
      aLive: new Subscriber(a),
      aAfter: new Subscriber(a, seedCursor),
      bLive: new Subscriber(b),
      bAfter: new Subscriber(b, seedCursor),
    };
    await Promise.all([subscriptionsRegistered(a, 2), subscriptionsRegistered(b, 2)]);

    // One at a time, alternating between the gateways: the log keeps the order they were accepted in.
    const expected: Received[] = [];
    const accepted = async (gateway: NamedGateway, delivery: Delivery) => {
      const [cursor] = (await post(gateway, delivery)).cursors;
      expected.push({ cursor: cursor!, subject: delivery.serial, id: '' });
    };
    for (let i = 1; i <= 6; i++) await accepted(i % 2 ? a : b, rebooted(`SEQ${i}`));

    // The same webhook-id delivered to both gateways at once: stored once, answered 2xx by both with its one cursor.
    const twice = rebooted('TWICE');
    const both = await Promise.all([post(a, twice), post(b, twice)]);
    expect(both.map((answer) => answer.status).sort()).toEqual(['accepted', 'duplicate']);
    expect(both[0]!.cursors).toEqual(both[1]!.cursors);
    expected.push({ cursor: both[0]!.cursors[0]!, subject: 'TWICE', id: '' });
    // And again later, to the other one first: still the one event.
    const again = await Promise.all([post(b, twice), post(a, twice)]);
    expect(again.map((answer) => answer.status)).toEqual(['duplicate', 'duplicate']);
    expect(again.map((answer) => answer.cursors)).toEqual([both[0]!.cursors, both[0]!.cursors]);

    for (let i = 7; i <= 10; i++) await accepted(i % 2 ? a : b, rebooted(`SEQ${i}`));

    // Posted one after the other, accepted in that order: the cursors increase.
    for (let i = 1; i < expected.length; i++) expect(compareCursors(expected[i - 1]!.cursor, expected[i]!.cursor)).toBe(-1);
    expect(compareCursors(seedCursor!, expected[0]!.cursor)).toBe(-1);

    // Several at once on both gateways: the log orders them, and every subscriber sees that one order.
    const concurrent = Array.from({ length: 8 }, (_, i) => rebooted(`CONC${i}`));
    const answers = await Promise.all(concurrent.map((delivery, i) => post(i % 2 ? b : a, delivery)));
    const concurrentEvents = concurrent.map((delivery, i) => ({ cursor: answers[i]!.cursors[0]!, subject: delivery.serial, id: '' }));
    concurrentEvents.sort((x, y) => compareCursors(x.cursor, y.cursor));
    expected.push(...concurrentEvents);
    expect(new Set(expected.map((e) => e.cursor)).size).toBe(expected.length);

    // Every subscriber of both gateways: each event once, in the log's order, with the same cursors.
    for (const [name, subscriber] of Object.entries(subscribers)) {
      const got = await subscriber.receivedAtLeast(expected.length);
      expect(view(got), name).toEqual(view(expected));
    }
    // The same events everywhere: same ids too, and unique.
    const ids = subscribers.aLive.received.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const subscriber of Object.values(subscribers)) expect(subscriber.received.map((e) => e.id)).toEqual(ids);

    // Gateway A dies with SIGKILL right after B accepted an event, while A's subscribers are connected;
    // whether A handed that event on before dying is a race, and either way must be fine.
    const afterKill: Received[] = [];
    const postToB = async (delivery: Delivery) => {
      const [cursor] = (await post(b, delivery)).cursors;
      afterKill.push({ cursor: cursor!, subject: delivery.serial, id: '' });
    };
    await postToB(rebooted('KILL1'));
    a.child.kill('SIGKILL');
    for (let i = 2; i <= 5; i++) await postToB(rebooted(`KILL${i}`));
    await within(a.exited, 'gateway A to exit');
    expect(a.child.signalCode).toBe('SIGKILL');
    const endings = await within(Promise.all([subscribers.aLive.ended, subscribers.aAfter.ended]), "A's subscriptions to end with its process");
    for (const how of endings) expect(how).toMatch(/^error/);

    const all = [...expected, ...afterKill];
    // The subscriber on A reconnects to B with the last cursor it received.
    const orphan = subscribers.aLive;
    const kept = view(orphan.received);
    expect(kept.length).toBeGreaterThanOrEqual(expected.length);
    expect(kept).toEqual(view(all.slice(0, kept.length))); // what it had was right so far
    const lastCursor = kept.at(-1)!.cursor;
    const missed = all.slice(kept.length);
    expect(missed.length).toBeGreaterThanOrEqual(afterKill.length - 1);

    const resumed = new Subscriber(b, lastCursor);
    await subscriptionsRegistered(b, 3);
    expect(view(await resumed.receivedAtLeast(missed.length))).toEqual(view(missed));

    // Then live: the next event after the seam, and nothing twice.
    await postToB(rebooted('LIVE'));
    const live = afterKill.at(-1)!;
    expect(view(await resumed.receivedAtLeast(missed.length + 1))).toEqual(view([...missed, live]));
    // Together, before and after the crash: every event once, in order.
    expect([...kept, ...view(resumed.received)]).toEqual(view([...all, live]));

    // B's own subscribers saw all of it too, once.
    for (const subscriber of [subscribers.bLive, subscribers.bAfter]) {
      expect(view(await subscriber.receivedAtLeast(all.length + 1))).toEqual(view([...all, live]));
    }
    // And the shared log, read from the survivor, holds each accepted webhook once.
    const history = await fetch(`${b.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ events(first: 100, filter: { types: ["${TYPE}"] }) { nodes { cursor subject } } }` }),
    });
    const { data, errors } = (await history.json()) as { data: { events: { nodes: { cursor: string; subject: string }[] } }; errors?: unknown };
    expect(errors).toBeUndefined();
    expect(data.events.nodes).toEqual(view([{ cursor: seedCursor!, subject: 'SEED' }, ...all, live]));
  });
});
