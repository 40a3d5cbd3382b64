import { definePlatform } from '../../core/platform.js';
import { tagAll } from '../../core/graphql/ids.js';
import { CloudLXClient } from './client.js';
import { cloudlxConfigSchema } from './config.js';
import { createCloudLXLoaders, type CloudLXScope } from './loaders.js';
import { cloudlxResolvers } from './resolvers.js';
import { CloudLXSimulator } from './simulator.js';
import { cloudlxWebhooks } from './webhooks.js';

export const cloudlx = definePlatform({
  key: 'cloudlx',
  enumValue: 'CLOUDLX',
  title: 'CloudLX',
  schemaFiles: ['cloudlx.graphql'],
  resolvers: cloudlxResolvers,
  configSchema: cloudlxConfigSchema,
  isConfigured: (config) => Boolean(config.baseUrl),
  createClient(config, deps) {
    if (!config.baseUrl || !config.clientId || !config.clientSecret) {
      throw new Error('CloudLX needs CLOUDLX_BASE_URL, CLOUDLX_CLIENT_ID and CLOUDLX_CLIENT_SECRET (or none, for the simulator)');
    }
    return new CloudLXClient({ baseUrl: config.baseUrl, clientId: config.clientId, clientSecret: config.clientSecret }, deps);
  },
  createScope: (client: CloudLXClient): CloudLXScope => ({ client, loaders: createCloudLXLoaders(client) }),
  ping: async (client) => {
    await client.listRealms();
  },
  closeClient: (client) => client.close(),
  // API clients and webhooks: credentials that outlive the gateway, and where CloudLX sends its events.
  adminMutations: [
    'cloudlxCreateApiClient',
    'cloudlxUpdateApiClient',
    'cloudlxDeleteApiClient',
    'cloudlxCreateWebhook',
    'cloudlxUpdateWebhook',
    'cloudlxDeleteWebhook',
  ],
  nodes: {
    CloudLXCustomer: (scope, key) => scope.loaders.customerById.load(key),
    CloudLXApiClient: (scope, key) => scope.client.getApiClient(key),
    CloudLXWebhook: (scope, key) => scope.client.getWebhook(key),
    CloudLXRealm: async (scope, key) => (await scope.loaders.realms()).find((r) => String(r.id ?? r.name) === key) ?? null,
    CloudLXSubRealm: (scope, key) => scope.loaders.subRealmById(key),
    CloudLXService: async (scope, key) => (await scope.loaders.services()).find((s) => String(s.id) === key) ?? null,
  },
  unified: {
    customers: (scope) => scope.loaders.allCustomers().then(tagAll('CloudLXCustomer')),
    apiClients: (scope) => scope.loaders.apiClients().then(tagAll('CloudLXApiClient')),
    webhooks: (scope) => scope.loaders.webhooks().then(tagAll('CloudLXWebhook')),
  },
  webhooks: cloudlxWebhooks,
  simulator: {
    start: (options) => new CloudLXSimulator(options).start(),
    environment: async (simulator) => ({
      CLOUDLX_BASE_URL: simulator.config.baseUrl!,
      CLOUDLX_CLIENT_ID: simulator.config.clientId!,
      CLOUDLX_CLIENT_SECRET: simulator.config.clientSecret!,
      // What it signs its webhooks with: a webhook created through the API is delivered, signed with it.
      ...(simulator instanceof CloudLXSimulator ? { CLOUDLX_WEBHOOK_SECRETS: simulator.signingSecret } : {}),
    }),
  },
});

export type { CloudLXScope };
