import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { CloudCIXSimulator } from '../src/platforms/cloudcix/simulator.js';
import { startStack } from './utils/harness.js';

const QUERY = '{ cloudcix { membership { currency(platformId: 1) { name } } } }';
const LOGIN = 'POST /membership/auth/login/';
const REFRESH = 'PUT /membership/auth/login/';
const READ = 'GET /membership/currency/:pk/';

describe('CloudCIX tokens', () => {
  it('logs in with email, password and API key, then sends that token as X-Auth-Token until it changes', async () => {
    const stack = await startStack();
    const sim = stack.sim('cloudcix');
    for (let i = 0; i < 3; i++) expect((await stack.graphql(QUERY)).body.data.cloudcix.membership.currency.name).toBe('Euro');

    const [login, ...reads] = sim.server.log;
    expect(login!.route).toBe(LOGIN);
    expect(login!.status).toBe(201);
    const user = sim.users[0]!;
    expect(login!.body).toEqual({ email: user.email, password: user.password, api_key: user.apiKey });
    expect(reads.map((r) => r.route)).toEqual([READ, READ, READ]);
    const tokens = new Set(reads.map((r) => r.headers['x-auth-token']));
    expect(tokens.size).toBe(1);
    expect([...tokens][0]).toMatch(/^ey/);
    expect(sim.seenUids).toEqual([user.uid, user.uid, user.uid, user.uid]);
  });

  it('after CloudCIX expires its token, tries a refresh, logs in again, and answers without an error', async () => {
    const stack = await startStack();
    const sim = stack.sim('cloudcix');
    await stack.graphql(QUERY);
    sim.expireTokens();
    sim.clearLog();
    const res = await stack.graphql(QUERY);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.cloudcix.membership.currency.name).toBe('Euro');
    expect(sim.server.log.map((r) => `${r.route} ${r.status}`)).toEqual([`${READ} 401`, `${REFRESH} 401`, `${LOGIN} 201`, `${READ} 200`]);
  });

  it('refreshes with PUT auth/login/ before the token expires, so no request meets an expired token', async () => {
    // Two-second tokens: the gateway renews in the last tenth of a token's life. The loop
    // asks until it has seen a refresh; a request that misses the window meets a login
    // instead, and the next token gives another chance. The throttle is lifted here so
    // the loop is never paused across the window (the throttle has its own test).
    const stack = await startStack({
      env: { CLOUDCIX_REQUESTS_PER_SECOND: '1000' },
      simulators: { cloudcix: { tokenTtlSeconds: 2, requestsPerSecond: 0 } },
    });
    const sim = stack.sim('cloudcix');
    for (let i = 0; i < 500 && !sim.server.requests(REFRESH).length; i++) {
      expect((await stack.graphql(QUERY)).body.errors).toBeUndefined();
      await sleep(15);
    }
    const [refresh] = sim.server.requests(REFRESH);
    expect(refresh?.status).toBe(200);
    const index = sim.server.log.indexOf(refresh!);
    const before = sim.server.log.slice(0, index).filter((r) => r.route === READ).at(-1)!;
    expect(refresh!.headers['x-auth-token']).toBe(before.headers['x-auth-token']);
    await stack.graphql(QUERY);
    const after = sim.server.log.slice(index + 1).find((r) => r.route === READ)!;
    expect(after.headers['x-auth-token']).not.toBe(before.headers['x-auth-token']);
    expect(sim.server.log.filter((r) => r.status === 401)).toEqual([]);
  });

  it('uses a token the client forwards in x-cloudcix-token: the simulator sees that user, not the gateway', async () => {
    const stack = await startStack();
    const sim = stack.sim('cloudcix');
    const ownUid = sim.users[0]!.uid;
    const token = await sim.issueToken(5);
    const res = await stack.graphql(QUERY, undefined, { 'x-cloudcix-token': token });
    expect(res.body.errors).toBeUndefined();
    expect(sim.seen.map((s) => [s.route, s.uid])).toEqual([[READ, 5]]);
    expect(sim.server.log.map((r) => r.headers['x-auth-token'])).toEqual([token]);

    await stack.graphql(QUERY);
    expect(sim.seen.slice(1).map((s) => s.uid)).toEqual([ownUid, ownUid]);
  });

  it('passes a forwarded token CloudCIX refuses back as UNAUTHENTICATED, without logging in on its behalf', async () => {
    const stack = await startStack();
    const sim = stack.sim('cloudcix');
    const token = await sim.issueToken(5);
    sim.expireTokens();
    const res = await stack.graphql(QUERY, undefined, { 'x-cloudcix-token': token });
    expect(res.body.errors?.[0]).toMatchObject({ path: ['cloudcix', 'membership', 'currency'], extensions: { code: 'UNAUTHENTICATED', platform: 'cloudcix', upstreamStatus: 401 } });
    expect(res.body.errors?.[0].message).toContain('expired');
    expect(sim.server.log.map((r) => `${r.route} ${r.status}`)).toEqual([`${READ} 401`]);
  });
});

describe('CloudCIX login refused', () => {
  let sim: CloudCIXSimulator;
  afterAll(() => sim?.close());

  it('says which settings to check, and never echoes the password', async () => {
    sim = await new CloudCIXSimulator().start();
    const { baseUrl, email, apiKey } = sim.config;
    const stack = await startStack({ env: { CLOUDCIX_BASE_URL: baseUrl!, CLOUDCIX_EMAIL: email!, CLOUDCIX_PASSWORD: 'not-the-password', CLOUDCIX_API_KEY: apiKey! } });
    const res = await stack.graphql(QUERY);
    const error = res.body.errors?.[0];
    expect(error).toMatchObject({ extensions: { code: 'UNAUTHENTICATED', platform: 'cloudcix', upstreamCode: 'membership_token_create_002' } });
    expect(error!.message).toContain('CLOUDCIX_PASSWORD');
    expect(stack.responses.join('')).not.toContain('not-the-password');
  });
});
