import type { Resolvers } from '../../__generated__/resolvers-types.js';
import type { PlatformContext } from '../../context.js';
import type { CloudLXScope } from './loaders.js';
import { connectionFromArray } from '../../core/graphql/connection.js';
import { toGlobalId } from '../../core/graphql/ids.js';
import { numericId, withUserErrors } from '../../core/graphql/mutations.js';
import type { CloudLXCreateCustomerBody, CloudLXUpdateCustomerBody } from './types.js';
import { orNull } from '../../core/graphql/nullable.js';
import { ListProjection, type FieldReads } from '../../core/graphql/projection.js';

/** CloudLX's field names in its error bodies → our input field names. */
const CUSTOMER_FIELDS = {
  currency_iso: 'currencyIso',
  country_iso: 'countryIso',
  realms: 'realmIds',
  shown_sub_realms: 'shownSubRealmIds',
  enabled_sub_realms: 'enabledSubRealmIds',
  first_name: 'firstName',
  last_name: 'lastName',
  role_group: 'roleGroup',
};

const ids = (values: readonly (string | number)[] | null | undefined, field: string) =>
  values?.map((v) => numericId(v, field, 'cloudlx'));

type CloudLXContext = PlatformContext<'cloudlx', CloudLXScope>;

/**
 * What the resolvers below read of CloudLX's records, for the fields that have
 * one (fields without a resolver read the key of their own name): so that a list
 * is parsed for the keys its selection reads (`ListProjection`). Keep it next to
 * the resolvers; a resolver missing here makes its lists be read whole.
 */
export const CLOUDLX_FIELD_READS: FieldReads = {
  CloudLXCustomer: { id: ['id'], platformId: ['id'], platform: [], subRealms: 'sub_realms' },
  CloudLXCurrency: { iso2: 'iso_2', iso3: 'iso_3' },
  CloudLXCountry: { iso2: 'iso_2' },
  // A customer's realms carry no id: the id and the sub-realms are looked up by name.
  CloudLXRealm: { id: ['id', 'name'], platformId: ['id', 'name'], subRealms: ['id', 'name'] },
  CloudLXSubRealm: { id: ['id'], platformId: ['id'], hasAccess: 'has_access', realm: ['realm_id', 'id'] },
  CloudLXService: { id: ['id'], platformId: ['id'], nniVlan: 'nni_vlan', cancellationDate: 'cancellation_date' },
  CloudLXPort: { platformId: ['id'] },
};

const CUSTOMERS_LIST = new ListProjection(CLOUDLX_FIELD_READS, (customer) => ({ customers: customer }));
const SERVICES_LIST = new ListProjection(CLOUDLX_FIELD_READS, (service) => ({ services: service }));

