import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { CloudCIXSimulator } from '../src/platforms/cloudcix/simulator.js';
import { startStack } from './utils/harness.js';

const QUERY = '{ cloudcix { membership { currency(platformId: 1) { name } } } }';
const LOGIN = 'POST /membership/auth/login/';
const REFRESH = 'PUT /membership/auth/login/';
const READ_MEMBER_LIST = 'GET /membership/member/';
const READ = 'GET /membership/currency/:pk/';

/** A CloudCIX token's `exp`, in epoch milliseconds. */
function expiryOf(token: string): number {
  return (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { exp: number }).exp * 1000;
}

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
    // No waiting on the wall clock: the gateway's clock (Date.now) and the simulator's are
    // moved together to 10 s before the token's expiry, inside the renewal window (the
    // last 30 s of an hour's token) and far from the expiry itself.
    const realNow = Date.now.bind(Date);
    let offset = 0;
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + offset);
    const stack = await startStack({ simulators: { cloudcix: { clock: () => Date.now() } } });
    try {
      const sim = stack.sim('cloudcix');
      expect((await stack.graphql(QUERY)).body.errors).toBeUndefined();
      const first = sim.server.requests(READ)[0]!.headers['x-auth-token'] as string;
      offset = expiryOf(first) - 10_000 - realNow();

      const res = await stack.graphql(QUERY);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data.cloudcix.membership.currency.name).toBe('Euro');
      expect(sim.server.log.map((r) => `${r.route} ${r.status}`)).toEqual([`${LOGIN} 201`, `${READ} 200`, `${REFRESH} 200`, `${READ} 200`]);
      const [, , refresh, after] = sim.server.log;
      expect(refresh!.headers['x-auth-token']).toBe(first);
      expect(after!.headers['x-auth-token']).not.toBe(first);
      expect(expiryOf(after!.headers['x-auth-token'] as string)).toBeGreaterThan(expiryOf(first));
    } finally {
      await stack.close();
      clock.mockRestore();
    }
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
    // CloudCIX's own text ("JWT token is expired…") stays in the gateway's log; the client reads the gateway's words (issue 9).
    expect(res.body.errors?.[0].message).toMatch(/^CloudCIX refused the credentials it was called with/);
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

describe('CloudCIX secrets', () => {
  it('never appear in responses or logs at trace level: password, API keys, member secrets, every X-Auth-Token', async () => {
    const logs = new PassThrough();
    let logText = '';
    logs.on('data', (chunk: Buffer) => (logText += chunk.toString()));
    const realNow = Date.now.bind(Date);
    let offset = 0;
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + offset);
    const stack = await startStack({ env: { LOG_LEVEL: 'trace' }, logDestination: logs, simulators: { cloudcix: { clock: () => Date.now() } } });
    try {
      const sim = stack.sim('cloudcix');
      const MEMBERS = '{ cloudcix { membership { members(first: 5) { nodes { name data currency { name } } } member(platformId: 1) { name glnPrefix data } } } customers { nodes { name } } }';

      // Login, then reads of members (their records carry api_key and secret).
      const read = await stack.graphql(MEMBERS);
      expect(read.body.errors).toBeUndefined();
      expect(read.body.data.cloudcix.membership.members.nodes).toHaveLength(5);
      // A refresh: the clocks move into the token's renewal window.
      offset = expiryOf(sim.server.requests(READ_MEMBER_LIST)[0]!.headers['x-auth-token'] as string) - 10_000 - realNow();
      expect((await stack.graphql(MEMBERS)).body.errors).toBeUndefined();
      expect(sim.server.requests(REFRESH).map((r) => r.status)).toEqual([200]);
      // A refused token: the gateway's (failed refresh, a new login) …
      sim.expireTokens();
      expect((await stack.graphql(MEMBERS)).body.errors).toBeUndefined();
      // … a forwarded one that works, and a forwarded one CloudCIX refuses (401).
      const forwarded = await sim.issueToken(2);
      expect((await stack.graphql(MEMBERS, undefined, { 'x-cloudcix-token': forwarded })).body.errors).toBeUndefined();
      sim.expireTokens();
      const refused = await stack.graphql(MEMBERS, undefined, { 'x-cloudcix-token': forwarded });
      expect(refused.body.errors?.[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', upstreamStatus: 401 });
      await new Promise((resolve) => setImmediate(resolve));
      expect(logText).toContain('upstream request'); // the log really was captured at trace level

      const tokens = new Set(sim.server.log.map((r) => r.headers['x-auth-token']).filter((t): t is string => typeof t === 'string'));
      expect(tokens.size).toBeGreaterThanOrEqual(4); // the first login's, the refreshed one, the new login's, the forwarded one
      expect(tokens).toContain(forwarded);
      const members = sim.records('Membership', 'member');
      const secrets = [
        ...sim.users.map((u) => u.password),
        ...members.flatMap((m) => [m.api_key as string, m.secret as string]),
        ...tokens,
      ];
      expect(secrets).toContain(sim.config.password);
      expect(secrets).toContain(sim.config.apiKey);
      expect(stack.responses.length).toBe(5);
      for (const secret of secrets) {
        expect(secret.length).toBeGreaterThan(8);
        expect(logText.includes(secret), 'a secret reached the logs').toBe(false);
        for (const body of stack.responses) expect(body.includes(secret), 'a secret reached a response').toBe(false);
      }
    } finally {
      await stack.close();
      clock.mockRestore();
    }
  });
});
