import { describe, expect, it, beforeAll } from 'vitest';
import { startStack, type Stack } from './utils/harness.js';

/** Filters, paging, ordering, warnings, nested services and global ids, end to end against the simulator. */
describe('CloudCIX lists through the gateway', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });

  const lastQuery = () => {
    const entry = stack.sim('cloudcix').server.log.at(-1)!;
    return new URLSearchParams(entry.query);
  };

  it('sends search and exclude filters as CloudCIX expects them and answers what they select', async () => {
    const sim = stack.sim('cloudcix');
    const res = await stack.graphql(`{ cloudcix { membership { addresses(first: 100, search: {name__icontains: "acme", id__in: [1, 16, 31, 46, 2]}, exclude: {id__in: [16]}) {
      totalCount nodes { platformId name } } } } }`);
    expect(res.body.errors).toBeUndefined();
    const query = lastQuery();
    expect(query.get('search[name__icontains]')).toBe('acme');
    expect(query.get('search[id__in]')).toBe('[1,16,31,46,2]');
    expect(query.get('exclude[id__in]')).toBe('[16]');

    const expected = sim
      .records('Membership', 'address')
      .filter((a) => [1, 31, 46].includes(a.id) && String(a.name).toLowerCase().includes('acme'))
      .map((a) => ({ platformId: String(a.id), name: a.name }));
    expect(expected.length).toBeGreaterThan(1);
    expect(res.body.data.cloudcix.membership.addresses).toEqual({ totalCount: expected.length, nodes: expected });
    expect(res.body.extensions?.warnings).toBeUndefined();
  });

  it('reports a filter CloudCIX skipped in extensions.warnings, with the field path, and still answers', async () => {
    const all = await stack.graphql('{ cloudcix { membership { addresses(first: 1) { totalCount } } } }');
    const res = await stack.graphql('{ cloudcix { membership { addresses(first: 1, search: {nmae__icontains: "acme"}) { totalCount } } } }');
    expect(res.body.errors).toBeUndefined();
    // Skipped, not applied: every address still counts.
    expect(res.body.data.cloudcix.membership.addresses.totalCount).toBe(all.body.data.cloudcix.membership.addresses.totalCount);
    expect(res.body.extensions?.warnings).toEqual([
      { platform: 'cloudcix', path: ['cloudcix', 'membership', 'addresses'], message: expect.stringContaining('nmae__icontains') },
    ]);
  });

  it('orders by the field given, descending with "-"', async () => {
    const sim = stack.sim('cloudcix');
    const res = await stack.graphql('{ cloudcix { iaas { vms(first: 5, order: "-ram") { nodes { platformId ram } } } } }');
    expect(res.body.errors).toBeUndefined();
    expect(lastQuery().get('order')).toBe('-ram');
    const rams = res.body.data.cloudcix.iaas.vms.nodes.map((n: any) => n.ram);
    const maxRam = Math.max(...sim.records('IAAS', 'vm').map((v) => v.ram as number));
    expect(rams).toEqual([maxRam, maxRam, maxRam, maxRam, maxRam]);
  });

  it('pages with first/after over CloudCIX page/limit, and totalCount is _metadata.total_records', async () => {
    const sim = stack.sim('cloudcix');
    const ids = sim.records('Membership', 'address').map((a) => String(a.id));
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    sim.clearLog();
    for (;;) {
      const res: any = await stack.graphql('query($after: String) { cloudcix { membership { addresses(first: 40, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { platformId } } } } }', { after });
      expect(res.body.errors).toBeUndefined();
      const conn = res.body.data.cloudcix.membership.addresses;
      expect(conn.totalCount).toBe(ids.length);
      seen.push(...conn.nodes.map((n: any) => n.platformId));
      pages++;
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(seen).toEqual(ids);
    expect(pages).toBe(Math.ceil(ids.length / 40));
    // Aligned windows: exactly one CloudCIX page per GraphQL page, limit = first.
    const lists = sim.server.requests('GET /membership/address/');
    expect(lists.map((r) => [new URLSearchParams(r.query).get('page'), new URLSearchParams(r.query).get('limit')])).toEqual(
      Array.from({ length: pages }, (_, i) => [String(i), '40']),
    );
  });

  it('covers a window that does not align with a page, and first above 100, with pages of 100', async () => {
    const sim = stack.sim('cloudcix');
    const ids = sim.records('Membership', 'address').map((a) => String(a.id));
    const first = await stack.graphql('{ cloudcix { membership { addresses(first: 30) { pageInfo { endCursor } } } } }');
    const after = first.body.data.cloudcix.membership.addresses.pageInfo.endCursor;
    sim.clearLog();
    const res = await stack.graphql('query($after: String) { cloudcix { membership { addresses(first: 150, after: $after) { pageInfo { hasNextPage } nodes { platformId } } } } }', { after });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.cloudcix.membership.addresses.nodes.map((n: any) => n.platformId)).toEqual(ids.slice(30, 180));
    expect(res.body.data.cloudcix.membership.addresses.pageInfo.hasNextPage).toBe(ids.length > 180);
    const pages = sim.server.requests('GET /membership/address/').map((r) => [new URLSearchParams(r.query).get('page'), new URLSearchParams(r.query).get('limit')]);
    expect(pages.sort()).toEqual([['0', '100'], ['1', '100']]);
  });

  it('hangs nested services under their parent and reaches them at the root with the parent id', async () => {
    const sim = stack.sim('cloudcix');
    const storages = sim.records('IAAS', 'storage').filter((s) => s.vm_id === 3);
    expect(storages.length).toBeGreaterThan(1);
    const res = await stack.graphql(`{ cloudcix {
      iaas {
        vm(platformId: 3) { name storages { totalCount nodes { platformId } } storage(platformId: ${storages[1]!.id}) { platformId } }
        storages(vmId: 3) { nodes { platformId } }
      }
      membership {
        address(platformId: 1) { link(platformId: 2) { platformId data } }
        addressLink(addressId: 1, platformId: 2) { platformId }
        country(platformId: 1) { englishName subdivisions { nodes { data } } }
        subdivisions(countryId: 1) { totalCount }
      } } }`);
    expect(res.body.errors).toBeUndefined();
    const { iaas, membership } = res.body.data.cloudcix;
    const storageIds = storages.map((s) => String(s.id));
    expect(iaas.vm.storages).toEqual({ totalCount: storages.length, nodes: storageIds.map((platformId) => ({ platformId })) });
    expect(iaas.vm.storage).toEqual({ platformId: storageIds[1] });
    expect(iaas.storages.nodes.map((n: any) => n.platformId)).toEqual(storageIds);
    expect(membership.address.link.platformId).toBe('2');
    expect(membership.address.link.data.contra_address_id).toBe(3);
    expect(membership.addressLink).toEqual({ platformId: '2' });
    const irish = sim.records('Membership', 'subdivision').filter((s) => s.country_id === 1);
    expect(membership.country.subdivisions.nodes.map((n: any) => n.data.name)).toEqual(irish.map((s) => s.name));
    expect(membership.subdivisions.totalCount).toBe(irish.length);
    expect(sim.server.requests('GET /iaas/vm/:vm_id/storage/').map((r) => r.path)).toContain('/iaas/vm/3/storage/');
  });

  it('gives global ids that node() reads again, nested services included', async () => {
    const res = await stack.graphql(`{ cloudcix {
      membership { address(platformId: 5) { id } addressLink(addressId: 1, platformId: 4) { id } }
      iaas { storages(vmId: 3) { nodes { id } } } } }`);
    expect(res.body.errors).toBeUndefined();
    const { membership, iaas } = res.body.data.cloudcix;
    const ids = [membership.address.id, membership.addressLink.id, iaas.storages.nodes[0].id];
    const again = await stack.graphql(
      `query($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on CloudCIXAddress { platformId name } ... on CloudCIXMembershipAddressLink { platformId } ... on CloudCIXIAASStorage { platformId } } }`,
      { ids },
    );
    expect(again.body.errors).toBeUndefined();
    expect(again.body.data.nodes.map((n: any) => [n.__typename, n.id, n.platformId])).toEqual([
      ['CloudCIXAddress', ids[0], '5'],
      ['CloudCIXMembershipAddressLink', ids[1], '4'],
      ['CloudCIXIAASStorage', ids[2], String(stack.sim('cloudcix').records('IAAS', 'storage').find((s) => s.vm_id === 3)!.id)],
    ]);
    expect(again.body.data.nodes[0].name).toBe(stack.sim('cloudcix').record('Membership', 'address', 5)!.name);
  });

  it('answers null for a read of a record that does not exist, and a clear error for a bad filter argument', async () => {
    const missing = await stack.graphql('{ cloudcix { membership { address(platformId: 999999) { name } } } }');
    expect(missing.body.errors).toBeUndefined();
    expect(missing.body.data.cloudcix.membership.address).toBeNull();

    const bad = await stack.graphql('{ cloudcix { membership { addresses(search: "name=acme") { totalCount } } } }');
    expect(bad.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringContaining('`search`') });
  });

  it('never returns a member\'s api_key or secret, as fields or inside data', async () => {
    const sim = stack.sim('cloudcix');
    const res = await stack.graphql('{ cloudcix { membership { members(first: 100) { nodes { platformId data } } member(platformId: 1) { data } } } customers(platforms: [CLOUDCIX], first: 5) { nodes { ... on CloudCIXMember { data } } } }');
    expect(res.body.errors).toBeUndefined();
    const text = stack.responses.at(-1)!;
    for (const member of sim.records('Membership', 'member')) {
      expect(text).not.toContain(member.api_key as string);
      expect(text).not.toContain(member.secret as string);
    }
    expect(res.body.data.cloudcix.membership.member.data).not.toHaveProperty('api_key');
    expect(res.body.data.cloudcix.membership.members.nodes).toHaveLength(sim.records('Membership', 'member').length);
  });

  it('a service that fails nulls its own list only; the sibling lists still answer', async () => {
    const sim = stack.sim('cloudcix');
    const route = sim.routeOf('Membership', 'address', 'list');
    sim.server.inject(route, { status: 503, body: { error_code: 'membership_address_list_503', detail: 'Down for maintenance.' } });
    try {
      const res = await stack.graphql('{ cloudcix { membership { addresses(first: 2) { totalCount } countries(first: 2) { totalCount } } } }');
      expect(res.body.data.cloudcix.membership.addresses).toBeNull();
      expect(res.body.data.cloudcix.membership.countries.totalCount).toBeGreaterThan(0);
      expect(res.body.errors).toHaveLength(1);
      expect(res.body.errors[0]).toMatchObject({
        path: ['cloudcix', 'membership', 'addresses'],
        extensions: { code: 'UPSTREAM_UNAVAILABLE', platform: 'cloudcix', upstreamStatus: 503 },
      });
    } finally {
      sim.server.clearFaults();
    }
  });
});
