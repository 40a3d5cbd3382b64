import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRemoteJWKSet, decodeJwt, errors as joseErrors, importSPKI, jwtVerify, type CryptoKey, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import { AuthenticationError } from './errors.js';
import { anonymousPrincipal, knownScopes, type Principal } from './scopes.js';

/**
 * Clients are the systems and people allowed to call the gateway, listed in one
 * JSON file (SWITCHBOARD_CLIENTS_FILE) that the operator edits. Like an IXC ACS API
 * client (seed 001), each has a name, scopes, an expiry, and limits of requests
 * per minute and per day. A client proves who it is with an API key (the file
 * holds only its SHA-256; the key is shown once, by `npm run client -- add`) or
 * with a JWT from an issuer the file declares.
 */

export type JwtAlgorithm = 'HS256' | 'RS256' | 'ES256';

export interface ClientLimits {
  readonly requestsPerMinute: number;
  readonly requestsPerDay: number;
}

export interface ClientDefinition {
  readonly name: string;
  readonly scopes: readonly string[];
  /** Epoch ms after which the client is refused; undefined: never. */
  readonly expiresAt?: number;
  readonly limits: ClientLimits;
  /** `sha256:<hex>` of each API key the client may use (several, to rotate one without downtime). */
  readonly apiKeyHashes: readonly string[];
  /** The JWT identity that stands for this client: tokens from `issuer` whose `sub` is `subject`. */
  readonly jwt?: { readonly issuer: string; readonly subject: string };
}

export type JwtKeySource =
  | { readonly kind: 'secret'; readonly secret: Uint8Array }
  | { readonly kind: 'publicKey'; readonly pem: string }
  | { readonly kind: 'jwks'; readonly url: string };

export interface JwtIssuerDefinition {
  /** The `iss` claim of its tokens. */
  readonly issuer: string;
  /** The `aud` its tokens must carry, when set. */
  readonly audience?: string;
  readonly algorithms: readonly JwtAlgorithm[];
  readonly key: JwtKeySource;
  /** Seconds of clock skew forgiven on `exp` and `nbf`. */
  readonly clockToleranceSeconds: number;
}

export interface ClientsFile {
  readonly clients: readonly ClientDefinition[];
  readonly jwtIssuers: readonly JwtIssuerDefinition[];
}

const API_KEY_PREFIX = 'sb_';
const HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;

