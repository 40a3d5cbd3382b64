/**
 * The Exotel integrations core contract (UPSTREAMS.md §2, seed 003) as an
 * OpenAPI 3 document, served by the simulator at `/openapi.json`: for people
 * writing their own client, and for tools that build one from it (the general
 * gateway Switchboard is benchmarked against composes it; see README, "Performance").
 * `serverUrl` is the API's base (`…/v2/integrations`). What the README lists as
 * assumed (error bodies, user paging, `GET /customer` without the secret) is
 * described as the simulator answers it.
 */
export function exotelOpenApi(serverUrl: string): Record<string, unknown> {
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  /** Every answer, success or failure, is the envelope; `Data` is what differs. */
  const envelope = (data: object, description = 'OK') => ({
    description,
    content: { 'application/json': { schema: { allOf: [ref('Envelope'), { type: 'object', properties: { Data: data } }] } } },
  });
  const failures = {
    '400': envelope({ nullable: true }, "Bad input: Error names the field the way Go's validator does"),
    '401': envelope({ nullable: true }, 'Bad entity id or secret, or a missing, expired or wrong-entity token'),
    '500': envelope({ nullable: true }, 'Exotel failed'),
  };
  const body = (schema: object) => ({ required: true, content: { 'application/json': { schema } } });
  const nullable = (type: string) => ({ type, nullable: true });

  return {
    openapi: '3.0.3',
    info: {
      title: 'Exotel integrations core',
      version: 'v2',
      description:
        'Customers, the apps a customer registers, and the users of each app. Get a token with `POST /token` and send it raw in ' +
        '`Authorization` (no `Bearer`): a customer token (Entity customer) lists and creates apps; an app token (Entity app) reads ' +
        'its app, deletes it, and manages its users. Tokens last 90 days.',
    },
    servers: [{ url: serverUrl }],
    security: [{ token: [] }],
    paths: {
      '/token': {
        post: {
          operationId: 'createToken',
          security: [],
          requestBody: body(ref('TokenRequest')),
          responses: { '200': envelope({ type: 'string', description: 'The token, to send raw in Authorization' }), ...failures },
        },
      },
      '/customer': {
        post: {
          operationId: 'createCustomer',
          summary: 'Creates a customer; the answer is the only one that carries CustomerSecret',
          security: [],
          requestBody: body(ref('CreateCustomer')),
          responses: { '200': envelope(ref('CreatedCustomer')), ...failures },
        },
        get: { operationId: 'getCustomer', summary: "The token's customer (customer token)", responses: { '200': envelope(ref('Customer')), ...failures } },
      },
      '/app': {
        get: {
          operationId: 'getApps',
          summary: 'entity=customer (customer token): every app of the customer; entity=app (app token): that app',
          parameters: [{ name: 'entity', in: 'query', required: true, schema: { type: 'string', enum: ['customer', 'app'] } }],
          responses: { '200': envelope({ oneOf: [{ type: 'array', items: ref('App') }, ref('App')] }), ...failures },
        },
        post: {
          operationId: 'createApp',
          summary: 'Registers an app under the customer (customer token); the answer is the only one with AppSecret, ExotelApiKey and ExotelApiToken',
          requestBody: body(ref('CreateApp')),
          responses: { '200': envelope(ref('CreatedApp')), ...failures },
        },
        delete: { operationId: 'deleteApp', summary: "Deletes the token's app (app token)", responses: { '200': envelope({ type: 'string' }), ...failures } },
      },
      '/usermapping': {
        get: {
          operationId: 'getUsers',
          summary: 'With user_id: one user; otherwise one keyset page of users (app token)',
          parameters: [
            { name: 'user_id', in: 'query', schema: { type: 'string' } },
            { name: 'last_value', in: 'query', schema: { type: 'string', default: '0' }, description: "The previous page's LastEvaluatedValue" },
            { name: 'page_size', in: 'query', schema: { type: 'integer', default: 20, minimum: 1 } },
          ],
          responses: { '200': envelope({ oneOf: [ref('UserPage'), ref('User')] }), '404': envelope({ nullable: true }, 'No user with that user_id'), ...failures },
        },
        post: {
          operationId: 'registerUsers',
          summary: 'Registers users of the app (app token); one bad user refuses the whole array',
          requestBody: body({ type: 'array', minItems: 1, items: ref('RegisterUser') }),
          responses: { '200': envelope({ type: 'array', items: ref('User') }), ...failures },
        },
      },
    },
    components: {
      securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'The token of POST /token, raw (no Bearer)' } },
      schemas: {
        Envelope: {
          type: 'object',
          required: ['RequestId', 'Status', 'Code', 'Error'],
          properties: {
            RequestId: { type: 'string', format: 'uuid' },
            Status: { type: 'string', enum: ['Success', 'Failure'] },
            Code: { type: 'integer' },
            Error: { type: 'string' },
          },
        },
        TokenRequest: {
          type: 'object',
          required: ['Id', 'Secret', 'Entity'],
          properties: { Id: { type: 'string' }, Secret: { type: 'string', format: 'password' }, Entity: { type: 'string', enum: ['customer', 'app'] } },
        },
        CreateCustomer: { type: 'object', required: ['CustomerName', 'Email'], properties: { CustomerName: { type: 'string' }, Email: { type: 'string', format: 'email' } } },
        Customer: {
          type: 'object',
          required: ['CustomerID', 'CustomerName', 'Email'],
          properties: {
            CustomerID: { type: 'string' },
            CustomerName: { type: 'string' },
            Email: { type: 'string' },
            CustomerSetting: { nullable: true },
            CreatedAt: nullable('string'),
            UpdatedAt: nullable('string'),
            DeletedAt: nullable('string'),
          },
        },
        CreatedCustomer: { allOf: [ref('Customer'), { type: 'object', required: ['CustomerSecret'], properties: { CustomerSecret: { type: 'string' } } }] },
        App: {
          type: 'object',
          required: ['AppID', 'CustomerID', 'AppName', 'ExotelAccountSid', 'ExotelDomain', 'IsActive'],
          properties: {
            AppID: { type: 'string' },
            CustomerID: { type: 'string' },
            AppName: { type: 'string' },
            ExotelAccountSid: { type: 'string' },
            ExotelDomain: { type: 'string' },
            IsActive: { type: 'boolean' },
            CreatedAt: nullable('string'),
            UpdatedAt: nullable('string'),
          },
        },
        CreateApp: {
          type: 'object',
          required: ['AppName', 'ExotelAccountSid', 'ExotelApiKey', 'ExotelApiToken', 'ExotelDomain', 'IsActive'],
          properties: {
            AppName: { type: 'string' },
            ExotelAccountSid: { type: 'string' },
            ExotelApiKey: { type: 'string' },
            ExotelApiToken: { type: 'string', format: 'password' },
            ExotelDomain: { type: 'string' },
            IsActive: { type: 'boolean' },
          },
        },
        CreatedApp: {
          allOf: [
            ref('App'),
            { type: 'object', required: ['AppSecret', 'ExotelApiKey', 'ExotelApiToken'], properties: { AppSecret: { type: 'string' }, ExotelApiKey: { type: 'string' }, ExotelApiToken: { type: 'string' } } },
          ],
        },
        RegisterUser: {
          type: 'object',
          required: ['AppUserId', 'AppUsername', 'Email', 'ExotelAccountSid', 'ExotelUserName', 'VirtualNumber'],
          properties: {
            AppUserId: { type: 'string' },
            AppUsername: { type: 'string' },
            Email: { type: 'string', format: 'email' },
            ExotelAccountSid: { type: 'string' },
            ExotelUserName: { type: 'string' },
            AgentNumber: { type: 'string' },
            VirtualNumber: { type: 'string' },
          },
        },
        User: {
          type: 'object',
          required: ['AppID', 'AppUserId', 'AppUsername', 'Email'],
          properties: {
            CustomerId: { type: 'string' },
            AppID: { type: 'string' },
            AppUserId: { type: 'string' },
            ExotelAccountSid: { type: 'string' },
            ExotelUserId: nullable('string'),
            AppUsername: { type: 'string' },
            ExotelUserName: { type: 'string' },
            AgentNumber: nullable('string'),
            ActiveDeviceId: nullable('string'),
            PhoneDeviceID: nullable('string'),
            SipDeviceID: nullable('string'),
            VirtualNumber: { type: 'string' },
            Email: { type: 'string' },
            OutboundActive: { type: 'boolean' },
            Role: nullable('string'),
            SipId: nullable('string'),
            IsActive: { type: 'boolean' },
            UserDetail: { nullable: true },
            CreatedAt: nullable('string'),
            UpdatedAt: nullable('string'),
          },
        },
        UserPage: {
          type: 'object',
          required: ['Users', 'PageSize'],
          properties: {
            Users: { type: 'array', items: ref('User') },
            PageSize: { type: 'integer' },
            LastEvaluatedValue: { type: 'string', description: 'Pass as last_value for the next page; empty after the last page' },
          },
        },
      },
    },
  };
}
