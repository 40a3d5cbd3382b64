import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey } from 'jose';
import { ManualClock } from '../src/core/clock.js';
import { Authenticator, generateApiKey, hashApiKey, readClientsFile, type ClientsFile } from '../src/core/security/clients.js';
import { runClientCommand } from '../src/core/security/client-command.js';
import { AuthenticationError } from '../src/core/security/errors.js';

const PLATFORMS = ['cloudlx', 'exotel', 'ixc', 'cloudcix'];
const LIMITS = { requestsPerMinute: 600, requestsPerDay: 100_000 };
const HS_SECRET = 'a-test-secret-that-is-long-enough-for-hs256!';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchboard-clients-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function read(content: unknown, env: Record<string, string> = {}): { file: ClientsFile; problems: string[]; path: string } {
  const path = join(dir, `clients-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  const problems: string[] = [];
  const file = readClientsFile(path, { env, platformKeys: PLATFORMS, defaultLimits: LIMITS, problems });
  return { file, problems, path };
}

async function refusal(promise: Promise<unknown>): Promise<AuthenticationError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AuthenticationError);
  return error as AuthenticationError;
}

describe('the clients file', () => {
  it('reads a client with its scopes, expiry, limits and key hashes', () => {
    const key = generateApiKey();
    const { file, problems } = read({
      clients: [{ name: 'billing', scopes: ['cloudlx:read', 'ixc:write'], expires: '2027-01-31T00:00:00Z', limits: { requestsPerMinute: 60 }, apiKeys: [hashApiKey(key)] }],
    });
    expect(problems).toEqual([]);
    expect(file.clients).toEqual([
      {
        name: 'billing',
        scopes: ['cloudlx:read', 'ixc:write'],
        expiresAt: Date.parse('2027-01-31T00:00:00Z'),
        limits: { requestsPerMinute: 60, requestsPerDay: 100_000 },
        apiKeyHashes: [hashApiKey(key)],
        jwt: undefined,
      },
    ]);
  });

  it('names the file, the client and what was expected for each mistake, and never echoes a pasted key', () => {
    const rawKey = generateApiKey();
    const { problems, path } = read({
      clients: [
        { name: 'ops', scopes: ['cloudlx:wrte'], apiKeys: [rawKey] },
        { name: 'ops', scopes: ['admin'], apiKeys: ['sha256:short'] },
        { name: 'partner', scopes: ['ixc:read'], jwt: { issuer: 'https://idp.example.com/', subject: 'p1' } },
        { name: 'nothing', scopes: ['ixc:read'] },
      ],
    });
    const text = problems.join('\n');
    expect(problems.every((p) => p.startsWith(`SWITCHBOARD_CLIENTS_FILE (${path}): clients[`))).toBe(true);
    expect(text).toContain('clients[0] "ops": scopes[0]: expected one of cloudlx:read, cloudlx:write');
    expect(text).toContain('got "cloudlx:wrte"');
    expect(text).toContain('clients[0] "ops": apiKeys[0]: this looks like an API key itself');
    expect(text).toContain('clients[1] "ops": the name "ops" is used twice');
    expect(text).toContain('clients[1] "ops": apiKeys[0]: expected "sha256:" and 64 lower-case hex digits');
    expect(text).toContain('clients[2] "partner": jwt.issuer: expected one of the issuers in "jwtIssuers" (none declared)');
    expect(text).toContain('clients[3] "nothing": expected a way to authenticate');
    expect(text).not.toContain(rawKey);
  });

  it('refuses a file that is not JSON, with the line, and a missing file', () => {
    expect(read('{\n  "clients": [\n    { "name": }\n  ]\n}').problems[0]).toMatch(/: expected JSON; the file does not parse/);
    const problems: string[] = [];
    readClientsFile(join(dir, 'absent.json'), { env: {}, platformKeys: PLATFORMS, defaultLimits: LIMITS, problems });
    expect(problems).toEqual([`SWITCHBOARD_CLIENTS_FILE (${join(dir, 'absent.json')}): expected a readable JSON file; there is no such file`]);
  });

  it('checks JWT issuers: one key source each, a secret long enough, algorithms that fit the key', () => {
    const { problems } = read(
      {
        jwtIssuers: [
          { issuer: 'a', secretEnv: 'SHORT_SECRET' },
          { issuer: 'b', secretEnv: 'MISSING_SECRET' },
          { issuer: 'c', jwksUrl: 'https://idp.example.com/jwks.json', algorithms: ['HS256'] },
          { issuer: 'd' },
        ],
        clients: [],
      },
      { SHORT_SECRET: 'short' },
    );
    const text = problems.join('\n');
    expect(text).toContain('jwtIssuers[0] "a": secretEnv names SHORT_SECRET, which must hold an HS256 secret of at least 32 characters; it is shorter (not shown)');
    expect(text).toContain('jwtIssuers[1] "b": secretEnv names MISSING_SECRET');
    expect(text).toContain('it is not set');
    expect(text).toContain('jwtIssuers[2] "c": a JWKS URL publishes public keys; expected RS256 and/or ES256');
    expect(text).toContain('jwtIssuers[3] "d": expected exactly one of "secretEnv" (HS256), "publicKey" (RS256/ES256 PEM) or "jwksUrl"; got 0');
    expect(text).not.toContain('short"');
  });
});

describe('authentication', () => {
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const key = generateApiKey();
  const expiredKey = generateApiKey();
  let rsaPrivate: CryptoKey;
  let esPrivate: CryptoKey;
  let jwksServer: Server;
  let jwksFetches = 0;
  let auth: Authenticator;

  beforeAll(async () => {
    const rsa = await generateKeyPair('RS256');
    rsaPrivate = rsa.privateKey as CryptoKey;
    const es = await generateKeyPair('ES256');
    esPrivate = es.privateKey as CryptoKey;
    const jwk = { ...(await exportJWK(es.publicKey)), kid: 'es-1', alg: 'ES256', use: 'sig' };
    jwksServer = createServer((_req, res) => {
      jwksFetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
    const { file, problems } = read(
      {
        jwtIssuers: [
          { issuer: 'scripts', secretEnv: 'OPS_JWT_SECRET', audience: 'switchboard' },
          { issuer: 'partner', publicKey: await exportSPKI(rsa.publicKey) },
          { issuer: 'https://idp.example.com/', jwksUrl },
        ],
        clients: [
          { name: 'billing', scopes: ['cloudlx:read', 'cloudlx:write'], apiKeys: [hashApiKey(key)] },
          { name: 'old', scopes: ['ixc:read'], expires: '2026-01-01T00:00:00Z', apiKeys: [hashApiKey(expiredKey)] },
          { name: 'cron', scopes: ['ixc:read', 'ixc:write'], jwt: { issuer: 'scripts', subject: 'cron-job' } },
          { name: 'partner', scopes: ['exotel:read'], jwt: { issuer: 'partner', subject: 'p-1' } },
          { name: 'sso', scopes: ['cloudcix:read', 'admin'], jwt: { issuer: 'https://idp.example.com/', subject: 'user-7' } },
        ],
      },
      { OPS_JWT_SECRET: HS_SECRET },
    );
    expect(problems).toEqual([]);
    auth = new Authenticator({ clients: file, anonymous: false, platformKeys: PLATFORMS, clock });
  });
  afterAll(() => new Promise<void>((resolve) => jwksServer.close(() => resolve())));

  const now = () => Math.floor(clock.now() / 1000);
  const hs = (claims: Record<string, unknown>, exp = now() + 600) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt(now()).setExpirationTime(exp).sign(new TextEncoder().encode(HS_SECRET));

  it('takes an API key as a bearer token or in x-api-key, case-insensitively (WebSocket connection params)', async () => {
    for (const values of [{ authorization: `Bearer ${key}` }, { 'x-api-key': key }, { Authorization: `bearer ${key}` }, { 'X-Api-Key': key }]) {
      const principal = await auth.authenticate(values);
      expect(principal).toMatchObject({ client: 'billing', anonymous: false, via: 'api-key' });
      expect([...principal.scopes]).toEqual(['cloudlx:read', 'cloudlx:write']);
    }
  });

  it('refuses a missing, malformed, wrong or expired key with UNAUTHENTICATED and WWW-Authenticate, never echoing the key', async () => {
    const missing = await refusal(auth.authenticate({}));
    expect(missing.code).toBe('UNAUTHENTICATED');
    expect(missing.httpStatus).toBe(401);
    expect(missing.httpHeaders['www-authenticate']).toBe('Bearer realm="switchboard"');
    expect(missing.message).toMatch(/Authorization: Bearer <key>.*x-api-key/);

    const malformed = await refusal(auth.authenticate({ authorization: `Basic ${key}` }));
    expect(malformed.httpHeaders['www-authenticate']).toMatch(/error="invalid_request"/);
    expect(malformed.message).not.toContain(key);

    const wrong = generateApiKey();
    const unknown = await refusal(auth.authenticate({ 'x-api-key': wrong }));
    expect(unknown.message).toMatch(/not one this gateway knows/);
    expect(unknown.httpHeaders['www-authenticate']).toMatch(/error="invalid_token"/);
    expect(JSON.stringify(unknown)).not.toContain(wrong);

    const expired = await refusal(auth.authenticate({ authorization: `Bearer ${expiredKey}` }));
    expect(expired.message).toBe('Client "old" expired at 2026-01-01T00:00:00.000Z. Ask the gateway\'s operator to extend "expires" in the clients file.');
  });

  it('takes an HS256 JWT whose issuer, audience and subject name a client; its scope claim narrows the scopes', async () => {
    const principal = await auth.authenticate({ authorization: `Bearer ${await hs({ iss: 'scripts', aud: 'switchboard', sub: 'cron-job' })}` });
    expect(principal).toMatchObject({ client: 'cron', via: 'jwt' });
    expect([...principal.scopes]).toEqual(['ixc:read', 'ixc:write']);
    const narrowed = await auth.authenticate({ authorization: `Bearer ${await hs({ iss: 'scripts', aud: 'switchboard', sub: 'cron-job', scope: 'ixc:read admin' })}` });
    expect([...narrowed.scopes]).toEqual(['ixc:read']);
  });

  it('refuses an expired, wrongly signed, unknown-issuer, wrong-audience or unknown-subject JWT with a reason', async () => {
    const expired = await refusal(auth.authenticate({ authorization: `Bearer ${await hs({ iss: 'scripts', aud: 'switchboard', sub: 'cron-job' }, now() - 120)}` }));
    expect(expired.code).toBe('UNAUTHENTICATED');
    expect(expired.message).toMatch(/^The JWT from scripts expired at 20\d\d-.*Get a fresh token/);
    // The gateway's clock decides: the same token is valid again on a clock set before its expiry.
    const late = await hs({ iss: 'scripts', aud: 'switchboard', sub: 'cron-job' }, now() + 60);
    await clock.advance(120_000);
    expect((await refusal(auth.authenticate({ authorization: `Bearer ${late}` }))).message).toMatch(/expired/);

    const forged = await new SignJWT({ iss: 'scripts', aud: 'switchboard', sub: 'cron-job' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(now() + 600)
      .sign(new TextEncoder().encode('another-secret-that-is-long-enough-to-sign-with'));
    expect((await refusal(auth.authenticate({ authorization: `Bearer ${forged}` }))).message).toMatch(/signature that does not verify/);

    const stranger = await new SignJWT({ iss: 'elsewhere', sub: 'x' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(HS_SECRET));
    expect((await refusal(auth.authenticate({ authorization: `Bearer ${stranger}` }))).message).toMatch(/issuer \(iss\) is not one this gateway trusts; expected one of "scripts", "partner"/);

    const audience = await refusal(auth.authenticate({ authorization: `Bearer ${await hs({ iss: 'scripts', aud: 'other', sub: 'cron-job' })}` }));
    expect(audience.message).toMatch(/"aud" claim is not what this gateway expects \(expected "switchboard"\)/);

    const nobody = await refusal(auth.authenticate({ authorization: `Bearer ${await hs({ iss: 'scripts', aud: 'switchboard', sub: 'someone-else' })}` }));
    expect(nobody.message).toMatch(/no client stands for its subject/);
  });

  it('takes an RS256 JWT verified with a configured public key, and refuses HS256 from that issuer', async () => {
    const token = await new SignJWT({ iss: 'partner', sub: 'p-1' }).setProtectedHeader({ alg: 'RS256' }).setExpirationTime(now() + 600).sign(rsaPrivate);
    expect(await auth.authenticate({ authorization: `Bearer ${token}` })).toMatchObject({ client: 'partner', via: 'jwt' });
    const downgraded = await new SignJWT({ iss: 'partner', sub: 'p-1' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(HS_SECRET));
    expect((await refusal(auth.authenticate({ authorization: `Bearer ${downgraded}` }))).message).toMatch(/algorithm this gateway does not accept for it; expected RS256/);
  });

  it('takes an ES256 JWT verified against a JWKS URL, fetching the key set once for many tokens', async () => {
    const sign = (sub: string) =>
      new SignJWT({ iss: 'https://idp.example.com/', sub }).setProtectedHeader({ alg: 'ES256', kid: 'es-1' }).setExpirationTime(now() + 600).sign(esPrivate);
    const before = jwksFetches;
    for (let i = 0; i < 5; i++) expect(await auth.authenticate({ authorization: `Bearer ${await sign('user-7')}` })).toMatchObject({ client: 'sso' });
    expect(jwksFetches - before).toBe(1);
    const unknownKid = await new SignJWT({ iss: 'https://idp.example.com/', sub: 'user-7' })
      .setProtectedHeader({ alg: 'ES256', kid: 'es-2' })
      .setExpirationTime(now() + 600)
      .sign(esPrivate);
    expect((await refusal(auth.authenticate({ authorization: `Bearer ${unknownKid}` }))).message).toMatch(/names a key \(kid\) that is not in the issuer's published key set/);
  });

  it('answers every caller as anonymous with every scope when no clients are configured', async () => {
    const anonymous = new Authenticator({ clients: { clients: [], jwtIssuers: [] }, anonymous: true, platformKeys: PLATFORMS, clock });
    const principal = await anonymous.authenticate({});
    expect(principal).toMatchObject({ anonymous: true, via: 'anonymous' });
    expect(principal.scopes.has('admin')).toBe(true);
    expect(principal.scopes.has('cloudcix:write')).toBe(true);
  });
});

describe('npm run client', () => {
  it('prints a new key once and the entry that makes it valid', async () => {
    let out = '';
    const code = await runClientCommand(['add', 'billing', '--scopes', 'cloudlx:read,ixc:write', '--expires', '30', '--per-minute', '60'], PLATFORMS, {
      out: (t) => (out += t),
      err: (t) => (out += t),
      readInput: async () => '',
      now: () => Date.UTC(2026, 0, 1),
    });
    expect(code).toBe(0);
    const key = /^\s+(sb_[A-Za-z0-9_-]{43})$/m.exec(out)?.[1];
    expect(key).toBeDefined();
    const entry = JSON.parse(out.slice(out.indexOf('{')));
    expect(entry).toEqual({ name: 'billing', scopes: ['cloudlx:read', 'ixc:write'], expires: '2026-01-31T00:00:00.000Z', limits: { requestsPerMinute: 60 }, apiKeys: [hashApiKey(key!)] });
    // The entry, pasted into a clients file, authenticates that key.
    const { file, problems } = read({ clients: [entry] });
    expect(problems).toEqual([]);
    const auth = new Authenticator({ clients: file, anonymous: false, platformKeys: PLATFORMS, clock: new ManualClock(Date.UTC(2026, 0, 2)) });
    expect((await auth.authenticate({ 'x-api-key': key })).client).toBe('billing');
  });

  it('refuses an unknown scope, saying which are known', async () => {
    let err = '';
    const code = await runClientCommand(['add', 'x', '--scopes', 'everything'], PLATFORMS, { out: () => undefined, err: (t) => (err += t), readInput: async () => '', now: Date.now });
    expect(code).toBe(2);
    expect(err).toContain('Expected --scopes with one or more of: cloudlx:read, cloudlx:write');
    expect(err).toContain('got "everything"');
  });
});
