import { createPublicKey, randomUUID } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SignJWT, exportPKCS8, generateKeyPair, importPKCS8, type CryptoKey } from 'jose';
import { TokenManager, type IssuedToken } from '../../core/upstream/tokens.js';
import { UpstreamHttp, clientForOperation, type UpstreamResponse } from '../../core/upstream/http.js';
import { UnauthenticatedError, UpstreamBadResponseError, errorFromStatus, expectList } from '../../core/upstream/errors.js';
import type { ClientDeps } from '../../core/platform.js';
import { readIxcPrivateKey } from './config.js';
import type {
  IxcApiClientBody,
  IxcApiClientRecord,
  IxcDeviceParametersRecord,
  IxcDevicePage,
  IxcDeviceRecord,
  IxcDiagnosticType,
  IxcOperationRecord,
  IxcTokenResponse,
  IxcWifiBands,
} from './types.js';
import type { Projection } from '../../core/upstream/project-json.js';
import type { OperationBound, OperationScope } from '../../core/upstream/operation.js';

/**
 * The IXC ACS REST paths this client uses. UPSTREAMS.md §3 documents the device
 * paths (from public third-party client code, relative, so their base is ours to
 * choose) and the reboot and parameter-update actions; everything marked
 * (assumed) is the project's choice, kept here in one place so that a user with
 * a real ACS can adapt it (see docs/platforms/ixc.md).
 */
export const IXC_PATHS = {
  /** (assumed) `Authorization: Bearer <ES256 JWT>` → `{access_token, expires_at}`. */
  token: '/api/v1/auth/token',
  /** Documented as `devices/views/natural`; the `/api/v1/` base is assumed, as are `page`/`rp` paging and `total`. */
  deviceSearch: '/api/v1/devices/views/natural',
  /** (assumed) one device by serial number, same shape as a `registers` entry. */
  device: (serial: string) => `/api/v1/devices/${encodeURIComponent(serial)}`,
  /** (assumed) parameters of up to 50 devices: `?serialNumbers=A,B` → `{registers: [{serialNumber, parameters}]}`. */
  deviceParameters: '/api/v1/devices/parameters',
  /** Documented (with its trailing slash): `{serialNumber, parameters: [{name, value}]}` → protocol. */
  deviceParametersUpdate: '/api/v1/devices/parameters/update/',
  /** Documented: `GET` → `{"2.4": [...], "5.8": [...]}`. */
  wifi: (serial: string) => `/api/v1/devices/${encodeURIComponent(serial)}/wifi`,
  /** Documented: `PATCH {ssid, password}`; `enable` is assumed. Its answer is not relied on: the network is read back. */
  wifiNetwork: (serial: string, id: number | string) => `/api/v1/devices/${encodeURIComponent(serial)}/wifi/${encodeURIComponent(id)}`,
  /** Documented: `{serialNumber}` → protocol. */
  reboot: '/api/v1/devices/reboot',
  /** (assumed) like reboot. */
  factoryReset: '/api/v1/devices/factory-reset',
  /** (assumed) `{type, target}` → protocol. */
  diagnostics: (serial: string) => `/api/v1/devices/${encodeURIComponent(serial)}/diagnostics`,
  /** (assumed) an operation's state by protocol. */
  operation: (protocol: string) => `/api/v1/operations/${encodeURIComponent(protocol)}`,
  /** (assumed) `GET|POST`, and `GET|PATCH|DELETE …/{id}`. */
  apiClients: '/api/v1/api-clients',
  apiClient: (id: string) => `/api/v1/api-clients/${encodeURIComponent(id)}`,
} as const;

/** How many serial numbers one parameters read may carry (assumed limit, keeps URLs short). */
export const IXC_PARAMETERS_BATCH_SIZE = 50;

/** The embedded default's key file, inside the gateway's data folder. */
export const IXC_EMBEDDED_KEY_FILE = 'ixc-embedded-key.pem';

/** Lifetime of the signed JWT exchanged for an access token: long enough for clock skew, short enough to be useless if seen. */
const ASSERTION_LIFETIME_SECONDS = 60;

export type IxcKeySource =
  | { kind: 'configured'; privateKeyPem: string }
  | { kind: 'embedded'; dataDir: string; registerPublicKey: (publicKeyPem: string) => Promise<void> };

export interface IxcCredentials {
  baseUrl: string;
  apiClientId: string;
  key: IxcKeySource;
  /** The API client's requests per minute on the ACS: kept by the chain's throttle, shared fairly between the gateway's clients. */
  requestsPerMinute?: number;
}

export type IxcDeviceSearchColumn = 'serialNumber' | 'connection.pppoeLogin';

export interface IxcDeviceSearch {
  column: IxcDeviceSearchColumn;
  value: string;
}

