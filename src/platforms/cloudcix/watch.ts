import { createHash } from 'node:crypto';
import type { PlatformWatches, WatchPage, WatchSource, WatchedRecord } from '../../core/events/watchers.js';
import { catalogue, type CloudCIXService } from './catalogue.js';
import { CLOUDCIX_MAX_LIMIT, type CloudCIXClient } from './client.js';
import type { CloudCIXConfig } from './config.js';
import { cloudcixModel } from './model.js';
import type { CloudCIXRecord } from './types.js';

/**
 * What the gateway can watch on CloudCIX, whose reference documents no webhooks:
 * every service of the catalogue that lists its records without a parent id,
 * named `<application>.<service>` (`membership.address`, `iaas.project`), as
 * `CLOUDCIX_WATCH` takes them. A nested service (`address/{address_id}/link/`)
 * would need one listing per parent and is refused with that reason.
 *
 * Records are listed through the client's ordinary `list` (its throttle, retries
 * and token), in pages of 100 ordered by id and walked by `search[id__gt]`, so a
 * record created or deleted during a listing never shifts another out of it.
 * A service whose records carry `updated` is polled by
 * `search[updated__gte]=<watermark>&order=updated`; if CloudCIX skips that filter
 * (it reports a skipped filter as a warning, not an error), the watcher falls back
 * to full listings.
 */

const PAGE = CLOUDCIX_MAX_LIMIT;

const slugOf = new Map(catalogue.applications.map((a) => [a.name, a.slug]));
const nameOf = (service: CloudCIXService) => `${slugOf.get(service.application) ?? service.application.toLowerCase()}.${service.service}`.toLowerCase();

const byName = new Map(catalogue.services.map((service) => [nameOf(service), service]));
const watchable = catalogue.services.filter((s) => s.methods.includes('list') && s.parentIds.length === 0).map(nameOf);

function refusal(name: string): string | undefined {
  const service = byName.get(name);
  if (!service) return undefined;
  if (!service.methods.includes('list')) return `CloudCIX's ${service.application}.${service.service} has no list method (it has ${service.methods.join(', ')})`;
  if (service.parentIds.length > 0) {
    return `CloudCIX's ${service.application}.${service.service} is nested (its URL ${service.path} needs ${service.parentIds.join(', ')}); only services listed without a parent id can be watched`;
  }
  return undefined;
}

export const cloudcixWatches: PlatformWatches<CloudCIXClient, CloudCIXConfig> = {
  naming: 'application.service from the CloudCIX catalogue, e.g. membership.address or iaas.project',
  services: watchable,
  defaults: ['membership.address', 'membership.member', 'iaas.project'],
  refusal,
  source(name, client, config) {
    const service = byName.get(name);
    if (!service || refusal(name)) throw new TypeError(`CloudCIX cannot watch ${JSON.stringify(name)}: ${refusal(name) ?? 'no such service in the catalogue'}`);
    return new CloudCIXWatchSource(name, service, client, config.requestsPerSecond);
  },
};

class CloudCIXWatchSource implements WatchSource {
  readonly platform = 'cloudcix';
  /** Credentials a record carries (a member's api_key and secret): cut before digests and events. */
  private readonly secretFields: readonly string[];

  constructor(
    readonly service: string,
    private readonly catalogueService: CloudCIXService,
    private readonly client: CloudCIXClient,
    readonly requestsPerSecond: number,
  ) {
    this.secretFields = cloudcixModel.byKey.get(`${catalogueService.application}.${catalogueService.service}`)?.typed?.secret ?? [];
  }

  async listAll(after: string | undefined): Promise<WatchPage> {
    // `id:<n>` walks by id; `page:<n>` pages by offset, for report rows that carry no id.
    const [kind, value] = after ? splitCursor(after) : ['id', undefined];
    const page = kind === 'page' ? Number(value) : 0;
    const result = await this.client.api.list(this.catalogueService, [], {
      page,
      limit: PAGE,
      order: kind === 'id' ? 'id' : undefined,
      search: kind === 'id' && value !== undefined ? { id__gt: Number(value) } : undefined,
    });
    const records = result.records.map((r) => this.watched(r));
    if (result.records.length < PAGE) return { records };
    const ids = result.records.map((r) => r.id);
    // Walk by id only while CloudCIX applied both the order and the filter: a skipped one would skip records.
    const walkable = kind === 'id' && result.warnings.length === 0 && ids.every((id, i) => typeof id === 'number' && (i === 0 || id > (ids[i - 1] as number)));
    return { records, next: walkable ? `id:${ids[ids.length - 1]}` : `page:${page + 1}` };
  }

  async listChangedSince(since: string, after: string | undefined): Promise<WatchPage> {
    // From `since`, page by page while records share one timestamp; otherwise from the last timestamp seen (the digests drop repeats).
    const cursor = after ? (JSON.parse(after) as { since: string; page: number }) : { since, page: 0 };
    const result = await this.client.api.list(this.catalogueService, [], {
      page: cursor.page,
      limit: PAGE,
      order: 'updated',
      search: { updated__gte: cursor.since },
    });
    if (result.warnings.length > 0) return { records: [], unfiltered: true };
    const records = result.records.map((r) => this.watched(r));
    if (result.records.length < PAGE) return { records };
    const last = records[records.length - 1]!.updatedAt;
    const next = last === undefined || last === cursor.since ? { since: cursor.since, page: cursor.page + 1 } : { since: last, page: 0 };
    return { records, next: JSON.stringify(next) };
  }

  async count(): Promise<number | undefined> {
    const result = await this.client.api.list(this.catalogueService, [], { page: 0, limit: 1 });
    return result.totalRecords ?? undefined;
  }

  private watched(raw: CloudCIXRecord): WatchedRecord {
    const record = this.secretFields.length ? Object.fromEntries(Object.entries(raw).filter(([key]) => !this.secretFields.includes(key))) : raw;
    const id = raw.id;
    const updated = raw.updated;
    return {
      // Rows without an id (report lines) are known by their content: a change shows as a deletion and a creation.
      id: typeof id === 'number' || (typeof id === 'string' && id !== '') ? String(id) : `~${createHash('sha256').update(JSON.stringify(raw)).digest('hex').slice(0, 16)}`,
      record,
      updatedAt: typeof updated === 'string' && Number.isFinite(Date.parse(updated)) ? updated : undefined,
    };
  }
}

function splitCursor(cursor: string): [string, string] {
  const colon = cursor.indexOf(':');
  return [cursor.slice(0, colon), cursor.slice(colon + 1)];
}