export const cloudlxResolvers: Resolvers<CloudLXContext> = {
  Query: {
    cloudlx: () => ({ namespace: 'cloudlx' }),
  },

  CloudLXQuery: {
    customers: async (_, args, ctx, info) => connectionFromArray(await ctx.platforms.cloudlx.loaders.allCustomers(CUSTOMERS_LIST.of(info)), args),
    customer: (_, { platformId }, ctx) => orNull(ctx.platforms.cloudlx.loaders.customerById.load(String(platformId))),
    realms: (_, __, ctx) => ctx.platforms.cloudlx.loaders.realms(),
    subRealms: (_, __, ctx) => ctx.platforms.cloudlx.loaders.subRealms(),
    services: async (_, args, ctx, info) => connectionFromArray(await ctx.platforms.cloudlx.loaders.services(SERVICES_LIST.of(info)), args),
    apiClients: async (_, args, ctx) => connectionFromArray(await ctx.platforms.cloudlx.loaders.apiClients(), args),
    apiClient: (_, { platformId }, ctx) => orNull(ctx.platforms.cloudlx.client.getApiClient(platformId)),
    webhooks: async (_, args, ctx) => connectionFromArray(await ctx.platforms.cloudlx.loaders.webhooks(), args),
    webhook: (_, { platformId }, ctx) => orNull(ctx.platforms.cloudlx.client.getWebhook(platformId)),
  },

  CloudLXCustomer: {
    id: (c) => toGlobalId('CloudLXCustomer', c.id),
    platformId: (c) => c.id,
    platform: () => 'CLOUDLX',
    // `realms` needs no resolver: a customer carries each realm's name and description (seed 002), which
    // answer as they are; only a field they lack (the realm's id, its sub-realms) looks the realm up (CloudLXRealm below).
    subRealms: (c) => c.sub_realms ?? [],
  },

  CloudLXCurrency: {
    iso2: (c) => c.iso_2,
    iso3: (c) => c.iso_3,
  },

  CloudLXCountry: {
    iso2: (c) => c.iso_2,
  },

  CloudLXRealm: {
    id: (r, _, ctx) => (r.id !== undefined ? toGlobalId('CloudLXRealm', r.id) : ctx.platforms.cloudlx.loaders.realmKey(r).then((key) => toGlobalId('CloudLXRealm', key))),
    platformId: (r, _, ctx) => (r.id !== undefined ? r.id : ctx.platforms.cloudlx.loaders.realmKey(r)),
    subRealms: async (r, _, ctx) => {
      const loaders = ctx.platforms.cloudlx.loaders;
      const id = r.id ?? (await loaders.realm(r)).id;
      return (await loaders.subRealms()).filter((s) => id !== undefined && s.realm_id === id);
    },
  },

  CloudLXSubRealm: {
    id: (s) => toGlobalId('CloudLXSubRealm', s.id),
    platformId: (s) => s.id,
    hasAccess: (s) => s.has_access ?? null,
    realm: async (s, _, ctx) => {
      const loaders = ctx.platforms.cloudlx.loaders;
      const realmId = s.realm_id ?? (await loaders.subRealmById(s.id))?.realm_id;
      return realmId === undefined ? null : loaders.realmById(realmId);
    },
  },

  CloudLXService: {
    id: (s) => toGlobalId('CloudLXService', s.id),
    platformId: (s) => s.id,
    nniVlan: (s) => s.nni_vlan,
    cancellationDate: (s) => s.cancellation_date,
  },

  CloudLXPort: {
    platformId: (p) => p.id,
  },

  CloudLXApiClient: {
    id: (a) => toGlobalId('CloudLXApiClient', a.id),
    platformId: (a) => a.id,
    platform: () => 'CLOUDLX',
    clientId: (a) => a.client_id,
    createdAt: (a) => a.created_at,
  },

  CloudLXWebhook: {
    id: (w) => toGlobalId('CloudLXWebhook', w.id),
    platformId: (w) => w.id,
    platform: () => 'CLOUDLX',
    createdAt: (w) => w.created_at,
  },

  Mutation: {
    cloudlxCreateCustomer: (_, { input }, ctx) =>
      withUserErrors(
        async () => {
          const body: CloudLXCreateCustomerBody = {
            name: input.name,
            currency_iso: input.currencyIso,
            country_iso: input.countryIso,
            realms: ids(input.realmIds, 'realmIds') ?? [],
            shown_sub_realms: ids(input.shownSubRealmIds, 'shownSubRealmIds') ?? [],
            enabled_sub_realms: ids(input.enabledSubRealmIds, 'enabledSubRealmIds') ?? [],
            email: input.email,
            first_name: input.firstName,
            last_name: input.lastName,
            role_group: input.roleGroup,
          };
          return { customer: await ctx.platforms.cloudlx.client.createCustomer(body) };
        },
        { customer: null },
        CUSTOMER_FIELDS,
      ),

    cloudlxUpdateCustomer: (_, { input }, ctx) =>
      withUserErrors(
        async () => {
          const body: CloudLXUpdateCustomerBody = {
            name: input.name ?? undefined,
            currency_iso: input.currencyIso ?? undefined,
            country_iso: input.countryIso ?? undefined,
            realms: ids(input.realmIds, 'realmIds'),
            shown_sub_realms: ids(input.shownSubRealmIds, 'shownSubRealmIds'),
            enabled_sub_realms: ids(input.enabledSubRealmIds, 'enabledSubRealmIds'),
          };
          const id = numericId(input.platformId, 'platformId', 'cloudlx');
          return { customer: await ctx.platforms.cloudlx.client.updateCustomer(id, body) };
        },
        { customer: null },
        CUSTOMER_FIELDS,
      ),

    cloudlxCreateApiClient: (_, { input }, ctx) =>
      withUserErrors(
        async () => {
          const created = await ctx.platforms.cloudlx.client.createApiClient({ name: input.name });
          // The secret leaves through this payload field only; the record itself never carries it further.
          const { client_secret: clientSecret, ...apiClient } = created;
          return { apiClient, clientSecret: clientSecret ?? null };
        },
        { apiClient: null, clientSecret: null },
      ),

    cloudlxUpdateApiClient: (_, { input }, ctx) =>
      withUserErrors(
        async () => ({ apiClient: await ctx.platforms.cloudlx.client.updateApiClient(numericId(input.platformId, 'platformId', 'cloudlx'), { name: input.name }) }),
        { apiClient: null },
      ),

    cloudlxDeleteApiClient: (_, { input }, ctx) =>
      withUserErrors(
        async () => {
          const id = numericId(input.platformId, 'platformId', 'cloudlx');
          await ctx.platforms.cloudlx.client.deleteApiClient(id);
          return { deletedId: toGlobalId('CloudLXApiClient', id) };
        },
        { deletedId: null },
      ),

    cloudlxCreateWebhook: (_, { input }, ctx) =>
      withUserErrors(
        async () => ({ webhook: await ctx.platforms.cloudlx.client.createWebhook({ url: input.url, active: input.active ?? undefined }) }),
        { webhook: null },
      ),

    cloudlxUpdateWebhook: (_, { input }, ctx) =>
      withUserErrors(
        async () => ({
          webhook: await ctx.platforms.cloudlx.client.updateWebhook(numericId(input.platformId, 'platformId', 'cloudlx'), {
            url: input.url ?? undefined,
            active: input.active ?? undefined,
          }),
        }),
        { webhook: null },
      ),

    cloudlxDeleteWebhook: (_, { input }, ctx) =>
      withUserErrors(
        async () => {
          const id = numericId(input.platformId, 'platformId', 'cloudlx');
          await ctx.platforms.cloudlx.client.deleteWebhook(id);
          return { deletedId: toGlobalId('CloudLXWebhook', id) };
        },
        { deletedId: null },
      ),
  },
};