/** A new API key: 32 random bytes, prefixed so a leaked one is recognisable (secret scanners, logs). */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** What the clients file stores for a key. A plain SHA-256 suffices: the key is 256 random bits, not a password. */
export function hashApiKey(key: string): string {
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

const positiveInt = (what: string) => z.number({ error: `expected ${what} as a whole number` }).int(`expected ${what} as a whole number`).min(1, `expected ${what} of at least 1`);

const clientSchema = z
  .object({
    name: z
      .string({ error: 'expected a name' })
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected a name of at most 64 letters, digits, ".", "_" or "-", starting with a letter or digit'),
    scopes: z.array(z.string({ error: 'expected each scope as a string' }), { error: 'expected a list of scopes' }),
    expires: z.union([z.iso.datetime({ offset: true, error: 'expected an ISO-8601 date and time such as 2027-01-31T00:00:00Z, or null for never' }), z.null()]).optional(),
    limits: z
      .object({ requestsPerMinute: positiveInt('requestsPerMinute').optional(), requestsPerDay: positiveInt('requestsPerDay').optional() }, { error: 'expected {"requestsPerMinute": n, "requestsPerDay": n}' })
      .strict()
      .optional(),
    apiKeys: z.array(z.string({ error: 'expected each API key hash as a string' }), { error: 'expected a list of API key hashes' }).optional(),
    jwt: z
      .object({ issuer: z.string().min(1, 'expected the issuer (iss) of the JWTs'), subject: z.string().min(1, 'expected the subject (sub) of the JWTs') }, { error: 'expected {"issuer": "...", "subject": "..."}' })
      .strict()
      .optional(),
    description: z.string().optional(),
  })
  .strict();

const issuerSchema = z
  .object({
    issuer: z.string({ error: 'expected the issuer (iss) its tokens carry' }).min(1, 'expected the issuer (iss) its tokens carry'),
    audience: z.string().min(1).optional(),
    algorithms: z.array(z.enum(['HS256', 'RS256', 'ES256'], { error: 'expected HS256, RS256 or ES256' })).min(1).optional(),
    secretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected the name of an environment variable that holds the HS256 secret').optional(),
    publicKey: z.string().includes('BEGIN PUBLIC KEY', { message: 'expected a PEM public key (-----BEGIN PUBLIC KEY-----)' }).optional(),
    jwksUrl: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL of a JWKS document' }).optional(),
    clockToleranceSeconds: z.number().int().min(0).max(300).optional(),
  })
  .strict();

const fileSchema = z
  .object(
    {
      clients: z.array(z.unknown(), { error: 'expected "clients": a list of clients' }),
      jwtIssuers: z.array(z.unknown(), { error: 'expected "jwtIssuers": a list of issuers' }).optional(),
    },
    { error: 'expected a JSON object with "clients" (and optionally "jwtIssuers")' },
  )
  .strict();

export interface ReadClientsOptions {
  env: Readonly<Record<string, string | undefined>>;
  platformKeys: readonly string[];
  /** Limits of a client whose entry states none. */
  defaultLimits: ClientLimits;
  /** Problems found, one line each, naming the file, the client and what was expected. */
  problems: string[];
}

/**
 * Reads and checks the clients file at start. Every problem names the file, the
 * client (by name when it has one) and what was expected; a value that may be a
 * secret (a key pasted instead of its hash) is never echoed.
 */
export function readClientsFile(path: string, options: ReadClientsOptions): ClientsFile {
  const { problems } = options;
  const where = `SWITCHBOARD_CLIENTS_FILE (${path})`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problems.push(`${where}: expected a readable JSON file; ${code === 'ENOENT' ? 'there is no such file' : `it cannot be read (${code ?? 'unknown error'})`}`);
    return { clients: [], jwtIssuers: [] };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    const line = position === undefined ? undefined : text.slice(0, Number(position)).split('\n').length;
    problems.push(`${where}: expected JSON; the file does not parse${line ? ` (line ${line})` : ''}`);
    return { clients: [], jwtIssuers: [] };
  }
  const top = fileSchema.safeParse(json);
  if (!top.success) {
    for (const issue of top.error.issues) problems.push(`${where}: ${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
    return { clients: [], jwtIssuers: [] };
  }

  const jwtIssuers: JwtIssuerDefinition[] = [];
  (top.data.jwtIssuers ?? []).forEach((raw, index) => {
    const label = `${where}: jwtIssuers[${index}]${raw && typeof raw === 'object' && typeof (raw as { issuer?: unknown }).issuer === 'string' ? ` "${(raw as { issuer: string }).issuer}"` : ''}`;
    const parsed = issuerSchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push(`${label}: ${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
      return;
    }
    const i = parsed.data;
    const sources = [i.secretEnv, i.publicKey, i.jwksUrl].filter((v) => v !== undefined).length;
    if (sources !== 1) {
      problems.push(`${label}: expected exactly one of "secretEnv" (HS256), "publicKey" (RS256/ES256 PEM) or "jwksUrl"; got ${sources}`);
      return;
    }
    let key: JwtKeySource;
    let algorithms: JwtAlgorithm[];
    if (i.secretEnv) {
      const secret = options.env[i.secretEnv];
      if (!secret || secret.length < 32) {
        problems.push(`${label}: secretEnv names ${i.secretEnv}, which must hold an HS256 secret of at least 32 characters; ${secret ? 'it is shorter (not shown)' : 'it is not set'}`);
        return;
      }
      key = { kind: 'secret', secret: new TextEncoder().encode(secret) };
      algorithms = i.algorithms ?? ['HS256'];
      if (algorithms.some((a) => a !== 'HS256')) {
        problems.push(`${label}: a shared secret signs HS256 only; expected "algorithms": ["HS256"], got ${JSON.stringify(algorithms)}`);
        return;
      }
    } else if (i.publicKey) {
      let type: string | undefined;
      try {
        type = createPublicKey(i.publicKey).asymmetricKeyType;
      } catch {
        problems.push(`${label}: publicKey: expected a PEM public key (RSA for RS256, EC P-256 for ES256); it does not parse`);
        return;
      }
      const inferred: JwtAlgorithm | undefined = type === 'rsa' ? 'RS256' : type === 'ec' ? 'ES256' : undefined;
      if (!inferred) {
        problems.push(`${label}: publicKey: expected an RSA or EC key; got a ${type} key`);
        return;
      }
      algorithms = i.algorithms ?? [inferred];
      if (algorithms.some((a) => a !== inferred)) {
        problems.push(`${label}: an ${type?.toUpperCase()} key verifies ${inferred} only; got "algorithms": ${JSON.stringify(algorithms)}`);
        return;
      }
      key = { kind: 'publicKey', pem: i.publicKey };
    } else {
      key = { kind: 'jwks', url: i.jwksUrl! };
      algorithms = i.algorithms ?? ['RS256', 'ES256'];
      if (algorithms.includes('HS256')) {
        problems.push(`${label}: a JWKS URL publishes public keys; expected RS256 and/or ES256, got ${JSON.stringify(algorithms)}`);
        return;
      }
    }
    if (jwtIssuers.some((j) => j.issuer === i.issuer)) {
      problems.push(`${label}: the issuer ${JSON.stringify(i.issuer)} is listed twice; expected each issuer once`);
      return;
    }
    jwtIssuers.push({ issuer: i.issuer, audience: i.audience, algorithms, key, clockToleranceSeconds: i.clockToleranceSeconds ?? 30 });
  });

  const scopes = new Set(knownScopes(options.platformKeys));
  const clients: ClientDefinition[] = [];
  const keyOwners = new Map<string, string>();
  const names = new Set<string>();
  top.data.clients.forEach((raw, index) => {
    const rawName = raw && typeof raw === 'object' ? (raw as { name?: unknown }).name : undefined;
    const label = `${where}: clients[${index}]${typeof rawName === 'string' ? ` "${rawName}"` : ''}`;
    const parsed = clientSchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const path = issue.path.join('.');
        // Never echo what sits under apiKeys: it may be a raw key pasted by mistake.
        problems.push(`${label}: ${path ? `${path}: ` : ''}${issue.message}`);
      }
      return;
    }
    const c = parsed.data;
    let ok = true;
    const fail = (message: string) => {
      problems.push(`${label}: ${message}`);
      ok = false;
    };
    if (names.has(c.name)) fail(`the name "${c.name}" is used twice; expected each client once`);
    names.add(c.name);
    if (c.scopes.length === 0) fail(`scopes: expected at least one of ${[...scopes].join(', ')}`);
    c.scopes.forEach((scope, i) => {
      if (!scopes.has(scope)) fail(`scopes[${i}]: expected one of ${[...scopes].join(', ')}; got ${JSON.stringify(scope)}`);
    });
    (c.apiKeys ?? []).forEach((hash, i) => {
      if (hash.startsWith(API_KEY_PREFIX)) fail(`apiKeys[${i}]: this looks like an API key itself; the file holds only its hash, "sha256:<64 hex digits>" (\`npm run client -- hash\` prints it). Treat that key as exposed and make a new one.`);
      else if (!HASH_PATTERN.test(hash)) fail(`apiKeys[${i}]: expected "sha256:" and 64 lower-case hex digits, as \`npm run client -- add\` prints; got something else (not shown)`);
      else if (keyOwners.has(hash)) fail(`apiKeys[${i}]: the same key is also listed for client "${keyOwners.get(hash)}"; expected each key for one client`);
      else keyOwners.set(hash, c.name);
    });
    if (c.jwt && !jwtIssuers.some((i) => i.issuer === c.jwt!.issuer)) {
      fail(`jwt.issuer: expected one of the issuers in "jwtIssuers" (${jwtIssuers.map((i) => JSON.stringify(i.issuer)).join(', ') || 'none declared'}); got ${JSON.stringify(c.jwt.issuer)}`);
    }
    if (!(c.apiKeys?.length ?? 0) && !c.jwt) fail('expected a way to authenticate: "apiKeys" (hashes) or "jwt" ({issuer, subject})');
    if (!ok) return;
    clients.push({
      name: c.name,
      scopes: c.scopes,
      expiresAt: c.expires ? Date.parse(c.expires) : undefined,
      limits: {
        requestsPerMinute: c.limits?.requestsPerMinute ?? options.defaultLimits.requestsPerMinute,
        requestsPerDay: c.limits?.requestsPerDay ?? options.defaultLimits.requestsPerDay,
      },
      apiKeyHashes: c.apiKeys ?? [],
      jwt: c.jwt,
    });
  });
  return { clients, jwtIssuers };
}

