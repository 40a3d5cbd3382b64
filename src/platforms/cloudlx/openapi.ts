import { CLOUDLX_MEDIA_TYPE } from './client.js';

/**
 * The CloudLX contract (UPSTREAMS.md §1) as an OpenAPI 3 document, served by the
 * simulator at `/openapi.json`: for people writing their own client against
 * CloudLX or the simulator, and for tools that build one from it (the general
 * gateway Switchboard is benchmarked against composes it; see README, "Performance").
 * What CloudLX documents only in its portal (realms, sub-realms, API clients,
 * webhooks, the error body) is marked assumed here as in the README.
 */
export function cloudlxOpenApi(serverUrl: string): Record<string, unknown> {
  const json = (schema: object, description = 'OK') => ({ description, content: { [CLOUDLX_MEDIA_TYPE]: { schema } } });
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const errors = {
    '401': json(ref('Error'), 'The access token is missing, unknown or expired'),
    '404': json(ref('Error'), 'No such record'),
    '406': json(ref('Error'), `The Accept header does not ask for ${CLOUDLX_MEDIA_TYPE}`),
    '422': json(ref('Error'), 'The body was refused, field by field (assumed error body)'),
  };
  const body = (name: string) => ({ required: true, content: { 'application/json': { schema: ref(name) } } });
  const id = { name: 'id', in: 'path', required: true, schema: { type: 'integer' } };
  const list = (operationId: string, summary: string, key: string, item: string, extra: object = {}) => ({
    get: { operationId, summary, ...extra, responses: { '200': json({ type: 'object', required: [key], properties: { [key]: { type: 'array', items: ref(item) } } }), ...errors } },
  });
  const nullable = (type: string) => ({ type, nullable: true });

  return {
    openapi: '3.0.3',
    info: {
      title: 'CloudLX API',
      version: 'v1',
      description:
        `CloudLX (Epsilon) as Switchboard's simulator serves it. Every request sends \`Accept: ${CLOUDLX_MEDIA_TYPE}\`. ` +
        'Authenticate with OAuth client credentials (`POST /api/oauth2/access-token`) and send `Authorization: Bearer <access_token>`. ' +
        'Realms, sub-realms, API clients, webhooks and the error body are assumed: CloudLX documents them only in its portal.',
    },
    servers: [{ url: serverUrl }],
    security: [{ bearer: [] }],
    paths: {
      '/api/oauth2/access-token': {
        post: {
          operationId: 'createAccessToken',
          summary: 'An access token (3600 s) and a refresh token (7 days) for an API application client',
          security: [],
          requestBody: {
            required: true,
            content: {
              'application/x-www-form-urlencoded': {
                schema: {
                  type: 'object',
                  required: ['grant_type', 'client_id', 'client_secret'],
                  properties: { grant_type: { type: 'string', enum: ['client_credentials'] }, client_id: { type: 'string' }, client_secret: { type: 'string', format: 'password' } },
                },
              },
            },
          },
          responses: { '200': json(ref('Token')), '401': errors['401'] },
        },
      },
      '/api/oauth2/refresh-token': {
        post: {
          operationId: 'refreshAccessToken',
          summary: 'A new access token for a refresh token (each refresh token is used once)',
          security: [],
          requestBody: {
            required: true,
            content: {
              'application/x-www-form-urlencoded': {
                schema: {
                  type: 'object',
                  required: ['grant_type', 'refresh_token', 'client_id', 'client_secret'],
                  properties: {
                    grant_type: { type: 'string', enum: ['refresh_token'] },
                    refresh_token: { type: 'string' },
                    client_id: { type: 'string' },
                    client_secret: { type: 'string', format: 'password' },
                  },
                },
              },
            },
          },
          responses: { '200': json(ref('Token')), '401': errors['401'] },
        },
      },
      '/api/customers': {
        ...list('listCustomers', 'Every customer (CloudLX documents no paging)', 'customers', 'Customer'),
        post: {
          operationId: 'createCustomer',
          summary: 'Creates a customer and its first user; answers 200 with the customer',
          requestBody: body('CreateCustomer'),
          responses: { '200': json(ref('Customer')), ...errors },
        },
      },
      '/api/customers/{id}': {
        get: { operationId: 'getCustomer', parameters: [id], responses: { '200': json(ref('Customer')), ...errors } },
        patch: { operationId: 'updateCustomer', parameters: [id], requestBody: body('UpdateCustomer'), responses: { '200': json(ref('Customer')), ...errors } },
      },
      '/api/realms': list('listRealms', 'Every realm (assumed path)', 'realms', 'Realm'),
      '/api/sub_realms': list('listSubRealms', 'Every sub-realm, with the realm it belongs to (assumed path)', 'sub_realms', 'SubRealm'),
      '/api/services': list('listServices', 'Every connectivity service', 'services', 'Service'),
      '/api/api-clients': {
        ...list('listApiClients', 'API application clients (assumed path)', 'api_clients', 'ApiClient'),
        post: {
          operationId: 'createApiClient',
          summary: 'Creates an API client; the answer is the only one that carries client_secret',
          requestBody: body('ApiClientInput'),
          responses: { '200': json(ref('ApiClient')), ...errors },
        },
      },
      '/api/api-clients/{id}': {
        get: { operationId: 'getApiClient', parameters: [id], responses: { '200': json(ref('ApiClient')), ...errors } },
        patch: { operationId: 'updateApiClient', parameters: [id], requestBody: body('ApiClientInput'), responses: { '200': json(ref('ApiClient')), ...errors } },
        delete: { operationId: 'deleteApiClient', parameters: [id], responses: { '204': { description: 'Deleted' }, ...errors } },
      },
      '/api/webhooks': {
        ...list('listWebhooks', 'Webhooks (assumed path)', 'webhooks', 'Webhook'),
        post: { operationId: 'createWebhook', requestBody: body('WebhookInput'), responses: { '200': json(ref('Webhook')), ...errors } },
      },
      '/api/webhooks/{id}': {
        get: { operationId: 'getWebhook', parameters: [id], responses: { '200': json(ref('Webhook')), ...errors } },
        patch: { operationId: 'updateWebhook', parameters: [id], requestBody: body('WebhookInput'), responses: { '200': json(ref('Webhook')), ...errors } },
        delete: { operationId: 'deleteWebhook', parameters: [id], responses: { '204': { description: 'Deleted' }, ...errors } },
      },
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'The access_token of POST /api/oauth2/access-token' },
      },
      schemas: {
        Token: {
          type: 'object',
          required: ['access_token', 'token_type', 'expires_in', 'refresh_token'],
          properties: { access_token: { type: 'string' }, token_type: { type: 'string' }, expires_in: { type: 'integer' }, refresh_token: { type: 'string' } },
        },
        Error: {
          type: 'object',
          required: ['message'],
          properties: { message: { type: 'string' }, errors: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } } },
        },
        Currency: { type: 'object', required: ['name', 'iso_2', 'iso_3'], properties: { name: { type: 'string' }, iso_2: { type: 'string' }, iso_3: { type: 'string' } } },
        Country: { type: 'object', required: ['iso_2', 'name'], properties: { iso_2: { type: 'string' }, name: { type: 'string' } } },
        Realm: {
          type: 'object',
          description: 'A realm. Inside a customer it carries name and description only, no id (seed 002).',
          required: ['name'],
          properties: { id: { type: 'integer' }, name: { type: 'string' }, description: nullable('string') },
        },
        SubRealm: {
          type: 'object',
          description: 'A sub-realm. The Sub-Realms API gives realm_id; inside a customer it gives has_access instead.',
          required: ['id', 'name'],
          properties: { id: { type: 'integer' }, name: { type: 'string' }, description: nullable('string'), realm_id: { type: 'integer' }, has_access: { type: 'boolean' } },
        },
        Customer: {
          type: 'object',
          required: ['id', 'name', 'realms', 'sub_realms'],
          properties: {
            id: { type: 'integer' },
            name: { type: 'string' },
            currency: { ...ref('Currency'), nullable: true },
            country: { ...ref('Country'), nullable: true },
            realms: { type: 'array', items: ref('Realm') },
            sub_realms: { type: 'array', items: ref('SubRealm') },
          },
        },
        CreateCustomer: {
          type: 'object',
          required: ['name', 'currency_iso', 'country_iso', 'realms', 'email', 'first_name', 'last_name', 'role_group'],
          properties: {
            name: { type: 'string' },
            currency_iso: { type: 'string', description: 'ISO 4217, e.g. GBP' },
            country_iso: { type: 'string', description: 'ISO 3166 alpha-2, e.g. GB' },
            realms: { type: 'array', items: { type: 'integer' } },
            shown_sub_realms: { type: 'array', items: { type: 'integer' } },
            enabled_sub_realms: { type: 'array', items: { type: 'integer' }, description: 'A subset of shown_sub_realms' },
            email: { type: 'string', format: 'email' },
            first_name: { type: 'string' },
            last_name: { type: 'string' },
            role_group: { type: 'string' },
          },
        },
        UpdateCustomer: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            currency_iso: { type: 'string' },
            country_iso: { type: 'string' },
            realms: { type: 'array', items: { type: 'integer' } },
            shown_sub_realms: { type: 'array', items: { type: 'integer' } },
            enabled_sub_realms: { type: 'array', items: { type: 'integer' } },
          },
        },
        Port: {
          type: 'object',
          required: ['id'],
          properties: {
            id: { type: 'integer' },
            name: nullable('string'),
            index: nullable('integer'),
            switch: nullable('string'),
            slot: nullable('integer'),
            shelf: nullable('integer'),
          },
        },
        Service: {
          type: 'object',
          required: ['id', 'name', 'paused', 'expired'],
          properties: {
            id: { type: 'integer' },
            name: { type: 'string' },
            vlan: nullable('integer'),
            nni_vlan: nullable('integer'),
            created: nullable('string'),
            cancellation_date: nullable('string'),
            bandwidth: nullable('integer'),
            paused: { type: 'boolean' },
            expired: { type: 'boolean' },
            type: nullable('string'),
            port: { ...ref('Port'), nullable: true },
          },
        },
        ApiClient: {
          type: 'object',
          required: ['id', 'name', 'client_id'],
          properties: {
            id: { type: 'integer' },
            name: { type: 'string' },
            client_id: { type: 'string' },
            client_secret: { type: 'string', description: 'Only in the answer to a create' },
            created_at: nullable('string'),
          },
        },
        ApiClientInput: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
        Webhook: {
          type: 'object',
          required: ['id', 'url', 'active'],
          properties: { id: { type: 'integer' }, url: { type: 'string' }, active: { type: 'boolean' }, created_at: nullable('string') },
        },
        WebhookInput: { type: 'object', properties: { url: { type: 'string', format: 'uri' }, active: { type: 'boolean' } } },
      },
    },
  };
}
