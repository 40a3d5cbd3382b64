import { ObservedLoader } from '../../core/observability/loaders.js';
import { NotFoundError } from '../../core/upstream/errors.js';
import { once, oncePerProjection } from '../../core/graphql/once.js';
import type { Projection } from '../../core/upstream/project-json.js';
import type { CloudLXClient } from './client.js';
import type { CloudLXCustomerRecord, CloudLXRealmRecord, CloudLXSubRealmRecord } from './types.js';

/**
 * One set per request. CloudLX has no batch read, so a batch of one customer is a
 * `GET /api/customers/{id}` and a larger batch is one `GET /api/customers` (the
 * whole list, which it would cost anyway); realms and sub-realms are fetched once
 * per request and joined in memory.
 */
export function createCloudLXLoaders(client: CloudLXClient) {
  let listAsked = false;
  // Projected lists (the keys one selection reads) are partial records: they answer that selection only, never a read by id.
  const customersOnce = oncePerProjection((project?: Projection) => {
    if (!project) listAsked = true;
    return client.listCustomers(project);
  });
  const allCustomers = (project?: Projection) => customersOnce(client.http.projection(project));
  // Once the list is asked for, it answers reads by id too. Indexed only when a read by id
  // comes, rather than priming the loader with every customer: most requests that list never read one.
  const listedById = once(async () => new Map((await allCustomers()).map((c) => [String(c.id), c])));

  const readOne = async (id: string): Promise<CloudLXCustomerRecord | Error> => {
    try {
      return await client.getCustomer(id);
    } catch (error) {
      return error as Error;
    }
  };

  const customerById = new ObservedLoader<string, CloudLXCustomerRecord>(
    async (ids) => {
      if (ids.length === 1 && !listAsked) return [await readOne(ids[0]!)];
      const byId = await listedById();
      // A lone id the list lacks (created since it was read, say) is still read on its own.
      if (ids.length === 1 && !byId.has(ids[0]!)) return [await readOne(ids[0]!)];
      return ids.map((id) => byId.get(id) ?? notFound('customer', id));
    },
    { platform: 'cloudlx', name: 'customerById', operation: client.http.operation },
  );

  const servicesOnce = oncePerProjection((project?: Projection) => client.listServices(project));
  const realms = once(() => client.listRealms());
  const subRealms = once(() => client.listSubRealms());
  const realmsById = once(async () => new Map((await realms()).map((r) => [String(r.id), r])));
  const realmsByName = once(async () => new Map((await realms()).map((r) => [r.name, r])));
  const subRealmsById = once(async () => new Map((await subRealms()).map((s) => [String(s.id), s])));

  /**
   * A realm as the Realms API describes it, found by id or (inside a customer, where ids
   * are missing) by name. Called only for what a customer's copy lacks: its id, its sub-realms.
   */
  async function realm(ref: CloudLXRealmRecord): Promise<CloudLXRealmRecord> {
    const found = ref.id !== undefined ? (await realmsById()).get(String(ref.id)) : (await realmsByName()).get(ref.name);
    return found ?? ref;
  }

  return {
    allCustomers,
    customerById,
    realms,
    subRealms,
    realm,
    /** The realm's CloudLX id; its name when the Realms API does not know it. */
    async realmKey(ref: CloudLXRealmRecord): Promise<number | string> {
      const found = await realm(ref);
      return found.id ?? found.name;
    },
    async realmById(id: number | string): Promise<CloudLXRealmRecord | null> {
      return (await realmsById()).get(String(id)) ?? null;
    },
    async subRealmById(id: number | string): Promise<CloudLXSubRealmRecord | null> {
      return (await subRealmsById()).get(String(id)) ?? null;
    },
    apiClients: once(() => client.listApiClients()),
    webhooks: once(() => client.listWebhooks()),
    services: (project?: Projection) => servicesOnce(client.http.projection(project)),
  };
}

export type CloudLXLoaders = ReturnType<typeof createCloudLXLoaders>;

/** Per request: the CloudLX client and its loaders. */
export interface CloudLXScope {
  readonly client: CloudLXClient;
  readonly loaders: CloudLXLoaders;
}

function notFound(what: string, id: string): NotFoundError {
  return new NotFoundError(`CloudLX has no ${what} with id ${id}`, { platform: 'cloudlx', upstreamStatus: 404 });
}