/** The credential a request carries, read from headers (HTTP, SSE) or connection params (WebSocket). */
export interface Credential {
  readonly kind: 'api-key' | 'bearer';
  readonly value: string;
}

/**
 * Finds the credential: `Authorization: Bearer <key or JWT>` or `x-api-key: <key>`.
 * Header names are matched case-insensitively, so graphql-ws connection params
 * (`{ "Authorization": "Bearer …" }`, `{ "x-api-key": … }`) work as headers do.
 */
export function credentialFrom(values: Readonly<Record<string, unknown>> | undefined): Credential | { malformed: string } | undefined {
  if (!values) return undefined;
  let authorization: unknown;
  let apiKey: unknown;
  for (const [name, value] of Object.entries(values)) {
    const lower = name.toLowerCase();
    if (lower === 'authorization') authorization = value;
    else if (lower === 'x-api-key' || lower === 'apikey' || lower === 'api-key') apiKey = value;
  }
  if (typeof apiKey === 'string' && apiKey.trim()) return { kind: 'api-key', value: apiKey.trim() };
  if (typeof authorization === 'string' && authorization.trim()) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization.trim());
    if (!match) return { malformed: 'expected "Authorization: Bearer <API key or JWT>"; the header came in another form (not shown)' };
    return { kind: 'bearer', value: match[1]! };
  }
  return undefined;
}

