import { createHash } from 'node:crypto';
import { describe, expect, it, beforeAll } from 'vitest';
import { toGlobalId } from '../src/core/graphql/ids.js';
import { RateLimitedError } from '../src/core/upstream/errors.js';
import { ManualClock } from '../src/core/clock.js';
import { MemoryStore } from '../src/core/store/memory.js';
import { RequestThrottle, type ThrottleOptions } from '../src/core/upstream/throttle.js';
import { startStack, type Stack } from './utils/harness.js';

const CURRENCY = '{ cloudcix { membership { currency(platformId: 1) { name } } } }';
const READ = 'GET /membership/currency/:pk/';

/** Batching and throttling, asserted on the simulator's request log. */
describe('CloudCIX batching and throttle', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
    // Log in first, so the logs below hold data requests only.
    await stack.graphql('{ cloudcix { membership { currency(platformId: 1) { name } } } }');
  });

  const queryOf = (query: string) => new URLSearchParams(query);

  // The fields asked here are ones an address's embedded country and currency lack (phone prefix, uri), so each is read;
  // what the embedded copies hold is answered with no read at all (test/embedded-objects.test.ts).
  it('100 addresses with their countries and currencies cost three requests, not 201', async () => {
    const sim = stack.sim('cloudcix');
    sim.clearLog();
    const res = await stack.graphql('{ cloudcix { membership { addresses(first: 100) { nodes { platformId country { alpha2Code phonePrefix } currency { name symbol uri } } } } } }');
    expect(res.body.errors).toBeUndefined();
    const nodes = res.body.data.cloudcix.membership.addresses.nodes;
    expect(nodes).toHaveLength(100);

    expect(sim.server.log.map((r) => r.route).sort()).toEqual(['GET /membership/address/', 'GET /membership/country/', 'GET /membership/currency/']);
    const addresses = sim.records('Membership', 'address').slice(0, 100);
    const countryIds = [...new Set(addresses.map((a) => (a.country as { id: number }).id))];
    const countryRequest = sim.server.requests('GET /membership/country/')[0]!;
    expect(queryOf(countryRequest.query).get('search[id__in]')).toBe(`[${countryIds.join(',')}]`);
    expect(queryOf(countryRequest.query).get('limit')).toBe('100');

    nodes.forEach((node: any, i: number) => {
      const address = addresses[i]!;
      const country = sim.record('Membership', 'country', (address.country as { id: number }).id)!;
      const currency = sim.record('Membership', 'currency', (address.currency as { id: number }).id)!;
      expect(node).toEqual({
        platformId: String(address.id),
        country: { alpha2Code: country.alpha_2_code, phonePrefix: country.phone_prefix },
        currency: { name: currency.name, symbol: currency.symbol, uri: currency.uri },
      });
    });
  });

  it('reads 250 records of one service by global id with three id__in requests of at most 100', async () => {
    const sim = stack.sim('cloudcix');
    const ids = sim.records('Membership', 'address').slice(0, 250).map((a) => a.id);
    expect(ids).toHaveLength(250);
    sim.clearLog();
    const res = await stack.graphql('query($ids: [ID!]!) { nodes(ids: $ids) { ... on CloudCIXAddress { platformId } } }', {
      ids: ids.map((id) => toGlobalId('CloudCIXAddress', id)),
    });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.nodes.map((n: any) => n.platformId)).toEqual(ids.map(String));
    const batches = sim.server.log.map((r) => {
      expect(r.route).toBe('GET /membership/address/');
      return JSON.parse(queryOf(r.query).get('search[id__in]')!) as number[];
    });
    expect(batches.map((b) => b.length).sort((a, b) => b - a)).toEqual([100, 100, 50]);
    expect(batches.flat().sort((a, b) => a - b)).toEqual(ids);
  });

  it('aliased reads of one service become one request; a lone read is a plain GET', async () => {
    const sim = stack.sim('cloudcix');
    sim.clearLog();
    const res = await stack.graphql('{ cloudcix { iaas { a: vm(platformId: 1) { name } b: vm(platformId: 2) { name } c: vm(platformId: 3) { name } p: project(platformId: 4) { name } } } }');
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.cloudcix.iaas.b.name).toBe(sim.record('IAAS', 'vm', 2)!.name);
    expect(sim.server.log.map((r) => `${r.route}${r.route.endsWith(':pk/') ? '' : ` ${queryOf(r.query).get('search[id__in]')}`}`).sort()).toEqual([
      'GET /iaas/project/:pk/',
      'GET /iaas/vm/ [1,2,3]',
    ]);
  });

  it('keeps every user under 20 requests per second: 45 distinct requests at once see no 429', async () => {
    const sim = stack.sim('cloudcix');
    // The control: the simulator does refuse a burst of 45 from one user.
    const token = await sim.issueToken(2);
    const direct = await Promise.all(
      Array.from({ length: 45 }, (_, i) => fetch(`${sim.url}/membership/address/?search[id]=${i + 1}`, { headers: { 'x-auth-token': token } }).then((r) => r.status)),
    );
    expect(direct.filter((s) => s === 429).length).toBeGreaterThan(0);

    sim.clearLog();
    const fields = Array.from({ length: 45 }, (_, i) => `a${i}: addresses(first: 1, search: {id: ${i + 1}}) { nodes { platformId } }`);
    const res = await stack.graphql(`{ cloudcix { membership { ${fields.join(' ')} } } }`);
    expect(res.body.errors).toBeUndefined();
    for (let i = 0; i < 45; i++) expect(res.body.data.cloudcix.membership[`a${i}`].nodes).toEqual([{ platformId: String(i + 1) }]);
    const statuses = sim.server.log.map((r) => r.status);
    expect(statuses).toHaveLength(45);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    // No second holds more than 20 arrivals.
    const arrivals = sim.server.log.map((r) => r.at).sort((a, b) => a - b);
    for (let i = 20; i < arrivals.length; i++) expect(arrivals[i]! - arrivals[i - 20]!).toBeGreaterThanOrEqual(1000);
  });
});

