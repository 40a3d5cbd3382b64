import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serverAudits } from 'graphql-http';
import { SignJWT } from 'jose';
import { loadConfig } from '../src/config.js';
import { ConfigError } from '../src/core/env.js';
import { generateApiKey } from '../src/core/security/clients.js';
import { startStack, type Stack } from './utils/harness.js';
import { overSse, overWebSocket, writeClientsFile, type ClientsFixture } from './utils/security.js';

const JWT_SECRET = 'a-test-secret-for-the-ops-scripts-issuer!!';
const QUERY = '{ cloudlx { realms { name } } }';

const sign = (claims: Record<string, unknown>, expiresAt: number, secret = JWT_SECRET) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(expiresAt).sign(new TextEncoder().encode(secret));
const now = () => Math.floor(Date.now() / 1000);

describe('who may call: API keys and JWTs over HTTP, WebSocket and SSE', () => {
  let stack: Stack;
  let clients: ClientsFixture;
  let validJwt: string;
  let expiredJwt: string;
  let forgedJwt: string;

  beforeAll(async () => {
    clients = writeClientsFile(
      [
        { name: 'reader', scopes: ['cloudlx:read'] },
        { name: 'tooling', scopes: ['cloudlx:read', 'introspect'] },
        { name: 'old', scopes: ['cloudlx:read'], expires: '2020-01-01T00:00:00Z' },
        { name: 'cron', scopes: ['cloudlx:read'], jwt: { issuer: 'ops-scripts', subject: 'nightly' } },
      ],
      [{ issuer: 'ops-scripts', secretEnv: 'OPS_JWT_SECRET' }],
    );
    stack = await startStack({ env: { SWITCHBOARD_CLIENTS_FILE: clients.path, OPS_JWT_SECRET: JWT_SECRET } });
    validJwt = await sign({ iss: 'ops-scripts', sub: 'nightly' }, now() + 600);
    expiredJwt = await sign({ iss: 'ops-scripts', sub: 'nightly' }, now() - 3600);
    forgedJwt = await sign({ iss: 'ops-scripts', sub: 'nightly' }, now() + 600, 'not-the-secret-the-gateway-knows-at-all');
  });
  afterAll(() => clients.remove());

  /** A bare POST, without the harness's headers, so nothing is sent that the test did not name. */
  const post = async (headers: Record<string, string>, query = QUERY) => {
    const res = await fetch(stack.gateway.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) });
    const text = await res.text();
    return { status: res.status, wwwAuthenticate: res.headers.get('www-authenticate'), text, body: JSON.parse(text) };
  };

  it('HTTP: a valid API key (Bearer or x-api-key) and a valid JWT get the data', async () => {
    for (const headers of [clients.auth('reader'), { 'x-api-key': clients.keys.reader! }, { authorization: `Bearer ${validJwt}` }]) {
      const res = await post(headers);
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data.cloudlx.realms.length).toBeGreaterThan(0);
    }
  });

  it('HTTP: a missing credential is 401 UNAUTHENTICATED with WWW-Authenticate and a message saying what to send', async () => {
    const res = await post({});
    expect(res.status).toBe(401);
    expect(res.wwwAuthenticate).toBe('Bearer realm="switchboard"');
    expect(res.body.errors).toHaveLength(1);
    expect(res.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(res.body.errors[0].message).toMatch(/This gateway needs a client credential\. Send an API key as "Authorization: Bearer <key>" or "x-api-key: <key>", or a JWT/);
    expect(res.body.data).toBeUndefined();
  });

  it('HTTP: a wrong or expired API key is 401, and the key never comes back', async () => {
    const wrong = generateApiKey();
    const refused = await post({ authorization: `Bearer ${wrong}` });
    expect(refused.status).toBe(401);
    expect(refused.wwwAuthenticate).toMatch(/^Bearer realm="switchboard", error="invalid_token"/);
    expect(refused.body.errors[0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
    expect(refused.body.errors[0].message).toMatch(/not one this gateway knows/);
    expect(refused.text).not.toContain(wrong);
    expect(refused.wwwAuthenticate).not.toContain(wrong);

    const expired = await post(clients.auth('old'));
    expect(expired.status).toBe(401);
    expect(expired.body.errors[0].message).toBe('Client "old" expired at 2020-01-01T00:00:00.000Z. Ask the gateway\'s operator to extend "expires" in the clients file.');
    expect(expired.text).not.toContain(clients.keys.old!);
  });

  it('HTTP: an expired or wrongly signed JWT is 401 with the reason', async () => {
    const expired = await post({ authorization: `Bearer ${expiredJwt}` });
    expect(expired.status).toBe(401);
    expect(expired.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(expired.body.errors[0].message).toMatch(/^The JWT from ops-scripts expired at .*Get a fresh token from its issuer\.$/);
    const forged = await post({ authorization: `Bearer ${forgedJwt}` });
    expect(forged.status).toBe(401);
    expect(forged.body.errors[0].message).toMatch(/signature that does not verify/);
    expect(forged.text).not.toContain(forgedJwt);
    // Signed right but without an expiry: it would never expire, so it is refused.
    const forever = await new SignJWT({ iss: 'ops-scripts', sub: 'nightly' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().sign(new TextEncoder().encode(JWT_SECRET));
    const noExpiry = await post({ authorization: `Bearer ${forever}` });
    expect(noExpiry.status).toBe(401);
    expect(noExpiry.body.errors[0].message).toBe('The JWT from ops-scripts was refused: its "exp" claim is missing.');
  });

  it('WebSocket: credentials in connection_init; missing, wrong and expired ones close the socket with 4401 and the reason', async () => {
    const ok = await overWebSocket(stack.gateway.websocketUrl, { authorization: `Bearer ${clients.keys.reader}` }, QUERY);
    expect(ok.result?.errors).toBeUndefined();
    expect(ok.result?.data.cloudlx.realms.length).toBeGreaterThan(0);
    const viaJwt = await overWebSocket(stack.gateway.websocketUrl, { Authorization: `Bearer ${validJwt}` }, QUERY);
    expect(viaJwt.result?.data.cloudlx.realms.length).toBeGreaterThan(0);

    const missing = await overWebSocket(stack.gateway.websocketUrl, {}, QUERY);
    expect(missing.closed?.code).toBe(4401);
    expect(missing.closed?.reason).toMatch(/^This gateway needs a client credential/);
    const wrong = generateApiKey();
    const refused = await overWebSocket(stack.gateway.websocketUrl, { 'x-api-key': wrong }, QUERY);
    expect(refused.closed?.code).toBe(4401);
    expect(refused.closed?.reason).toMatch(/not one this gateway knows/);
    expect(refused.closed?.reason).not.toContain(wrong);
    const expired = await overWebSocket(stack.gateway.websocketUrl, { authorization: `Bearer ${clients.keys.old}` }, QUERY);
    expect(expired.closed).toEqual({ code: 4401, reason: expect.stringMatching(/^Client "old" expired at 2020-01-01/) });
    const expiredToken = await overWebSocket(stack.gateway.websocketUrl, { authorization: `Bearer ${expiredJwt}` }, QUERY);
    expect(expiredToken.closed?.code).toBe(4401);
    expect(expiredToken.closed?.reason).toMatch(/^The JWT from ops-scripts expired/);
  });

  it('SSE: a valid key gets the event stream; a missing, wrong or expired one is 401 with WWW-Authenticate', async () => {
    const ok = await overSse(stack.gateway.graphqlUrl, QUERY, clients.auth('reader'));
    expect(ok.status).toBe(200);
    expect(ok.events).toHaveLength(1);
    expect(ok.events[0].data.cloudlx.realms.length).toBeGreaterThan(0);

    for (const [headers, message] of [
      [{}, /^This gateway needs a client credential/],
      [{ 'x-api-key': generateApiKey() }, /not one this gateway knows/],
      [clients.auth('old'), /^Client "old" expired/],
      [{ authorization: `Bearer ${expiredJwt}` }, /^The JWT from ops-scripts expired/],
    ] as const) {
      const refused = await overSse(stack.gateway.graphqlUrl, QUERY, headers);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer realm="switchboard"/);
      const body = JSON.parse(refused.text);
      expect(body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
      expect(body.errors[0].message).toMatch(message);
      expect(refused.events).toEqual([]);
    }
  });

  it('passes every MUST of graphql-http\'s audit with authentication on (a client with introspect: the audit asks __type)', async () => {
    const key = clients.keys.tooling!;
    const audits = serverAudits({
      url: stack.gateway.graphqlUrl,
      fetchFn: (input: string | URL | Request, init?: RequestInit) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), authorization: `Bearer ${key}` } }),
    });
    const results = await Promise.all(audits.map((audit) => audit.fn()));
    const failedMusts = results.filter((r) => r.name.startsWith('MUST') && r.status !== 'ok').map((r) => `${r.name}: ${r.status === 'ok' ? '' : r.reason}`);
    expect(failedMusts).toEqual([]);
    expect(results.filter((r) => r.name.startsWith('MUST')).length).toBeGreaterThan(10);
    // And without the key, the same gateway answers nothing but 401.
    expect((await post({}, '{ __typename }')).status).toBe(401);
  });
});

