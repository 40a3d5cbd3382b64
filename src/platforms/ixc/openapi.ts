import { IXC_PATHS } from './client.js';
import { IXC_MAX_TOKEN_EXPIRATION_SECONDS, IXC_PERMISSIONS, IXC_WEBHOOK_EVENTS } from './types.js';

/**
 * The IXC ACS contract (UPSTREAMS.md §3, seed 001) as an OpenAPI 3 document,
 * served by the simulator at `/openapi.json`: for people writing their own
 * client, and for tools that build one from it (the general gateway Switchboard
 * is benchmarked against composes it; see README, "Performance"). Paths and
 * shapes the README lists as assumed are described as the simulator answers them.
 */
export function ixcOpenApi(serverUrl: string): Record<string, unknown> {
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const json = (schema: object, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
  const errors = {
    '400': json(ref('Error'), 'A malformed query'),
    '401': json(ref('Error'), 'A missing, unknown or expired access token'),
    '403': json(ref('Error'), 'The API client is blocked or lacks the permission'),
    '404': json(ref('Error'), 'No such record'),
    '422': json(ref('Error'), 'The body was refused, field by field'),
    '429': json(ref('Error'), "Over the API client's requests per minute or per day; see Retry-After"),
  };
  const body = (schema: object) => ({ required: true, content: { 'application/json': { schema } } });
  const serial = { name: 'serial', in: 'path', required: true, schema: { type: 'string' } };
  const clientId = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
  const nullable = (type: string) => ({ type, nullable: true });
  const acknowledged = { '200': json(ref('Operation'), 'Accepted: the operation, pending; its outcome arrives as a webhook with the same protocol'), '409': json(ref('Error'), 'The device is still busy'), ...errors };

  return {
    openapi: '3.0.3',
    info: {
      title: 'IXC ACS API',
      version: 'v1',
      description:
        `TR-069 management of customer routers. Authenticate by signing a JWT with ES256 (iss = your API client id, iat, exp) with the API client's private key, ` +
        `exchange it at \`POST ${IXC_PATHS.token}\`, and send \`Authorization: Bearer <access_token>\`. Actions on a device answer at once with a protocol number; ` +
        'their outcome arrives as a webhook carrying the same protocol.',
    },
    servers: [{ url: serverUrl }],
    security: [{ bearer: [] }],
    paths: {
      [IXC_PATHS.token]: {
        post: {
          operationId: 'createAccessToken',
          summary: 'An access token for a signed JWT (Authorization: Bearer <JWT>)',
          security: [{ signedJwt: [] }],
          responses: { '200': json(ref('Token')), '401': errors['401'], '403': errors['403'] },
        },
      },
      [IXC_PATHS.deviceSearch]: {
        get: {
          operationId: 'searchDevices',
          summary: 'Devices, optionally those whose column contains the search text (case-insensitive)',
          parameters: [
            { name: 'search[column]', in: 'query', schema: { type: 'string', enum: ['serialNumber', 'connection.pppoeLogin'] } },
            { name: 'search[search]', in: 'query', schema: { type: 'string' } },
            { name: 'page', in: 'query', schema: { type: 'integer', minimum: 1, default: 1 } },
            { name: 'rp', in: 'query', description: 'Rows per page', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
          ],
          responses: { '200': json(ref('DevicePage')), ...errors },
        },
      },
      [IXC_PATHS.deviceParameters]: {
        get: {
          operationId: 'getDeviceParameters',
          summary: 'TR-069 parameters of up to 50 devices',
          parameters: [{ name: 'serialNumbers', in: 'query', required: true, description: 'Comma-separated serial numbers', schema: { type: 'string' } }],
          responses: {
            '200': json({ type: 'object', required: ['registers'], properties: { registers: { type: 'array', items: ref('DeviceParameters') } } }),
            ...errors,
          },
        },
      },
      [IXC_PATHS.deviceParametersUpdate]: {
        post: {
          operationId: 'updateDeviceParameters',
          requestBody: body({
            type: 'object',
            required: ['serialNumber', 'parameters'],
            properties: {
              serialNumber: { type: 'string' },
              parameters: { type: 'array', items: { type: 'object', required: ['name', 'value'], properties: { name: { type: 'string' }, value: { type: 'string' } } } },
            },
          }),
          responses: acknowledged,
        },
      },
      [IXC_PATHS.reboot]: { post: { operationId: 'rebootDevice', requestBody: body(ref('SerialNumber')), responses: acknowledged } },
      [IXC_PATHS.factoryReset]: { post: { operationId: 'factoryResetDevice', requestBody: body(ref('SerialNumber')), responses: acknowledged } },
      '/api/v1/devices/{serial}': { get: { operationId: 'getDevice', parameters: [serial], responses: { '200': json(ref('Device')), ...errors } } },
      '/api/v1/devices/{serial}/wifi': {
        get: {
          operationId: 'getDeviceWifi',
          parameters: [serial],
          responses: {
            '200': json({ type: 'object', properties: { '2.4': { type: 'array', items: ref('WifiNetwork') }, '5.8': { type: 'array', items: ref('WifiNetwork') } } }, 'Networks by band'),
            ...errors,
          },
        },
      },
      '/api/v1/devices/{serial}/wifi/{id}': {
        patch: {
          operationId: 'updateDeviceWifi',
          parameters: [serial, { name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
          requestBody: body({
            type: 'object',
            properties: { ssid: { type: 'string', minLength: 1, maxLength: 32 }, password: { type: 'string', minLength: 8, maxLength: 63, writeOnly: true }, enable: { type: 'boolean' } },
          }),
          responses: { '200': json(ref('WifiNetwork')), ...errors },
        },
      },
      '/api/v1/devices/{serial}/diagnostics': {
        post: {
          operationId: 'runDiagnostic',
          parameters: [serial],
          requestBody: body({
            type: 'object',
            required: ['type'],
            properties: { type: { type: 'string', enum: ['ping', 'traceroute', 'speedtest'] }, target: { type: 'string', description: 'Host name or IP; required for ping and traceroute' } },
          }),
          responses: acknowledged,
        },
      },
      '/api/v1/operations/{protocol}': {
        get: {
          operationId: 'getOperation',
          parameters: [{ name: 'protocol', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
          responses: { '200': json(ref('Operation')), ...errors },
        },
      },
      [IXC_PATHS.apiClients]: {
        get: {
          operationId: 'listApiClients',
          responses: { '200': json({ type: 'object', required: ['registers'], properties: { registers: { type: 'array', items: ref('ApiClient') } } }), ...errors },
        },
        post: { operationId: 'createApiClient', requestBody: body(ref('ApiClientInput')), responses: { '201': json(ref('ApiClient'), 'Created'), ...errors } },
      },
      '/api/v1/api-clients/{id}': {
        get: { operationId: 'getApiClient', parameters: [clientId], responses: { '200': json(ref('ApiClient')), ...errors } },
        patch: { operationId: 'updateApiClient', parameters: [clientId], requestBody: body(ref('ApiClientInput')), responses: { '200': json(ref('ApiClient')), ...errors } },
        delete: { operationId: 'deleteApiClient', parameters: [clientId], responses: { '204': { description: 'Deleted' }, ...errors } },
      },
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: `The access_token of POST ${IXC_PATHS.token}` },
        signedJwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: "A JWT signed ES256 with the API client's private key: iss = API client id, iat, exp" },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['message'],
          properties: { message: { type: 'string' }, errors: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } } },
        },
        Token: { type: 'object', required: ['access_token', 'expires_at'], properties: { access_token: { type: 'string' }, expires_at: { type: 'string', format: 'date-time' } } },
        SerialNumber: { type: 'object', required: ['serialNumber'], properties: { serialNumber: { type: 'string' } } },
        Device: {
          type: 'object',
          required: ['serialNumber', 'online', 'connection', 'deviceInfo'],
          properties: {
            serialNumber: { type: 'string' },
            manufacturer: nullable('string'),
            model: nullable('string'),
            firmwareVersion: nullable('string'),
            online: { type: 'boolean' },
            lastInform: { type: 'string', format: 'date-time', nullable: true },
            connection: { type: 'object', properties: { pppoeLogin: nullable('string'), ipv4: nullable('string') } },
            deviceInfo: {
              type: 'object',
              properties: { uptime: { ...nullable('integer'), description: 'Seconds' }, rx: { ...nullable('integer'), description: 'Bytes' }, tx: { ...nullable('integer'), description: 'Bytes' }, ipv6: nullable('string') },
            },
          },
        },
        DevicePage: { type: 'object', required: ['registers'], properties: { registers: { type: 'array', items: ref('Device') }, total: { type: 'integer' } } },
        WifiNetwork: {
          type: 'object',
          required: ['id', 'enable', 'ssid'],
          properties: {
            id: { type: 'integer' },
            enable: { type: 'boolean' },
            ssid: { type: 'string' },
            password: { type: 'string', format: 'password', nullable: true, description: 'IXC returns it in reads: treat it as a secret' },
            channel: nullable('integer'),
            security: nullable('string'),
          },
        },
        DeviceParameters: {
          type: 'object',
          required: ['serialNumber', 'parameters'],
          properties: {
            serialNumber: { type: 'string' },
            parameters: {
              type: 'array',
              items: { type: 'object', required: ['name', 'value', 'type', 'writable'], properties: { name: { type: 'string' }, value: { type: 'string' }, type: { type: 'string' }, writable: { type: 'boolean' } } },
            },
          },
        },
        Operation: {
          type: 'object',
          required: ['protocol', 'type', 'serialNumber', 'status', 'requestedAt'],
          properties: {
            protocol: { type: 'string', format: 'uuid' },
            type: { type: 'string', enum: ['reboot', 'factory_reset', 'parameters_update', 'diagnostic'] },
            serialNumber: { type: 'string' },
            status: { type: 'string', enum: ['pending', 'success', 'failure', 'timeout'] },
            requestedAt: { type: 'string', format: 'date-time' },
            finishedAt: { type: 'string', format: 'date-time', nullable: true },
            result: { type: 'object', nullable: true, additionalProperties: true },
          },
        },
        ApiClient: {
          type: 'object',
          required: ['id', 'name', 'type'],
          properties: {
            id: { type: 'string' },
            name: { type: 'string' },
            type: { type: 'string', enum: ['generic', 'ixc_provider'] },
            publicKey: { ...nullable('string'), description: 'PEM (SPKI) ECDSA P-256 public key' },
            tokenExpiration: { type: 'integer', maximum: IXC_MAX_TOKEN_EXPIRATION_SECONDS, description: 'Seconds' },
            requestsPerMinute: { type: 'integer' },
            requestsPerDay: { type: 'integer' },
            blocked: { type: 'boolean' },
            webhookActive: { type: 'boolean' },
            webhookUri: nullable('string'),
            invalidCertificateAllowed: { type: 'boolean' },
            webhookEvents: { type: 'array', items: { type: 'string', enum: [...IXC_WEBHOOK_EVENTS] } },
            permissions: { type: 'array', items: { type: 'string', enum: [...IXC_PERMISSIONS] } },
            createdAt: { type: 'string', format: 'date-time', nullable: true },
          },
        },
        ApiClientInput: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            type: { type: 'string', enum: ['generic', 'ixc_provider'] },
            publicKey: { type: 'string' },
            tokenExpiration: { type: 'integer', maximum: IXC_MAX_TOKEN_EXPIRATION_SECONDS },
            requestsPerMinute: { type: 'integer' },
            requestsPerDay: { type: 'integer' },
            blocked: { type: 'boolean' },
            webhookActive: { type: 'boolean' },
            webhookUri: { type: 'string' },
            invalidCertificateAllowed: { type: 'boolean' },
            webhookEvents: { type: 'array', items: { type: 'string', enum: [...IXC_WEBHOOK_EVENTS] } },
            permissions: { type: 'array', items: { type: 'string', enum: [...IXC_PERMISSIONS] } },
          },
        },
      },
    },
  };
}