/**
 * The IXC ACS REST API, one method per path of `IXC_PATHS`, returning IXC's own
 * JSON. Authentication: the client signs an ES256 JWT (`iss` = API client id)
 * with its private key and exchanges it for an access token.
 */
export class IxcClient implements OperationBound<IxcClient> {
  readonly http: UpstreamHttp;
  readonly tokens: TokenManager;
  private readonly signingKey: Promise<CryptoKey>;

  constructor(private readonly config: IxcCredentials, deps: ClientDeps) {
    this.http = new UpstreamHttp({
      platform: 'ixc',
      baseUrl: config.baseUrl,
      ...deps,
      defaultHeaders: { accept: 'application/json' },
      title: 'IXC ACS',
      throttle: config.requestsPerMinute ? { limit: config.requestsPerMinute, windowMs: 60_000 } : undefined,
    });
    // Shared by every gateway on the store: one IXC ACS token per API client, not one per process.
    this.tokens = new TokenManager({ platform: 'ixc', fetchToken: (_previous, operation) => this.fetchToken(operation), infra: deps.infra, identity: [config.baseUrl, config.apiClientId] });
    // Started now, so the embedded key exists from the first start; awaited by the first token fetch.
    this.signingKey = loadSigningKey(config.key);
    this.signingKey.catch((error: unknown) => deps.log.error({ err: { message: (error as Error).message } }, 'IXC ACS signing key could not be prepared'));
  }

  /** This client with its calls made on behalf of `operation` (see `OperationScope`). */
  forOperation(operation: OperationScope | undefined): IxcClient {
    return clientForOperation(this, operation);
  }

  private async fetchToken(operation: OperationScope | undefined): Promise<IssuedToken> {
    const key = await this.signingKey;
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
      .setIssuer(this.config.apiClientId)
      .setIssuedAt(now)
      .setExpirationTime(now + ASSERTION_LIFETIME_SECONDS)
      .setJti(randomUUID())
      .sign(key);
    let response: UpstreamResponse<IxcTokenResponse>;
    try {
      response = await this.http.forOperation(operation).request<IxcTokenResponse>({
        method: 'POST',
        path: IXC_PATHS.token,
        route: `POST ${IXC_PATHS.token}`,
        headers: { authorization: `Bearer ${assertion}` },
      });
    } catch (error) {
      if (error instanceof UnauthenticatedError) {
        throw new UnauthenticatedError(
          `IXC ACS refused the signed token request for API client ${this.config.apiClientId} (${error.message}); check IXC_API_CLIENT_ID and that the API client's public key matches IXC_PRIVATE_KEY_FILE / IXC_PRIVATE_KEY`,
          { platform: 'ixc', upstreamStatus: error.upstreamStatus },
        );
      }
      throw error;
    }
    const body = response.body;
    const expiresAt = typeof body?.expires_at === 'string' ? Date.parse(body.expires_at) : Number.NaN;
    if (!body || typeof body.access_token !== 'string' || !Number.isFinite(expiresAt)) {
      throw new UpstreamBadResponseError('IXC ACS answered the token request without access_token and an ISO-8601 expires_at', { platform: 'ixc' });
    }
    return { token: body.access_token, expiresAt };
  }

  private call<T>(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    path: string,
    route: string,
    options: { json?: unknown; query?: URLSearchParams; batchKeys?: number; project?: Projection } = {},
  ): Promise<T> {
    return this.tokens.withToken(async (token) => {
      const response = await this.http.request<T>({
        method,
        path,
        route,
        json: options.json,
        query: options.query,
        batchKeys: options.batchKeys,
        project: options.project,
        headers: { authorization: `Bearer ${token}` },
      });
      return response.body;
    }, this.http.operation);
  }

  /** A page of devices; with a projection (`DEVICES_LIST` in resolvers.ts), only the keys of each device that it names. */
  async searchDevices(options: { search?: IxcDeviceSearch; page: number; rows: number; project?: Projection }): Promise<IxcDevicePage> {
    const query = new URLSearchParams();
    if (options.search) {
      query.set('search[column]', options.search.column);
      query.set('search[search]', options.search.value);
    }
    query.set('page', String(options.page));
    query.set('rp', String(options.rows));
    const body = await this.call<IxcDevicePage>('GET', IXC_PATHS.deviceSearch, `GET ${IXC_PATHS.deviceSearch}`, { query, project: options.project });
    return { registers: expectList(body?.registers, 'ixc', '"registers"'), total: typeof body?.total === 'number' ? body.total : undefined };
  }

  getDevice(serial: string): Promise<IxcDeviceRecord> {
    return this.call('GET', IXC_PATHS.device(serial), 'GET /api/v1/devices/{serial}');
  }

