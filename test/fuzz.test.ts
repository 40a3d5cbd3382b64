import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isUnionType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startStack, type Stack } from './utils/harness.js';
import { prng } from '../src/core/simulator/prng.js';

/**
 * Random and mutated operations and variables, derived from the schema, sent to
 * a real gateway over HTTP and WebSocket for a bounded time. Every answer must be
 * a well-formed GraphQL response, bad input must never be an internal error, and
 * the gateway must stay up with its memory bounded.
 */
let stack: Stack;
let schema: GraphQLSchema;
let ws: Client;
let wsClosed: { code: number; reason: string } | undefined;

beforeAll(async () => {
  stack = await startStack();
  schema = stack.gateway.pipeline.schema;
  ws = createClient({
    url: stack.gateway.websocketUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    on: { closed: (event) => (wsClosed = { code: (event as { code: number }).code, reason: String((event as { reason?: string }).reason) }) },
  });
});
afterAll(async () => {
  await ws?.dispose();
});

/** A small deterministic PRNG, so one integer from fast-check fixes a whole operation (and fast-check reports it on failure). */
function random(seed: number) {
  const next = prng(seed);
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)]!;
  const chance = (p: number) => next() < p;
  return { next, int, pick, chance };
}
type Random = ReturnType<typeof random>;

const WEIRD_STRINGS = ['', ' ', '..', '../../etc/passwd', '%00', '\u0000', '"', "'; DROP TABLE x; --", 'ünïcødé', '🙂', 'x'.repeat(300), '{"a":1}', '-1', '9'.repeat(30)];

function randomString(r: Random): string {
  if (r.chance(0.5)) return r.pick(WEIRD_STRINGS);
  return Array.from({ length: r.int(12) }, () => String.fromCharCode(32 + r.int(95))).join('');
}

function randomJson(r: Random, depth = 0): unknown {
  const kind = r.int(depth > 2 ? 4 : 6);
  if (kind === 0) return null;
  if (kind === 1) return r.chance(0.5);
  if (kind === 2) return r.pick([0, -1, 1, 2 ** 31, -(2 ** 53), 1.5, 1e308]);
  if (kind === 3) return randomString(r);
  if (kind === 4) return Array.from({ length: r.int(4) }, () => randomJson(r, depth + 1));
  return Object.fromEntries(Array.from({ length: r.int(4) }, () => [r.pick(['id', 'name', 'id__in', 'name__icontains', 'a', '__proto__', 'constructor']), randomJson(r, depth + 1)]));
}

/** A JSON value for a variable of `type`: usually of the right shape, sometimes not. */
function randomValue(r: Random, type: GraphQLInputType, depth = 0): unknown {
  if (r.chance(0.08) || depth > 4) return randomJson(r, 2);
  if (isNonNullType(type)) return randomValue(r, type.ofType, depth);
  if (r.chance(0.05)) return null;
  if (isListType(type)) return Array.from({ length: r.int(4) }, () => randomValue(r, type.ofType, depth + 1));
  if (isEnumType(type)) return r.chance(0.85) ? r.pick(type.getValues()).name : randomString(r);
  if (isInputObjectType(type)) {
    const out: Record<string, unknown> = {};
    for (const field of Object.values(type.getFields())) if (isNonNullType(field.type) ? r.chance(0.9) : r.chance(0.4)) out[field.name] = randomValue(r, field.type, depth + 1);
    if (r.chance(0.1)) out[`unknown${r.int(9)}`] = randomJson(r, 2);
    return out;
  }
  if (isScalarType(type)) {
    switch (type.name) {
      case 'Int':
        return r.chance(0.8) ? r.int(600) - 50 : r.pick([2 ** 31, -(2 ** 31) - 1, 1.5, '3']);
      case 'Float':
        return r.chance(0.9) ? r.next() * 1000 : 'NaN';
      case 'Boolean':
        return r.chance(0.9) ? r.chance(0.5) : 'true';
      case 'ID':
      case 'String':
        return r.chance(0.9) ? randomString(r) : r.int(1000);
      case 'DateTime':
        return r.chance(0.7) ? new Date(Date.UTC(2026, r.int(12), 1 + r.int(28))).toISOString() : randomString(r);
      default:
        return randomJson(r);
    }
  }
  return randomJson(r);
}

const printType = (type: GraphQLInputType): string => (isNonNullType(type) ? `${printType(type.ofType)}!` : isListType(type) ? `[${printType(type.ofType)}]` : type.name);

