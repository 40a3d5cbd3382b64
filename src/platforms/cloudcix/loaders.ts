import type DataLoader from 'dataloader';
import { ObservedLoader } from '../../core/observability/loaders.js';
import { BadUserInputError, NotFoundError, UpstreamBadResponseError } from '../../core/upstream/errors.js';
import { connectionFromSlice, offsetFromCursor, pageSize, type Connection } from '../../core/graphql/connection.js';
import { CLOUDCIX_MAX_LIMIT, type CloudCIXApi } from './client.js';
import type { ServiceModel } from './model.js';
import type { Projection } from '../../core/upstream/project-json.js';
import type { CloudCIXFilters, CloudCIXListPage, CloudCIXRecord } from './types.js';

const PARENTS = Symbol.for('switchboard.cloudcix.parents');

/** The parent ids a record was read under (`address/{address_id}/link/` → [address id]); [] for a top-level service. */
export function parentsOf(record: CloudCIXRecord): readonly string[] {
  return ((record as Record<symbol, unknown>)[PARENTS] as string[] | undefined) ?? [];
}

/** Remembers a record's parent ids on the record itself, so its global id and its children need no lookup. */
export function withParents<T extends CloudCIXRecord>(record: T, parents: readonly string[]): T {
  if (parents.length > 0) (record as Record<symbol, unknown>)[PARENTS] = parents;
  return record;
}

/** `[...parents, id]` as one string: the DataLoader key and the key inside a global id. */
export function recordKey(parents: readonly string[], id: string): string {
  return [...parents, id].map(encodeURIComponent).join('/');
}

export function splitRecordKey(key: string): { parents: string[]; id: string } {
  const parts = key.split('/').map(decodeURIComponent);
  const id = parts.pop() ?? '';
  return { parents: parts, id };
}

export interface CloudCIXListArgs {
  first?: number | null;
  after?: string | null;
  search?: unknown;
  exclude?: unknown;
  order?: string | null;
}

export interface CloudCIXConnectionResult {
  connection: Connection<CloudCIXRecord>;
  /** CloudCIX's `_metadata.warnings` of every page read (skipped filters). */
  warnings: unknown[];
}

/**
 * One set per request. Reads of one service batch into a single
 * `search[id__in]=[…]` list request per 100 ids (CloudCIX's page limit), so a page
 * of 100 addresses with their countries and currencies costs three requests; a
 * lone id is a plain read. Every record a list returns answers later reads of it.
 *
 * CloudCIX skips a filter it cannot apply and says so in `_metadata.warnings`
 * instead of refusing; a skipped `id__in` would answer with the unfiltered first
 * page. So a batch whose warnings name `id__in`, or whose answer holds a record
 * that was not asked for, is not trusted to be complete: the records asked for
 * that it does hold are kept, and every other id of the chunk is read on its own
 * with `GET …/{pk}/` instead of being reported missing.
 */
