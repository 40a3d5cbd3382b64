import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { SignJWT, decodeJwt, decodeProtectedHeader, importPKCS8, importSPKI, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { ConfigError } from '../src/core/env.js';
import { IXC_EMBEDDED_KEY_FILE } from '../src/platforms/ixc/client.js';
import { IXC_SIM_API_CLIENT_ID, IxcSimulator } from '../src/platforms/ixc/simulator.js';
import { startStack, type Stack } from './utils/harness.js';

/**
 * IXC ACS authentication: the gateway signs an ES256 JWT (`iss` = API client id)
 * and exchanges it for an access token; the simulator verifies it against the
 * registered public key. The embedded default keeps its generated key in the data
 * folder; a real setup reads it from IXC_PRIVATE_KEY_FILE or IXC_PRIVATE_KEY.
 * The private key never reaches a response or a log.
 */

const TOKEN = 'POST /api/v1/auth/token';
const KEY_FILE = join('.data/test', IXC_EMBEDDED_KEY_FILE);
const ONE_DEVICE = '{ ixc { devices(first: 1) { nodes { serialNumber } } } }';

function p256() {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privatePem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    sec1Pem: pair.privateKey.export({ type: 'sec1', format: 'pem' }).toString(),
    publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

async function assertion(privatePem: string, claims: { iss?: string; iat?: number; exp?: number } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuer(claims.iss ?? IXC_SIM_API_CLIENT_ID)
    .setIssuedAt(claims.iat ?? now)
    .setExpirationTime(claims.exp ?? now + 60)
    .sign(await importPKCS8(privatePem, 'ES256'));
}

async function exchange(sim: IxcSimulator, authorization?: string) {
  const res = await fetch(`${sim.url}/api/v1/auth/token`, { method: 'POST', headers: authorization ? { authorization } : {} });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

describe('the embedded default\'s key pair', () => {
  let stack: Stack;
  let sim: IxcSimulator;
  let logText = '';
  const logs = new PassThrough();
  logs.on('data', (chunk: Buffer) => (logText += chunk.toString()));

  beforeAll(async () => {
    stack = await startStack({ env: { LOG_LEVEL: 'trace' }, logDestination: logs });
    sim = stack.sim('ixc');
    expect((await stack.graphql(ONE_DEVICE)).body.errors).toBeUndefined();
  });
  afterAll(() => stack.close());

  it('is generated in the data folder and its public half registered for the gateway\'s API client', async () => {
    const pem = await readFile(KEY_FILE, 'utf8');
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const publicPem = createPublicKey(pem).export({ type: 'spki', format: 'pem' }).toString();
    expect(sim.apiClients.get(IXC_SIM_API_CLIENT_ID)!.publicKey).toBe(publicPem);
  });

  it('is reused by the next start (a new gateway and simulator trust the same file)', async () => {
    const before = await readFile(KEY_FILE, 'utf8');
    const second = await startStack();
    try {
      expect((await second.graphql(ONE_DEVICE)).body.errors).toBeUndefined();
      expect(await readFile(KEY_FILE, 'utf8')).toBe(before);
      expect(second.sim('ixc').apiClients.get(IXC_SIM_API_CLIENT_ID)!.publicKey).toBe(createPublicKey(before).export({ type: 'spki', format: 'pem' }));
    } finally {
      await second.close();
    }
  });

  it('signs an ES256 JWT with iss = API client id, iat and a short exp, once per token lifetime', async () => {
    sim.server.clearLog();
    for (let i = 0; i < 4; i++) expect((await stack.graphql(ONE_DEVICE)).body.errors).toBeUndefined();
    expect(sim.server.requests(TOKEN)).toHaveLength(0);
    sim.expireAccessTokens();
    expect((await stack.graphql(ONE_DEVICE)).body.errors).toBeUndefined();
    const [sent] = sim.server.requests(TOKEN);
    const jwt = /^Bearer (.+)$/.exec(String(sent!.headers.authorization))![1]!;
    expect(decodeProtectedHeader(jwt)).toMatchObject({ alg: 'ES256' });
    const claims = decodeJwt(jwt);
    expect(claims).toMatchObject({ iss: IXC_SIM_API_CLIENT_ID, iat: expect.any(Number), exp: expect.any(Number) });
    expect(claims.exp! - claims.iat!).toBe(60);
    const publicKey = await importSPKI(sim.apiClients.get(IXC_SIM_API_CLIENT_ID)!.publicKey!, 'ES256');
    await expect(jwtVerify(jwt, publicKey)).resolves.toBeTruthy();
  });

  it('an expired access token: 401, one new exchange, and the query still answers', async () => {
    sim.server.clearLog();
    sim.expireAccessTokens();
    const res = await stack.graphql(ONE_DEVICE);
    expect(res.body.errors).toBeUndefined();
    expect(sim.server.requests().map((r) => [r.route, r.status])).toEqual([
      ['GET /api/v1/devices/views/natural', 401],
      [TOKEN, 200],
      ['GET /api/v1/devices/views/natural', 200],
    ]);
  });

  it('a public key that no longer matches: UNAUTHENTICATED, saying which settings to check', async () => {
    // On a stack of its own: the gateway remembers a refused token exchange for a while
    // (so as not to hammer the ACS with a wrong key), which would fail the tests after this one.
    const own = await startStack();
    try {
      expect((await own.graphql(ONE_DEVICE)).body.errors).toBeUndefined(); // the embedded key is registered and a token held
      const ownSim = own.sim('ixc');
      ownSim.apiClients.get(IXC_SIM_API_CLIENT_ID)!.publicKey = p256().publicPem;
      ownSim.expireAccessTokens();
      const res = await own.graphql(ONE_DEVICE);
      expect(res.body.errors).toEqual([
        expect.objectContaining({
          path: ['ixc', 'devices'],
          message: expect.stringMatching(/^IXC ACS refused the signed token request for API client .*check IXC_API_CLIENT_ID and that the API client's public key matches/),
          extensions: expect.objectContaining({ code: 'UNAUTHENTICATED', platform: 'ixc', upstreamStatus: 401 }),
        }),
      ]);
    } finally {
      await own.close();
    }
  });

  it('a blocked API client: FORBIDDEN', async () => {
    const client = sim.apiClients.get(IXC_SIM_API_CLIENT_ID)!;
    client.blocked = true;
    try {
      const res = await stack.graphql(ONE_DEVICE);
      // IXC's own text stays in the gateway's log; the client reads the gateway's words (issue 9).
      expect(res.body.errors?.[0]).toMatchObject({
        message: "IXC ACS does not allow this with the gateway's credentials (HTTP 403, FORBIDDEN).",
        extensions: { code: 'FORBIDDEN', platform: 'ixc' },
      });
    } finally {
      client.blocked = false;
    }
  });

  it('never puts the private key, a signed JWT or an access token in a response or a log', async () => {
    await stack.graphql(`{ ixc { apiClients { nodes { publicKey webhook { url } } } } apiClients { nodes { name } } }`);
    sim.server.inject('GET /api/v1/devices/views/natural', { status: 500, times: 2 });
    await stack.graphql(ONE_DEVICE);
    await new Promise((resolve) => setImmediate(resolve));
    expect(logText).toContain('ixc');

    const pem = await readFile(KEY_FILE, 'utf8');
    const keyLines = pem.split('\n').filter((l) => l && !l.startsWith('-----'));
    const bearers = new Set(sim.server.log.map((r) => /^Bearer (.+)$/.exec(String(r.headers.authorization ?? ''))?.[1]).filter((v): v is string => Boolean(v)));
    expect(bearers.size).toBeGreaterThan(2);
    for (const secret of [...keyLines, ...bearers]) {
      expect(logText.includes(secret), 'a secret reached the logs').toBe(false);
      for (const body of stack.responses) expect(body.includes(secret), 'a secret reached a response').toBe(false);
    }
    for (const body of stack.responses) expect(body).not.toContain('PRIVATE KEY');
  });
});

describe('the simulator\'s token exchange', () => {
  let sim: IxcSimulator;
  const key = p256();
  beforeAll(async () => {
    sim = await new IxcSimulator({ publicKey: key.publicPem, devices: 5 }).start();
  });
  afterAll(() => sim.close());

  it('issues an access token for a JWT signed with the registered key', async () => {
    const res = await exchange(sim, `Bearer ${await assertion(key.privatePem)}`);
    expect(res).toEqual({ status: 200, body: { access_token: expect.any(String), expires_at: expect.any(String) } });
    const ttl = Date.parse(res.body.expires_at!) - Date.now();
    expect(ttl).toBeGreaterThan(3_500_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);
    const api = await fetch(`${sim.url}/api/v1/devices/views/natural`, { headers: { authorization: `Bearer ${res.body.access_token}` } });
    expect(api.status).toBe(200);
  });

  it.each([
    ['no Authorization header', async () => undefined, /^Expected Authorization: Bearer/],
    ['a bearer value that is not a JWT', async () => 'Bearer not-a-jwt', /not a JWT/],
    ['a JWT signed with another key', async () => `Bearer ${await assertion(p256().privatePem)}`, /The JWT was refused: ERR_JWS_SIGNATURE_VERIFICATION_FAILED/],
    ['an unknown iss', async () => `Bearer ${await assertion(key.privatePem, { iss: 'nobody' })}`, /none has that id/],
    ['an expired JWT', async () => `Bearer ${await assertion(key.privatePem, { iat: 1_700_000_000, exp: 1_700_000_060 })}`, /ERR_JWT_EXPIRED/],
    [
      'a JWT signed HS256',
      async () => `Bearer ${await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer(IXC_SIM_API_CLIENT_ID).setIssuedAt().setExpirationTime('1m').sign(new Uint8Array(32))}`,
      /Expected a JWT signed with ES256/,
    ],
  ])('answers 401 to %s', async (_, authorization, message) => {
    const res = await exchange(sim, await authorization());
    expect(res.status).toBe(401);
    expect(res.body.message).toMatch(message);
  });

  it('answers 401 to an API call with no token or an unknown one', async () => {
    for (const headers of [{}, { authorization: 'Bearer made-up' }] as Record<string, string>[]) {
      const res = await fetch(`${sim.url}/api/v1/api-clients`, { headers });
      expect(res.status).toBe(401);
      await res.body?.cancel();
    }
  });

  it('answers 400 to paging outside what IXC takes', async () => {
    const token = (await exchange(sim, `Bearer ${await assertion(key.privatePem)}`)).body.access_token;
    const res = await fetch(`${sim.url}/api/v1/devices/views/natural?rp=501`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toBe('Expected rp to be a whole number from 1 to 500; got "501".');
  });
});

describe('a configured IXC ACS (IXC_BASE_URL with a key from the environment)', () => {
  let sim: IxcSimulator;
  let dir: string;
  const key = p256();
  beforeAll(async () => {
    sim = await new IxcSimulator({ publicKey: key.publicPem, devices: 5 }).start();
    dir = await mkdtemp(join(tmpdir(), 'switchboard-ixc-'));
  });
  afterAll(async () => {
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('signs with IXC_PRIVATE_KEY_FILE (PKCS#8) and is not marked simulated', async () => {
    const file = join(dir, 'ixc.pem');
    await writeFile(file, key.privatePem);
    const stack = await startStack({ env: { IXC_BASE_URL: sim.url, IXC_API_CLIENT_ID: IXC_SIM_API_CLIENT_ID, IXC_PRIVATE_KEY_FILE: file } });
    try {
      const res = await stack.graphql(`${ONE_DEVICE.slice(0, -1)} platforms { platform simulated } }`);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data.ixc.devices.nodes).toHaveLength(1);
      expect(res.body.data.platforms).toContainEqual({ platform: 'IXC', simulated: false });
    } finally {
      await stack.close();
    }
  });

  it('signs with IXC_PRIVATE_KEY given as SEC1 PEM on one line with \\n', async () => {
    const stack = await startStack({ env: { IXC_BASE_URL: sim.url, IXC_API_CLIENT_ID: IXC_SIM_API_CLIENT_ID, IXC_PRIVATE_KEY: key.sec1Pem.replace(/\n/g, '\\n') } });
    try {
      expect((await stack.graphql(ONE_DEVICE)).body.errors).toBeUndefined();
    } finally {
      await stack.close();
    }
  });

  it('refuses bad settings at start, saying what was expected, never echoing a key', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (error) {
        if (error instanceof ConfigError) return error.message;
        throw error;
      }
      return '';
    };
    expect(problems({ IXC_BASE_URL: sim.url })).toMatch(/IXC_API_CLIENT_ID: expected the API client id IXC ACS generated[\s\S]*IXC_PRIVATE_KEY_FILE: expected IXC_PRIVATE_KEY_FILE or IXC_PRIVATE_KEY/);
    expect(problems({ IXC_PRIVATE_KEY_FILE: join(dir, 'missing.pem') })).toContain('IXC_PRIVATE_KEY_FILE: expected a readable PEM file; reading it failed (ENOENT)');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const message = problems({ IXC_PRIVATE_KEY: rsa });
    expect(message).toContain('IXC_PRIVATE_KEY: expected a PEM ECDSA P-256 private key');
    expect(message).toContain('(ES256 needs P-256); got a rsa key');
    expect(message).not.toContain(rsa.split('\n')[1]!);
    expect(problems({ IXC_PRIVATE_KEY: 'not a key' })).toContain('it could not be parsed as a private key; a value that was refused (not shown: it is a secret)');
  });
});
