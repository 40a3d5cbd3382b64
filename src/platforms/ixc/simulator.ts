import { createPublicKey, randomBytes, randomUUID } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, importSPKI, jwtVerify, type CryptoKey } from 'jose';
import { Agent, request } from 'undici';
import { SimServer, type SimRequest, type SimResponse } from '../../core/simulator/server.js';
import type { RunningSimulator, SimulatorOptions } from '../../core/platform.js';
import { generateWebhookSecret, webhookHeaders } from '../../core/events/signatures.js';
import { IXC_PARAMETERS_BATCH_SIZE, IXC_PATHS } from './client.js';
import type { IxcConfig } from './config.js';
import { ixcOpenApi } from './openapi.js';
import {
  IXC_MAX_TOKEN_EXPIRATION_SECONDS,
  IXC_PERMISSIONS,
  IXC_WEBHOOK_EVENTS,
  type IxcApiClientRecord,
  type IxcDeviceRecord,
  type IxcDiagnosticType,
  type IxcOperationRecord,
  type IxcOperationType,
  type IxcParameterRecord,
  type IxcWebhookEventName,
  type IxcWebhookPayload,
  type IxcWifiBand,
  type IxcWifiRecord,
} from './types.js';

/**
 * An IXC ACS that follows UPSTREAMS.md §3: ES256 JWTs exchanged for access
 * tokens, verified against each API client's registered public key; per-client
 * rate limits per minute and per day (429 with Retry-After) and permissions (403);
 * devices with parameters, Wi-Fi and PPPoE logins; asynchronous actions answered
 * at once with a protocol and completed later by a signed webhook carrying it.
 * Its data is deterministic: the same options give the same devices every run.
 */

/** The API client the gateway uses in the embedded default. */
export const IXC_SIM_API_CLIENT_ID = '6f1c2a9e-3b7d-4e58-9a41-5c0d8e2f7b13';