export function createCloudCIXLoaders(api: CloudCIXApi) {
  const readers = new Map<string, DataLoader<string, CloudCIXRecord>>();

  function readerOf(model: ServiceModel): DataLoader<string, CloudCIXRecord> {
    let reader = readers.get(model.key);
    if (!reader) {
      reader = new ObservedLoader<string, CloudCIXRecord>((keys) => readBatch(model, keys), { platform: 'cloudcix', name: model.key, maxBatchSize: 10 * CLOUDCIX_MAX_LIMIT, operation: api.operation });
      readers.set(model.key, reader);
    }
    return reader;
  }

  /**
   * The records lists of this request returned, by service: they answer reads of the
   * same records with no further call. Kept as the pages came and indexed only when
   * a read comes, instead of priming the readers with every record of every page
   * (a page of 100 addresses is read by id far less often than it is listed).
   */
  const listed = new Map<string, { pages: { parents: readonly string[]; records: readonly CloudCIXRecord[] }[]; index?: Map<string, CloudCIXRecord> }>();

  function rememberListed(model: ServiceModel, parents: readonly string[], records: readonly CloudCIXRecord[]): void {
    let entry = listed.get(model.key);
    if (!entry) listed.set(model.key, (entry = { pages: [] }));
    entry.pages.push({ parents, records });
    entry.index = undefined;
  }

  function listedRecord(model: ServiceModel, key: string): CloudCIXRecord | undefined {
    const entry = listed.get(model.key);
    if (!entry) return undefined;
    if (!entry.index) {
      entry.index = new Map();
      for (const { parents, records } of entry.pages) {
        for (const record of records) {
          if (record.id === undefined || record.id === null) continue;
          const recordKeyOf = recordKey(parents, String(record.id));
          // The first answer stands, as a primed loader keeps its first value.
          if (!entry.index.has(recordKeyOf)) entry.index.set(recordKeyOf, record);
        }
      }
    }
    return entry.index.get(key);
  }

  async function readBatch(model: ServiceModel, keys: readonly string[]): Promise<(CloudCIXRecord | Error)[]> {
    const found = new Map<string, CloudCIXRecord | Error>();
    const byParents = new Map<string, { parents: string[]; ids: string[] }>();
    for (const key of keys) {
      const fromList = listedRecord(model, key);
      if (fromList) {
        found.set(key, fromList);
        continue;
      }
      const { parents, id } = splitRecordKey(key);
      const group = parents.join('/');
      const entry = byParents.get(group) ?? { parents, ids: [] };
      entry.ids.push(id);
      byParents.set(group, entry);
    }
    const service = model.service;
    await Promise.all(
      [...byParents.values()].map(async ({ parents, ids }) => {
        const readOne = async (id: string) => {
          try {
            found.set(recordKey(parents, id), withParents(await api.read(service, parents, id), parents));
          } catch (error) {
            found.set(recordKey(parents, id), error as Error);
          }
        };
        if (model.has('list') && !(ids.length === 1 && model.has('read'))) {
          const chunks: string[][] = [];
          for (let i = 0; i < ids.length; i += CLOUDCIX_MAX_LIMIT) chunks.push(ids.slice(i, i + CLOUDCIX_MAX_LIMIT));
          await Promise.all(
            chunks.map(async (chunk) => {
              let page: CloudCIXListPage;
              try {
                page = await api.list(service, parents, { page: 0, limit: CLOUDCIX_MAX_LIMIT, search: { id__in: chunk.map(idValue) } });
              } catch (error) {
                for (const id of chunk) found.set(recordKey(parents, id), error as Error);
                return;
              }
              const asked = new Set(chunk);
              const filtered = !page.warnings.some(mentionsIdIn) && page.records.every((record) => asked.has(String(record.id)));
              for (const record of page.records) {
                const id = String(record.id);
                if (asked.has(id)) found.set(recordKey(parents, id), withParents(record, parents));
              }
              if (filtered) return;
              // CloudCIX did not apply id__in: an id missing from this answer says nothing about whether it exists.
              const missing = chunk.filter((id) => !found.has(recordKey(parents, id)));
              if (model.has('read')) {
                await Promise.all(missing.map(readOne));
              } else {
                for (const id of missing) found.set(recordKey(parents, id), idInSkipped(model));
              }
            }),
          );
        } else if (model.has('read')) {
          await Promise.all(ids.map(readOne));
        }
      }),
    );
    return keys.map((key) => found.get(key) ?? notFound(model, key));
  }

  return {
    /** One record by id (and parent ids), batched with every other read of its service in this tick. */
    load(model: ServiceModel, parents: readonly string[], id: string): Promise<CloudCIXRecord> {
      return readerOf(model).load(recordKey(parents, id));
    },

    /**
     * A Relay connection over CloudCIX's `page`/`limit`. An aligned window is one
     * request with `limit = first`; otherwise the pages of 100 that cover it are
     * read in parallel and cut to the window.
     */
    async connection(model: ServiceModel, parents: readonly string[], args: CloudCIXListArgs, planned?: Projection): Promise<CloudCIXConnectionResult> {
      const project = api.projection(planned);
      const offset = args.after ? offsetFromCursor(args.after) + 1 : 0;
      const size = pageSize(args.first);
      const filters = { order: args.order ?? undefined, search: filtersArg(args.search, 'search'), exclude: filtersArg(args.exclude, 'exclude') };
      let limit: number;
      let firstPage: number;
      let lastPage: number;
      if (size > 0 && size <= CLOUDCIX_MAX_LIMIT && offset % size === 0) {
        limit = size;
        firstPage = lastPage = offset / size;
      } else {
        limit = CLOUDCIX_MAX_LIMIT;
        firstPage = Math.floor(offset / limit);
        // `first: 0` still asks one page, for totalCount.
        lastPage = Math.max(firstPage, Math.floor((offset + size - 1) / limit));
      }
      const pages: CloudCIXListPage[] = await Promise.all(
        Array.from({ length: lastPage - firstPage + 1 }, (_, i) => api.list(model.service, parents, { page: firstPage + i, limit, ...filters }, project)),
      );
      const records: CloudCIXRecord[] = [];
      const warnings: unknown[] = [];
      for (const page of pages) {
        for (const record of page.records) records.push(withParents(record, parents));
        for (const warning of page.warnings) if (!warnings.some((w) => JSON.stringify(w) === JSON.stringify(warning))) warnings.push(warning);
      }
      // Projected records hold only the keys this selection reads: they cannot answer another read of the record.
      if (!project) rememberListed(model, parents, records);
      const skip = offset - firstPage * limit;
      const slice = records.slice(skip, skip + size);
      const total = pages[0]!.totalRecords;
      const hasNextPage = total !== null ? offset + slice.length < total : records.length > skip + size || pages[pages.length - 1]!.records.length === limit;
      return { connection: connectionFromSlice(slice, offset, hasNextPage, total), warnings };
    },

    /** Every record of a service (for the unified lists): the first page tells how many pages follow, read in parallel. */
    async all(model: ServiceModel, parents: readonly string[] = []): Promise<CloudCIXRecord[]> {
      const first = await api.list(model.service, parents, { page: 0, limit: CLOUDCIX_MAX_LIMIT });
      const total = first.totalRecords ?? first.records.length;
      const more = await Promise.all(
        Array.from({ length: Math.max(0, Math.ceil(total / CLOUDCIX_MAX_LIMIT) - 1) }, (_, i) => api.list(model.service, parents, { page: i + 1, limit: CLOUDCIX_MAX_LIMIT })),
      );
      return [first, ...more].flatMap((page) => page.records.map((record) => withParents(record, parents)));
    },
  };
}

