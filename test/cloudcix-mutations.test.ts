import { describe, expect, it, beforeAll } from 'vitest';
import { toGlobalId } from '../src/core/graphql/ids.js';
import { startStack, type Stack } from './utils/harness.js';

const ADDRESS = 'address { id platformId name city country { englishName } currency { name } }';

describe('CloudCIX mutations', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });

  it('creates, updates, partially updates and deletes an Address, and the simulator holds each change', async () => {
    const sim = stack.sim('cloudcix');
    const created = await stack.graphql(`mutation { cloudcixMembershipAddressCreate(input: {name: "Switchboard Ltd", city: "Cork", country_id: 1, currency_id: 2}) { ${ADDRESS} userErrors { field message code } } }`);
    expect(created.body.errors).toBeUndefined();
    const payload = created.body.data.cloudcixMembershipAddressCreate;
    expect(payload.userErrors).toEqual([]);
    expect(payload.address).toMatchObject({ name: 'Switchboard Ltd', city: 'Cork', country: { englishName: 'Ireland' }, currency: { name: 'Pound Sterling' } });
    const id = Number(payload.address.platformId);
    expect(payload.address.id).toBe(toGlobalId('CloudCIXAddress', id));
    expect(sim.record('Membership', 'address', id)).toMatchObject({ name: 'Switchboard Ltd', city: 'Cork' });

    const patched = await stack.graphql(`mutation($id: ID!) { cloudcixMembershipAddressPartialUpdate(platformId: $id, input: {city: "Galway"}) { ${ADDRESS} userErrors { message } } }`, { id });
    expect(patched.body.data.cloudcixMembershipAddressPartialUpdate.address).toMatchObject({ name: 'Switchboard Ltd', city: 'Galway' });
    const patch = sim.server.requests('PATCH /membership/address/:pk/').at(-1)!;
    expect(patch.body).toEqual({ city: 'Galway' });

    const updated = await stack.graphql(`mutation($id: ID!) { cloudcixMembershipAddressUpdate(platformId: $id, input: {name: "Switchboard Group", city: "Dublin"}) { ${ADDRESS} userErrors { message } } }`, { id });
    expect(updated.body.data.cloudcixMembershipAddressUpdate.address).toMatchObject({ name: 'Switchboard Group', city: 'Dublin' });
    expect(sim.server.requests('PUT /membership/address/:pk/').at(-1)!.body).toEqual({ name: 'Switchboard Group', city: 'Dublin' });
  });

  it('turns CloudCIX field errors into userErrors on the input fields CloudCIX named', async () => {
    const sim = stack.sim('cloudcix');
    const before = sim.records('Membership', 'address').length;
    const res = await stack.graphql('mutation { cloudcixMembershipAddressCreate(input: {city: "Cork", country_id: 99999}) { address { id } userErrors { field message code } } }');
    expect(res.body.errors).toBeUndefined();
    const payload = res.body.data.cloudcixMembershipAddressCreate;
    expect(payload.address).toBeNull();
    expect(payload.userErrors).toEqual(
      expect.arrayContaining([
        { field: ['input', 'name'], message: 'The "name" parameter is required.', code: 'BAD_USER_INPUT' },
        { field: ['input', 'country_id'], message: expect.stringContaining('no Country with id 99999'), code: 'BAD_USER_INPUT' },
      ]),
    );
    expect(payload.userErrors).toHaveLength(2);
    expect(sim.records('Membership', 'address')).toHaveLength(before);
  });

  it('refuses an input that is not an object before calling CloudCIX', async () => {
    const sim = stack.sim('cloudcix');
    sim.clearLog();
    const res = await stack.graphql('mutation { cloudcixMembershipAddressCreate(input: [1, 2]) { address { id } userErrors { field message code } } }');
    expect(res.body.data.cloudcixMembershipAddressCreate.userErrors).toEqual([{ field: null, message: expect.stringContaining('JSON object'), code: 'BAD_USER_INPUT' }]);
    expect(sim.server.log).toEqual([]);
  });

  it('deletes with parent ids in the path, returns the deleted global id, and node() then answers null', async () => {
    const sim = stack.sim('cloudcix');
    const bom = sim.records('SCM', 'critical_bom').find((r) => r.sku_id === 2)!;
    const id = toGlobalId('CloudCIXSCMCriticalBom', `2/${bom.id}`);
    const seen = await stack.graphql('query($id: ID!) { node(id: $id) { id ... on CloudCIXSCMCriticalBom { platformId } } }', { id });
    expect(seen.body.data.node).toEqual({ id, platformId: String(bom.id) });

    const res = await stack.graphql('mutation($pk: ID!) { cloudcixSCMCriticalBomDelete(skuId: 2, platformId: $pk) { deletedId userErrors { message code } } }', { pk: String(bom.id) });
    expect(res.body.data.cloudcixSCMCriticalBomDelete).toEqual({ deletedId: id, userErrors: [] });
    expect(sim.server.requests('DELETE /scm/sku/:sku_id/critical_bom/:pk/').map((r) => [r.path, r.status])).toEqual([[`/scm/sku/2/critical_bom/${bom.id}/`, 204]]);
    expect(sim.record('SCM', 'critical_bom', bom.id)).toBeUndefined();

    const gone = await stack.graphql('query($id: ID!) { node(id: $id) { id } }', { id });
    expect(gone.body.errors).toBeUndefined();
    expect(gone.body.data.node).toBeNull();

    const again = await stack.graphql('mutation($pk: ID!) { cloudcixSCMCriticalBomDelete(skuId: 2, platformId: $pk) { deletedId userErrors { message code } } }', { pk: String(bom.id) });
    expect(again.body.data.cloudcixSCMCriticalBomDelete).toEqual({ deletedId: null, userErrors: [{ message: expect.stringContaining('no Critical BOM'), code: 'NOT_FOUND' }] });
  });

  it('adds members and AppManager apps to the unified customers and apps', async () => {
    const sim = stack.sim('cloudcix');
    const res = await stack.graphql('{ customers(platforms: [CLOUDCIX], first: 500) { totalCount nodes { __typename platform platformId name } } apps(platforms: [CLOUDCIX]) { nodes { __typename name } } }');
    expect(res.body.errors).toBeUndefined();
    const members = sim.records('Membership', 'member');
    expect(res.body.data.customers.totalCount).toBe(members.length);
    expect(res.body.data.customers.nodes[0]).toEqual({ __typename: 'CloudCIXMember', platform: 'CLOUDCIX', platformId: String(members[0]!.id), name: members[0]!.name });
    expect(res.body.data.apps.nodes.map((a: any) => a.name)).toEqual(sim.records('AppManager', 'app').map((a) => a.name));
  });
});
