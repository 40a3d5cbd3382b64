import { findService, type CloudCIXMethod, type CloudCIXService } from './catalogue.js';

/**
 * Part of the CloudCIX contract (UPSTREAMS.md §4, seed 004) as an OpenAPI 3
 * document, served by the simulator at `/openapi.json`: the login and the
 * Membership services whose fields §4 lists and that the benchmarks use
 * (address, country, currency, language, subdivision), with every method each
 * one has. The other services of the catalogue are left out: their fields are
 * not documented, so a document could only call them "any object".
 *
 * Every application sits under `/<application>/` on the simulator's one port;
 * on the real platform each application is its own host
 * (`https://membership.api.cloudcix.com/address/`).
 *
 * Two things an OpenAPI client cannot do with this, as the README says under
 * "Performance": filters are `search[field__op]=value`, a deepObject whose keys
 * are open-ended (tools that encode deepObject by declared properties drop
 * them), and an address embeds only part of its country (`EmbeddedCountry`):
 * reading the rest is a second call the document cannot express.
 */
const SERVICES: readonly { service: string; schema: string; input?: string }[] = [
  { service: 'address', schema: 'Address', input: 'AddressInput' },
  { service: 'country', schema: 'Country' },
  { service: 'currency', schema: 'Currency' },
  { service: 'language', schema: 'Language' },
  { service: 'subdivision', schema: 'Subdivision' },
];

