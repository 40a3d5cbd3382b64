import type { Resolvers } from '../../__generated__/resolvers-types.js';
import type { PlatformContext } from '../../context.js';
import type { ExotelScope } from './loaders.js';
import { connectionFromArray, connectionFromKeysetPage, keysetFromCursor, pageSize } from '../../core/graphql/connection.js';
import { toGlobalId } from '../../core/graphql/ids.js';
import { withUserErrors, type UserErrorShape } from '../../core/graphql/mutations.js';
import { userKey } from './loaders.js';
import type { ExotelRegisterUserBody, ExotelUserPage } from './types.js';
import { orNull } from '../../core/graphql/nullable.js';

/** Exotel's field names (as its 400s name them) → our input field names. */
const CUSTOMER_FIELDS = { CustomerName: 'name', Email: 'email' };
const APP_FIELDS = {
  AppName: 'name',
  ExotelAccountSid: 'exotelAccountSid',
  ExotelApiKey: 'exotelApiKey',
  ExotelApiToken: 'exotelApiToken',
  ExotelDomain: 'exotelDomain',
  IsActive: 'isActive',
};
const USER_FIELDS: Record<string, string> = {
  AppUserId: 'appUserId',
  AppUsername: 'appUsername',
  Email: 'email',
  ExotelAccountSid: 'exotelAccountSid',
  ExotelUserName: 'exotelUserName',
  AgentNumber: 'agentNumber',
  VirtualNumber: 'virtualNumber',
};

/** `last_value` from the start (Exotel's documented default). */
const USERS_START = '0';

/** Exotel writes Go's zero time ("0001-01-01T00:00:00Z") for a date it does not have. */
function exotelTime(value: string | null | undefined): string | null {
  return !value || value.startsWith('0001-01-01') ? null : value;
}

function nextValue(page: ExotelUserPage): string | null {
  const next = page.LastEvaluatedValue;
  return next === undefined || next === null || String(next) === '' ? null : String(next);
}

/** A field error on the nth user (`[1].VirtualNumber`) points at `input.users.1.virtualNumber`. */
function userErrorPaths(errors: UserErrorShape[]): UserErrorShape[] {
  return errors.map((error) => {
    const name = error.field?.[1];
    const match = name ? /^\[(\d+)\]\.(\w+)$/.exec(name) : null;
    if (!match) return error;
    return { ...error, field: ['input', 'users', match[1]!, USER_FIELDS[match[2]!] ?? match[2]!] };
  });
}

type ExotelContext = PlatformContext<'exotel', ExotelScope>;

