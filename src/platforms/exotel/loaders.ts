import type DataLoader from 'dataloader';
import { ObservedLoader } from '../../core/observability/loaders.js';
import { NotFoundError } from '../../core/upstream/errors.js';
import { once } from '../../core/graphql/once.js';
import type { ExotelClient } from './client.js';
import type { ExotelAppRecord, ExotelCustomerRecord, ExotelUserRecord } from './types.js';

/**
 * One set per request. Exotel has no batch read: a customer is read with its own
 * token (`GET /customer`), a customer's apps in one list (`GET /app?entity=customer`).
 * So a batch of apps by id is answered from that list (one request for any
 * number), and only a lone app is read with its app token; the customers of a
 * list of apps are one `GET /customer` per distinct customer.
 */
export function createExotelLoaders(client: ExotelClient) {
  const customerById = new ObservedLoader<string, ExotelCustomerRecord>(
    (ids) => Promise.all(ids.map((id) => client.getCustomer(id).catch((error: Error) => error))),
    { platform: 'exotel', name: 'customerById', operation: client.http.operation },
  );

  const appsOfCustomer = new ObservedLoader<string, ExotelAppRecord[]>(
    (customerIds) =>
      Promise.all(
        customerIds.map(async (customerId) => {
          try {
            const apps = await client.listApps(customerId);
            for (const app of apps) appById.prime(app.AppID, app);
            return apps;
          } catch (error) {
            return error as Error;
          }
        }),
      ),
    { platform: 'exotel', name: 'appsOfCustomer', operation: client.http.operation },
  );

  /** The gateway's customer's apps: what `apps` means on Exotel. */
  const apps = once(() => appsOfCustomer.load(client.customerId));

  const appById: DataLoader<string, ExotelAppRecord> = new ObservedLoader<string, ExotelAppRecord>(
    async (ids) => {
      if (ids.length === 1 && (await client.hasAppCredential(ids[0]!))) {
        try {
          return [await client.getApp(ids[0]!)];
        } catch (error) {
          return [error as Error];
        }
      }
      const byId = new Map((await apps()).map((a) => [a.AppID, a]));
      return ids.map((id) => byId.get(id) ?? notFound(`app with AppID ${id} under customer ${client.customerId}`));
    },
    { platform: 'exotel', name: 'appById', operation: client.http.operation },
  );

  const userById = new ObservedLoader<string, ExotelUserRecord>(
    (keys) =>
      Promise.all(
        keys.map(async (key) => {
          try {
            const { appId, appUserId } = splitUserKey(key);
            return await client.getUser(appId, appUserId);
          } catch (error) {
            return error as Error;
          }
        }),
      ),
    { platform: 'exotel', name: 'userById', operation: client.http.operation },
  );

  return {
    customerById,
    /** Every customer Switchboard holds a credential for, each read with its own token. */
    customers: once(async () => {
      const results = await customerById.loadMany(await client.knownCustomerIds());
      const failure = results.find((r): r is Error => r instanceof Error);
      if (failure) throw failure;
      return results as ExotelCustomerRecord[];
    }),
    appsOfCustomer,
    apps,
    appById,
    userById,
  };
}

export type ExotelLoaders = ReturnType<typeof createExotelLoaders>;

/** Per request: the Exotel client and its loaders. */
export interface ExotelScope {
  readonly client: ExotelClient;
  readonly loaders: ExotelLoaders;
}

/** A user is known by its app and the app's own id of it: `<AppID>/<AppUserId>` (an AppID is a UUID, so it has no slash). */
export function userKey(appId: string, appUserId: string): string {
  return `${appId}/${appUserId}`;
}

export function splitUserKey(key: string): { appId: string; appUserId: string } {
  const slash = key.indexOf('/');
  if (slash <= 0 || slash === key.length - 1) throw notFound(`user ${JSON.stringify(key)} (expected AppID/AppUserId)`);
  return { appId: key.slice(0, slash), appUserId: key.slice(slash + 1) };
}

function notFound(what: string): NotFoundError {
  return new NotFoundError(`Exotel has no ${what}`, { platform: 'exotel' });
}
