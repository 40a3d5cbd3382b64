import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './utils/harness.js';
import { expectSecretsShownAtMostAtCreation } from './utils/exotel.js';
import type { ExotelSimulator } from '../src/platforms/exotel/simulator.js';

/**
 * What a query costs Exotel, counted on the simulator's request log. The
 * gateway's customer has 12 apps here, so a cost that grew with the apps would
 * show. Exotel has no batch reads: a customer's apps are one list, a customer is
 * one read with its own token, an app's users one read with the app's token.
 */

const APPS = 12;
let stack: Stack;
let sim: ExotelSimulator;

beforeAll(async () => {
  stack = await startStack({ simulators: { exotel: { apps: APPS, usersPerApp: 3 } } });
  sim = stack.sim('exotel');
});

afterAll(() => stack.close());

const count = (route: string, query?: string) => sim.requests(route).filter((r) => query === undefined || r.query === query).length;

describe('Exotel request counts', () => {
  it('12 apps with their customer: 1 customer token, 1 app list, 1 customer read; then 2 with the token cached', async () => {
    const query = `{ apps(platforms: [EXOTEL], first: 100) { nodes { name ... on ExotelApp { customer { name } } } } }`;
    sim.server.clearLog();
    const first = await stack.graphql(query);
    expect(first.body.errors).toBeUndefined();
    expect(first.body.data.apps.nodes).toHaveLength(APPS);
    expect(first.body.data.apps.nodes.every((a: { customer: { name: string } }) => a.customer.name === sim.gatewayCustomer.CustomerName)).toBe(true);
    expect([count('POST /token'), count('GET /app', '?entity=customer'), count('GET /customer')]).toEqual([1, 1, 1]);
    expect(sim.server.log).toHaveLength(3);

    sim.server.clearLog();
    await stack.graphql(query);
    expect(sim.server.log.map((r) => r.route).sort()).toEqual([sim.route('GET /app'), sim.route('GET /customer')]);
  });

  it('the same list reached twice in one query (top level and under the customer) is read once', async () => {
    sim.server.clearLog();
    const { body } = await stack.graphql(`{ exotel { apps { totalCount nodes { customer { apps { totalCount } } } } customers { nodes { apps { totalCount } } } } }`);
    expect(body.errors).toBeUndefined();
    expect(body.data.exotel.apps.totalCount).toBe(APPS);
    expect([count('GET /app'), count('GET /customer')]).toEqual([1, 1]);
  });

  it('nodes(ids) for 12 apps is one app list, no app tokens; node(id) for one app is one read with its app token', async () => {
    const ids = sim.appsOf(sim.gatewayCustomer.CustomerID).map((a) => Buffer.from(`ExotelApp:${a.AppID}`).toString('base64url'));
    sim.server.clearLog();
    const many = await stack.graphql(`query($ids: [ID!]!) { nodes(ids: $ids) { ... on ExotelApp { platformId } } }`, { ids });
    expect(many.body.data.nodes).toHaveLength(APPS);
    expect(sim.server.log.map((r) => `${r.route}${r.query}`)).toEqual([`${sim.route('GET /app')}?entity=customer`]);

    sim.server.clearLog();
    const one = await stack.graphql(`query($id: ID!) { node(id: $id) { ... on ExotelApp { platformId } } }`, { id: ids[0] });
    expect(one.body.data.node).toEqual({ platformId: sim.appsOf(sim.gatewayCustomer.CustomerID)[0]!.AppID });
    expect(sim.server.log.map((r) => `${r.route}${r.query}`)).toEqual([sim.route('POST /token'), `${sim.route('GET /app')}?entity=app`]);
  });

  it('users of every app: one users page per app (no batch read exists), each app token fetched once (the first app\'s is cached from above), and an error for the app without a secret', async () => {
    const query = `{ exotel { apps { nodes { platformId users(first: 2) { nodes { platformId } } } } } }`;
    sim.server.clearLog();
    const first = await stack.graphql(query);
    const withSecret = APPS - 1;
    expect(first.body.errors.map((e: { path: (string | number)[]; extensions: { code: string } }) => [e.path.join('.'), e.extensions.code])).toEqual([
      [`exotel.apps.nodes.${APPS - 1}.users`, 'FORBIDDEN'],
    ]);
    expect([count('GET /app'), count('GET /usermapping'), count('POST /token')]).toEqual([1, withSecret, withSecret - 1]);

    sim.server.clearLog();
    await stack.graphql(query);
    expect([count('GET /app'), count('GET /usermapping'), count('POST /token')]).toEqual([1, withSecret, 0]);
  });

  it('no response of this file carried a secret', () => {
    expectSecretsShownAtMostAtCreation(stack, sim, new Set());
  });
});
