import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import { createClient as createSseClient } from 'graphql-sse';
import WebSocket from 'ws';
import { startStack, type Stack } from './utils/harness.js';

/**
 * One pipeline for every transport: the same operation sent over HTTP, over
 * WebSocket and over Server-Sent Events gives the same data, the same errors
 * (message, path, code) and the same extensions.
 */

interface Answer {
  data?: unknown;
  errors?: { message: string; path?: unknown; code?: unknown }[];
  extensions?: unknown;
}

function normalize(body: { data?: unknown; errors?: any[]; extensions?: unknown }): Answer {
  const answer: Answer = {};
  if ('data' in body) answer.data = body.data;
  if (body.errors) answer.errors = body.errors.map((e) => ({ message: e.message, path: e.path, code: e.extensions?.code }));
  if (body.extensions) answer.extensions = body.extensions;
  return answer;
}

let stack: Stack;
let ws: Client;

beforeAll(async () => {
  stack = await startStack();
  ws = createClient({ url: stack.gateway.websocketUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
});

afterAll(async () => {
  await ws?.dispose();
});

async function overHttp(query: string, variables?: Record<string, unknown>): Promise<{ status: number; answer: Answer }> {
  const res = await stack.graphql(query, variables);
  return { status: res.status, answer: normalize(res.body) };
}

/** The first result of an operation over graphql-ws; a refusal arrives as an `error` message with the errors. */
function overWebSocket(query: string, variables?: Record<string, unknown>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let first: Answer | undefined;
    const unsubscribe = ws.subscribe(
      { query, variables },
      {
        next: (value) => {
          first ??= normalize(value as never);
          unsubscribe();
          resolve(first);
        },
        error: (error) => (Array.isArray(error) ? resolve(normalize({ errors: error })) : reject(error)),
        complete: () => (first ? resolve(first) : reject(new Error('completed without a result'))),
      },
    );
  });
}

function overSse(query: string, variables?: Record<string, unknown>): Promise<Answer> {
  const client = createSseClient({ url: stack.gateway.graphqlUrl, singleConnection: false, retryAttempts: 0 });
  return new Promise<Answer>((resolve, reject) => {
    let first: Answer | undefined;
    client.subscribe(
      { query, variables },
      {
        next: (value) => {
          first ??= normalize(value as never);
        },
        error: (error) => (Array.isArray(error) ? resolve(normalize({ errors: error })) : reject(error)),
        complete: () => (first ? resolve(first) : reject(new Error('completed without a result'))),
      },
    );
  }).finally(() => client.dispose());
}

const CUSTOMERS = '{ cloudlx { customers(first: 2) { nodes { name } } } }';

const table: { name: string; query: string; variables?: Record<string, unknown>; status: number; code?: string; warns?: boolean; fault?: () => () => void }[] = [
  { name: 'a valid query', query: CUSTOMERS, status: 200 },
  { name: 'a parse error', query: '{ cloudlx { customers(first: 2) { nodes { name } }', status: 400, code: 'GRAPHQL_PARSE_FAILED' },
  { name: 'an unknown field', query: '{ cloudlx { noSuchField } }', status: 400, code: 'GRAPHQL_VALIDATION_FAILED' },
  {
    name: 'a variable of the wrong type',
    query: 'query Customers($first: Int) { cloudlx { customers(first: $first) { nodes { name } } } }',
    variables: { first: 'many' },
    status: 400,
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'a missing required input field',
    query: 'mutation Create($input: CloudLXCreateCustomerInput!) { cloudlxCreateCustomer(input: $input) { userErrors { message } } }',
    variables: { input: { name: 'Acme' } },
    status: 400,
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'an upstream failure with partial data',
    query: '{ platforms { platform } cloudlx { services { totalCount } } }',
    status: 200,
    code: 'UPSTREAM_UNAVAILABLE',
    fault: () => {
      const sim = stack.sim('cloudlx');
      sim.server.inject('GET /api/services', { status: 500 });
      return () => sim.server.clearFaults();
    },
  },
  {
    name: 'a CloudCIX warning',
    query: '{ cloudcix { membership { addresses(first: 1, search: {nmae__icontains: "acme"}) { totalCount } } } }',
    status: 200,
    warns: true,
  },
  { name: 'a subscription to a field that does not exist', query: 'subscription { noSuchEvents }', status: 400, code: 'GRAPHQL_VALIDATION_FAILED' },
];

describe('one operation pipeline for HTTP, WebSocket and SSE', () => {
  for (const row of table) {
    it(`answers ${row.name} the same over every transport`, async () => {
      const clear = row.fault?.();
      try {
        const http = await overHttp(row.query, row.variables);
        const socket = await overWebSocket(row.query, row.variables);
        expect(http.status).toBe(row.status);
        expect(socket).toEqual(http.answer);
        if (!row.query.startsWith('mutation')) expect(await overSse(row.query, row.variables)).toEqual(http.answer);
        if (row.code) expect(http.answer.errors?.map((e) => e.code)).toContain(row.code);
        else expect(http.answer.errors).toBeUndefined();
        if (row.warns) expect((http.answer.extensions as { warnings?: unknown[] } | undefined)?.warnings).toHaveLength(1);
      } finally {
        clear?.();
      }
    });
  }

  it('gives partial data beside the error of the failed field', async () => {
    const sim = stack.sim('cloudlx');
    sim.server.inject('GET /api/services', { status: 500 });
    try {
      const answer = await overWebSocket('{ platforms { platform } cloudlx { services { totalCount } } }');
      expect((answer.data as any).platforms.length).toBe(4);
      expect((answer.data as any).cloudlx.services).toBeNull();
      expect(answer.errors).toEqual([expect.objectContaining({ path: ['cloudlx', 'services'], code: 'UPSTREAM_UNAVAILABLE' })]);
    } finally {
      sim.server.clearFaults();
    }
  });

  it('carries the CloudCIX warning in extensions over WebSocket', async () => {
    const answer = await overWebSocket('{ cloudcix { membership { addresses(first: 1, search: {nmae__icontains: "acme"}) { totalCount } } } }');
    expect((answer.extensions as any).warnings).toEqual([
      { platform: 'cloudcix', path: ['cloudcix', 'membership', 'addresses'], message: expect.stringContaining('nmae__icontains') },
    ]);
  });

  it('says that subscriptions are served over WebSocket and SSE when one comes over plain HTTP', async () => {
    const res = await stack.graphql('subscription { events { id type } }');
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([
      expect.objectContaining({ message: expect.stringContaining('WebSocket'), extensions: { code: 'SUBSCRIPTION_NEEDS_STREAM' } }),
    ]);
  });

  it('counts operations of every transport in /metrics', async () => {
    const count = async (transport: string) => {
      const text = await (await fetch(`${stack.gateway.url}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`switchboard_graphql_requests_total{operation="query",transport="${transport}",outcome="ok"}`));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    const before = { http: await count('http'), ws: await count('ws'), sse: await count('sse') };
    await overHttp(CUSTOMERS);
    await overWebSocket(CUSTOMERS);
    await overSse(CUSTOMERS);
    expect(await count('http')).toBe(before.http + 1);
    expect(await count('ws')).toBe(before.ws + 1);
    expect(await count('sse')).toBe(before.sse + 1);
  });
});