/** One operation built by walking the schema: random fields, arguments passed as variables, fragments on abstract types. */
function randomOperation(seed: number): { query: string; variables: Record<string, unknown> } {
  const r = random(seed);
  const mutation = r.chance(0.12) && schema.getMutationType();
  const root = (mutation ? schema.getMutationType() : schema.getQueryType()) as GraphQLObjectType;
  const definitions: string[] = [];
  const variables: Record<string, unknown> = {};
  let counter = 0;

  const argumentsOf = (field: GraphQLField<unknown, unknown>): string => {
    const parts: string[] = [];
    for (const arg of field.args) {
      if (!(isNonNullType(arg.type) ? r.chance(0.92) : r.chance(0.35))) continue;
      const name = `v${counter++}`;
      definitions.push(`$${name}: ${printType(arg.type)}`);
      variables[name] = randomValue(r, arg.type);
      parts.push(`${arg.name}: $${name}`);
    }
    return parts.length ? `(${parts.join(', ')})` : '';
  };

  const selection = (type: GraphQLNamedType, depth: number): string => {
    if (isLeafType(type)) return '';
    if (isUnionType(type) || isInterfaceType(type)) {
      const possible = schema.getPossibleTypes(type);
      const target = r.pick(possible);
      return `{ __typename ... on ${target.name} ${selection(target, depth)} }`;
    }
    if (!isObjectType(type)) return '';
    const fields = Object.values(type.getFields());
    if (depth >= 4) {
      const leaf = fields.find((f) => isLeafType(getNamedType(f.type)) && f.args.every((a) => !isNonNullType(a.type)));
      return `{ ${leaf?.name ?? '__typename'} }`;
    }
    const chosen = Array.from({ length: 1 + r.int(3) }, () => r.pick(fields));
    const parts = chosen.map((field, i) => {
      const alias = r.chance(0.1) ? `a${i}: ` : '';
      return `${alias}${field.name}${argumentsOf(field)} ${selection(getNamedType(field.type), depth + 1)}`;
    });
    return `{ ${parts.join(' ')} }`;
  };

  const body = mutation ? `{ ${((f) => `${f.name}${argumentsOf(f)} ${selection(getNamedType(f.type), 1)}`)(r.pick(Object.values(root.getFields())))} }` : selection(root, 0);
  const header = `${mutation ? 'mutation' : 'query'} Fuzz${definitions.length ? `(${definitions.join(', ')})` : ''}`;
  return { query: `${header} ${body}`, variables };
}

/** A valid operation damaged the way a broken client or an attacker would. */
function mutateDocument(seed: number, text: string): string {
  const r = random(seed);
  const pieces = ['{', '}', '(', ')', '$', '@skip(if: true)', '...', 'fragment F on Query { platforms { title } }', '"', '#', '\\u0000', ':', '__schema', '[', '1e99999'];
  let out = text;
  for (let n = 0; n < 1 + r.int(4); n++) {
    const at = r.int(out.length + 1);
    const op = r.int(4);
    if (op === 0) out = out.slice(0, at) + out.slice(at + 1 + r.int(8));
    else if (op === 1) out = out.slice(0, at) + r.pick(pieces) + out.slice(at);
    else if (op === 2) out = out.slice(0, at) + out.slice(r.int(out.length + 1));
    else out = out + out.slice(at);
  }
  return out;
}

const SEEDS = [
  '{ platforms { platform title simulated } }',
  'query FirstQuery { cloudlx { customers(first: 5) { totalCount nodes { name country { name } realms { name } } } } }',
  '{ customers(first: 3) { nodes { __typename name platform } } }',
  '{ ixc { devices(first: 2) { nodes { serialNumber wifiNetworks { ssid } } } } }',
  'query($id: ID!) { node(id: $id) { id ... on Customer { name } } }',
  '{ cloudcix { membership { addresses(first: 2) { nodes { name country { englishName } } } } } }',
];

const WELL_KNOWN_STATUSES = new Set([200, 400, 401, 403, 404, 405, 406, 413, 415, 429]);

