import type DataLoader from 'dataloader';
import { ObservedLoader } from '../../core/observability/loaders.js';
import { tagType } from '../../core/graphql/ids.js';
import { NotFoundError } from '../../core/upstream/errors.js';
import { connectionFromSlice, offsetFromCursor, pageSize, type Connection, type ConnectionArgs } from '../../core/graphql/connection.js';
import { once } from '../../core/graphql/once.js';
import { IXC_PARAMETERS_BATCH_SIZE, type IxcClient, type IxcDeviceSearch } from './client.js';
import { IXC_WIFI_BANDS, type IxcApiClientRecord, type IxcDeviceRecord, type IxcParameterRecord, type IxcWebhookRef, type IxcWifiNetworkRef } from './types.js';
import type { Projection } from '../../core/upstream/project-json.js';

/**
 * IXC keeps one webhook per API client: an `IxcWebhook` for each client with a
 * webhook URI, tagged so the unified `Webhook` interface resolves it.
 */
export function webhooksOf(apiClients: readonly IxcApiClientRecord[]): IxcWebhookRef[] {
  return apiClients.filter((a) => a.webhookUri).map((apiClient) => tagType({ apiClient }, 'IxcWebhook'));
}

/**
 * One set per request. What a query costs upstream, besides the token exchange
 * (once per token lifetime, not per request):
 * - a page of devices: one search request (two when `after` is not aligned to `first`);
 * - their parameters: one request per 50 devices, whatever the page (IXC's assumed batch read);
 * - their Wi-Fi: one request per device (IXC documents no batch read), each serial once per request;
 * - a device by serial not already seen in this request: one request.
 */
export function createIxcLoaders(client: IxcClient) {
  const deviceBySerial: DataLoader<string, IxcDeviceRecord> = new ObservedLoader(
    (serials) => Promise.all(serials.map((serial) => client.getDevice(serial).catch((error: Error) => error))),
    { platform: 'ixc', name: 'deviceBySerial', operation: client.http.operation },
  );

  const parametersBySerial = new ObservedLoader<string, IxcParameterRecord[]>(
    async (serials) => {
      const found = new Map((await client.getDeviceParameters(serials)).map((r) => [r.serialNumber, r.parameters]));
      return serials.map((serial) => found.get(serial) ?? notFound('device', serial));
    },
    { platform: 'ixc', name: 'parametersBySerial', maxBatchSize: IXC_PARAMETERS_BATCH_SIZE, operation: client.http.operation },
  );

  const wifiBySerial = new ObservedLoader<string, IxcWifiNetworkRef[]>(
    (serials) =>
      Promise.all(
        serials.map(async (serialNumber) => {
          try {
            const bands = await client.getWifi(serialNumber);
            return IXC_WIFI_BANDS.flatMap((band) => (bands[band] ?? []).map((network) => ({ ...network, serialNumber, band })));
          } catch (error) {
            return error as Error;
          }
        }),
      ),
    { platform: 'ixc', name: 'wifiBySerial', operation: client.http.operation },
  );

  const apiClients = once(async () => {
    const list = await client.listApiClients();
    for (const record of list) apiClientById.prime(record.id, record);
    return list;
  });
  const apiClientById = new ObservedLoader<string, Awaited<ReturnType<IxcClient['getApiClient']>>>(
    (ids) => Promise.all(ids.map((id) => client.getApiClient(id).catch((error: Error) => error))),
    { platform: 'ixc', name: 'apiClientById', operation: client.http.operation },
  );

  /** Maps Relay `first`/`after` onto IXC's `page`/`rp` paging. */
  async function devices(search: IxcDeviceSearch | undefined, args: ConnectionArgs, planned?: Projection): Promise<Connection<IxcDeviceRecord>> {
    const project = client.http.projection(planned);
    const start = args.after ? offsetFromCursor(args.after) + 1 : 0;
    const size = pageSize(args.first);
    const rows = Math.max(size, 1);
    const firstPage = Math.floor(start / rows) + 1;
    const pages = start % rows === 0 ? [firstPage] : [firstPage, firstPage + 1];
    const answers = await Promise.all(pages.map((page) => client.searchDevices({ search, page, rows, project })));
    const fetched = answers.flatMap((a) => a.registers);
    const slice = fetched.slice(start - (firstPage - 1) * rows, start - (firstPage - 1) * rows + size);
    // Projected devices hold only the keys this selection reads: they cannot answer another read of the device.
    if (!project) for (const device of slice) deviceBySerial.prime(device.serialNumber, device);
    const total = answers[0]!.total;
    const hasNextPage = total !== undefined ? start + size < total : answers[answers.length - 1]!.registers.length === rows;
    return connectionFromSlice(slice, start, hasNextPage, total ?? null);
  }

  return {
    devices,
    deviceBySerial,
    parametersBySerial,
    wifiBySerial,
    async wifiNetwork(serialNumber: string, id: string): Promise<IxcWifiNetworkRef | null> {
      return (await wifiBySerial.load(serialNumber)).find((n) => String(n.id) === id) ?? null;
    },
    apiClients,
    apiClientById,
    /** From the same (once per request) list as `apiClients`. */
    webhooks: async () => webhooksOf(await apiClients()),
  };
}

export type IxcLoaders = ReturnType<typeof createIxcLoaders>;

/** Per request: the Ixc client and its loaders. */
export interface IxcScope {
  readonly client: IxcClient;
  readonly loaders: IxcLoaders;
}

function notFound(what: string, key: string): NotFoundError {
  return new NotFoundError(`IXC ACS has no ${what} with serial number ${key}`, { platform: 'ixc', upstreamStatus: 404 });
}
