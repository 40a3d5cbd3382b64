import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { ManualClock } from '../src/core/clock.js';
import type { StoredEvent } from '../src/core/events/log.js';
import { MemoryEventLog } from '../src/core/events/memory-log.js';
import type { WatchEventData } from '../src/core/events/watchers.js';
import { createInfra } from '../src/core/infra.js';
import { createLogger } from '../src/core/observability/log.js';
import type { RunningSimulator } from '../src/core/platform.js';
import { MemoryStore } from '../src/core/store/memory.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { platforms } from '../src/platforms/index.js';
import type { CloudCIXConfig } from '../src/platforms/cloudcix/config.js';
import { startStack, type Stack, type StackOptions } from './utils/harness.js';

/**
 * The watchers (src/core/events/watchers.ts) against the real simulators over
 * HTTP. One stack (gateway with watchers off, and the simulators) is the "editor":
 * changes are made through its graph. Watcher gateways are real gateways on the
 * same simulators, sharing one store, one event log and one ManualClock, so a
 * restart is a new gateway on the same store and log, and time is driven.
 */

const INTERVAL = 30_000;

interface World {
  editor: Stack;
  clock: ManualClock;
  store: MemoryStore;
  eventLog: MemoryEventLog;
  watchers: Gateway[];
}

let world: World | undefined;

async function startWorld(simulators: StackOptions['simulators'] = {}): Promise<World> {
  const clock = new ManualClock(Date.now());
  const editor = await startStack({
    env: { WATCH_INTERVAL_MS: '0' },
    // The CloudCIX simulator stamps `updated` and counts its throttle window on the same driven clock.
    simulators: { ...simulators, cloudcix: { clock: () => clock.now(), ...simulators?.cloudcix } },
  });
  const eventLog = new MemoryEventLog({ maxEvents: 100_000, maxAgeMs: 30 * 86_400_000, now: () => clock.now(), followerBuffer: 1_000, maxDeadLetters: 100 });
  world = { editor, clock, store: new MemoryStore(() => clock.now()), eventLog, watchers: [] };
  return world;
}

afterEach(async () => {
  if (!world) return;
  const { watchers, editor, eventLog, store } = world;
  world = undefined;
  await Promise.all(watchers.map((g) => g.close()));
  await editor.close();
  await eventLog.close();
  await store.close();
});

/**
 * A gateway with watchers on the editor's simulators. `cloudcixUser` 2 logs in to
 * CloudCIX as the simulator's second user, so its requests are told apart in the
 * simulator's log.
 */
