import { definePlatform } from '../../core/platform.js';
import { tagAll } from '../../core/graphql/ids.js';
import { ExotelClient } from './client.js';
import { exotelConfigSchema } from './config.js';
import { createExotelLoaders, type ExotelScope } from './loaders.js';
import { exotelResolvers } from './resolvers.js';
import { ExotelSimulator } from './simulator.js';
import { exotelWatches } from './watch.js';

/**
 * Exotel documents no webhooks for its integrations core, so this module has no
 * `webhooks`: there is nothing real to normalize.
 */
export const exotel = definePlatform({
  key: 'exotel',
  enumValue: 'EXOTEL',
  title: 'Exotel',
  schemaFiles: ['exotel.graphql'],
  resolvers: exotelResolvers,
  configSchema: exotelConfigSchema,
  isConfigured: (config) => Boolean(config.baseUrl),
  createClient(config, deps) {
    if (!config.baseUrl || !config.customerId || !config.customerSecret) {
      throw new Error('Exotel needs EXOTEL_BASE_URL, EXOTEL_CUSTOMER_ID and EXOTEL_CUSTOMER_SECRET (or none, for the simulator)');
    }
    return new ExotelClient(
      { baseUrl: config.baseUrl, customerId: config.customerId, customerSecret: config.customerSecret, appSecrets: config.appSecrets ?? {} },
      deps,
    );
  },
  createScope: (client: ExotelClient): ExotelScope => ({ client, loaders: createExotelLoaders(client) }),
  ping: async (client) => {
    await client.getCustomer();
  },
  closeClient: (client) => client.close(),
  // A new customer comes with its CustomerSecret: a credential that outlives the gateway.
  adminMutations: ['exotelCreateCustomer'],
  nodes: {
    // A customer is readable only with its own secret; one Switchboard does not hold is, to it, not there.
    ExotelCustomer: async (scope, key) => ((await scope.client.hasCustomerCredential(key)) ? scope.loaders.customerById.load(key) : null),
    ExotelApp: (scope, key) => scope.loaders.appById.load(key),
    ExotelUser: (scope, key) => scope.loaders.userById.load(key),
  },
  unified: {
    customers: (scope) => scope.loaders.customers().then(tagAll('ExotelCustomer')),
    apps: (scope) => scope.loaders.apps().then(tagAll('ExotelApp')),
  },
  // No webhooks: app changes are seen by polling (src/core/events/watchers.ts).
  watches: exotelWatches,
  simulator: {
    start: (options) => new ExotelSimulator(options).start(),
    environment: async ({ config }) => ({
      EXOTEL_BASE_URL: config.baseUrl!,
      EXOTEL_CUSTOMER_ID: config.customerId!,
      EXOTEL_CUSTOMER_SECRET: config.customerSecret!,
      EXOTEL_APP_SECRETS: Object.entries(config.appSecrets ?? {})
        .map(([id, secret]) => `${id}:${secret}`)
        .join(','),
    }),
  },
});

export type { ExotelScope };
