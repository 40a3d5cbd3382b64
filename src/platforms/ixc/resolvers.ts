import type {
  IxcApiClientType,
  IxcDiagnosticType as IxcDiagnosticTypeEnum,
  IxcOperationKind,
  IxcOperationStatus,
  IxcWebhookEvent,
  Resolvers,
} from '../../__generated__/resolvers-types.js';
import type { PlatformContext } from '../../context.js';
import type { IxcScope } from './loaders.js';
import { connectionFromArray } from '../../core/graphql/connection.js';
import { toGlobalId } from '../../core/graphql/ids.js';
import { withUserErrors } from '../../core/graphql/mutations.js';
import { BadUserInputError, UpstreamBadResponseError } from '../../core/upstream/errors.js';
import type { IxcDeviceSearch } from './client.js';
import { orNull } from '../../core/graphql/nullable.js';
import { isSecretParameter, redactSecrets } from './secrets.js';
import {
  IXC_WEBHOOK_EVENTS,
  type IxcApiClientBody,
  type IxcApiClientRecord,
  type IxcDiagnosticType,
  type IxcOperationType,
  type IxcWebhookEventName,
  type IxcWifiBand,
} from './types.js';
import { ListProjection, type FieldReads } from '../../core/graphql/projection.js';

/** IXC's field names in its error bodies → our input field names (the rest are the same). */
const API_CLIENT_FIELDS = { tokenExpiration: 'tokenExpirationSeconds' };
const WIFI_FIELDS = { enable: 'enabled' };

const EVENT_TO_ENUM = Object.fromEntries(IXC_WEBHOOK_EVENTS.map((e) => [e, e.toUpperCase().replace(/\./g, '_')])) as Record<IxcWebhookEventName, IxcWebhookEvent>;
const ENUM_TO_EVENT = Object.fromEntries(Object.entries(EVENT_TO_ENUM).map(([e, v]) => [v, e])) as Record<IxcWebhookEvent, IxcWebhookEventName>;
const API_CLIENT_TYPE: Record<IxcApiClientType, IxcApiClientRecord['type']> = { GENERIC: 'generic', IXC_PROVIDER: 'ixc_provider' };
const OPERATION_KIND: Record<IxcOperationType, IxcOperationKind> = {
  reboot: 'REBOOT',
  factory_reset: 'FACTORY_RESET',
  parameters_update: 'PARAMETERS_UPDATE',
  diagnostic: 'DIAGNOSTIC',
};
const DIAGNOSTIC: Record<IxcDiagnosticTypeEnum, IxcDiagnosticType> = { PING: 'ping', TRACEROUTE: 'traceroute', SPEED_TEST: 'speedtest' };
const BAND: Record<IxcWifiBand, 'BAND_2_4' | 'BAND_5_8'> = { '2.4': 'BAND_2_4', '5.8': 'BAND_5_8' };

/** An enum value IXC sent that the schema does not know is a bad upstream answer, said plainly rather than passed through. */
function known<T extends string>(table: Record<string, T>, value: string, what: string): T {
  const mapped = table[value];
  if (!mapped) throw new UpstreamBadResponseError(`IXC ACS sent ${what} ${JSON.stringify(value)}, which Switchboard does not know`, { platform: 'ixc' });
  return mapped;
}

function deviceSearch(serialNumber: string | null | undefined, pppoeLogin: string | null | undefined): IxcDeviceSearch | undefined {
  if (serialNumber && pppoeLogin) {
    throw new BadUserInputError(`Expected at most one of serialNumber and pppoeLogin (IXC ACS searches one column); got both`, { platform: 'ixc' });
  }
  if (serialNumber) return { column: 'serialNumber', value: serialNumber };
  if (pppoeLogin) return { column: 'connection.pppoeLogin', value: pppoeLogin };
  return undefined;
}

/** GraphQL input → IXC's body; `undefined` leaves a field out, `null` clears it. */
function apiClientBody(input: {
  name?: string | null;
  type?: IxcApiClientType | null;
  publicKey?: string | null;
  tokenExpirationSeconds?: number | null;
  requestsPerMinute?: number | null;
  requestsPerDay?: number | null;
  blocked?: boolean | null;
  webhookActive?: boolean | null;
  webhookUri?: string | null;
  invalidCertificateAllowed?: boolean | null;
  webhookEvents?: readonly IxcWebhookEvent[] | null;
  permissions?: readonly string[] | null;
}): IxcApiClientBody {
  const keep = <T>(value: T | null | undefined) => (value === null ? undefined : value);
  return {
    name: keep(input.name),
    type: input.type ? API_CLIENT_TYPE[input.type] : undefined,
    publicKey: input.publicKey,
    tokenExpiration: keep(input.tokenExpirationSeconds),
    requestsPerMinute: keep(input.requestsPerMinute),
    requestsPerDay: keep(input.requestsPerDay),
    blocked: keep(input.blocked),
    webhookActive: keep(input.webhookActive),
    webhookUri: input.webhookUri,
    invalidCertificateAllowed: keep(input.invalidCertificateAllowed),
    webhookEvents: input.webhookEvents?.map((e) => ENUM_TO_EVENT[e]),
    permissions: input.permissions ? [...input.permissions] : undefined,
  };
}