const REALM = 'Bearer realm="switchboard"';
const HOW = 'Send an API key as "Authorization: Bearer <key>" or "x-api-key: <key>", or a JWT from a configured issuer as "Authorization: Bearer <jwt>" (over WebSocket, in the connection_init payload).';

function unauthenticated(message: string, error?: 'invalid_request' | 'invalid_token'): AuthenticationError {
  const header = error ? `${REALM}, error="${error}", error_description="${message.replace(/["\\]/g, "'").slice(0, 200)}"` : REALM;
  return new AuthenticationError(message, { 'www-authenticate': header });
}

/** How many presented API keys the authenticator remembers once verified (a client has one or two; a gateway, a few hundred clients at most). */
const VERIFIED_KEYS = 1_000;

export interface AuthenticatorOptions {
  clients: ClientsFile;
  /** True in the embedded default: every caller is anonymous with every scope. */
  anonymous: boolean;
  platformKeys: readonly string[];
  clock: Clock;
}

/**
 * Turns a request's credential into a `Principal`, or refuses with
 * UNAUTHENTICATED (HTTP 401 with `WWW-Authenticate`) and a message saying what
 * is expected. The key itself is never repeated back.
 */
export class Authenticator {
  private readonly byKeyHash = new Map<string, ClientDefinition>();
  /**
   * Keys already verified → their client, so a client's every request does not
   * hash its key again. Only keys that matched a client get in (a caller sending
   * made-up keys cannot fill it), and it is bounded, oldest out first; expiry is
   * still checked on every request, since it depends on the time.
   */
  private readonly verifiedKeys = new Map<string, ClientDefinition>();
  /** One principal per API-key client: its scopes do not change while the gateway runs. */
  private readonly principals = new Map<ClientDefinition, Principal>();
  private readonly byJwt = new Map<string, ClientDefinition>();
  private readonly issuers = new Map<string, { definition: JwtIssuerDefinition; key: () => Promise<JWTVerifyGetKey | CryptoKey | Uint8Array> }>();
  private readonly anonymous?: Principal;
  private readonly clock: Clock;