/** A public key only, for the seeded IXC Provider client (its private half exists nowhere). */
const PROVIDER_PUBLIC_KEY = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE7IoSje2KCaVGfrJiJLiwUVodtwkn
MdGYsI+OGpZVZrBlXruY7ZGDFzhOvDdF77Z3fWEOro6Xgw8XseOM4GcnOg==
-----END PUBLIC KEY-----
`;

const MODELS = [
  { manufacturer: 'ZTE', model: 'F670L', prefix: 'ZTEG', firmware: 'V9.0.10P1N12', dualBand: true },
  { manufacturer: 'Huawei', model: 'EG8145V5', prefix: 'HWTC', firmware: 'V5R020C00S125', dualBand: true },
  { manufacturer: 'TP-Link', model: 'Archer C6', prefix: 'TPLK', firmware: '1.3.6 Build 20210113', dualBand: true },
  { manufacturer: 'Intelbras', model: 'RX 1500', prefix: 'ITBS', firmware: '2.2.3', dualBand: true },
  { manufacturer: 'Fiberhome', model: 'HG6145F', prefix: 'FHTT', firmware: 'RP2740', dualBand: true },
  { manufacturer: 'Tenda', model: 'N301', prefix: 'TNDA', firmware: 'V12.01.01.48', dualBand: false },
];
const FIRST_NAMES = ['ana', 'bruno', 'carla', 'diego', 'elisa', 'fabio', 'gabriela', 'heitor', 'isabela', 'joao', 'karina', 'lucas'];
const LAST_NAMES = ['silva', 'souza', 'oliveira', 'santos', 'lima', 'pereira', 'costa', 'almeida', 'ribeiro'];

const PARAM = {
  manufacturer: 'InternetGatewayDevice.DeviceInfo.Manufacturer',
  model: 'InternetGatewayDevice.DeviceInfo.ModelName',
  serial: 'InternetGatewayDevice.DeviceInfo.SerialNumber',
  firmware: 'InternetGatewayDevice.DeviceInfo.SoftwareVersion',
  uptime: 'InternetGatewayDevice.DeviceInfo.UpTime',
  pppoeUsername: 'InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANPPPConnection.1.Username',
} as const;

/**
 * Credentials a real device holds as TR-069 parameters, with per-device values,
 * so that tests can check the gateway never shows them (secrets.ts).
 */
export const IXC_SIM_SECRET_PARAMETERS = {
  wifiPassphrase: 'InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.PreSharedKey.1.KeyPassphrase',
  connectionRequestPassword: 'InternetGatewayDevice.ManagementServer.ConnectionRequestPassword',
  pppoePassword: 'InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANPPPConnection.1.Password',
} as const;

/** The writable parameters every seeded device has, with their TR-069 types and factory values. */
const WRITABLE_PARAMETERS: { name: string; type: string; factory: string }[] = [
  { name: 'InternetGatewayDevice.ManagementServer.PeriodicInformEnable', type: 'xsd:boolean', factory: 'true' },
  { name: 'InternetGatewayDevice.ManagementServer.PeriodicInformInterval', type: 'xsd:unsignedInt', factory: '300' },
  { name: 'InternetGatewayDevice.ManagementServer.ConnectionRequestUsername', type: 'xsd:string', factory: 'ixc-acs' },
  { name: IXC_SIM_SECRET_PARAMETERS.connectionRequestPassword, type: 'xsd:string', factory: '' },
  { name: 'InternetGatewayDevice.Time.NTPServer1', type: 'xsd:string', factory: 'a.ntp.br' },
  { name: 'InternetGatewayDevice.LANDevice.1.LANHostConfigManagement.DHCPServerEnable', type: 'xsd:boolean', factory: 'true' },
  { name: PARAM.pppoeUsername, type: 'xsd:string', factory: '' },
  { name: IXC_SIM_SECRET_PARAMETERS.pppoePassword, type: 'xsd:string', factory: '' },
  { name: IXC_SIM_SECRET_PARAMETERS.wifiPassphrase, type: 'xsd:string', factory: '' },
];

export interface IxcSimulatorOptions extends SimulatorOptions {
  /** How many seeded devices (default 240). */
  devices?: number;
  /** How long a device takes to carry out a reboot, reset, parameter update or diagnostic, in ms (default 2000). */
  actionDelayMs?: number;
  /** After this many ms without an answer from the device, an operation times out (default one hour, as IXC documents). */
  operationTimeoutMs?: number;
  /** PEM (SPKI) public key registered for the gateway's API client at start. */
  publicKey?: string;
  /** The time the per-minute and per-day windows are counted in (default: the wall clock); a test pins it away from a window's edge. */
  rateLimitNow?: () => number;
}

interface SimDevice {
  record: IxcDeviceRecord;
  /** Current values of the writable parameters. */
  settings: Map<string, string>;
  /** What a factory reset restores them to (the credentials are per device, as on a real router's label). */
  factorySettings: Map<string, string>;
  wifi: Record<IxcWifiBand, IxcWifiRecord[]>;
  factoryWifi: Record<IxcWifiBand, IxcWifiRecord[]>;
  /** The protocol of the action it is carrying out, if any. */
  pending?: string;
}

interface SimOperation extends IxcOperationRecord {
  apiClientId: string;
}

interface Usage {
  minute: number;
  minuteCount: number;
  day: number;
  dayCount: number;
}

export interface IxcWebhookDelivery {
  event: string;
  protocol: string | null;
  apiClientId: string;
  url: string;
  /** The receiver's HTTP status, or undefined when the delivery failed to connect. */
  status?: number;
  error?: string;
}

type Authed = (req: SimRequest, client: IxcApiClientRecord) => SimResponse | Promise<SimResponse>;

export class IxcSimulator implements RunningSimulator<IxcConfig> {
  readonly server = new SimServer('ixc');
  readonly apiClientId = IXC_SIM_API_CLIENT_ID;
  readonly devices = new Map<string, SimDevice>();
  readonly apiClients = new Map<string, IxcApiClientRecord>();
  readonly operations = new Map<string, SimOperation>();
  /** Every webhook delivery attempted, in order. */
  readonly deliveries: IxcWebhookDelivery[] = [];
  tokensIssued = 0;
  actionDelayMs: number;
  operationTimeoutMs: number;
  private webhookSecret: string;
  private readonly accessTokens = new Map<string, { apiClientId: string; expiresAt: number }>();
  private readonly usage = new Map<string, Usage>();
  private readonly publicKeys = new Map<string, Promise<CryptoKey>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** The timeout of each pending operation, by protocol, so a test can fire it at once (`timeOutOperation`). */
  private readonly operationTimeouts = new Map<string, { timer: NodeJS.Timeout; fire: () => void }>();
  /** The device's answer to each pending operation, by protocol, so a test can have it answer at once (`completeOperation`). */
  private readonly operationCompletions = new Map<string, { timer: NodeJS.Timeout; fire: () => void }>();
  private readonly deliveryWaiters: { match: (d: IxcWebhookDelivery) => boolean; resolve: (d: IxcWebhookDelivery) => void }[] = [];
  private readonly insecureAgent = new Agent({ connect: { rejectUnauthorized: false } });
  private readonly secureAgent = new Agent();
  private seededDevices = 0;

  constructor(private readonly options: IxcSimulatorOptions = {}) {
    this.actionDelayMs = options.actionDelayMs ?? 2_000;
    this.operationTimeoutMs = options.operationTimeoutMs ?? 3_600_000;
    this.webhookSecret = options.webhookSecret ?? generateWebhookSecret();
    this.seed(options.devices ?? 240);
    if (options.publicKey) this.registerPublicKeySync(options.publicKey);
    if (options.webhookUrl) this.deliverWebhooksTo(options.webhookUrl, this.webhookSecret);
    this.routes();
  }

  get url(): string {
    return this.server.url;
  }

  get config(): IxcConfig {
    return {
      baseUrl: this.server.url,
      apiClientId: this.apiClientId,
      privateKeyPem: undefined,
    };
  }

  async start(): Promise<this> {
    await this.server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1');
    return this;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.operationTimeouts.clear();
    this.operationCompletions.clear();
    await this.server.close();
    await Promise.all([this.insecureAgent.close(), this.secureAgent.close()]);
  }

  /** The secret the simulator signs its webhooks with (for `npm run simulate`'s settings). */
  get signingSecret(): string {
    return this.webhookSecret;
  }

  /** The gateway's API client's webhook goes to `url`, signed with `secret` (Standard Webhooks). */
  deliverWebhooksTo(url: string, secret: string): void {
    this.webhookSecret = secret;
    const client = this.apiClients.get(this.apiClientId)!;
    client.webhookUri = url;
    client.webhookActive = true;
  }

  /** Trusts `publicKeyPem` for the gateway's API client, as an operator pasting it into the ACS would. */
  registerPublicKeySync(publicKeyPem: string): void {
    const problem = publicKeyProblem(publicKeyPem);
    if (problem) throw new Error(`The IXC simulator cannot register this public key: ${problem}`);
    this.apiClients.get(this.apiClientId)!.publicKey = publicKeyPem;
  }

  /** Makes every access token issued so far expire now (the next call gets 401). */
  expireAccessTokens(): void {
    for (const access of this.accessTokens.values()) access.expiresAt = 0;
  }

  /** Forgets the request counts, so rate limits start afresh. */
  resetRateLimits(): void {
    this.usage.clear();
  }

  /**
   * Makes a pending operation time out now, as it would after `operationTimeoutMs`
   * without an answer from the device, so tests drive the timeout instead of racing
   * a timer. False when the operation is unknown or no longer pending.
   */
  timeOutOperation(protocol: string): boolean {
    const pending = this.operationTimeouts.get(protocol);
    if (!pending) return false;
    this.cancel(pending.timer);
    pending.fire();
    return true;
  }

  /**
   * Makes an online device answer a pending operation now instead of after
   * `actionDelayMs`, so a test that must see the operation pending first (a
   * subscription to it) drives the answer instead of racing a timer. False when
   * the operation is unknown, no longer pending, or its device is offline.
   */
  completeOperation(protocol: string): boolean {
    const pending = this.operationCompletions.get(protocol);
    if (!pending) return false;
    this.cancel(pending.timer);
    pending.fire();
    return true;
  }

  /** Resolves with the first delivery (already made or to come) that `match` accepts. */
  waitForDelivery(match: (delivery: IxcWebhookDelivery) => boolean): Promise<IxcWebhookDelivery> {
    const done = this.deliveries.find(match);
    if (done) return Promise.resolve(done);
    return new Promise((resolve) => this.deliveryWaiters.push({ match, resolve }));
  }

  /** A device registers with the ACS (TR-069 BOOTSTRAP): `device.added` goes to every subscribed client. */
  addDevice(): IxcDeviceRecord {
    const device = this.buildDevice(this.seededDevices++);
    this.devices.set(device.record.serialNumber, device);
    this.emit('device.added', { protocol: null, serialNumber: device.record.serialNumber, status: 'success', data: { model: device.record.model } });
    return device.record;
  }

  removeDevice(serial: string): boolean {
    if (!this.devices.delete(serial)) return false;
    this.emit('device.removed', { protocol: null, serialNumber: serial, status: 'success', data: {} });
    return true;
  }

  private seed(count: number): void {
    for (let i = 0; i < count; i++) {
      const device = this.buildDevice(this.seededDevices++);
      this.devices.set(device.record.serialNumber, device);
    }
    const base = {
      publicKey: null,
      tokenExpiration: 3600,
      blocked: false,
      invalidCertificateAllowed: false,
      createdAt: '2025-06-01T12:00:00.000Z',
    };
    const clients: IxcApiClientRecord[] = [
      {
        ...base,
        id: this.apiClientId,
        name: 'Switchboard gateway',
        type: 'generic',
        requestsPerMinute: 6000,
        requestsPerDay: 1_000_000,
        webhookActive: false,
        webhookUri: null,
        webhookEvents: [...IXC_WEBHOOK_EVENTS],
        permissions: [...IXC_PERMISSIONS],
      },
      {
        ...base,
        id: '2d8e4f60-91a7-4b3c-8e5d-7f6a1b2c3d4e',
        name: 'ERP integration',
        type: 'generic',
        requestsPerMinute: 60,
        requestsPerDay: 20_000,
        webhookActive: true,
        webhookUri: 'https://erp.example.com/hooks/ixc-acs',
        webhookEvents: ['device.added', 'device.removed'],
        permissions: ['devices.read'],
      },
      {
        ...base,
        id: '9a3b5c7d-1e2f-4a6b-8c9d-0e1f2a3b4c5d',
        name: 'Integration IXC Provider',
        type: 'ixc_provider',
        publicKey: PROVIDER_PUBLIC_KEY,
        tokenExpiration: 86_400,
        requestsPerMinute: 120,
        requestsPerDay: 100_000,
        webhookActive: true,
        webhookUri: 'http://provedor.example.com.br/api-module/acs/webhook',
        invalidCertificateAllowed: true,
        webhookEvents: ['device.rebooted', 'device.reset', 'device.parameters_changed', 'diagnostic.finished', 'operation.timeout'],
        permissions: ['devices.read', 'devices.write', 'devices.reboot', 'devices.diagnostics'],
      },
    ];
    for (const client of clients) this.apiClients.set(client.id, client);
  }

  private buildDevice(i: number): SimDevice {
    const model = MODELS[i % MODELS.length]!;
    const serialNumber = `${model.prefix}${(0xa1b20000 + i * 7919).toString(16).toUpperCase()}`;
    const login = i % 25 === 24 ? null : `${FIRST_NAMES[i % FIRST_NAMES.length]}.${LAST_NAMES[i % LAST_NAMES.length]}${i + 1}`;
    const record: IxcDeviceRecord = {
      serialNumber,
      manufacturer: model.manufacturer,
      model: model.model,
      firmwareVersion: model.firmware,
      online: i % 17 !== 16,
      lastInform: new Date(Date.UTC(2026, 0, 15, 12, 0, 0) - i * 60_000).toISOString(),
      connection: { pppoeLogin: login, ipv4: login ? `100.64.${Math.floor(i / 250)}.${(i % 250) + 2}` : null },
      deviceInfo: { uptime: 3600 * (i % 240) + i, rx: 1_000_000_000 + i * 1_234_567, tx: 250_000_000 + i * 345_678, ipv6: i % 3 === 0 ? null : `2804:1e68:${i.toString(16)}::1` },
    };
    const wifiPassword = `wifi-${serialNumber.slice(-6).toLowerCase()}`;
    const factorySettings = new Map(WRITABLE_PARAMETERS.map((p) => [p.name, p.factory]));
    factorySettings.set(IXC_SIM_SECRET_PARAMETERS.wifiPassphrase, wifiPassword);
    factorySettings.set(IXC_SIM_SECRET_PARAMETERS.connectionRequestPassword, `crq-${(((i + 1) * 2_654_435_761) % 4_294_967_296).toString(36).padStart(7, '0')}`);
    const settings = new Map(factorySettings);
    settings.set(PARAM.pppoeUsername, login ?? '');
    settings.set(IXC_SIM_SECRET_PARAMETERS.pppoePassword, login ? `ppp-${(((i + 11) * 40_503) % 1_048_576).toString(36).padStart(4, '0')}${login.length}` : '');
    const ssid = `IXC-${serialNumber.slice(-4)}`;
    const wifi = (): Record<IxcWifiBand, IxcWifiRecord[]> => ({
      '2.4': [{ id: 1, enable: true, ssid, password: wifiPassword, channel: [1, 6, 11][i % 3]!, security: 'WPA2-PSK' }],
      '5.8': model.dualBand ? [{ id: 5, enable: i % 5 !== 0, ssid: `${ssid}-5G`, password: wifiPassword, channel: [36, 44, 149][i % 3]!, security: 'WPA2-PSK' }] : [],
    });
    return { record, settings, factorySettings, wifi: wifi(), factoryWifi: wifi() };
  }

  private parametersOf(device: SimDevice): IxcParameterRecord[] {
    const r = device.record;
    const readOnly: IxcParameterRecord[] = [
      { name: PARAM.manufacturer, value: r.manufacturer ?? '', type: 'xsd:string', writable: false },
      { name: PARAM.model, value: r.model ?? '', type: 'xsd:string', writable: false },
      { name: PARAM.serial, value: r.serialNumber, type: 'xsd:string', writable: false },
      { name: PARAM.firmware, value: r.firmwareVersion ?? '', type: 'xsd:string', writable: false },
      { name: PARAM.uptime, value: String(r.deviceInfo.uptime ?? 0), type: 'xsd:unsignedInt', writable: false },
    ];
    const writable = WRITABLE_PARAMETERS.map((p) => ({ name: p.name, value: device.settings.get(p.name) ?? p.factory, type: p.type, writable: true }));
    return [...readOnly, ...writable];
  }

  private routes(): void {
    const s = this.server;
    s.route('GET', '/openapi.json', () => ok(ixcOpenApi(this.url)));
    s.route('POST', IXC_PATHS.token, (req) => this.token(req));
    s.route('GET', IXC_PATHS.deviceSearch, this.authed('devices.read', (req) => this.searchDevices(req)));
    s.route('GET', IXC_PATHS.deviceParameters, this.authed('devices.read', (req) => this.readParameters(req)));
    s.route('POST', IXC_PATHS.deviceParametersUpdate, this.authed('devices.write', (req, client) => this.updateParameters(req, client)));
    s.route('POST', IXC_PATHS.reboot, this.authed('devices.reboot', (req, client) => this.reboot(req, client)));
    s.route('POST', IXC_PATHS.factoryReset, this.authed('devices.factory_reset', (req, client) => this.factoryReset(req, client)));
    s.route('GET', '/api/v1/devices/:serial', this.authed('devices.read', (req) => this.withDevice(req.params.serial!, (d) => ok(d.record))));
    s.route('GET', '/api/v1/devices/:serial/wifi', this.authed('devices.read', (req) => this.withDevice(req.params.serial!, (d) => ok(d.wifi))));
    s.route('PATCH', '/api/v1/devices/:serial/wifi/:id', this.authed('devices.write', (req) => this.updateWifi(req)));
    s.route('POST', '/api/v1/devices/:serial/diagnostics', this.authed('devices.diagnostics', (req, client) => this.diagnostic(req, client)));
    s.route(
      'GET',
      '/api/v1/operations/:protocol',
      this.authed('devices.read', (req) => {
        const operation = this.operations.get(req.params.protocol!);
        return operation ? ok(publicOperation(operation)) : notFound(`Operation ${req.params.protocol}`);
      }),
    );
    s.route('GET', IXC_PATHS.apiClients, this.authed('api_clients.read', () => ok({ registers: [...this.apiClients.values()] })));
    s.route('POST', IXC_PATHS.apiClients, this.authed('api_clients.write', (req) => this.createApiClient(req)));
    s.route('GET', '/api/v1/api-clients/:id', this.authed('api_clients.read', (req) => this.found(this.apiClients.get(req.params.id!), `API client ${req.params.id}`)));
    s.route('PATCH', '/api/v1/api-clients/:id', this.authed('api_clients.write', (req) => this.updateApiClient(req)));
    s.route(
      'DELETE',
      '/api/v1/api-clients/:id',
      this.authed('api_clients.write', (req) => (this.apiClients.delete(req.params.id!) ? { status: 204 } : notFound(`API client ${req.params.id}`))),
    );
  }

  /** A live access token, an unblocked client, room in its rate limits, and the permission the route needs. */
  private authed(permission: (typeof IXC_PERMISSIONS)[number], handler: Authed): (req: SimRequest) => SimResponse | Promise<SimResponse> {
    return (req) => {
      const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
      const access = match ? this.accessTokens.get(match[1]!) : undefined;
      if (!access) return { status: 401, body: { message: `Expected Authorization: Bearer <access token from POST ${IXC_PATHS.token}>.` } };
      if (access.expiresAt <= Date.now()) return { status: 401, body: { message: 'The access token has expired.' } };
      const client = this.apiClients.get(access.apiClientId);
      if (!client) return { status: 401, body: { message: 'The API client of this access token no longer exists.' } };
      if (client.blocked) return { status: 403, body: { message: `API client ${client.id} is blocked.` } };
      const limited = this.consume(client);
      if (limited) return limited;
      if (!client.permissions.includes(permission)) return { status: 403, body: { message: `API client ${client.id} lacks the permission ${permission}.` } };
      return handler(req, client);
    };
  }

  /** Fixed windows per API client: the calendar minute and the UTC day. */
  private consume(client: IxcApiClientRecord): SimResponse | undefined {
    const now = (this.options.rateLimitNow ?? Date.now)();
    const minute = Math.floor(now / 60_000);
    const day = Math.floor(now / 86_400_000);
    let usage = this.usage.get(client.id);
    if (!usage) this.usage.set(client.id, (usage = { minute, minuteCount: 0, day, dayCount: 0 }));
    if (usage.minute !== minute) Object.assign(usage, { minute, minuteCount: 0 });
    if (usage.day !== day) Object.assign(usage, { day, dayCount: 0 });
    const refuse = (windowEnd: number, what: string) => ({
      status: 429,
      headers: { 'retry-after': String(Math.max(1, Math.ceil((windowEnd - now) / 1000))) },
      body: { message: `API client ${client.id} has used its ${what}.` },
    });
    if (usage.dayCount >= client.requestsPerDay) return refuse((day + 1) * 86_400_000, `${client.requestsPerDay} requests per day`);
    if (usage.minuteCount >= client.requestsPerMinute) return refuse((minute + 1) * 60_000, `${client.requestsPerMinute} requests per minute`);
    usage.minuteCount += 1;
    usage.dayCount += 1;
    return undefined;
  }

  private async token(req: SimRequest): Promise<SimResponse> {
    const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    const refuse = (message: string) => ({ status: 401, body: { message } });
    if (!match) return refuse("Expected Authorization: Bearer <a JWT signed ES256 with the API client's private key>.");
    const jwt = match[1]!;
    let issuer: unknown;
    try {
      if (decodeProtectedHeader(jwt).alg !== 'ES256') return refuse('Expected a JWT signed with ES256.');
      issuer = decodeJwt(jwt).iss;
    } catch {
      return refuse('The bearer value is not a JWT.');
    }
    const client = typeof issuer === 'string' ? this.apiClients.get(issuer) : undefined;
    if (!client) return refuse('Expected iss to be the id of an API client; none has that id.');
    if (!client.publicKey) return refuse(`API client ${client.id} has no public key registered.`);
    try {
      await jwtVerify(jwt, await this.publicKey(client.publicKey), { algorithms: ['ES256'], issuer: client.id, requiredClaims: ['iat', 'exp'] });
    } catch (error) {
      return refuse(`The JWT was refused: ${(error as { code?: string }).code ?? 'invalid'} (it must be signed with the private key of the registered public key, with iat and a future exp).`);
    }
    if (client.blocked) return { status: 403, body: { message: `API client ${client.id} is blocked.` } };
    this.tokensIssued += 1;
    const accessToken = randomBytes(24).toString('base64url');
    const expiresAt = Date.now() + client.tokenExpiration * 1000;
    this.accessTokens.set(accessToken, { apiClientId: client.id, expiresAt });
    return ok({ access_token: accessToken, expires_at: new Date(expiresAt).toISOString() });
  }

  private publicKey(pem: string): Promise<CryptoKey> {
    let key = this.publicKeys.get(pem);
    if (!key) this.publicKeys.set(pem, (key = importSPKI(pem, 'ES256')));
    return key;
  }

  private found<T>(record: T | undefined, what: string): SimResponse {
    return record ? ok(record) : notFound(what);
  }

  private withDevice(serial: string, handler: (device: SimDevice) => SimResponse): SimResponse {
    const device = this.devices.get(serial);
    return device ? handler(device) : notFound(`Device ${serial}`);
  }

  private searchDevices(req: SimRequest): SimResponse {
    const column = req.query.get('search[column]');
    const term = req.query.get('search[search]');
    const page = wholeNumber(req.query.get('page'), 1);
    const rows = wholeNumber(req.query.get('rp'), 50);
    if (page === undefined || page < 1) return badRequest(`Expected page to be a whole number from 1; got ${JSON.stringify(req.query.get('page'))}.`);
    if (rows === undefined || rows < 1 || rows > 500) return badRequest(`Expected rp to be a whole number from 1 to 500; got ${JSON.stringify(req.query.get('rp'))}.`);
    let devices = [...this.devices.values()].map((d) => d.record);
    if (column !== null) {
      const read = { serialNumber: (d: IxcDeviceRecord) => d.serialNumber, 'connection.pppoeLogin': (d: IxcDeviceRecord) => d.connection.pppoeLogin }[column];
      if (!read) return badRequest(`Expected search[column] to be serialNumber or connection.pppoeLogin; got ${JSON.stringify(column)}.`);
      if (!term) return badRequest('Expected search[search] with the text to look for.');
      const needle = term.toLowerCase();
      devices = devices.filter((d) => (read(d) ?? '').toLowerCase().includes(needle));
    }
    return ok({ registers: devices.slice((page - 1) * rows, page * rows), total: devices.length });
  }

  private readParameters(req: SimRequest): SimResponse {
    const raw = req.query.get('serialNumbers');
    const serials = (raw ?? '').split(',').filter((s) => s.length > 0);
    if (serials.length === 0) return badRequest('Expected serialNumbers: a comma-separated list of serial numbers.');
    if (serials.length > IXC_PARAMETERS_BATCH_SIZE) return badRequest(`Expected at most ${IXC_PARAMETERS_BATCH_SIZE} serial numbers; got ${serials.length}.`);
    const registers = serials.flatMap((serial) => {
      const device = this.devices.get(serial);
      return device ? [{ serialNumber: serial, parameters: this.parametersOf(device) }] : [];
    });
    return ok({ registers });
  }

  private updateWifi(req: SimRequest): SimResponse {
    return this.withDevice(req.params.serial!, (device) => {
      const network = [...device.wifi['2.4'], ...device.wifi['5.8']].find((n) => String(n.id) === req.params.id);
      if (!network) return notFound(`Wi-Fi network ${req.params.id} of device ${device.record.serialNumber}`);
      const body = (req.body ?? {}) as Record<string, unknown>;
      const errors: Record<string, string[]> = {};
      if (body.ssid !== undefined && (typeof body.ssid !== 'string' || body.ssid.length < 1 || body.ssid.length > 32)) errors.ssid = ['The ssid must be 1 to 32 characters.'];
      if (body.password !== undefined && (typeof body.password !== 'string' || body.password.length < 8 || body.password.length > 63)) {
        errors.password = ['The password must be 8 to 63 characters (WPA2).'];
      }
      if (body.enable !== undefined && typeof body.enable !== 'boolean') errors.enable = ['The enable field must be true or false.'];
      if (Object.keys(errors).length) return invalid(errors);
      if (typeof body.ssid === 'string') network.ssid = body.ssid;
      if (typeof body.password === 'string') network.password = body.password;
      if (typeof body.enable === 'boolean') network.enable = body.enable;
      return ok(network);
    });
  }

  private serialFromBody(req: SimRequest): { device: SimDevice } | { response: SimResponse } {
    const serial = (req.body as { serialNumber?: unknown } | undefined)?.serialNumber;
    if (typeof serial !== 'string' || serial === '') return { response: invalid({ serialNumber: ['The serialNumber field is required.'] }) };
    const device = this.devices.get(serial);
    return device ? { device } : { response: notFound(`Device ${serial}`) };
  }

  private reboot(req: SimRequest, client: IxcApiClientRecord): SimResponse {
    const found = this.serialFromBody(req);
    if ('response' in found) return found.response;
    return this.startOperation(client, found.device, 'reboot', (device) => {
      device.record.deviceInfo.uptime = 0;
      device.record.lastInform = new Date().toISOString();
      return { event: 'device.rebooted', status: 'success', result: null };
    });
  }

  private factoryReset(req: SimRequest, client: IxcApiClientRecord): SimResponse {
    const found = this.serialFromBody(req);
    if ('response' in found) return found.response;
    return this.startOperation(client, found.device, 'factory_reset', (device) => {
      device.settings = new Map(device.factorySettings);
      device.wifi = structuredClone(device.factoryWifi);
      device.record.deviceInfo.uptime = 0;
      device.record.lastInform = new Date().toISOString();
      return { event: 'device.reset', status: 'success', result: null };
    });
  }

  private updateParameters(req: SimRequest, client: IxcApiClientRecord): SimResponse {
    const found = this.serialFromBody(req);
    if ('response' in found) return found.response;
    const list = (req.body as { parameters?: unknown }).parameters;
    if (!Array.isArray(list) || list.length === 0) return invalid({ parameters: ['The parameters field must be a non-empty list of {name, value}.'] });
    const known = new Map(this.parametersOf(found.device).map((p) => [p.name, p]));
    const problems: string[] = [];
    const changes: { name: string; value: string }[] = [];
    for (const item of list as { name?: unknown; value?: unknown }[]) {
      const parameter = typeof item?.name === 'string' ? known.get(item.name) : undefined;
      if (!parameter) problems.push(`Unknown parameter ${JSON.stringify(item?.name ?? null)}.`);
      else if (!parameter.writable) problems.push(`Parameter ${parameter.name} is read-only.`);
      else if (typeof item.value !== 'string') problems.push(`Parameter ${parameter.name} needs a string value; got ${JSON.stringify(item.value ?? null)}.`);
      else if (parameter.type === 'xsd:boolean' && !['true', 'false', '0', '1'].includes(item.value)) problems.push(`Parameter ${parameter.name} is xsd:boolean; got ${JSON.stringify(item.value)}.`);
      else if (parameter.type === 'xsd:unsignedInt' && !/^\d+$/.test(item.value)) problems.push(`Parameter ${parameter.name} is xsd:unsignedInt; got ${JSON.stringify(item.value)}.`);
      else changes.push({ name: parameter.name, value: item.value });
    }
    if (problems.length) return invalid({ parameters: problems });
    return this.startOperation(client, found.device, 'parameters_update', (device) => {
      for (const change of changes) device.settings.set(change.name, change.value);
      return { event: 'device.parameters_changed', status: 'success', result: { parameters: changes } };
    });
  }

  private diagnostic(req: SimRequest, client: IxcApiClientRecord): SimResponse {
    return this.withDevice(req.params.serial!, (device) => {
      const body = (req.body ?? {}) as { type?: unknown; target?: unknown };
      const types: IxcDiagnosticType[] = ['ping', 'traceroute', 'speedtest'];
      if (!types.includes(body.type as IxcDiagnosticType)) return invalid({ type: [`The type must be one of ${types.join(', ')}; got ${JSON.stringify(body.type ?? null)}.`] });
      const type = body.type as IxcDiagnosticType;
      const target = body.target;
      if (target !== undefined && target !== null && (typeof target !== 'string' || !/^[A-Za-z0-9.:-]{1,253}$/.test(target))) {
        return invalid({ target: [`The target must be a host name or IP address; got ${JSON.stringify(target)}.`] });
      }
      if (type !== 'speedtest' && !target) return invalid({ target: [`The target field is required for ${type}.`] });
      const host = (target as string | undefined) ?? 'speedtest.ixc.example';
      return this.startOperation(client, device, 'diagnostic', () => {
        // Names under .invalid never resolve (RFC 2606): the way to see a failed diagnostic.
        if (host.endsWith('.invalid')) return { event: 'diagnostic.finished', status: 'failure', result: { type, target: host, error: `Could not resolve ${host}` } };
        const rtt = 8 + (host.length % 7);
        const results: Record<IxcDiagnosticType, Record<string, unknown>> = {
          ping: { packetsSent: 4, packetsReceived: 4, minRttMs: rtt, avgRttMs: rtt + 1.5, maxRttMs: rtt + 4 },
          traceroute: { hops: [{ hop: 1, host: '100.64.0.1', rttMs: 1.2 }, { hop: 2, host: '187.85.160.1', rttMs: 4.8 }, { hop: 3, host, rttMs: rtt }] },
          speedtest: { downloadMbps: 487.3, uploadMbps: 251.9, latencyMs: rtt },
        };
        return { event: 'diagnostic.finished', status: 'success', result: { type, target: host, ...results[type] } };
      });
    });
  }

  /**
   * Acknowledges at once with a protocol; an online device carries the action out
   * after `actionDelayMs`, an offline one never answers and the operation times out
   * after `operationTimeoutMs`. Either way a webhook with the protocol follows.
   */
  private startOperation(
    client: IxcApiClientRecord,
    device: SimDevice,
    type: IxcOperationType,
    carryOut: (device: SimDevice) => { event: IxcWebhookEventName; status: 'success' | 'failure'; result: Record<string, unknown> | null },
  ): SimResponse {
    if (device.pending) {
      return { status: 409, body: { message: `Device ${device.record.serialNumber} is still carrying out operation ${device.pending}; wait for its webhook.` } };
    }
    const operation: SimOperation = {
      protocol: randomUUID(),
      type,
      serialNumber: device.record.serialNumber,
      status: 'pending',
      requestedAt: new Date().toISOString(),
      finishedAt: null,
      result: null,
      apiClientId: client.id,
    };
    this.operations.set(operation.protocol, operation);
    device.pending = operation.protocol;
    const finish = (status: IxcOperationRecord['status'], result: Record<string, unknown> | null) => {
      operation.status = status;
      operation.finishedAt = new Date().toISOString();
      operation.result = result;
      if (device.pending === operation.protocol) device.pending = undefined;
    };
    const timeOut = () => {
      this.operationTimeouts.delete(operation.protocol);
      if (operation.status !== 'pending') return;
      finish('timeout', null);
      this.emit(
        'operation.timeout',
        { protocol: operation.protocol, serialNumber: operation.serialNumber, status: 'failure', data: { operation: type, reason: `The device did not answer within ${this.operationTimeoutMs} ms.` } },
        client.id,
      );
    };
    const timeout = this.schedule(this.operationTimeoutMs, timeOut);
    this.operationTimeouts.set(operation.protocol, { timer: timeout, fire: timeOut });
    if (device.record.online) {
      const answer = () => {
        this.operationCompletions.delete(operation.protocol);
        if (operation.status !== 'pending') return;
        this.cancel(timeout);
        this.operationTimeouts.delete(operation.protocol);
        const outcome = carryOut(device);
        finish(outcome.status, outcome.result);
        this.emit(outcome.event, { protocol: operation.protocol, serialNumber: operation.serialNumber, status: outcome.status, data: outcome.result ?? {} }, client.id);
      };
      this.operationCompletions.set(operation.protocol, { timer: this.schedule(this.actionDelayMs, answer), fire: answer });
    }
    return { status: 202, body: publicOperation(operation) };
  }

  private cancel(timer: NodeJS.Timeout): void {
    clearTimeout(timer);
    this.timers.delete(timer);
  }

  private schedule(ms: number, run: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  /** Sends `event` to every API client that chose it (or only to `onlyClientId`, the one that asked for the action). */
  private emit(event: IxcWebhookEventName, fields: Omit<IxcWebhookPayload, 'event' | 'occurredAt'>, onlyClientId?: string): void {
    const payload: IxcWebhookPayload = { event, ...fields, occurredAt: new Date().toISOString() };
    for (const client of this.apiClients.values()) {
      if (onlyClientId !== undefined && client.id !== onlyClientId) continue;
      if (client.blocked || !client.webhookActive || !client.webhookUri || !client.webhookEvents.includes(event)) continue;
      void this.deliver(client, payload);
    }
  }

  /** One signed POST. A receiver that is down or refuses is logged and recorded, never thrown: the simulator keeps running. */
  private async deliver(client: IxcApiClientRecord, payload: IxcWebhookPayload): Promise<void> {
    const url = client.webhookUri!;
    const body = JSON.stringify(payload);
    const delivery: IxcWebhookDelivery = { event: payload.event, protocol: payload.protocol, apiClientId: client.id, url };
    try {
      const response = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'IXC-ACS-simulator', ...webhookHeaders(this.webhookSecret, body) },
        body,
        dispatcher: client.invalidCertificateAllowed ? this.insecureAgent : this.secureAgent,
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      await response.body.dump();
      delivery.status = response.statusCode;
      if (response.statusCode >= 300) this.options.log?.warn({ event: payload.event, url, status: response.statusCode }, 'IXC simulator: webhook receiver refused a delivery');
    } catch (error) {
      delivery.error = (error as { code?: string }).code ?? (error as Error).message;
      this.options.log?.warn({ event: payload.event, url, error: delivery.error }, 'IXC simulator: webhook delivery failed');
    }
    this.deliveries.push(delivery);
    for (const waiter of [...this.deliveryWaiters]) {
      if (!waiter.match(delivery)) continue;
      this.deliveryWaiters.splice(this.deliveryWaiters.indexOf(waiter), 1);
      waiter.resolve(delivery);
    }
  }

  private createApiClient(req: SimRequest): SimResponse {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const type = body.type ?? 'generic';
    const draft: IxcApiClientRecord = {
      id: randomUUID(),
      name: '',
      type: type as IxcApiClientRecord['type'],
      publicKey: null,
      tokenExpiration: 3600,
      requestsPerMinute: 60,
      requestsPerDay: 10_000,
      blocked: false,
      webhookActive: false,
      webhookUri: null,
      invalidCertificateAllowed: false,
      webhookEvents: [],
      permissions: [],
      createdAt: new Date().toISOString(),
    };
    const errors = apiClientProblems(body, draft, true);
    if (errors) return invalid(errors);
    this.apiClients.set(draft.id, draft);
    return { status: 201, body: draft };
  }

  private updateApiClient(req: SimRequest): SimResponse {
    const existing = this.apiClients.get(req.params.id!);
    if (!existing) return notFound(`API client ${req.params.id}`);
    const draft = structuredClone(existing);
    const errors = apiClientProblems((req.body ?? {}) as Record<string, unknown>, draft, false);
    if (errors) return invalid(errors);
    Object.assign(existing, draft);
    return ok(existing);
  }
}

/** Applies `body` to `draft`, checking it as IXC's form does; returns the problems, or null when it is acceptable. */
function apiClientProblems(body: Record<string, unknown>, draft: IxcApiClientRecord, creating: boolean): Record<string, string[]> | null {
  const errors: Record<string, string[]> = {};
  const add = (field: string, message: string) => (errors[field] ??= []).push(message);
  const set = <K extends keyof IxcApiClientRecord>(field: K, check: (v: unknown) => string | undefined) => {
    const value = body[field];
    if (value === undefined) return;
    const problem = check(value);
    if (problem) add(field, `${problem}; got ${JSON.stringify(field === 'publicKey' ? '(a key)' : value)}.`);
    else draft[field] = value as IxcApiClientRecord[K];
  };
  const int = (min: number, max: number) => (v: unknown) => (Number.isInteger(v) && (v as number) >= min && (v as number) <= max ? undefined : `Expected a whole number from ${min} to ${max}`);
  const bool = (v: unknown) => (typeof v === 'boolean' ? undefined : 'Expected true or false');
  if (creating && (typeof body.name !== 'string' || body.name.trim() === '')) add('name', 'The name field is required.');
  set('name', (v) => (typeof v === 'string' && v.trim() !== '' && v.length <= 100 ? undefined : 'Expected a name of 1 to 100 characters'));
  set('type', (v) => (v === 'generic' || v === 'ixc_provider' ? undefined : 'Expected generic or ixc_provider'));
  set('publicKey', (v) => (v === null ? undefined : typeof v === 'string' ? publicKeyProblem(v) : 'Expected a PEM public key'));
  set('tokenExpiration', int(60, IXC_MAX_TOKEN_EXPIRATION_SECONDS));
  set('requestsPerMinute', int(1, 100_000));
  set('requestsPerDay', int(1, 100_000_000));
  set('blocked', bool);
  set('webhookActive', bool);
  set('invalidCertificateAllowed', bool);
  set('webhookUri', (v) => (v === null || (typeof v === 'string' && /^https?:\/\/\S+$/.test(v)) ? undefined : 'Expected an http(s) URL'));
  set('webhookEvents', (v) =>
    Array.isArray(v) && v.every((e) => (IXC_WEBHOOK_EVENTS as readonly unknown[]).includes(e)) ? undefined : `Expected a list of ${IXC_WEBHOOK_EVENTS.join(', ')}`,
  );
  set('permissions', (v) => (Array.isArray(v) && v.every((p) => (IXC_PERMISSIONS as readonly unknown[]).includes(p)) ? undefined : `Expected a list of ${IXC_PERMISSIONS.join(', ')}`));
  if (Object.keys(errors).length === 0) {
    if (draft.webhookActive && !draft.webhookUri) add('webhookUri', 'The webhook URI is required when the webhook is active.');
    if (draft.type === 'ixc_provider' && !draft.publicKey) add('publicKey', 'The public key generated in IXC Provider is required for an IXC Provider client.');
  }
  return Object.keys(errors).length ? errors : null;
}

function publicKeyProblem(pem: string): string | undefined {
  // createPublicKey would happily derive a public key from a private one; a private key must never be stored (it would be served back).
  if (/PRIVATE KEY/.test(pem)) return 'Expected a public key; this is a private key, which must never leave its owner';
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') return 'Expected an ECDSA P-256 public key (ES256)';
    return undefined;
  } catch {
    return 'Expected a PEM ECDSA P-256 public key ("BEGIN PUBLIC KEY")';
  }
}

function publicOperation(operation: SimOperation): IxcOperationRecord {
  const { apiClientId: _owner, ...rest } = operation;
  return rest;
}

function wholeNumber(value: string | null, fallback: number): number | undefined {
  if (value === null || value === '') return fallback;
  const n = Number(value);
  return Number.isInteger(n) ? n : undefined;
}

function ok(body: unknown): SimResponse {
  return { status: 200, body };
}

function badRequest(message: string): SimResponse {
  return { status: 400, body: { message } };
}

function notFound(what: string): SimResponse {
  return { status: 404, body: { message: `${what} not found.` } };
}

function invalid(errors: Record<string, string[]>): SimResponse {
  return { status: 422, body: { message: 'The given data was invalid.', errors } };
}

export async function startIxcSimulator(options: IxcSimulatorOptions = {}): Promise<IxcSimulator> {
  return new IxcSimulator(options).start();
}
