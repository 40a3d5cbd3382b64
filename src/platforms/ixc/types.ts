/**
 * IXC ACS's own JSON shapes (UPSTREAMS.md §3), as the client returns them.
 * IXC writes camelCase (`serialNumber`, `deviceInfo`, `pppoeLogin`); the shapes
 * marked (assumed) are the project's choice where IXC documents nothing, listed
 * in one place in `client.ts` and in docs/platforms/ixc.md.
 */

export type IxcApiClientType = 'generic' | 'ixc_provider';

/** The events an API client can choose to receive (seed 001), as IXC names them (assumed names). */
export const IXC_WEBHOOK_EVENTS = [
  'device.added',
  'device.removed',
  'device.parameters_changed',
  'device.rebooted',
  'device.reset',
  'diagnostic.finished',
  'operation.timeout',
] as const;
export type IxcWebhookEventName = (typeof IXC_WEBHOOK_EVENTS)[number];

/** The API features an API client may be allowed (assumed names: IXC documents the idea, not the list). */
export const IXC_PERMISSIONS = [
  'api_clients.read',
  'api_clients.write',
  'devices.read',
  'devices.write',
  'devices.reboot',
  'devices.factory_reset',
  'devices.diagnostics',
] as const;

/** IXC caps an API client's token lifetime at one day (UPSTREAMS.md §3). */
export const IXC_MAX_TOKEN_EXPIRATION_SECONDS = 86_400;

export interface IxcApiClientRecord {
  id: string;
  name: string;
  type: IxcApiClientType;
  /** PEM (SPKI) of the client's ECDSA P-256 public key; IXC verifies the client's ES256 JWTs with it. */
  publicKey: string | null;
  /** Lifetime of the access tokens it gets, in seconds (at most 86,400). */
  tokenExpiration: number;
  requestsPerMinute: number;
  requestsPerDay: number;
  blocked: boolean;
  webhookActive: boolean;
  webhookUri: string | null;
  invalidCertificateAllowed: boolean;
  webhookEvents: string[];
  permissions: string[];
  createdAt: string | null;
}

export type IxcApiClientBody = Partial<Omit<IxcApiClientRecord, 'id' | 'createdAt'>>;

export interface IxcDeviceRecord {
  serialNumber: string;
  manufacturer: string | null;
  model: string | null;
  firmwareVersion: string | null;
  online: boolean;
  /** When the device last reported to the ACS (TR-069 Inform). */
  lastInform: string | null;
  connection: { pppoeLogin: string | null; ipv4: string | null };
  /** As the third-party client code reads it: uptime in seconds, rx/tx in bytes. */
  deviceInfo: { uptime: number | null; rx: number | null; tx: number | null; ipv6: string | null };
}

/** `GET devices/views/natural`: `registers` is documented; `total` is assumed. */
export interface IxcDevicePage {
  registers: IxcDeviceRecord[];
  total?: number;
}

export type IxcWifiBand = '2.4' | '5.8';
export const IXC_WIFI_BANDS: readonly IxcWifiBand[] = ['2.4', '5.8'];

export interface IxcWifiRecord {
  id: number;
  enable: boolean;
  ssid: string;
  /** IXC returns it; Switchboard never passes it on (write-only). */
  password?: string | null;
  channel: number | null;
  security: string | null;
}

export type IxcWifiBands = Partial<Record<IxcWifiBand, IxcWifiRecord[]>>;

/** A Wi-Fi network with the device and band it belongs to (IXC lists them grouped by band). */
export type IxcWifiNetworkRef = IxcWifiRecord & { serialNumber: string; band: IxcWifiBand };

/** One TR-069 parameter (assumed shape). */
export interface IxcParameterRecord {
  name: string;
  value: string;
  /** The TR-069 type: xsd:string, xsd:boolean, xsd:unsignedInt … */
  type: string;
  writable: boolean;
}

export interface IxcDeviceParametersRecord {
  serialNumber: string;
  parameters: IxcParameterRecord[];
}

export type IxcOperationType = 'reboot' | 'factory_reset' | 'parameters_update' | 'diagnostic';
export type IxcOperationStatus = 'pending' | 'success' | 'failure' | 'timeout';

/** An asynchronous action, keyed by IXC's protocol number (a UUID). The acknowledgement has this shape too (assumed). */
export interface IxcOperationRecord {
  protocol: string;
  type: IxcOperationType;
  serialNumber: string;
  status: IxcOperationStatus;
  requestedAt: string;
  finishedAt: string | null;
  result: Record<string, unknown> | null;
}

export type IxcDiagnosticType = 'ping' | 'traceroute' | 'speedtest';

export interface IxcTokenResponse {
  access_token: string;
  /** ISO-8601 (assumed). */
  expires_at: string;
}

/** The assumed webhook payload of UPSTREAMS.md §3. */
export interface IxcWebhookPayload {
  event: string;
  protocol: string | null;
  serialNumber: string | null;
  status: 'success' | 'failure';
  occurredAt: string;
  data: Record<string, unknown>;
}

/** An API client seen as the `Webhook` its settings describe. */
export interface IxcWebhookRef {
  apiClient: IxcApiClientRecord;
}
