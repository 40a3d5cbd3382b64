/**
 * GraphQL over HTTP has two paths: one operation POSTed as JSON goes straight to
 * the pipeline (src/core/graphql/transports/http.ts); everything else goes to
 * Apollo Server. A client must not be able to tell them apart: each request here
 * is sent both ways (the second asks to be served `application/json` after
 * naming `application/graphql-response+json` too, which only Apollo negotiates),
 * and the status, the media type, the Retry-After header and the body must be
 * the same.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './utils/harness.js';
import { writeClientsFile, type ClientsFixture } from './utils/security.js';

const DIRECT = 'application/json';
const THROUGH_APOLLO = 'application/json, application/graphql-response+json;q=0.5';

let clients: ClientsFixture;
let stack: Stack;

beforeAll(async () => {
  clients = writeClientsFile([
    { name: 'reader', scopes: ['cloudlx:read', 'ixc:read', 'cloudcix:read'] },
    { name: 'limited', scopes: ['cloudlx:read'], limits: { requestsPerMinute: 2, requestsPerDay: 1000 } },
  ]);
  stack = await startStack({ env: { SWITCHBOARD_CLIENTS_FILE: clients.path } });
});
afterAll(async () => {
  await stack.close();
  clients.remove();
});

interface Answer {
  status: number;
  type: string | null;
  retryAfter: string | null;
  body: unknown;
  /** Content-Length as sent, and the bytes that came. */
  length: number | null;
  bytes: number;
}

async function send(body: unknown, accept: string, headers: Record<string, string> = clients.auth('reader')): Promise<Answer> {
  const res = await fetch(stack.gateway.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept, ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  expect(text.endsWith('\n'), 'a JSON answer ends with a newline, as Apollo Server writes it').toBe(true);
  const length = res.headers.get('content-length');
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    retryAfter: res.headers.get('retry-after'),
    body: JSON.parse(text),
    length: length === null ? null : Number(length),
    bytes: Buffer.byteLength(text),
  };
}

async function bothWays(body: unknown, headers?: Record<string, string>): Promise<Answer> {
  const direct = await send(body, DIRECT, headers);
  const apollo = await send(body, THROUGH_APOLLO, headers);
  // The two paths really are two: the pipeline's answer is sent with its length, Apollo Server's in chunks.
  expect(direct.length).toBe(direct.bytes);
  expect(apollo.length).toBeNull();
  expect({ ...direct, length: undefined }).toEqual({ ...apollo, length: undefined });
  return direct;
}

