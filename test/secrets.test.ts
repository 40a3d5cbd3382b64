import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { startStack } from './utils/harness.js';

describe('secrets', () => {
  it('never appear in responses or logs, even at trace level and on failures', async () => {
    const logs = new PassThrough();
    let logText = '';
    logs.on('data', (chunk: Buffer) => (logText += chunk.toString()));
    const stack = await startStack({ env: { LOG_LEVEL: 'trace' }, logDestination: logs });
    const sim = stack.sim('cloudlx');

    await stack.graphql('{ cloudlx { customers(first: 3) { nodes { name } } realms { name } } }');
    const created = await stack.graphql('mutation { cloudlxCreateApiClient(input: { name: "Log test" }) { clientSecret apiClient { platformId } } }');
    const createdSecret: string = created.body.data.cloudlxCreateApiClient.clientSecret;
    await stack.graphql('{ cloudlx { apiClients { nodes { name clientId } } } apiClients { nodes { name } } }');
    sim.expireAccessTokens(); // a 401 and a refresh, both logged
    await stack.graphql('{ cloudlx { realms { name } } }');
    sim.server.inject('GET /api/services', { status: 500, times: 1 });
    await stack.graphql('{ cloudlx { services { totalCount } } }');

    // What the gateway sent upstream: its bearer tokens and refresh tokens.
    const tokens = sim.server.log.flatMap((r) => {
      const bearer = /^Bearer (.+)$/.exec(String(r.headers.authorization ?? ''))?.[1];
      const refresh = (r.body as Record<string, string> | undefined)?.refresh_token;
      return [bearer, refresh].filter((v): v is string => Boolean(v));
    });
    expect(tokens.length).toBeGreaterThan(2);
    await new Promise((r) => setImmediate(r));
    expect(logText).toContain('upstream request'); // the log really was captured at trace level

    const secrets = [sim.clientSecret, ...new Set(tokens)];
    for (const secret of secrets) {
      expect(logText.includes(secret), 'a secret reached the logs').toBe(false);
      for (const body of stack.responses) expect(body.includes(secret), 'a secret reached a response').toBe(false);
    }
    // The one secret a client may see: the new API client's, once, in its create payload.
    expect(stack.responses.filter((body) => body.includes(createdSecret))).toHaveLength(1);
    expect(logText.includes(createdSecret)).toBe(false);
  });
});
