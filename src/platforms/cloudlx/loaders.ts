import DataLoader from 'dataloader';
import { NotFoundError } from '../../core/upstream/errors.js';
import { once } from '../../core/graphql/once.js';
import type { CloudLXClient } from './client.js';
import type { CloudLXCustomerRecord, CloudLXRealmRecord, CloudLXSubRealmRecord } from './types.js';

/**
 * One set per request. CloudLX has no batch read, so a batch of one customer is a
 * `GET /api/customers/{id}` and a larger batch is one `GET /api/customers` (the
 * whole list, which it would cost anyway); realms and sub-realms are fetched once
 * per request and joined in memory.
 */
export function createCloudLXLoaders(client: CloudLXClient) {
  const allCustomers = once(async () => {
    const list = await client.listCustomers();
    for (const customer of list) customerById.prime(String(customer.id), customer);
    return list;
  });

  const customerById: DataLoader<string, CloudLXCustomerRecord> = new DataLoader<string, CloudLXCustomerRecord>(async (ids) => {
    if (ids.length === 1) {
      try {
        return [await client.getCustomer(ids[0]!)];
      } catch (error) {
        return [error as Error];
      }
    }
    const byId = new Map((await allCustomers()).map((c) => [String(c.id), c]));
    return ids.map((id) => byId.get(id) ?? notFound('customer', id));
  });

  const realms = once(() => client.listRealms());
  const subRealms = once(() => client.listSubRealms());
  const realmsById = once(async () => new Map((await realms()).map((r) => [String(r.id), r])));
  const realmsByName = once(async () => new Map((await realms()).map((r) => [r.name, r])));
  const subRealmsById = once(async () => new Map((await subRealms()).map((s) => [String(s.id), s])));

  return {
    allCustomers,
    customerById,
    realms,
    subRealms,
    /** A realm as the Realms API describes it, found by id or (inside a customer, where ids may be missing) by name. */
    async realm(ref: CloudLXRealmRecord): Promise<CloudLXRealmRecord> {
      const found = ref.id !== undefined ? (await realmsById()).get(String(ref.id)) : (await realmsByName()).get(ref.name);
      return found ?? ref;
    },
    async realmById(id: number | string): Promise<CloudLXRealmRecord | null> {
      return (await realmsById()).get(String(id)) ?? null;
    },
    async subRealmById(id: number | string): Promise<CloudLXSubRealmRecord | null> {
      return (await subRealmsById()).get(String(id)) ?? null;
    },
    apiClients: once(() => client.listApiClients()),
    webhooks: once(() => client.listWebhooks()),
    services: once(() => client.listServices()),
  };
}

export type CloudLXLoaders = ReturnType<typeof createCloudLXLoaders>;

function notFound(what: string, id: string): NotFoundError {
  return new NotFoundError(`CloudLX has no ${what} with id ${id}`, { platform: 'cloudlx', upstreamStatus: 404 });
}