  async getDeviceParameters(serials: readonly string[]): Promise<IxcDeviceParametersRecord[]> {
    const query = new URLSearchParams({ serialNumbers: serials.join(',') });
    const body = await this.call<{ registers: IxcDeviceParametersRecord[] }>('GET', IXC_PATHS.deviceParameters, `GET ${IXC_PATHS.deviceParameters}`, {
      query,
      batchKeys: serials.length,
    });
    return expectList(body?.registers, 'ixc', '"registers"');
  }

  updateDeviceParameters(serial: string, parameters: { name: string; value: string }[]): Promise<IxcOperationRecord> {
    return this.call('POST', IXC_PATHS.deviceParametersUpdate, `POST ${IXC_PATHS.deviceParametersUpdate}`, { json: { serialNumber: serial, parameters } });
  }

  async getWifi(serial: string): Promise<IxcWifiBands> {
    const body = await this.call<IxcWifiBands>('GET', IXC_PATHS.wifi(serial), 'GET /api/v1/devices/{serial}/wifi');
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw new UpstreamBadResponseError('IXC ACS answered the Wi-Fi read without the documented {"2.4": [...], "5.8": [...]} object', { platform: 'ixc' });
    }
    return body;
  }

  async updateWifiNetwork(serial: string, id: number | string, body: { ssid?: string; password?: string; enable?: boolean }): Promise<void> {
    await this.call('PATCH', IXC_PATHS.wifiNetwork(serial, id), 'PATCH /api/v1/devices/{serial}/wifi/{id}', { json: body });
  }

  rebootDevice(serial: string): Promise<IxcOperationRecord> {
    return this.call('POST', IXC_PATHS.reboot, `POST ${IXC_PATHS.reboot}`, { json: { serialNumber: serial } });
  }

  factoryResetDevice(serial: string): Promise<IxcOperationRecord> {
    return this.call('POST', IXC_PATHS.factoryReset, `POST ${IXC_PATHS.factoryReset}`, { json: { serialNumber: serial } });
  }

  runDiagnostic(serial: string, body: { type: IxcDiagnosticType; target?: string }): Promise<IxcOperationRecord> {
    return this.call('POST', IXC_PATHS.diagnostics(serial), 'POST /api/v1/devices/{serial}/diagnostics', { json: body });
  }

  getOperation(protocol: string): Promise<IxcOperationRecord> {
    return this.call('GET', IXC_PATHS.operation(protocol), 'GET /api/v1/operations/{protocol}');
  }

  async listApiClients(): Promise<IxcApiClientRecord[]> {
    const body = await this.call<{ registers: IxcApiClientRecord[] }>('GET', IXC_PATHS.apiClients, `GET ${IXC_PATHS.apiClients}`);
    return expectList(body?.registers, 'ixc', '"registers"');
  }

  getApiClient(id: string): Promise<IxcApiClientRecord> {
    return this.call('GET', IXC_PATHS.apiClient(id), 'GET /api/v1/api-clients/{id}');
  }

  createApiClient(body: IxcApiClientBody & { name: string }): Promise<IxcApiClientRecord> {
    return this.call('POST', IXC_PATHS.apiClients, `POST ${IXC_PATHS.apiClients}`, { json: body });
  }

  updateApiClient(id: string, body: IxcApiClientBody): Promise<IxcApiClientRecord> {
    return this.call('PATCH', IXC_PATHS.apiClient(id), 'PATCH /api/v1/api-clients/{id}', { json: body });
  }

  async deleteApiClient(id: string): Promise<void> {
    await this.call('DELETE', IXC_PATHS.apiClient(id), 'DELETE /api/v1/api-clients/{id}');
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

async function loadSigningKey(source: IxcKeySource): Promise<CryptoKey> {
  if (source.kind === 'configured') return importPKCS8(source.privateKeyPem, 'ES256');
  const privateKeyPem = await loadOrCreateEmbeddedKey(join(source.dataDir, IXC_EMBEDDED_KEY_FILE));
  await source.registerPublicKey(createPublicKey(privateKeyPem).export({ type: 'spki', format: 'pem' }).toString());
  return importPKCS8(privateKeyPem, 'ES256');
}

/**
 * The embedded default's private key: read from the data folder, or generated
 * there at first start. Written to a temporary file and hard-linked into place, so
 * two gateways starting at once (parallel test files) never read a half-written
 * key: the first link wins and the other reads the winner's file.
 */
export async function loadOrCreateEmbeddedKey(file: string): Promise<string> {
  const existing = await readKeyFile(file);
  if (existing !== undefined) return existing;
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  await mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(temporary, await exportPKCS8(privateKey), { mode: 0o600 });
  try {
    await link(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
  const written = await readKeyFile(file);
  if (written === undefined) throw new Error(`The IXC ACS key file ${file} vanished right after it was written`);
  return written;
}

async function readKeyFile(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const read = readIxcPrivateKey(text);
  if ('problem' in read) throw new Error(`The IXC ACS key file ${file} holds no usable key: ${read.problem}. Delete it to have a new one generated.`);
  return read.pem;
}