describe('anonymous mode', () => {
  it('refuses to start (exit 78) when a platform points at a real upstream and no clients are configured, saying what to add', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], {
      env: {
        ...process.env,
        PORT: '0',
        LOG_LEVEL: 'silent',
        CLOUDLX_BASE_URL: 'https://cloudlx.example.com',
        CLOUDLX_CLIENT_ID: 'id',
        CLOUDLX_CLIENT_SECRET: 'a-secret-that-must-not-be-printed',
        STORE_SECRET_KEY: 'k'.repeat(40),
        SWITCHBOARD_CLIENTS_FILE: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(78);
    expect(stderr).toContain('CLOUDLX_BASE_URL: points CloudLX at a real upstream, but SWITCHBOARD_CLIENTS_FILE is not set');
    expect(stderr).toContain('`npm run client -- add <name> --scopes ...`');
    expect(stderr).not.toContain('a-secret-that-must-not-be-printed');
  });

  it('refuses HOST=0.0.0.0 without clients, and accepts it with a clients file', () => {
    let problems: string[] = [];
    try {
      loadConfig({ HOST: '0.0.0.0', DATA_DIR: '.data/test' });
    } catch (error) {
      problems = (error as ConfigError).problems;
    }
    expect(problems).toEqual([expect.stringMatching(/^HOST: "0\.0\.0\.0" accepts other machines, but SWITCHBOARD_CLIENTS_FILE is not set/)]);
    const clients = writeClientsFile([{ name: 'ops', scopes: ['admin'] }]);
    try {
      expect(loadConfig({ HOST: '0.0.0.0', DATA_DIR: '.data/test', SWITCHBOARD_CLIENTS_FILE: clients.path }).security.anonymous).toBe(false);
    } finally {
      clients.remove();
    }
  });

  it('serves anyone with every scope in the embedded default, and start-up says so in one line', async () => {
    const stack = await startStack();
    expect(stack.gateway.security.startupLine()).toMatch(/^Access: ANONYMOUS\. No clients are configured/);
    const res = await fetch(stack.gateway.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: QUERY }) });
    expect(res.status).toBe(200);
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], {
      env: { ...process.env, PORT: '0', LOG_LEVEL: 'silent', DATA_DIR: '.data/test-security-anon', SWITCHBOARD_CLIENTS_FILE: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('Platforms:')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`the gateway exited with ${code} before printing its banner`)));
    });
    child.kill('SIGTERM');
    await new Promise((resolve) => child.on('exit', resolve));
    rmSync('.data/test-security-anon', { recursive: true, force: true });
    expect(stdout.split('\n').filter((line) => line.startsWith('Access: ANONYMOUS'))).toHaveLength(1);
  });
});