describe('CloudCIX batch reads when CloudCIX skips id__in', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
    await stack.graphql(CURRENCY);
  });

  const NODES = 'query($ids: [ID!]!) { nodes(ids: $ids) { ... on CloudCIXAddress { platformId name } } }';
  const LIST = 'GET /membership/address/';
  const READ_ADDRESS = 'GET /membership/address/:pk/';

  /** The unfiltered first page, as CloudCIX answers when it skipped the filter. */
  function unfilteredPage(warnings: unknown[]) {
    const sim = stack.sim('cloudcix');
    const content = sim.records('Membership', 'address').slice(0, 3);
    return { status: 200, times: 1, body: { content, _metadata: { page: 0, limit: 100, order: 'id', total_records: 300, warnings } } };
  }

  async function readAddresses(ids: number[]) {
    const res = await stack.graphql(NODES, { ids: ids.map((id) => toGlobalId('CloudCIXAddress', id)) });
    expect(res.body.errors).toBeUndefined();
    return res.body.data.nodes as ({ platformId: string; name: string } | null)[];
  }

  it('falls back to one GET per id when the warnings say id__in was skipped, keeping the asked-for records the page held', async () => {
    const sim = stack.sim('cloudcix');
    sim.clearLog();
    sim.server.inject(LIST, unfilteredPage(['search[id__in]=[2,250,251,252,99999] was skipped: "id__in" could not be applied']));
    const ids = [2, 250, 251, 252, 99999];
    const nodes = await readAddresses(ids);
    expect(nodes).toEqual([2, 250, 251, 252].map((id) => ({ platformId: String(id), name: sim.record('Membership', 'address', id)!.name })).concat([null as never]));
    const log = sim.server.log.map((r) => `${r.route} ${r.route === LIST ? '' : r.path.split('/').at(-2)} ${r.status}`);
    // Address 2 was on the page, so it is not read again; 99999 really does not exist (404 → null).
    expect(log.sort()).toEqual([`${LIST}  200`, `${READ_ADDRESS} 250 200`, `${READ_ADDRESS} 251 200`, `${READ_ADDRESS} 252 200`, `${READ_ADDRESS} 99999 404`].sort());
  });

  it('also falls back when there is no warning but the answer holds records that were not asked for', async () => {
    const sim = stack.sim('cloudcix');
    sim.clearLog();
    sim.server.inject(LIST, unfilteredPage([]));
    const nodes = await readAddresses([260, 261]);
    expect(nodes.map((n) => n?.platformId)).toEqual(['260', '261']);
    expect(sim.server.log.map((r) => r.route).sort()).toEqual([LIST, READ_ADDRESS, READ_ADDRESS]);
  });

  it('trusts a filtered answer: an id it does not hold is NOT_FOUND, without a GET', async () => {
    const sim = stack.sim('cloudcix');
    sim.clearLog();
    const nodes = await readAddresses([270, 99998]);
    expect(nodes).toEqual([{ platformId: '270', name: sim.record('Membership', 'address', 270)!.name }, null]);
    expect(sim.server.log.map((r) => r.route)).toEqual([LIST]);
  });
});