type IxcContext = PlatformContext<'ixc', IxcScope>;

/**
 * What the device resolvers below read of IXC's device records, for the fields
 * that have one (the others read the key of their own name): a page of devices
 * is parsed for the keys its selection reads (`ListProjection`).
 */
const IXC_FIELD_READS: FieldReads = {
  IxcDevice: {
    id: ['serialNumber'],
    platformId: ['serialNumber'],
    lastInformAt: 'lastInform',
    pppoeLogin: ['connection'],
    ipv4: ['connection'],
    ipv6: ['deviceInfo'],
    uptimeSeconds: ['deviceInfo'],
    rxBytes: ['deviceInfo'],
    txBytes: ['deviceInfo'],
    wifiNetworks: ['serialNumber'],
    parameters: ['serialNumber'],
  },
};

/** A search answers `{"registers": [devices], "total": n}`. */
const DEVICES_LIST = new ListProjection(IXC_FIELD_READS, (device) => ({ registers: device, total: true }));

export const ixcResolvers: Resolvers<IxcContext> = {
  Query: {
    ixc: () => ({ namespace: 'ixc' }),
  },

  IxcQuery: {
    devices: (_, { serialNumber, pppoeLogin, first, after }, ctx, info) =>
      ctx.platforms.ixc.loaders.devices(deviceSearch(serialNumber, pppoeLogin), { first, after }, DEVICES_LIST.of(info)),
    device: (_, { serialNumber }, ctx) => orNull(ctx.platforms.ixc.loaders.deviceBySerial.load(serialNumber)),
    apiClients: async (_, args, ctx) => connectionFromArray(await ctx.platforms.ixc.loaders.apiClients(), args),
    apiClient: (_, { platformId }, ctx) => orNull(ctx.platforms.ixc.loaders.apiClientById.load(String(platformId))),
    webhooks: async (_, args, ctx) => connectionFromArray(await ctx.platforms.ixc.loaders.webhooks(), args),
    operation: (_, { protocol }, ctx) => orNull(ctx.platforms.ixc.client.getOperation(String(protocol))),
  },

  IxcApiClient: {
    id: (a) => toGlobalId('IxcApiClient', a.id),
    platformId: (a) => a.id,
    platform: () => 'IXC',
    type: (a) => known({ generic: 'GENERIC', ixc_provider: 'IXC_PROVIDER' } as const, a.type, 'the API client type'),
    tokenExpirationSeconds: (a) => a.tokenExpiration,
    webhook: (a) => (a.webhookUri ? { apiClient: a } : null),
  },

  IxcWebhook: {
    id: (w) => toGlobalId('IxcWebhook', w.apiClient.id),
    platformId: (w) => w.apiClient.id,
    platform: () => 'IXC',
    url: (w) => w.apiClient.webhookUri,
    active: (w) => w.apiClient.webhookActive && !w.apiClient.blocked,
    // An event name this schema does not know yet is left out rather than failing the list.
    events: (w) => w.apiClient.webhookEvents.flatMap((e) => (e in EVENT_TO_ENUM ? [EVENT_TO_ENUM[e as IxcWebhookEventName]] : [])),
    invalidCertificateAllowed: (w) => w.apiClient.invalidCertificateAllowed,
    apiClient: (w) => w.apiClient,
  },

  IxcDevice: {
    id: (d) => toGlobalId('IxcDevice', d.serialNumber),
    platformId: (d) => d.serialNumber,
    lastInformAt: (d) => d.lastInform,
    pppoeLogin: (d) => d.connection?.pppoeLogin ?? null,
    ipv4: (d) => d.connection?.ipv4 ?? null,
    ipv6: (d) => d.deviceInfo?.ipv6 ?? null,
    uptimeSeconds: (d) => d.deviceInfo?.uptime ?? null,
    rxBytes: (d) => d.deviceInfo?.rx ?? null,
    txBytes: (d) => d.deviceInfo?.tx ?? null,
    wifiNetworks: (d, _, ctx) => ctx.platforms.ixc.loaders.wifiBySerial.load(d.serialNumber),
    parameters: async (d, { prefix }, ctx) => {
      const parameters = await ctx.platforms.ixc.loaders.parametersBySerial.load(d.serialNumber);
      return prefix ? parameters.filter((p) => p.name.startsWith(prefix)) : parameters;
    },
  },

  // Secret values (Wi-Fi keys, passwords) are never shown, whichever way the parameter was reached: see secrets.ts.
  IxcParameter: {
    value: (p) => (isSecretParameter(p.name) ? null : p.value),
    redacted: (p) => isSecretParameter(p.name),
  },

  IxcWifiNetwork: {
    id: (n) => toGlobalId('IxcWifiNetwork', `${n.serialNumber}/${n.id}`),
    platformId: (n) => n.id,
    band: (n) => known(BAND, n.band, 'the Wi-Fi band'),
    enabled: (n) => n.enable,
    hasPassword: (n) => typeof n.password === 'string' ? n.password.length > 0 : n.security !== null && n.security !== 'None',
  },

  IxcOperation: {
    id: (o) => toGlobalId('IxcOperation', o.protocol),
    kind: (o) => known(OPERATION_KIND, o.type, 'the operation type'),
    status: (o) => known({ pending: 'PENDING', success: 'SUCCESS', failure: 'FAILURE', timeout: 'TIMEOUT' } as Record<string, IxcOperationStatus>, o.status, 'the operation status'),
    device: (o, _, ctx) => orNull(ctx.platforms.ixc.loaders.deviceBySerial.load(o.serialNumber)),
    // A parameters update's result lists the values it set, secrets included: see secrets.ts.
    result: (o) => redactSecrets(o.result),
  },

  Mutation: {
    ixcCreateApiClient: (_, { input }, ctx) =>
      withUserErrors(
        async () => ({ apiClient: await ctx.platforms.ixc.client.createApiClient({ ...apiClientBody(input), name: input.name }) }),
        { apiClient: null },
        API_CLIENT_FIELDS,
      ),

    ixcUpdateApiClient: (_, { input }, ctx) =>
      withUserErrors(
        async () => ({ apiClient: await ctx.platforms.ixc.client.updateApiClient(String(input.platformId), apiClientBody(input)) }),
        { apiClient: null },
        API_CLIENT_FIELDS,
      ),

    ixcDeleteApiClient: (_, { input }, ctx) =>
      withUserErrors(
        async () => {
          await ctx.platforms.ixc.client.deleteApiClient(String(input.platformId));
          return { deletedId: toGlobalId('IxcApiClient', input.platformId) };
        },
        { deletedId: null },
      ),

    ixcUpdateWifiNetwork: (_, { input }, ctx) =>
      withUserErrors(
        async () => {
          const { serialNumber } = input;
          const networkId = String(input.networkId);
          await ctx.platforms.ixc.client.updateWifiNetwork(serialNumber, networkId, {
            ssid: input.ssid ?? undefined,
            password: input.password ?? undefined,
            enable: input.enabled ?? undefined,
          });
          // Read back through the documented listing (which also gives the band) rather than trust the PATCH answer's shape.
          ctx.platforms.ixc.loaders.wifiBySerial.clear(serialNumber);
          return { wifiNetwork: await ctx.platforms.ixc.loaders.wifiNetwork(serialNumber, networkId) };
        },
        { wifiNetwork: null },
        WIFI_FIELDS,
      ),

    ixcUpdateDeviceParameters: (_, { input }, ctx) =>
      withUserErrors(
        async () => ({
          operation: await ctx.platforms.ixc.client.updateDeviceParameters(
            input.serialNumber,
            input.parameters.map((p) => ({ name: p.name, value: p.value })),
          ),
        }),
        { operation: null },
      ),

    ixcRebootDevice: (_, { input }, ctx) =>
      withUserErrors(async () => ({ operation: await ctx.platforms.ixc.client.rebootDevice(input.serialNumber) }), { operation: null }),

    ixcFactoryResetDevice: (_, { input }, ctx) =>
      withUserErrors(async () => ({ operation: await ctx.platforms.ixc.client.factoryResetDevice(input.serialNumber) }), { operation: null }),

    ixcRunDiagnostic: (_, { input }, ctx) =>
      withUserErrors(
        async () => ({
          operation: await ctx.platforms.ixc.client.runDiagnostic(input.serialNumber, { type: DIAGNOSTIC[input.type], target: input.target ?? undefined }),
        }),
        { operation: null },
      ),
  },
};
