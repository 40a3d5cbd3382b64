import { describe, expect, it, beforeAll } from 'vitest';
import { startStack, type Stack } from './utils/harness.js';

/** The compiled executor (default) must answer exactly as graphql-js, the reference, does. */
const QUERIES: Array<[string, string]> = [
  ['nested lists, joins and scalars', `{ cloudlx { customers(first: 60) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id platformId name currency { iso3 } country { name } realms { id name subRealms { name } } subRealms { id hasAccess realm { name } } } } } services(first: 5) { nodes { created cancellationDate port { name } } } } }`],
  ['interfaces and unified fields', `{ customers(first: 3) { nodes { __typename id name platform ... on CloudLXCustomer { currency { iso2 } } } } apiClients { nodes { __typename name } } webhooks { nodes { __typename url active } } platforms { platform title simulated } }`],
  ['a field error beside data', `{ node(id: "bm90LWFuLWlk") { id } cloudlx { customer(platformId: "999999") { name } realms { name } } }`],
  ['a bad argument', `{ cloudlx { services(first: 10, after: "nonsense") { totalCount } realms { name } } }`],
  ['Exotel apps, their customer and users (one app has no secret held: an error at its path)', `{ exotel { apps(first: 5) { edges { cursor node { id name isActive createdAt customer { name } users(first: 3) { pageInfo { hasNextPage endCursor } nodes { id } } } } } } }`],
  ['IXC devices with parameters and Wi-Fi', `{ ixc { devices(first: 5) { totalCount nodes { id serialNumber parameters { name } wifiNetworks { ssid } } } } }`],
  ['CloudCIX addresses with relations, filtered', `{ cloudcix { membership { addresses(first: 5, search: { name__icontains: "a" }, order: "-id") { totalCount nodes { id name country { englishName } currency { name } member { name } } } } } }`],
  ['variables and aliases', `query($id: ID!) { a: cloudlx { customer(platformId: $id) { name } } b: cloudlx { customer(platformId: "6901") { n: name } } }`],
];

describe('compiled execution', () => {
  let jit: Stack;
  let reference: Stack;
  beforeAll(async () => {
    [jit, reference] = await Promise.all([startStack(), startStack({ env: { EXECUTOR: 'graphql-js' } })]);
  });

  it.each(QUERIES)('answers %s exactly as graphql-js does', async (_, query) => {
    const variables = { id: '6900' };
    const [a, b] = await Promise.all([jit.graphql(query, variables), reference.graphql(query, variables)]);
    expect(a.status).toBe(b.status);
    // Each gateway registered its own webhook receiver with its simulators: the one thing that differs by design.
    const own = (stack: Stack, body: unknown) => JSON.parse(JSON.stringify(body).replaceAll(stack.gateway.url, '<this gateway>'));
    expect(own(jit, a.body)).toEqual(own(reference, b.body));
    // The queries named for an error must carry one; every other must answer cleanly.
    expect(Boolean(a.body.errors), JSON.stringify(a.body.errors)).toBe(/error|bad argument/.test(_));
    expect(a.body.data).toBeTruthy();
  });
});