  constructor(options: AuthenticatorOptions) {
    this.clock = options.clock;
    if (options.anonymous) this.anonymous = anonymousPrincipal(options.platformKeys);
    for (const client of options.clients.clients) {
      for (const hash of client.apiKeyHashes) this.byKeyHash.set(hash, client);
      if (client.jwt) this.byJwt.set(`${client.jwt.issuer}\n${client.jwt.subject}`, client);
    }
    for (const definition of options.clients.jwtIssuers) {
      const source = definition.key;
      let key: () => Promise<JWTVerifyGetKey | CryptoKey | Uint8Array>;
      if (source.kind === 'secret') key = async () => source.secret;
      else if (source.kind === 'publicKey') {
        let imported: Promise<CryptoKey> | undefined;
        key = () => (imported ??= importSPKI(source.pem, definition.algorithms[0]!));
      } else {
        // jose caches the set (10 minutes) and refetches at most every 30 s when a token names an unknown key id.
        const jwks = createRemoteJWKSet(new URL(source.url), { cacheMaxAge: 600_000, cooldownDuration: 30_000, timeoutDuration: 5_000 });
        key = async () => jwks;
      }
      this.issuers.set(definition.issuer, { definition, key });
    }
  }

  /** True when the gateway runs without clients (the embedded default). */
  get isAnonymous(): boolean {
    return this.anonymous !== undefined;
  }

  /** The caller of a request whose headers (or connection params) are `values`. */
  async authenticate(values: Readonly<Record<string, unknown>> | undefined): Promise<Principal> {
    if (this.anonymous) return this.anonymous;
    const credential = credentialFrom(values);
    if (!credential) throw unauthenticated(`This gateway needs a client credential. ${HOW}`);
    if ('malformed' in credential) throw unauthenticated(`The Authorization header is malformed: ${credential.malformed}. ${HOW}`, 'invalid_request');
    if (credential.kind === 'bearer' && credential.value.split('.').length === 3) return this.fromJwt(credential.value);
    return this.fromApiKey(credential.value);
  }

  private fromApiKey(key: string): Principal {
    let client = this.verifiedKeys.get(key);
    if (!client) {
      client = this.byKeyHash.get(hashApiKey(key));
      if (client) {
        if (this.verifiedKeys.size >= VERIFIED_KEYS) this.verifiedKeys.delete(this.verifiedKeys.keys().next().value!);
        this.verifiedKeys.set(key, client);
      }
    }
    if (!client) {
      throw unauthenticated(
        'The API key sent is not one this gateway knows (it was mistyped, revoked, or belongs to another gateway). Ask the gateway\'s operator for a key: `npm run client -- add <name> --scopes ...` makes one.',
        'invalid_token',
      );
    }
    this.checkExpiry(client);
    let principal = this.principals.get(client);
    if (!principal) this.principals.set(client, (principal = principalOf(client, 'api-key')));
    return principal;
  }