describe('one JSON operation, straight to the pipeline or through Apollo Server: the same answer', () => {
  it('a query that answers', async () => {
    const answer = await bothWays({ query: 'query Devices($n: Int) { ixc { devices(first: $n) { nodes { serialNumber model } } } }', variables: { n: 3 } });
    expect(answer).toMatchObject({ status: 200, type: 'application/json; charset=utf-8' });
    expect((answer.body as any).data.ixc.devices.nodes).toHaveLength(3);
  });

  it('a document that does not parse, and one that does not validate', async () => {
    expect((await bothWays({ query: '{ cloudlx { ' })).status).toBe(400);
    // A text shaped like a key of the parsed-document cache is parsed like any other (and refused).
    const shaped = await bothWays({ query: '\u0000apollo:{ __typename }' });
    expect((shaped.body as any).errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    const invalid = await bothWays({ query: '{ cloudlx { nope } }' });
    expect(invalid.status).toBe(400);
    expect((invalid.body as any).errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('variables that do not fit, an unknown operation name, and a subscription over plain HTTP', async () => {
    const variables = await bothWays({ query: 'query($n: Int!) { ixc { devices(first: $n) { totalCount } } }', variables: { n: 'three' } });
    expect(variables.status).toBe(400);
    expect((variables.body as any).errors[0].extensions.code).toBe('BAD_USER_INPUT');
    const named = await bothWays({ query: 'query A { __typename } query B { __typename }', operationName: 'C' });
    expect((named.body as any).errors[0].extensions.code).toBe('OPERATION_RESOLUTION_FAILURE');
    const subscription = await bothWays({ query: 'subscription { events { type } }' });
    expect((subscription.body as any).errors[0].extensions.code).toBe('SUBSCRIPTION_NEEDS_STREAM');
  });

  it('a field the caller may not read, and an upstream record that is not there', async () => {
    const forbidden = await bothWays({ query: '{ exotel { apps { nodes { name } } } }' });
    expect(forbidden.status).toBe(200);
    expect((forbidden.body as any).errors[0].extensions.code).toBe('FORBIDDEN');
    const missing = await bothWays({ query: '{ ixc { device(serialNumber: "NO-SUCH-DEVICE") { model } } }' });
    expect(missing.status).toBe(200);
  });

  it('a record an upstream sent without a field the schema promises: the same error, with a code', async () => {
    stack.sim('cloudlx').server.inject('GET /api/customers', { status: 200, body: { customers: [{ id: 1 }] }, times: 2 });
    const answer = await bothWays({ query: '{ cloudlx { customers { nodes { name } } } }' });
    expect(answer.status).toBe(200);
    expect((answer.body as any).errors[0]).toMatchObject({ path: ['cloudlx', 'customers', 'nodes', 0, 'name'], extensions: { code: 'INTERNAL_SERVER_ERROR' } });
  });

  it('a rate limit: 429 with Retry-After on both paths', async () => {
    const limited = clients.auth('limited');
    const query = { query: '{ platforms { title } }' };
    // Two requests per minute: one each way, then the third (either way) is refused.
    expect((await send(query, DIRECT, limited)).status).toBe(200);
    expect((await send(query, THROUGH_APOLLO, limited)).status).toBe(200);
    const refused = await bothWays(query, limited);
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    expect((refused.body as any).errors[0].extensions.code).toBe('RATE_LIMITED');
  });
});

describe('what is not one plain JSON operation is Apollo Server\'s', () => {
  it('answers variables sent as a string, a body without a query, and a batch with its own 400s', async () => {
    for (const body of [{ query: '{ __typename }', variables: '{}' }, { operationName: 'A' }, [{ query: '{ __typename }' }]]) {
      const res = await send(body, DIRECT);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((res.body as any).errors[0].message, JSON.stringify(body)).toEqual(expect.any(String));
    }
  });

  it('serves application/graphql-response+json to a client that prefers it', async () => {
    const res = await send({ query: '{ __typename }' }, 'application/graphql-response+json');
    expect(res).toMatchObject({ status: 200, type: 'application/graphql-response+json; charset=utf-8', body: { data: { __typename: 'Query' } } });
  });
});

describe('a batch (ALLOW_BATCHED_REQUESTS), through Apollo Server', () => {
  let batching: Stack;
  beforeAll(async () => {
    batching = await startStack({ env: { ALLOW_BATCHED_REQUESTS: 'true' } });
  });
  afterAll(() => batching.close());

  it('runs each operation on its own: each explains only its own upstream calls', async () => {
    const res = await fetch(batching.gateway.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-switchboard-explain': '1' },
      body: JSON.stringify([
        { query: 'query Realms { cloudlx { realms { name } } }' },
        { query: 'query Devices { ixc { devices(first: 2) { nodes { serialNumber } } } }' },
      ]),
    });
    expect(res.status).toBe(200);
    const [realms, devices] = (await res.json()) as { data?: any; errors?: unknown; extensions?: { upstream?: { platform: string; route: string }[] } }[];
    expect(realms!.errors).toBeUndefined();
    expect(devices!.errors).toBeUndefined();
    expect(realms!.data.cloudlx.realms.length).toBeGreaterThan(0);
    expect(devices!.data.ixc.devices.nodes).toHaveLength(2);
    const platformsOf = (answer: typeof realms) => [...new Set(answer!.extensions!.upstream!.map((c) => c.platform))];
    expect(platformsOf(realms)).toEqual(['cloudlx']);
    expect(platformsOf(devices)).toEqual(['ixc']);
    expect(realms!.extensions!.upstream!.map((c) => c.route)).toContain('GET /api/realms');
    expect(devices!.extensions!.upstream!.map((c) => c.route)).toContain('GET /api/v1/devices/views/natural');
  });
});