export const exotelResolvers: Resolvers<ExotelContext> = {
  Query: {
    exotel: () => ({ namespace: 'exotel' }),
  },

  ExotelQuery: {
    customers: async (_, args, ctx) => connectionFromArray(await ctx.platforms.exotel.loaders.customers(), args),
    customer: async (_, { platformId }, ctx) => {
      const { client, loaders } = ctx.platforms.exotel;
      return (await client.hasCustomerCredential(platformId)) ? orNull(loaders.customerById.load(platformId)) : null;
    },
    apps: async (_, args, ctx) => connectionFromArray(await ctx.platforms.exotel.loaders.apps(), args),
    app: (_, { platformId }, ctx) => orNull(ctx.platforms.exotel.loaders.appById.load(platformId)),
    user: (_, { appPlatformId, appUserId }, ctx) => orNull(ctx.platforms.exotel.loaders.userById.load(userKey(appPlatformId, appUserId))),
  },

  ExotelCustomer: {
    id: (c) => toGlobalId('ExotelCustomer', c.CustomerID),
    platformId: (c) => c.CustomerID,
    platform: () => 'EXOTEL',
    name: (c) => c.CustomerName,
    email: (c) => c.Email,
    setting: (c) => c.CustomerSetting ?? null,
    createdAt: (c) => exotelTime(c.CreatedAt),
    updatedAt: (c) => exotelTime(c.UpdatedAt),
    apps: async (c, args, ctx) => connectionFromArray(await ctx.platforms.exotel.loaders.appsOfCustomer.load(c.CustomerID), args),
  },

  ExotelApp: {
    id: (a) => toGlobalId('ExotelApp', a.AppID),
    platformId: (a) => a.AppID,
    platform: () => 'EXOTEL',
    name: (a) => a.AppName,
    customerPlatformId: (a) => a.CustomerID,
    customer: async (a, _, ctx) => {
      const { client, loaders } = ctx.platforms.exotel;
      return (await client.hasCustomerCredential(a.CustomerID)) ? orNull(loaders.customerById.load(a.CustomerID)) : null;
    },
    exotelAccountSid: (a) => a.ExotelAccountSid,
    exotelDomain: (a) => a.ExotelDomain,
    isActive: (a) => a.IsActive,
    createdAt: (a) => exotelTime(a.CreatedAt),
    updatedAt: (a) => exotelTime(a.UpdatedAt),
    users: async (a, args, ctx) => {
      const position = keysetFromCursor(args.after, USERS_START);
      const size = pageSize(args.first);
      // The page is re-read from its keyset value, so a cursor inside a page costs `skip` extra users, never extra requests.
      const page = await ctx.platforms.exotel.client.listUsers(a.AppID, { lastValue: position.after, pageSize: Math.max(1, position.skip + size) });
      return connectionFromKeysetPage(page.Users, position, size, nextValue(page), USERS_START);
    },
    user: (a, { appUserId }, ctx) => orNull(ctx.platforms.exotel.loaders.userById.load(userKey(a.AppID, appUserId))),
  },

  ExotelUser: {
    id: (u) => toGlobalId('ExotelUser', userKey(u.AppID, u.AppUserId)),
    platformId: (u) => u.AppUserId,
    appPlatformId: (u) => u.AppID,
    app: (u, _, ctx) => orNull(ctx.platforms.exotel.loaders.appById.load(u.AppID)),
    appUsername: (u) => u.AppUsername,
    email: (u) => u.Email,
    exotelAccountSid: (u) => u.ExotelAccountSid,
    exotelUserId: (u) => u.ExotelUserId || null,
    exotelUserName: (u) => u.ExotelUserName,
    agentNumber: (u) => u.AgentNumber || null,
    virtualNumber: (u) => u.VirtualNumber || null,
    role: (u) => u.Role || null,
    sipId: (u) => u.SipId || null,
    phoneDeviceId: (u) => u.PhoneDeviceID || null,
    sipDeviceId: (u) => u.SipDeviceID || null,
    activeDeviceId: (u) => u.ActiveDeviceId || null,
    outboundActive: (u) => u.OutboundActive,
    isActive: (u) => u.IsActive,
    detail: (u) => u.UserDetail ?? null,
    createdAt: (u) => exotelTime(u.CreatedAt),
    updatedAt: (u) => exotelTime(u.UpdatedAt),
  },

  Mutation: {
    exotelCreateCustomer: (_, { input }, ctx) =>
      withUserErrors(
        async () => {
          const created = await ctx.platforms.exotel.client.createCustomer({ CustomerName: input.name, Email: input.email });
          // The secret leaves through this payload field only; the record itself never carries it further.
          const { CustomerSecret: customerSecret, ...customer } = created;
          return { customer, customerSecret };
        },
        { customer: null, customerSecret: null },
        CUSTOMER_FIELDS,
      ),

    exotelCreateApp: (_, { input }, ctx) =>
      withUserErrors(
        async () => {
          const created = await ctx.platforms.exotel.client.createApp({
            AppName: input.name,
            ExotelAccountSid: input.exotelAccountSid,
            ExotelApiKey: input.exotelApiKey,
            ExotelApiToken: input.exotelApiToken,
            ExotelDomain: input.exotelDomain,
            IsActive: input.isActive,
          });
          const { AppSecret: appSecret, ExotelApiKey: exotelApiKey, ExotelApiToken: exotelApiToken, ...app } = created;
          return { app, appSecret, exotelApiKey: exotelApiKey ?? null, exotelApiToken: exotelApiToken ?? null };
        },
        { app: null, appSecret: null, exotelApiKey: null, exotelApiToken: null },
        APP_FIELDS,
      ),

    exotelDeleteApp: (_, { input }, ctx) =>
      withUserErrors(
        async () => {
          await ctx.platforms.exotel.client.deleteApp(input.platformId);
          return { deletedId: toGlobalId('ExotelApp', input.platformId) };
        },
        { deletedId: null },
      ),

    exotelRegisterUsers: async (_, { input }, ctx) => {
      const result = await withUserErrors(
        async () => {
          const body = input.users.map(
            (u): ExotelRegisterUserBody => ({
              AppUserId: u.appUserId,
              AppUsername: u.appUsername,
              Email: u.email,
              ExotelAccountSid: u.exotelAccountSid,
              ExotelUserName: u.exotelUserName,
              ...(u.agentNumber ? { AgentNumber: u.agentNumber } : {}),
              VirtualNumber: u.virtualNumber,
            }),
          );
          return { users: await ctx.platforms.exotel.client.registerUsers(input.appPlatformId, body) };
        },
        { users: null },
      );
      return { ...result, userErrors: userErrorPaths(result.userErrors) };
    },
  },
};