async function startWatcher(w: World, env: Record<string, string>, cloudcixUser: 1 | 2 = 1): Promise<Gateway> {
  const config = loadConfig({ PORT: '0', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', DATA_DIR: '.data/test', WATCH_INTERVAL_MS: String(INTERVAL), ...env });
  const simulators: Record<string, RunningSimulator> = { ...(w.editor.gateway.simulators as Record<string, RunningSimulator>) };
  if (cloudcixUser === 2) {
    const sim = w.editor.sim('cloudcix');
    const user = sim.users[1]!;
    const config: CloudCIXConfig = { ...sim.config, email: user.email, password: user.password, apiKey: user.apiKey };
    simulators.cloudcix = { url: sim.url, config, close: async () => undefined };
  }
  const gateway = await startGateway({
    config,
    platforms,
    infra: createInfra({ log: createLogger(config.logLevel), clock: w.clock, store: w.store, secretKey: randomBytes(32).toString('base64') }),
    simulators,
    eventLog: w.eventLog,
  });
  w.watchers.push(gateway);
  return gateway;
}

async function stopWatcher(w: World, gateway: Gateway): Promise<void> {
  w.watchers.splice(w.watchers.indexOf(gateway), 1);
  await gateway.close();
}

/** Moves the clock on in steps; after each, every watcher's requests finish before time moves again. */
async function drive(w: World, ms: number, step = 100, afterStep?: () => void): Promise<void> {
  let passed = 0;
  do {
    const by = Math.min(step, ms - passed);
    await w.clock.advance(by);
    await Promise.all(w.watchers.map((g) => g.watchers.idle()));
    afterStep?.();
    passed += by;
  } while (passed < ms);
}

async function graphql(gateway: Gateway, query: string): Promise<{ data?: any; errors?: unknown }> {
  const res = await fetch(gateway.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  return (await res.json()) as { data?: any; errors?: unknown };
}

async function events(w: World, platform: string): Promise<StoredEvent[]> {
  return w.eventLog.read({ limit: 10_000, filter: { platforms: [platform] } });
}

const dataOf = (event: StoredEvent) => event.data as unknown as WatchEventData;

describe('watchers: CloudCIX', () => {
  it('emits an address created and then changed through the graph, each once, and nothing for the records that were there before', async () => {
    const w = await startWorld();
    const watcher = await startWatcher(w, { CLOUDCIX_WATCH: 'membership.address', EXOTEL_WATCH: 'none' });
    await drive(w, 2_000);
    expect(await events(w, 'cloudcix')).toEqual([]);
    expect(await w.store.get('watch:cloudcix:membership.address:state')).toBeDefined();

    const created = await w.editor.graphql('mutation { cloudcixMembershipAddressCreate(input: {name: "Watched Ltd", city: "Cork", country_id: 1}) { address { platformId } userErrors { message } } }');
    expect(created.body.data.cloudcixMembershipAddressCreate.userErrors).toEqual([]);
    const id = created.body.data.cloudcixMembershipAddressCreate.address.platformId as string;
    await drive(w, INTERVAL);

    let seen = await events(w, 'cloudcix');
    expect(seen.map((e) => [e.type, e.subject])).toEqual([['cloudcix.membership.address.created', id]]);
    expect(dataOf(seen[0]!)).toMatchObject({ service: 'membership.address', recordId: id, change: 'created', record: { id: Number(id), name: 'Watched Ltd', city: 'Cork' } });
    expect(seen[0]).toMatchObject({ platform: 'cloudcix', protocol: null });

    const changed = await w.editor.graphql('mutation($id: ID!) { cloudcixMembershipAddressPartialUpdate(platformId: $id, input: {city: "Galway"}) { userErrors { message } } }', { id });
    expect(changed.body.data.cloudcixMembershipAddressPartialUpdate.userErrors).toEqual([]);
    await drive(w, INTERVAL);
    // A third interval with no change adds nothing: the change is not reported again.
    await drive(w, INTERVAL);

    seen = await events(w, 'cloudcix');
    expect(seen.map((e) => e.type)).toEqual(['cloudcix.membership.address.created', 'cloudcix.membership.address.updated']);
    expect(dataOf(seen[1]!)).toMatchObject({ recordId: id, change: 'updated', record: { name: 'Watched Ltd', city: 'Galway' } });
    expect(new Set(seen.map((e) => e.id)).size).toBe(2);

    // The same events through the graph, typed as record events.
    const history = await graphql(
      watcher,
      `{ events(filter: {platforms: [CLOUDCIX]}) { nodes { __typename type subject
          ... on RecordCreatedEvent { service recordId record } ... on RecordUpdatedEvent { service recordId record } } } }`,
    );
    expect(history.errors).toBeUndefined();
    expect(history.data.events.nodes).toEqual([
      { __typename: 'RecordCreatedEvent', type: 'cloudcix.membership.address.created', subject: id, service: 'membership.address', recordId: id, record: expect.objectContaining({ city: 'Cork' }) },
      { __typename: 'RecordUpdatedEvent', type: 'cloudcix.membership.address.updated', subject: id, service: 'membership.address', recordId: id, record: expect.objectContaining({ city: 'Galway' }) },
    ]);
  });

  it('follows a contact (create, update and delete, stamped `updated`) by its watermark: each change once, and polls ask only for what changed', async () => {
    const w = await startWorld();
    const sim = w.editor.sim('cloudcix');
    const listRoute = sim.routeOf('Contacts', 'contact', 'list');
    await startWatcher(w, { CLOUDCIX_WATCH: 'contacts.contact', EXOTEL_WATCH: 'none' });
    await drive(w, 2_000);

    const created = await w.editor.graphql('mutation { cloudcixContactsContactCreate(input: {name: "Ada Lovelace"}) { contact { platformId } userErrors { message } } }');
    const id = created.body.data.cloudcixContactsContactCreate.contact.platformId as string;
    sim.server.clearLog();
    await drive(w, INTERVAL);
    // An incremental poll: one count and one page of what changed since the watermark, not the whole list.
    const requests = sim.server.requests(listRoute);
    const queries = requests.map((r) => new URLSearchParams(r.query));
    expect(queries).toHaveLength(2);
    // Made on behalf of the watch: each request with a request id of its own.
    const ids = requests.map((r) => r.headers['x-request-id']);
    for (const id of ids) expect(id).toMatch(/^watch-[0-9a-f-]{36}$/);
    expect(new Set(ids).size).toBe(2);
    expect(queries.map((q) => q.get('limit'))).toEqual(['1', '100']);
    expect(queries[1]!.get('search[updated__gte]')).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(queries[1]!.get('order')).toBe('updated');

    await w.editor.graphql('mutation($id: ID!) { cloudcixContactsContactPartialUpdate(platformId: $id, input: {name: "Ada King"}) { userErrors { message } } }', { id });
    await drive(w, INTERVAL);
    const deleted = await w.editor.graphql('mutation($id: ID!) { cloudcixContactsContactDelete(platformId: $id) { deletedId userErrors { message } } }', { id });
    expect(deleted.body.data.cloudcixContactsContactDelete.userErrors).toEqual([]);
    await drive(w, INTERVAL);
    await drive(w, INTERVAL);

    const seen = await events(w, 'cloudcix');
    expect(seen.map((e) => [e.type, e.subject])).toEqual([
      ['cloudcix.contacts.contact.created', id],
      ['cloudcix.contacts.contact.updated', id],
      ['cloudcix.contacts.contact.deleted', id],
    ]);
    expect(dataOf(seen[1]!).record).toMatchObject({ name: 'Ada King' });
    expect(dataOf(seen[2]!)).toEqual({ service: 'contacts.contact', recordId: id, change: 'deleted', record: null });
    // A created or changed record's event happened when CloudCIX stamped it.
    expect(seen[0]!.occurredAt).toBe(new Date(Date.parse(String(dataOf(seen[0]!).record!.updated))).toISOString());
  });

  it('never puts a member\'s api_key or secret in an event', async () => {
    const w = await startWorld();
    await startWatcher(w, { CLOUDCIX_WATCH: 'membership.member', EXOTEL_WATCH: 'none' });
    await drive(w, 2_000);
    const created = await w.editor.graphql('mutation { cloudcixMembershipMemberCreate(input: {name: "Watched Member", api_key: "ak_watched_0001", secret: "s3cr3t-watched"}) { member { platformId } userErrors { message } } }');
    expect(created.body.data.cloudcixMembershipMemberCreate.userErrors).toEqual([]);
    // CloudCIX holds them and lists them: the watcher is what must leave them out.
    expect(w.editor.sim('cloudcix').records('Membership', 'member').find((m) => m.name === 'Watched Member')).toMatchObject({ api_key: 'ak_watched_0001', secret: 's3cr3t-watched' });
    await drive(w, INTERVAL);
    const seen = await events(w, 'cloudcix');
    expect(seen.map((e) => e.type)).toEqual(['cloudcix.membership.member.created']);
    expect(dataOf(seen[0]!).record).toMatchObject({ name: 'Watched Member' });
    const text = JSON.stringify(seen);
    expect(text).not.toContain('api_key');
    expect(text).not.toContain('s3cr3t-watched');
  });
});

describe('watchers: restarts and leases', () => {
  it('after a restart (new gateway, same store and log) replays nothing and emits a change made while it was down once', async () => {
    const w = await startWorld();
    const env = { CLOUDCIX_WATCH: 'membership.address', EXOTEL_WATCH: 'none' };
    const first = await startWatcher(w, env);
    await drive(w, 2_000);
    const a = await w.editor.graphql('mutation { cloudcixMembershipAddressCreate(input: {name: "Before Restart"}) { address { platformId } } }');
    const before = a.body.data.cloudcixMembershipAddressCreate.address.platformId as string;
    await drive(w, INTERVAL);
    expect((await events(w, 'cloudcix')).map((e) => e.subject)).toEqual([before]);

    await stopWatcher(w, first);
    // Released on close, so the next gateway need not wait for the lease to lapse.
    expect(await w.store.get('watch:cloudcix:membership.address:lease')).toBeUndefined();
    const b = await w.editor.graphql('mutation { cloudcixMembershipAddressCreate(input: {name: "While Down"}) { address { platformId } } }');
    const whileDown = b.body.data.cloudcixMembershipAddressCreate.address.platformId as string;
    await w.editor.graphql('mutation($id: ID!) { cloudcixMembershipAddressPartialUpdate(platformId: $id, input: {city: "Limerick"}) { userErrors { message } } }', { id: before });
    await drive(w, 2 * INTERVAL);

    await startWatcher(w, env);
    await drive(w, 2 * INTERVAL);
    const seen = await events(w, 'cloudcix');
    // The restarted watcher lists by id: the older address's change comes first.
    expect(seen.map((e) => [e.type, e.subject])).toEqual([
      ['cloudcix.membership.address.created', before],
      ['cloudcix.membership.address.updated', before],
      ['cloudcix.membership.address.created', whileDown],
    ]);
  });

  it('a poll repeated after a crash between appending and saving its state adds nothing twice', async () => {
    const w = await startWorld();
    const env = { CLOUDCIX_WATCH: 'membership.address', EXOTEL_WATCH: 'none' };
    await startWatcher(w, env);
    await drive(w, 2_000);
    const saved = await w.store.get('watch:cloudcix:membership.address:state');
    const a = await w.editor.graphql('mutation { cloudcixMembershipAddressCreate(input: {name: "Crash Test"}) { address { platformId } } }');
    const id = a.body.data.cloudcixMembershipAddressCreate.address.platformId as string;
    await drive(w, INTERVAL);
    expect((await events(w, 'cloudcix')).map((e) => e.subject)).toEqual([id]);
    // As if the process died after the append and before the state was written: the old state is back.
    await w.store.set('watch:cloudcix:membership.address:state', saved!);
    await drive(w, INTERVAL);
    expect((await events(w, 'cloudcix')).map((e) => e.subject)).toEqual([id]);
    // The repeated poll saw the change, appended nothing new, and saved the state this time.
    const state = JSON.parse((await w.store.get('watch:cloudcix:membership.address:state'))!) as { records: Record<string, string> };
    expect(state.records[id]).toBeDefined();
  });

  it('two gateways on one store: only the lease holder polls; when it closes, the other takes over and emits what changed once', async () => {
    const w = await startWorld();
    const sim = w.editor.sim('cloudcix');
    const env = { CLOUDCIX_WATCH: 'membership.address', EXOTEL_WATCH: 'none' };
    const listRoute = sim.routeOf('Membership', 'address', 'list');
    const one = await startWatcher(w, env, 1);
    const two = await startWatcher(w, env, 2);
    sim.clearLog();
    await drive(w, 3 * INTERVAL);
    const pollers = () => new Set(sim.seen.filter((s) => s.route === listRoute).map((s) => s.uid));
    expect(pollers()).toEqual(new Set([1]));
    expect(await w.store.get('watch:cloudcix:membership.address:lease')).toBe(one.watchers.owner);
    // 300 addresses in pages of 100 and the empty page that ends the listing, at each of the 4 polls of one gateway.
    expect(sim.seen.filter((s) => s.route === listRoute)).toHaveLength(4 * 4);

    await stopWatcher(w, one);
    const a = await w.editor.graphql('mutation { cloudcixMembershipAddressCreate(input: {name: "After Failover"}) { address { platformId } } }');
    const id = a.body.data.cloudcixMembershipAddressCreate.address.platformId as string;
    sim.clearLog();
    await drive(w, 2 * INTERVAL);
    expect(pollers()).toEqual(new Set([2]));
    expect(await w.store.get('watch:cloudcix:membership.address:lease')).toBe(two.watchers.owner);
    expect((await events(w, 'cloudcix')).map((e) => [e.type, e.subject])).toEqual([['cloudcix.membership.address.created', id]]);
  });
});

describe('watchers: Exotel', () => {
  it('emits an app created and then deleted through the graph, without its secrets', async () => {
    const w = await startWorld();
    await startWatcher(w, { CLOUDCIX_WATCH: 'none', EXOTEL_WATCH: 'app' });
    await drive(w, 1_000);
    const input = { name: 'Watched Line', exotelAccountSid: 'watched1', exotelApiKey: 'key-watched-0001', exotelApiToken: 'token-watched-0001', exotelDomain: 'mumbai', isActive: true };
    const created = await w.editor.graphql('mutation($input: ExotelCreateAppInput!) { exotelCreateApp(input: $input) { app { platformId } appSecret userErrors { message } } }', { input });
    expect(created.body.data.exotelCreateApp.userErrors).toEqual([]);
    const appId = created.body.data.exotelCreateApp.app.platformId as string;
    const appSecret = created.body.data.exotelCreateApp.appSecret as string;
    await drive(w, INTERVAL);
    await w.editor.graphql('mutation($id: ID!) { exotelDeleteApp(input: { platformId: $id }) { deletedId userErrors { message } } }', { id: appId });
    await drive(w, INTERVAL);
    await drive(w, INTERVAL);

    const seen = await events(w, 'exotel');
    expect(seen.map((e) => [e.type, e.subject])).toEqual([
      ['exotel.app.created', appId],
      ['exotel.app.deleted', appId],
    ]);
    expect(dataOf(seen[0]!)).toMatchObject({ service: 'app', change: 'created', record: { AppID: appId, AppName: 'Watched Line', ExotelAccountSid: 'watched1' } });
    const text = JSON.stringify(seen);
    for (const secret of [appSecret, input.exotelApiKey, input.exotelApiToken]) expect(text).not.toContain(secret);
  });
});

describe('watchers: budget', () => {
  it(`keeps to WATCH_BUDGET_SHARE of CloudCIX's rate: no more than 5 list requests in any second at 0.25 of 20`, async () => {
    const w = await startWorld({ cloudcix: { addresses: 2_000 } });
    const sim = w.editor.sim('cloudcix');
    const listRoute = sim.routeOf('Membership', 'address', 'list');
    await startWatcher(w, { CLOUDCIX_WATCH: 'membership.address', EXOTEL_WATCH: 'none', WATCH_BUDGET_SHARE: '0.25' });
    sim.clearLog();
    // Each request is stamped with the driven time of the step it was sent in.
    const stamps: number[] = [];
    let counted = 0;
    const start = w.clock.now();
    const stamp = () => {
      const now = sim.seen.filter((s) => s.route === listRoute).length;
      for (; counted < now; counted++) stamps.push(w.clock.now() - start);
    };
    // The first poll is due now: run it before time moves, so that every later wait for budget ends on a step.
    await drive(w, 0);
    stamp();
    await drive(w, 6_000, 50, stamp);
    // 2,000 addresses are 20 full pages and an empty one: 21 requests.
    expect(stamps).toHaveLength(21);
    const busiest = Math.max(...stamps.map((t) => stamps.filter((u) => u >= t && u < t + 1_000).length));
    expect(busiest).toBe(5);
    // Paced, not stalled: 21 requests at 5 a second take 4 seconds and a little.
    expect(stamps.at(-1)!).toBeGreaterThanOrEqual(4_000);
    expect(stamps.at(-1)!).toBeLessThan(5_000);
  });
});

describe('watchers: configuration', () => {
  it('refuses an unknown or nested CloudCIX service and a share out of range, saying what was expected', () => {
    const attempt = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(attempt({ CLOUDCIX_WATCH: 'membership.adress' })).toMatch(/CLOUDCIX_WATCH: expected a comma-separated list of CloudCIX services .*"membership\.adress" is not one \(did you mean membership\.address/);
    expect(attempt({ CLOUDCIX_WATCH: 'iaas.storage' })).toMatch(/CLOUDCIX_WATCH: "iaas\.storage" cannot be watched: .*nested .*vm_id/);
    expect(attempt({ EXOTEL_WATCH: 'users' })).toMatch(/EXOTEL_WATCH: expected .*"users" is not one/);
    expect(attempt({ WATCH_BUDGET_SHARE: '2' })).toMatch(/WATCH_BUDGET_SHARE: expected a fraction greater than 0 and at most 1.*got "2"/);
    expect(attempt({ WATCH_INTERVAL_MS: '10' })).toMatch(/WATCH_INTERVAL_MS: expected 0 \(off\) or at least 1000/);
    const config = loadConfig({ CLOUDCIX_WATCH: 'Membership.Address, iaas.project', EXOTEL_WATCH: 'none' });
    expect(config.watch).toEqual({ intervalMs: 30_000, budgetShare: 0.25, services: expect.objectContaining({ cloudcix: ['membership.address', 'iaas.project'], exotel: [] }) });
    expect(loadConfig({}).watch.services).toMatchObject({ cloudcix: ['membership.address', 'membership.member', 'iaas.project'], exotel: ['app'] });
  });
});
