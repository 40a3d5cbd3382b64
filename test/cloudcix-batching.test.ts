import { describe, expect, it, beforeAll } from 'vitest';
import { toGlobalId } from '../src/core/graphql/ids.js';
import { startStack, type Stack } from './utils/harness.js';

/** Batching and throttling, asserted on the simulator's request log. */
describe('CloudCIX batching and throttle', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
    // Log in first, so the logs below hold data requests only.
    await stack.graphql('{ cloudcix { membership { currency(platformId: 1) { name } } } }');
  });

  const queryOf = (query: string) => new URLSearchParams(query);

  it('100 addresses with their countries and currencies cost three requests, not 201', async () => {
    const sim = stack.sim('cloudcix');
    sim.clearLog();
    const res = await stack.graphql('{ cloudcix { membership { addresses(first: 100) { nodes { platformId country { alpha2Code } currency { name symbol } } } } } }');
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
      expect(node).toEqual({ platformId: String(address.id), country: { alpha2Code: country.alpha_2_code }, currency: { name: currency.name, symbol: currency.symbol } });
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