  private async fromJwt(token: string): Promise<Principal> {
    let claims: JWTPayload;
    try {
      claims = decodeJwt(token);
    } catch {
      throw unauthenticated('The bearer token looks like a JWT but does not decode. Send a signed JWT (header.payload.signature) or an API key.', 'invalid_token');
    }
    const issuer = typeof claims.iss === 'string' ? this.issuers.get(claims.iss) : undefined;
    if (!issuer) {
      const known = [...this.issuers.keys()].map((i) => JSON.stringify(i)).join(', ');
      throw unauthenticated(
        `The JWT's issuer (iss) is not one this gateway trusts; expected ${known ? `one of ${known}` : 'none: no JWT issuer is configured, use an API key'}.`,
        'invalid_token',
      );
    }
    const { definition } = issuer;
    let payload: JWTPayload;
    try {
      const key = await issuer.key();
      const verifyOptions = {
        issuer: definition.issuer,
        audience: definition.audience,
        algorithms: [...definition.algorithms],
        clockTolerance: definition.clockToleranceSeconds,
        currentDate: new Date(this.clock.now()),
        // A token without an expiry would be good for ever: refused, as README says.
        requiredClaims: ['exp', 'sub'],
      };
      payload = (typeof key === 'function' ? await jwtVerify(token, key, verifyOptions) : await jwtVerify(token, key, verifyOptions)).payload;
    } catch (error) {
      throw unauthenticated(describeJwtFailure(error, definition), 'invalid_token');
    }
    const subject = typeof payload.sub === 'string' ? payload.sub : undefined;
    const client = subject ? this.byJwt.get(`${definition.issuer}\n${subject}`) : undefined;
    if (!client) {
      throw unauthenticated(
        `The JWT verifies, but no client stands for its subject (sub) from ${definition.issuer}. Ask the gateway's operator to add a client with "jwt": {"issuer": "${definition.issuer}", "subject": "<sub>"}.`,
        'invalid_token',
      );
    }
    this.checkExpiry(client);
    const principal = principalOf(client, 'jwt');
    // A token that names scopes narrows the client's to those; it never widens them.
    const claimed = typeof payload.scope === 'string' ? payload.scope.split(/\s+/) : Array.isArray(payload.scp) ? (payload.scp as unknown[]).map(String) : undefined;
    if (!claimed) return principal;
    return Object.freeze({ ...principal, scopes: new Set([...principal.scopes].filter((s) => claimed.includes(s))) });
  }

  private checkExpiry(client: ClientDefinition): void {
    if (client.expiresAt !== undefined && this.clock.now() >= client.expiresAt) {
      throw unauthenticated(
        `Client "${client.name}" expired at ${new Date(client.expiresAt).toISOString()}. Ask the gateway's operator to extend "expires" in the clients file.`,
        'invalid_token',
      );
    }
  }
}

function principalOf(client: ClientDefinition, via: 'api-key' | 'jwt'): Principal {
  return Object.freeze({ client: client.name, name: client.name, anonymous: false, scopes: new Set(client.scopes), via, limits: client.limits });
}

function describeJwtFailure(error: unknown, issuer: JwtIssuerDefinition): string {
  const from = `from ${issuer.issuer}`;
  if (error instanceof joseErrors.JWTExpired) {
    const exp = typeof error.payload.exp === 'number' ? ` at ${new Date(error.payload.exp * 1000).toISOString()}` : '';
    return `The JWT ${from} expired${exp}. Get a fresh token from its issuer.`;
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return `The JWT ${from} was refused: its "${error.claim}" claim ${error.reason === 'missing' ? 'is missing' : 'is not what this gateway expects'}${error.claim === 'aud' && issuer.audience ? ` (expected "${issuer.audience}")` : ''}.`;
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return `The JWT ${from} is signed with an algorithm this gateway does not accept for it; expected ${issuer.algorithms.join(' or ')}.`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return `The JWT ${from} has a signature that does not verify with that issuer's key.`;
  if (error instanceof joseErrors.JWKSNoMatchingKey) return `The JWT ${from} names a key (kid) that is not in the issuer's published key set.`;
  if (error instanceof joseErrors.JWKSTimeout || (error instanceof joseErrors.JOSEError && error.code === 'ERR_JWKS_INVALID')) {
    return `The gateway could not fetch the key set of ${issuer.issuer} to verify the JWT; try again shortly.`;
  }
  if (error instanceof joseErrors.JOSEError) return `The JWT ${from} is not valid (${error.code}).`;
  return `The JWT ${from} could not be verified.`;
}
