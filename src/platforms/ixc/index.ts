import { definePlatform } from '../../core/platform.js';
import { tagType } from '../../core/graphql/ids.js';
import { createPublicKey } from 'node:crypto';
import { join, resolve } from 'node:path';
import { IXC_EMBEDDED_KEY_FILE, IxcClient, loadOrCreateEmbeddedKey, type IxcKeySource } from './client.js';
import { ixcConfigSchema } from './config.js';
import { createIxcLoaders, type IxcScope } from './loaders.js';
import { ixcResolvers } from './resolvers.js';
import { IxcSimulator } from './simulator.js';
import { ixcWebhooks } from './webhooks.js';

export const ixc = definePlatform({
  key: 'ixc',
  enumValue: 'IXC',
  title: 'IXC ACS',
  schemaFiles: ['ixc.graphql'],
  resolvers: ixcResolvers,
  configSchema: ixcConfigSchema,
  isConfigured: (config) => Boolean(config.baseUrl),
  createClient(config, deps, simulator?: IxcSimulator) {
    if (!config.baseUrl || !config.apiClientId) {
      throw new Error('IXC ACS needs IXC_BASE_URL, IXC_API_CLIENT_ID and IXC_PRIVATE_KEY_FILE or IXC_PRIVATE_KEY (or none, for the simulator)');
    }
    let key: IxcKeySource;
    if (config.privateKeyPem) key = { kind: 'configured', privateKeyPem: config.privateKeyPem };
    // The embedded simulator trusts the key the gateway generates, as an operator pastes its public half into the ACS (seed 001).
    else if (simulator) key = { kind: 'embedded', dataDir: deps.dataDir, registerPublicKey: async (pem) => simulator.registerPublicKeySync(pem) };
    else throw new Error('IXC ACS needs IXC_PRIVATE_KEY_FILE or IXC_PRIVATE_KEY: the private key of the API client whose public key IXC ACS holds');
    return new IxcClient({ baseUrl: config.baseUrl, apiClientId: config.apiClientId, key, requestsPerMinute: config.requestsPerMinute }, deps);
  },
  createScope: (client: IxcClient): IxcScope => ({ client, loaders: createIxcLoaders(client) }),
  ping: async (client) => {
    await client.getOperation('00000000-0000-0000-0000-000000000000').catch((error: { code?: string }) => {
      // Any answer proves the ACS and the credentials work; "no such operation" is the expected one.
      if (error.code !== 'NOT_FOUND') throw error;
    });
  },
  closeClient: (client) => client.close(),
  // API clients carry the keys, permissions, blocked flag and webhook URI of everything that calls the ACS (the gateway's own included).
  adminMutations: ['ixcCreateApiClient', 'ixcUpdateApiClient', 'ixcDeleteApiClient'],
  nodes: {
    IxcDevice: (scope, key) => scope.loaders.deviceBySerial.load(key),
    IxcApiClient: (scope, key) => scope.loaders.apiClientById.load(key),
    IxcWebhook: async (scope, key) => {
      const apiClient = await scope.loaders.apiClientById.load(key);
      return apiClient.webhookUri ? { apiClient } : null;
    },
    IxcWifiNetwork: (scope, key) => {
      const slash = key.lastIndexOf('/');
      return slash > 0 ? scope.loaders.wifiNetwork(key.slice(0, slash), key.slice(slash + 1)) : Promise.resolve(null);
    },
    IxcOperation: (scope, key) => scope.client.getOperation(key),
  },
  unified: {
    apiClients: (scope) => scope.loaders.apiClients().then((list) => list.map((a) => tagType(a, 'IxcApiClient'))),
    webhooks: (scope) => scope.loaders.webhooks(),
  },
  webhooks: ixcWebhooks,
  simulator: {
    start: (options) => new IxcSimulator(options).start(),
    async environment(simulator, dataDir) {
      // As an operator would: make a key pair, paste its public half into the ACS's API client.
      const file = join(dataDir, IXC_EMBEDDED_KEY_FILE);
      const privateKeyPem = await loadOrCreateEmbeddedKey(file);
      simulator.registerPublicKeySync(createPublicKey(privateKeyPem).export({ type: 'spki', format: 'pem' }).toString());
      return {
        IXC_BASE_URL: simulator.config.baseUrl!,
        IXC_API_CLIENT_ID: simulator.config.apiClientId!,
        IXC_PRIVATE_KEY_FILE: resolve(file),
        // What it signs its webhooks with; point an API client's webhook URI at the gateway (ixcUpdateApiClient) to receive them.
        IXC_WEBHOOK_SECRETS: simulator.signingSecret,
      };
    },
  },
});

export type { IxcScope };