export function cloudcixOpenApi(serverUrl: string): Record<string, unknown> {
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const json = (schema: object, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
  const nullable = (type: string) => ({ type, nullable: true });
  const errors = {
    '400': json(ref('Error'), 'Refused: `error_code` and `detail`, or `errors` per field'),
    '401': json(ref('Error'), 'The token is missing, invalid or expired'),
    '403': json(ref('Error'), 'The user may not do this'),
    '404': json(ref('Error'), 'No such record'),
    '429': json(ref('Error'), 'More than 20 requests per second for this user'),
  };
  const listParameters = [
    { name: 'page', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 }, description: '0-based' },
    { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 50 }, description: 'Out of range falls back to 50' },
    { name: 'order', in: 'query', schema: { type: 'string' }, description: 'An allowed field, `-` first for descending' },
    ...['search', 'exclude'].map((name) => ({
      name,
      in: 'query',
      style: 'deepObject',
      explode: true,
      schema: { type: 'object', additionalProperties: { type: 'string' } },
      description:
        `\`${name}[field__op]=value\`. String ops: in, icontains, iendswith, iexact, istartswith; number ops: gt, gte, in, isnull, lt, lte, range; ` +
        '`in` and `range` take lists like `[1,2]` or `(10,15)`. A filter CloudCIX cannot apply is skipped and reported in `_metadata.warnings`, not refused.',
    })),
  ];

  const paths: Record<string, Record<string, unknown>> = {
    '/membership/auth/login/': {
      post: {
        operationId: 'membership_token_create',
        summary: 'Logs in: a JWT ({uid, exp}) to send as X-Auth-Token',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['email', 'password', 'api_key'],
                properties: { email: { type: 'string', format: 'email' }, password: { type: 'string', format: 'password' }, api_key: { type: 'string', format: 'password' } },
              },
            },
          },
        },
        responses: { '201': json(ref('Token'), 'Created'), '400': errors['400'] },
      },
      put: { operationId: 'membership_token_refresh', summary: 'A fresh token for a valid one', responses: { '200': json(ref('Token')), '401': errors['401'] } },
    },
  };

  for (const { service: name, schema, input } of SERVICES) {
    const service = findService('Membership', name);
    if (!service) throw new Error(`The CloudCIX catalogue has no Membership.${name}`);
    const base = `/membership/${service.path}`;
    const parents = service.parentIds.map((id) => ({ name: id, in: 'path', required: true, schema: { type: 'integer' } }));
    const pk = { name: 'pk', in: 'path', required: true, schema: { type: 'integer' } };
    const describe = (method: CloudCIXMethod) => ({ operationId: `membership_${service.service}_${method}`, description: service.methodDescriptions[method] ?? '' });
    const body = { required: true, content: { 'application/json': { schema: ref(input ?? schema) } } };
    const collection: Record<string, unknown> = {};
    const one: Record<string, unknown> = {};
    if (has(service, 'list')) {
      collection.get = {
        ...describe('list'),
        parameters: [...parents, ...listParameters],
        responses: {
          '200': json({ type: 'object', required: ['content', '_metadata'], properties: { content: { type: 'array', items: ref(schema) }, _metadata: ref('ListMetadata') } }),
          ...errors,
        },
      };
    }
    if (has(service, 'create')) collection.post = { ...describe('create'), parameters: parents, requestBody: body, responses: { '201': json(record(schema), 'Created'), ...errors } };
    if (has(service, 'read')) one.get = { ...describe('read'), parameters: [...parents, pk], responses: { '200': json(record(schema)), ...errors } };
    if (has(service, 'update')) one.put = { ...describe('update'), parameters: [...parents, pk], requestBody: body, responses: { '200': json(record(schema)), ...errors } };
    if (has(service, 'partial_update')) one.patch = { ...describe('partial_update'), parameters: [...parents, pk], requestBody: body, responses: { '200': json(record(schema)), ...errors } };
    if (has(service, 'delete')) one.delete = { ...describe('delete'), parameters: [...parents, pk], responses: { '204': { description: 'Deleted' }, ...errors } };
    if (Object.keys(collection).length) paths[base] = collection;
    if (Object.keys(one).length) paths[`${base}{pk}/`] = one;
  }

  function record(schema: string) {
    return { type: 'object', required: ['content'], properties: { content: ref(schema) } };
  }

  return {
    openapi: '3.0.3',
    info: {
      title: 'CloudCIX Membership API (part)',
      version: '1',
      description:
        'Log in with `POST /membership/auth/login/` and send the token as `X-Auth-Token`. Lists answer `{content, _metadata}`; reads `{content}`. ' +
        'CloudCIX allows 20 requests per second per user. On the real platform each application is its own host: `https://membership.api.cloudcix.com/`.',
    },
    servers: [{ url: serverUrl }],
    security: [{ token: [] }],
    paths,
    components: {
      securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'X-Auth-Token' } },
      schemas: {
        Token: { type: 'object', required: ['token'], properties: { token: { type: 'string' } } },
        Error: {
          type: 'object',
          properties: {
            error_code: { type: 'string' },
            detail: { type: 'string' },
            errors: { type: 'object', additionalProperties: { type: 'object', properties: { error_code: { type: 'string' }, detail: { type: 'string' } } } },
          },
        },
        ListMetadata: {
          type: 'object',
          properties: {
            page: { type: 'integer' },
            limit: { type: 'integer' },
            order: { type: 'string' },
            total_records: { type: 'integer' },
            warnings: { type: 'array', items: { type: 'string' }, description: 'Filters that were skipped, and why' },
          },
        },
        Ref: { type: 'object', required: ['id'], properties: { id: { type: 'integer' }, name: { type: 'string' } }, description: 'Another record, embedded by id and name' },
        EmbeddedCountry: {
          type: 'object',
          required: ['id'],
          description: 'The part of a Country an Address embeds; the rest is a read of membership/country/{id}/',
          properties: { id: { type: 'integer' }, english_name: { type: 'string' }, alpha_2_code: { type: 'string' }, alpha_3_code: { type: 'string' } },
        },
        EmbeddedCurrency: { type: 'object', required: ['id'], properties: { id: { type: 'integer' }, name: { type: 'string' }, symbol: { type: 'string' } } },
        Phone: { type: 'object', properties: { name: { type: 'string' }, number: { type: 'string' } } },
        Address: {
          type: 'object',
          required: ['id'],
          properties: {
            id: { type: 'integer' },
            uri: { type: 'string' },
            name: { type: 'string' },
            address1: { type: 'string' },
            address2: { type: 'string' },
            address3: { type: 'string' },
            city: { type: 'string' },
            postcode: { type: 'string' },
            full_address: { type: 'string' },
            email: nullable('string'),
            website: nullable('string'),
            vat_number: nullable('string'),
            gln: nullable('string'),
            phones: { type: 'array', items: ref('Phone') },
            linked: { type: 'boolean' },
            link: { type: 'object', nullable: true, properties: { id: { type: 'integer' }, customer: { type: 'boolean' }, supplier: { type: 'boolean' } } },
            billing_address_id: nullable('integer'),
            cloud_region: { type: 'boolean' },
            country: ref('EmbeddedCountry'),
            currency: ref('EmbeddedCurrency'),
            language: ref('Ref'),
            member: ref('Ref'),
            subdivision: { ...ref('Ref'), nullable: true },
          },
        },
        AddressInput: {
          type: 'object',
          required: ['name'],
          properties: {
            name: { type: 'string' },
            address1: { type: 'string' },
            address2: { type: 'string' },
            address3: { type: 'string' },
            city: { type: 'string' },
            postcode: { type: 'string' },
            email: { type: 'string' },
            website: { type: 'string' },
            vat_number: { type: 'string' },
            country_id: { type: 'integer' },
            currency_id: { type: 'integer' },
            language_id: { type: 'integer' },
            member_id: { type: 'integer' },
            subdivision_id: { type: 'integer' },
          },
        },
        Country: {
          type: 'object',
          required: ['id'],
          properties: {
            id: { type: 'integer' },
            uri: { type: 'string' },
            english_name: { type: 'string' },
            alpha_2_code: { type: 'string' },
            alpha_3_code: { type: 'string' },
            phone_prefix: { type: 'string' },
            primary_level_name: { type: 'string' },
          },
        },
        Currency: { type: 'object', required: ['id'], properties: { id: { type: 'integer' }, uri: { type: 'string' }, name: { type: 'string' }, symbol: { type: 'string' } } },
        Language: { type: 'object', required: ['id'], properties: { id: { type: 'integer' }, uri: { type: 'string' }, name: { type: 'string' }, iso_code: { type: 'string' } } },
        Subdivision: {
          type: 'object',
          required: ['id'],
          properties: { id: { type: 'integer' }, uri: { type: 'string' }, name: { type: 'string' }, code: { type: 'string' }, country_id: { type: 'integer' } },
        },
      },
    },
  };
}

function has(service: CloudCIXService, method: CloudCIXMethod): boolean {
  return service.methods.includes(method);
}
