import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type GraphQLResponse, type Stack } from './utils/harness.js';

/**
 * What an upstream answer already carries answers the query, with no second call:
 * a CloudLX customer carries its realms' names and descriptions and its
 * sub-realms; a CloudCIX address embeds its country's id, English name and ISO
 * codes and its currency's name and symbol. A field the embedded copy lacks is
 * still read, batched. Asserted on the simulators' request logs, with both executors.
 */
describe.each(['jit', 'graphql-js'])('embedded objects answer what they hold (%s executor)', (executor) => {
  let stack: Stack;
  const queryOf = (query: string) => new URLSearchParams(query);

  beforeAll(async () => {
    stack = await startStack({ env: { EXECUTOR: executor }, simulators: { cloudlx: { customers: 200 } } });
    // Tokens first, so the logs below hold data requests only.
    await stack.graphql('{ cloudlx { services(first: 1) { totalCount } } cloudcix { membership { currency(platformId: 1) { name } } } }');
  });
  afterAll(() => stack.close());

  // Each query runs twice: graphql-jit compiles an operation on its second sighting, so both paths are covered.
  const twice = async (query: string, check: (res: GraphQLResponse) => void) => {
    for (let run = 0; run < 2; run++) {
      stack.sim('cloudlx').server.clearLog();
      stack.sim('cloudcix').clearLog();
      const res = await stack.graphql(query);
      expect(res.body.errors).toBeUndefined();
      check(res);
    }
  };

  it('200 CloudLX customers with realm names and sub-realms cost one call: GET /api/customers', async () => {
    const sim = stack.sim('cloudlx');
    const seeded = [...sim.customers.values()];
    expect(seeded).toHaveLength(200);
    await twice('{ cloudlx { customers(first: 500) { nodes { platformId name realms { name description } subRealms { platformId name hasAccess } } } } }', (res) => {
      expect(sim.server.log.map((r) => r.route)).toEqual(['GET /api/customers']);
      const nodes = res.body.data.cloudlx.customers.nodes;
      expect(nodes).toEqual(
        seeded.map((c) => ({
          platformId: String(c.id),
          name: c.name,
          realms: c.realms.map((r) => ({ name: r.name, description: r.description })),
          subRealms: c.sub_realms.map((s) => ({ platformId: String(s.id), name: s.name, hasAccess: s.has_access })),
        })),
      );
    });
  });

  it('a realm id, which a customer does not carry, is still read: one GET /api/realms for all 200 customers', async () => {
    const sim = stack.sim('cloudlx');
    await twice('{ cloudlx { customers(first: 500) { nodes { realms { platformId name } } } } }', (res) => {
      expect(sim.server.log.map((r) => r.route).sort()).toEqual(['GET /api/customers', 'GET /api/realms']);
      const byName = new Map([...res.body.data.cloudlx.customers.nodes.flatMap((n: any) => n.realms)].map((r: any) => [r.name, r.platformId]));
      // The simulator's Realms API ids, joined by name.
      expect(Object.fromEntries(byName)).toEqual({ Networking: '1', Voice: '2', Cloud: '3', Security: '7' });
    });
  });

  it("a realm's sub-realms and a sub-realm's realm are read from the Realms and Sub-Realms APIs, once each", async () => {
    const sim = stack.sim('cloudlx');
    await twice('{ cloudlx { customers(first: 3) { nodes { realms { name subRealms { name } } subRealms { name realm { name } } } } } }', (res) => {
      expect(sim.server.log.map((r) => r.route).sort()).toEqual(['GET /api/customers', 'GET /api/realms', 'GET /api/sub_realms']);
      const first = res.body.data.cloudlx.customers.nodes[0];
      const voice = first.realms.find((r: any) => r.name === 'Voice');
      expect(voice.subRealms.map((s: any) => s.name)).toEqual(['SIP Trunking', 'Cloud SBC & Conversion', 'Numbers']);
      for (const sub of first.subRealms) expect(sub.realm).not.toBeNull();
    });
  });

  it('100 CloudCIX addresses with country names and currencies cost one call: the address list', async () => {
    const sim = stack.sim('cloudcix');
    const addresses = sim.records('Membership', 'address').slice(0, 100);
    await twice(
      '{ cloudcix { membership { addresses(first: 100) { nodes { platformId country { id platformId englishName alpha2Code alpha3Code } currency { platformId name symbol } } } } } }',
      (res) => {
        expect(sim.server.log.map((r) => r.route)).toEqual(['GET /membership/address/']);
        const nodes = res.body.data.cloudcix.membership.addresses.nodes;
        expect(nodes).toHaveLength(100);
        nodes.forEach((node: any, i: number) => {
          const address = addresses[i]!;
          const country = sim.record('Membership', 'country', (address.country as { id: number }).id)!;
          const currency = sim.record('Membership', 'currency', (address.currency as { id: number }).id)!;
          expect(node.platformId).toBe(String(address.id));
          expect(node.country).toMatchObject({ platformId: String(country.id), englishName: country.english_name, alpha2Code: country.alpha_2_code, alpha3Code: country.alpha_3_code });
          expect(node.currency).toEqual({ platformId: String(currency.id), name: currency.name, symbol: currency.symbol });
        });
        // The global id of an embedded country is the one a read gives (node(id) reads it back).
        expect(nodes[0].country.id).toMatch(/\S/);
      },
    );
  });

  it('a country field the address lacks (its phone prefix) is read, for every address in one batched request', async () => {
    const sim = stack.sim('cloudcix');
    const addresses = sim.records('Membership', 'address').slice(0, 100);
    const countryIds = [...new Set(addresses.map((a) => (a.country as { id: number }).id))].sort((a, b) => a - b);
    await twice('{ cloudcix { membership { addresses(first: 100) { nodes { country { englishName phonePrefix } currency { name } } } } } }', (res) => {
      expect(sim.server.log.map((r) => r.route).sort()).toEqual(['GET /membership/address/', 'GET /membership/country/']);
      const batch = sim.server.requests('GET /membership/country/')[0]!;
      expect((JSON.parse(queryOf(batch.query).get('search[id__in]')!) as number[]).sort((a, b) => a - b)).toEqual(countryIds);
      res.body.data.cloudcix.membership.addresses.nodes.forEach((node: any, i: number) => {
        const country = sim.record('Membership', 'country', (addresses[i]!.country as { id: number }).id)!;
        expect(node.country).toEqual({ englishName: country.english_name, phonePrefix: country.phone_prefix });
      });
    });
  });

  it('reads the record when a fragment or `data` asks for what the embedded copy lacks, and not when it does not', async () => {
    const sim = stack.sim('cloudcix');
    const cases: [string, string[]][] = [
      ['{ cloudcix { membership { addresses(first: 5) { nodes { country { ...C } } } } } } fragment C on CloudCIXCountry { englishName primaryLevelName }', ['GET /membership/address/', 'GET /membership/country/']],
      ['{ cloudcix { membership { addresses(first: 5) { nodes { country { ... on Node { id } ... on CloudCIXCountry { alpha2Code } } } } } } }', ['GET /membership/address/']],
      ['{ cloudcix { membership { addresses(first: 5) { nodes { currency { data } } } } } }', ['GET /membership/address/', 'GET /membership/currency/']],
      ['{ cloudcix { membership { addresses(first: 5) { nodes { c: currency { symbol } d: currency { uri } } } } } }', ['GET /membership/address/', 'GET /membership/currency/']],
    ];
    for (const [query, routes] of cases) {
      await twice(query, (res) => {
        expect(sim.server.log.map((r) => r.route).sort()).toEqual(routes);
        const node = res.body.data.cloudcix.membership.addresses.nodes[0];
        expect(Object.values(node).every((value) => value !== null)).toBe(true);
      });
    }
    // `data` is the whole record as CloudCIX sends it, not the embedded part.
    const res = await stack.graphql('{ cloudcix { membership { addresses(first: 1) { nodes { country { data } } } } } }');
    expect(res.body.data.cloudcix.membership.addresses.nodes[0].country.data).toMatchObject({ phone_prefix: expect.any(String), uri: expect.any(String) });
  });
});