describe('CloudCIX throttle queue bounds (src/core/upstream/throttle.ts, on a driven clock)', () => {
  /** The throttle the CloudCIX client builds, on a ManualClock and a store of its own. */
  function cloudcixThrottle(options: ThrottleOptions) {
    const clock = new ManualClock();
    const throttle = new RequestThrottle(options, { platform: 'cloudcix', title: 'CloudCIX', key: 'uid:1', clock, store: new MemoryStore(() => clock.now()) });
    return { clock, throttle };
  }

  it('fails a request that waited longer than the bound with RATE_LIMITED, and not before', async () => {
    const { clock, throttle } = cloudcixThrottle({ limit: 1, windowMs: 60_000, maxWaitMs: 20 });
    await throttle.run(async () => undefined); // the one slot stays taken for a minute
    let outcome: unknown;
    const waiting = throttle.run(async () => 'never').then(
      (value) => (outcome = value),
      (error: unknown) => (outcome = error),
    );
    await clock.advance(19);
    expect(outcome).toBeUndefined();
    expect(throttle.queued).toBe(1);
    await clock.advance(1);
    await waiting;
    expect(outcome).toBeInstanceOf(RateLimitedError);
    expect(outcome).toMatchObject({ code: 'RATE_LIMITED', platform: 'cloudcix' });
    expect((outcome as Error).message).toMatch(/waiting 0 s for a turn: CloudCIX allows 1 requests per minute/);
    expect(throttle.queued).toBe(0);
  });

  it('refuses a request at once when the user already has the maximum waiting, and serves the queue after', async () => {
    const { clock, throttle } = cloudcixThrottle({ limit: 1, windowMs: 1, maxQueued: 2 });
    let release!: () => void;
    const first = throttle.run(() => new Promise<string>((resolve) => (release = () => resolve('first'))));
    await clock.advance(0);
    const queued = [throttle.run(async () => 'second'), throttle.run(async () => 'third')];
    const refused = await throttle.run(async () => 'fourth').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect((refused as Error).message).toContain('2 requests of this CloudCIX user are already waiting');
    expect(throttle.queued).toBe(2);
    release();
    // Each answer frees its slot a window (1 ms) later, on the driven clock.
    await clock.advance(10);
    expect(await Promise.all([first, ...queued])).toEqual(['first', 'second', 'third']);
  });
});

describe('CloudCIX throttle queues and retries', () => {
  it('names one queue for the gateway, even when its first requests race its first login', async () => {
    const stack = await startStack();
    const sim = stack.sim('cloudcix');
    const results = await Promise.all(Array.from({ length: 5 }, () => stack.graphql(CURRENCY)));
    for (const res of results) expect(res.body.errors).toBeUndefined();
    expect(sim.server.requests('POST /membership/auth/login/')).toHaveLength(1);
    expect(stack.gateway.clients.cloudcix!.throttles.keys()).toEqual([`uid:${sim.users[0]!.uid}`]);
    sim.expireTokens(); // a new login keeps the same queue
    expect((await stack.graphql(CURRENCY)).body.errors).toBeUndefined();
    expect(stack.gateway.clients.cloudcix!.throttles.keys()).toEqual([`uid:${sim.users[0]!.uid}`]);
  });

  it("queues a forwarded token by its hash, so a forged token naming the gateway's uid cannot fill the gateway's queue", async () => {
    const stack = await startStack();
    const sim = stack.sim('cloudcix');
    await stack.graphql(CURRENCY);
    const uid = sim.users[0]!.uid;
    const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const forged = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ uid, exp: 4_102_444_800 })}.forged`;
    const res = await stack.graphql(CURRENCY, undefined, { 'x-cloudcix-token': forged });
    expect(res.body.errors?.[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', platform: 'cloudcix' });
    const genuine = await sim.issueToken(uid);
    expect((await stack.graphql(CURRENCY, undefined, { 'x-cloudcix-token': genuine })).body.errors).toBeUndefined();
    const hash = (token: string) => `token:${createHash('sha256').update(token).digest('hex')}`;
    expect(stack.gateway.clients.cloudcix!.throttles.keys().sort()).toEqual([`uid:${uid}`, hash(forged), hash(genuine)].sort());
  });

  it('takes a new throttle slot for each retry of a GET (after a 503 and after a dropped connection)', async () => {
    // One request per second: each attempt must wait a second after the previous answer.
    const stack = await startStack({ env: { UPSTREAM_RETRIES: '2' }, simulators: { cloudcix: { requestsPerSecond: 1 } } });
    const sim = stack.sim('cloudcix');
    await stack.graphql(CURRENCY); // logs in
    sim.clearLog();
    sim.server.inject(READ, { status: 503, times: 1 });
    sim.server.inject('*', { drop: true, times: 1 });
    const res = await stack.graphql(CURRENCY);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.cloudcix.membership.currency.name).toBe('Euro');
    const reads = sim.server.requests(READ);
    expect(reads.map((r) => r.status)).toEqual([503, 0, 200]);
    for (let i = 1; i < reads.length; i++) expect(reads[i]!.at - reads[i - 1]!.at).toBeGreaterThanOrEqual(1000);
  });

  it('does not retry a 500, nor a write', async () => {
    const stack = await startStack();
    const sim = stack.sim('cloudcix');
    await stack.graphql(CURRENCY);
    sim.clearLog();
    sim.server.inject(READ, { status: 500, times: 1 });
    const res = await stack.graphql(CURRENCY);
    expect(res.body.errors?.[0].extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', upstreamStatus: 500 });
    sim.server.inject('POST /membership/address/', { status: 503, times: 1 });
    await stack.graphql('mutation { cloudcixMembershipAddressCreate(input: { name: "Not retried", country_id: 1, currency_id: 1 }) { __typename } }');
    expect(sim.server.log.map((r) => `${r.route} ${r.status}`)).toEqual([`${READ} 500`, 'POST /membership/address/ 503']);
  });
});
