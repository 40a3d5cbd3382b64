import type { PlatformWatches, WatchPage, WatchSource } from '../../core/events/watchers.js';
import type { ExotelClient } from './client.js';
import type { ExotelConfig } from './config.js';

/**
 * What the gateway can watch on Exotel, whose integrations core documents no
 * webhooks: `app`, the apps of the gateway's customer (`EXOTEL_CUSTOMER_ID`),
 * one `GET /app?entity=customer` per poll. Exotel has no filter on `UpdatedAt`
 * and no paging for apps, so each poll lists them all and compares digests.
 * Exotel documents no request rate either: polls are not paced beyond that one
 * request.
 */

/** Never in an event, even if a list answer carried them (Exotel's reads leave them out). */
const SECRET_FIELDS = new Set(['AppSecret', 'ExotelApiKey', 'ExotelApiToken']);

export const exotelWatches: PlatformWatches<ExotelClient, ExotelConfig> = {
  naming: 'app (the apps of EXOTEL_CUSTOMER_ID)',
  services: ['app'],
  defaults: ['app'],
  source(service, client) {
    if (service !== 'app') throw new TypeError(`Exotel cannot watch ${JSON.stringify(service)}: only "app" is watchable`);
    return new ExotelAppsSource(client);
  },
};

class ExotelAppsSource implements WatchSource {
  readonly platform = 'exotel';
  readonly service = 'app';
  readonly requestsPerSecond = undefined;

  constructor(private readonly client: ExotelClient) {}

  async listAll(): Promise<WatchPage> {
    const apps = await this.client.listApps();
    return {
      records: apps.map((app) => ({
        id: app.AppID,
        record: Object.fromEntries(Object.entries(app).filter(([key]) => !SECRET_FIELDS.has(key))),
        updatedAt: typeof app.UpdatedAt === 'string' && Number.isFinite(Date.parse(app.UpdatedAt)) ? app.UpdatedAt : undefined,
      })),
    };
  }
}