export type CloudCIXLoaders = ReturnType<typeof createCloudCIXLoaders>;

/** A `_metadata.warnings` entry about the `id__in` filter (CloudCIX skipped it); entries may be strings or objects. */
function mentionsIdIn(warning: unknown): boolean {
  const text = typeof warning === 'string' ? warning : JSON.stringify(warning);
  return typeof text === 'string' && text.includes('id__in');
}

function idInSkipped(model: ServiceModel): UpstreamBadResponseError {
  return new UpstreamBadResponseError(
    `CloudCIX did not apply the id__in filter to the ${model.service.application}.${model.service.service} list, and the service has no read by id to fall back on`,
    { platform: 'cloudcix' },
  );
}

/** Whole-number ids go as numbers (`[1,2]`), anything else as a quoted string. */
function idValue(id: string): number | string {
  return /^\d+$/.test(id) ? Number(id) : id;
}

function filtersArg(value: unknown, name: string): CloudCIXFilters | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new BadUserInputError(`Expected \`${name}\` to be an object of CloudCIX filters such as {"name__icontains": "cix", "id__in": [1, 2]}, got ${JSON.stringify(value)}`, {
      platform: 'cloudcix',
    });
  }
  return value as CloudCIXFilters;
}

function notFound(model: ServiceModel, key: string): NotFoundError {
  const { parents, id } = splitRecordKey(key);
  const under = parents.length ? ` under ${model.service.parentIds.map((p, i) => `${p} ${parents[i]}`).join(', ')}` : '';
  const why = model.has('list') || model.has('read') ? '' : ' (this service can neither list nor read)';
  return new NotFoundError(`CloudCIX has no ${model.service.title} with id ${id}${under}${why}`, { platform: 'cloudcix', upstreamStatus: 404 });
}
