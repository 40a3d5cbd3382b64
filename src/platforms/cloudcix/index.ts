import { definePlatform } from '../../core/platform.js';
import { tagType } from '../../core/graphql/ids.js';
import { CloudCIXClient, FORWARDED_TOKEN_HEADER } from './client.js';
import { cloudcixConfigSchema } from './config.js';
import { createCloudCIXLoaders, splitRecordKey } from './loaders.js';
import { cloudcixModel } from './model.js';
import { cloudcixResolvers, type CloudCIXScope } from './resolvers.js';
import { CloudCIXSimulator } from './simulator.js';
import { cloudcixWatches } from './watch.js';

const MEMBERS = cloudcixModel.byKey.get('Membership.member')!;
const APPS = cloudcixModel.byKey.get('AppManager.app')!;
const COUNTRIES = cloudcixModel.byKey.get('Membership.country')!;

/**
 * The services whose writes mint credentials or hand out access: API keys,
 * public keys and tokens, users (logins and their administrator flag), members
 * (which hold an api_key and a secret), and which members may use an app.
 * Their mutations need `admin` on top of `cloudcix:write`.
 */
const ADMIN_SERVICES = ['Membership.api_key', 'Membership.public_key', 'Membership.token', 'Membership.user', 'Membership.member', 'AppManager.app_member'];
const adminMutations = ADMIN_SERVICES.flatMap((key) => cloudcixModel.byKey.get(key)?.mutations.map((m) => m.field) ?? []);

/** `node(id)` for every service's type: the key holds the parent ids and the record's id (see globalKeyOf). */
const nodes = Object.fromEntries(
  cloudcixModel.services.map((model) => [
    model.typeName,
    (scope: CloudCIXScope, key: string) => {
      const { parents, id } = splitRecordKey(key);
      return id.startsWith('~') ? Promise.resolve(null) : scope.loaders.load(model, parents, id);
    },
  ]),
);

export const cloudcix = definePlatform({
  key: 'cloudcix',
  enumValue: 'CLOUDCIX',
  title: 'CloudCIX',
  schemaFiles: ['cloudcix.graphql'],
  resolvers: cloudcixResolvers,
  configSchema: cloudcixConfigSchema,
  isConfigured: (config) => Boolean(config.baseUrl),
  createClient(config, deps) {
    if (!config.baseUrl || !config.email || !config.password || !config.apiKey) {
      throw new Error('CloudCIX needs CLOUDCIX_EMAIL, CLOUDCIX_PASSWORD and CLOUDCIX_API_KEY (or none, for the simulator)');
    }
    return new CloudCIXClient(
      { baseUrl: config.baseUrl, email: config.email, password: config.password, apiKey: config.apiKey, requestsPerSecond: config.requestsPerSecond },
      deps,
    );
  },
  // A client's own token (header `x-cloudcix-token`) makes CloudCIX answer as that user, with that user's permissions.
  identityHeaders: [FORWARDED_TOKEN_HEADER],
  createScope: (client: CloudCIXClient, request): CloudCIXScope => {
    const api = client.as(request.headers[FORWARDED_TOKEN_HEADER]?.trim() || undefined);
    return { api, loaders: createCloudCIXLoaders(api) };
  },
  ping: async (client) => {
    await client.api.list(COUNTRIES.service, [], { page: 0, limit: 1 });
  },
  closeClient: (client) => client.close(),
  nodes,
  adminMutations,
  unified: {
    customers: async (scope) => (await scope.loaders.all(MEMBERS)).map((m) => tagType(m, MEMBERS.typeName)),
    apps: async (scope) => (await scope.loaders.all(APPS)).map((a) => tagType(a, APPS.typeName)),
  },
  // No webhooks in CloudCIX's reference: record changes are seen by polling (src/core/events/watchers.ts).
  watches: cloudcixWatches,
  simulator: {
    start: (options) => new CloudCIXSimulator(options).start(),
    environment: async ({ config }) => ({
      CLOUDCIX_BASE_URL: config.baseUrl!,
      CLOUDCIX_EMAIL: config.email!,
      CLOUDCIX_PASSWORD: config.password!,
      CLOUDCIX_API_KEY: config.apiKey!,
      CLOUDCIX_REQUESTS_PER_SECOND: String(config.requestsPerSecond),
    }),
  },
});

export type { CloudCIXScope };