/** Checks one HTTP answer: a known status, a JSON GraphQL response, no internal error. Answers what came, for the message. */
function expectWellFormed(status: number, text: string, sent: unknown): void {
  const context = `for ${JSON.stringify(sent).slice(0, 400)}`;
  expect(WELL_KNOWN_STATUSES.has(status), `status ${status} ${context}`).toBe(true);
  let body: any;
  expect(() => (body = JSON.parse(text)), `a JSON body ${context}: ${text.slice(0, 200)}`).not.toThrow();
  expect(typeof body === 'object' && body !== null && ('data' in body || 'errors' in body), `a GraphQL response ${context}: ${text.slice(0, 200)}`).toBe(true);
  for (const error of body.errors ?? []) {
    expect(typeof error.message, `an error message ${context}`).toBe('string');
    expect(error.extensions?.code, `an error code ${context}: ${error.message}`).toEqual(expect.any(String));
    expect(error.extensions.code, `no internal error ${context}: ${error.message}`).not.toBe('INTERNAL_SERVER_ERROR');
    expect(error.stack ?? error.extensions.stacktrace, `no stack trace ${context}`).toBeUndefined();
  }
}

async function postRaw(body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(stack.gateway.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' }, body });
  return { status: res.status, text: await res.text() };
}

function overWs(query: string, variables: Record<string, unknown>): Promise<unknown> {
  return new Promise((resolve) => {
    let last: unknown;
    ws.subscribe({ query, variables }, { next: (value) => (last = value), error: (error) => resolve({ errors: error }), complete: () => resolve(last) });
  });
}

function expectWellFormedWs(result: any, sent: unknown): void {
  const context = `over WebSocket for ${JSON.stringify(sent).slice(0, 300)}`;
  expect(wsClosed, `the socket stayed open ${context}`).toBeUndefined();
  if (Array.isArray(result?.errors) || result?.data !== undefined) {
    for (const error of Array.isArray(result.errors) ? result.errors : []) {
      expect(error.extensions?.code, `an error code ${context}: ${error.message}`).toEqual(expect.any(String));
      expect(error.extensions.code, `no internal error ${context}: ${error.message}`).not.toBe('INTERNAL_SERVER_ERROR');
    }
    return;
  }
  expect.fail(`not a GraphQL result ${context}: ${JSON.stringify(result)?.slice(0, 200)}`);
}

describe('fuzzing the gateway with operations derived from the schema', () => {
  it('answers every random, mutated or malformed request with a well-formed GraphQL response, never an internal error, and stays up', async () => {
    const heapBefore = process.memoryUsage().heapUsed;
    let sent = 0;
    const request = fc.oneof(
      { weight: 5, arbitrary: fc.integer().map((seed) => ({ kind: 'random' as const, seed })) },
      { weight: 3, arbitrary: fc.tuple(fc.integer(), fc.constantFrom(...SEEDS)).map(([seed, text]) => ({ kind: 'mutated' as const, seed, text })) },
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...SEEDS), fc.jsonValue()).map(([text, variables]) => ({ kind: 'variables' as const, text, variables })) },
      { weight: 1, arbitrary: fc.oneof(fc.string(), fc.jsonValue().map((v) => JSON.stringify(v)), fc.constant('{"query": 1}'), fc.constant('{"query": "{ platforms { title } }", "variables": "x"}')).map((body) => ({ kind: 'raw' as const, body })) },
    );
    await fc.assert(
      fc.asyncProperty(request, fc.boolean(), async (input, viaWebSocket) => {
        sent++;
        if (input.kind === 'raw') {
          const res = await postRaw(input.body);
          expectWellFormed(res.status, res.text, input);
          return;
        }
        const operation =
          input.kind === 'random'
            ? randomOperation(input.seed)
            : input.kind === 'mutated'
              ? { query: mutateDocument(input.seed, input.text), variables: { id: 'x' } }
              : { query: input.text, variables: input.variables as Record<string, unknown> };
        if (viaWebSocket && operation.variables && typeof operation.variables === 'object' && !Array.isArray(operation.variables)) {
          expectWellFormedWs(await overWs(operation.query, operation.variables), operation);
        } else {
          const res = await postRaw(JSON.stringify(operation));
          expectWellFormed(res.status, res.text, operation);
        }
      }),
      { numRuns: 1_000, interruptAfterTimeLimit: 40_000, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
    );
    expect(sent).toBeGreaterThan(50);
    // Still up and answering, with its memory bounded.
    expect((await fetch(`${stack.gateway.url}/healthz`)).status).toBe(200);
    const after = await stack.graphql('{ platforms { title } }');
    expect(after.body.data.platforms).toHaveLength(4);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(512 * 1_048_576);
  }, 120_000);
});
