import fc from 'fast-check';
import {
  getNamedType,
  isAbstractType,
  isLeafType,
  isNonNullType,
  isObjectType,
  parse,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offsetCursor } from '../src/core/graphql/connection.js';
import { cloudcixModel } from '../src/platforms/cloudcix/model.js';
import { platforms } from '../src/platforms/index.js';
import { IXC_PATHS } from '../src/platforms/ixc/client.js';
import { buildSchema } from '../src/schema.js';
import { startStack, type GraphQLResponse, type Stack } from './utils/harness.js';
import { startUpstreamSimulators, type Simulators, type UpstreamSimulators } from './utils/simulators.js';
import { prng } from '../src/core/simulator/prng.js';

/**
 * Projection (a list's upstream body parsed for only the keys the selection
 * reads, src/core/graphql/projection.ts and src/core/upstream/project-json.ts)
 * must never change an answer. This file proves it by asking the same
 * operations of two gateways on ONE set of simulators, one with
 * UPSTREAM_PROJECTION on and one with it off, and requiring identical responses
 * (data, errors and warnings), with both executors, each query twice (graphql-jit
 * compiles an operation on its second sighting):
 *
 * 1. every field of every projected list's record type, to depth 3, from the
 *    schema (CloudLX customers and services, IXC devices, each typed CloudCIX
 *    list, with and without `data`), and that explain marks the list call
 *    `projected` exactly when no `data` forces whole records;
 * 2. random selections (fast-check, fixed seed): subsets, aliases, one field
 *    under two aliases with different sub-selections, fields merged from
 *    fragments, inline and named fragments, `__typename`, `edges`/`nodes`,
 *    `@include`/`@skip`, paging;
 * 3. the upstream calls (simulator logs): a projected list is still one call,
 *    and a relation the embedded copy cannot answer is still one batched read;
 * 4. a projected (partial) record never answers a read by id in the same operation;
 * 5. a malformed body on a projected call fails the field as it does unprojected,
 *    and the gateway answers the next query.
 */

// ---------------------------------------------------------------------------
// Simulators (shared by every gateway of this file) and gateways
// ---------------------------------------------------------------------------

let upstreams: UpstreamSimulators;
let sims: Simulators;
/** The environment that points a gateway at the simulators as at real platforms. */
let upstreamEnv: Record<string, string>;
const schema: GraphQLSchema = buildSchema(platforms);

/** Limits raised so that a whole record type to depth 3 is one operation; nothing else differs from the defaults. */
const ROOMY = {
  MAX_QUERY_DEPTH: '100',
  MAX_ALIASES: '10000',
  MAX_DIRECTIVES: '10000',
  MAX_TOKENS: '1000000',
  MAX_DOCUMENT_LENGTH: '1000000',
  MAX_QUERY_COST: '10000000',
  UPSTREAM_CALLS_PER_OPERATION: '100000',
  CLIENT_REQUESTS_PER_MINUTE: '1000000',
};

beforeAll(async () => {
  // Two gateways log in as the same CloudCIX user: the simulator's 20 requests a second per user would be theirs to share.
  upstreams = await startUpstreamSimulators({ cloudlx: { customers: 200 }, cloudcix: { requestsPerSecond: 0 } });
  ({ sims, env: upstreamEnv } = upstreams);
}, 60_000);

afterAll(() => upstreams?.close());

function clearLogs(): void {
  sims.cloudlx.server.clearLog();
  sims.ixc.server.clearLog();
  sims.cloudcix.clearLog();
}

const EXPLAIN = { 'x-switchboard-explain': '1' };

interface ExplainedCall {
  platform: string;
  method: string;
  route: string;
  status: number;
  batchKeys?: number;
  projected?: boolean;
  errorCode?: string;
}

/** What must be equal between the two gateways: status, data, errors (in a stable order) and warnings; not explain's timings. */
function outcome(res: GraphQLResponse): unknown {
  const errors = res.body.errors as { path?: unknown; message: string }[] | undefined;
  return {
    status: res.status,
    data: res.body.data,
    errors: errors && [...errors].sort((a, b) => (JSON.stringify([a.path, a.message]) < JSON.stringify([b.path, b.message]) ? -1 : 1)),
    warnings: res.body.extensions?.warnings,
  };
}

// ---------------------------------------------------------------------------
// The projected lists
// ---------------------------------------------------------------------------

interface ListRoot {
  /** A name for test titles. */
  name: string;
  platform: 'cloudlx' | 'ixc' | 'cloudcix';
  /** The list field, and the namespace fields around it (`['cloudcix', 'membership']`). */
  field: string;
  path: string[];
  /** The record type of the connection's nodes. */
  recordType: string;
  /** Explain's route of the list call. */
  route: string;
  /** `first` for the depth-3 selections (each record may cost a call for a child list or Wi-Fi). */
  first: number;
  /** Whether the record type has `data` (CloudCIX: the whole record, which forces the list to be read whole). */
  hasData: boolean;
}

const LISTS: ListRoot[] = [
  { name: 'CloudLX customers', platform: 'cloudlx', field: 'customers', path: ['cloudlx'], recordType: 'CloudLXCustomer', route: 'GET /api/customers', first: 500, hasData: false },
  { name: 'CloudLX services', platform: 'cloudlx', field: 'services', path: ['cloudlx'], recordType: 'CloudLXService', route: 'GET /api/services', first: 500, hasData: false },
  { name: 'IXC devices', platform: 'ixc', field: 'devices', path: ['ixc'], recordType: 'IxcDevice', route: `GET ${IXC_PATHS.deviceSearch}`, first: 12, hasData: false },
  // Each typed CloudCIX service with a list at the top of its application (from the model the SDL is generated from).
  ...cloudcixModel.applications.flatMap((app) =>
    app.services
      .filter((s) => s.typed && s.listField && s.parentArgs.length === 0)
      .map(
        (s): ListRoot => ({
          name: `CloudCIX ${s.key}`,
          platform: 'cloudcix',
          field: s.listField!,
          path: ['cloudcix', app.field],
          recordType: s.typeName,
          route: `GET ${s.service.application.toLowerCase()}/${s.service.path}`,
          first: 8,
          hasData: true,
        }),
      ),
  ),
];

function objectType(name: string): GraphQLObjectType {
  const type = schema.getType(name);
  if (!isObjectType(type)) throw new Error(`${name} is not an object type of the schema`);
  return type;
}

/** A Relay connection type: its records are `nodes` and `edges.node`. */
function isConnection(type: GraphQLNamedType): boolean {
  return isObjectType(type) && 'nodes' in type.getFields() && 'edges' in type.getFields();
}

function recordOf(connection: GraphQLObjectType): GraphQLObjectType {
  return getNamedType(connection.getFields().nodes!.type) as GraphQLObjectType;
}

/** Fields a selection can name without arguments: none of theirs is required. */
function selectable(type: GraphQLObjectType): GraphQLField<unknown, unknown>[] {
  return Object.values(type.getFields()).filter((f) => !f.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined));
}

/** Arguments a field gets in these selections: a child list is cut to 2 records (each may cost a call). */
function argsOf(field: GraphQLField<unknown, unknown>): string {
  return isConnection(getNamedType(field.type)) && field.args.some((a) => a.name === 'first') ? '(first: 2)' : '';
}

// ---------------------------------------------------------------------------
// Selections: every field to a depth
// ---------------------------------------------------------------------------

/** Leave a field out: `(type name, field name)`. */
type Omit = (type: string, field: string) => boolean;

/**
 * Every field of `type` that takes no required argument, into object-typed
 * fields down to `depth` more levels (a child connection is one level:
 * `storages(first: 2) { totalCount nodes { … } }`; an interface or union:
 * `__typename` and an inline fragment per possible type).
 */
function everyField(type: GraphQLNamedType, depth: number, omit: Omit): string {
  if (isAbstractType(type)) {
    if (depth <= 0) return '__typename';
    const parts = schema.getPossibleTypes(type).map((t) => `... on ${t.name} { ${everyField(t, depth - 1, omit)} }`);
    return `__typename ${parts.join(' ')}`;
  }
  if (!isObjectType(type)) return '';
  if (isConnection(type)) {
    const inner = everyField(recordOf(type), depth, omit);
    return `totalCount pageInfo { hasNextPage endCursor } nodes { ${inner} }`;
  }
  const parts: string[] = [];
  for (const field of selectable(type)) {
    if (omit(type.name, field.name)) continue;
    const named = getNamedType(field.type);
    if (isLeafType(named)) {
      parts.push(field.name);
      continue;
    }
    if (depth <= 0) continue;
    const sub = everyField(named, depth - 1, omit);
    if (sub) parts.push(`${field.name}${argsOf(field)} { ${sub} }`);
  }
  return parts.join(' ');
}

/** `inner` inside the list's namespace fields: `cloudcix { membership { inner } }`. */
function inNamespace(list: ListRoot, inner: string): string {
  return list.path.reduceRight((text, field) => `${field} { ${text} }`, inner);
}

function listQuery(list: ListRoot, args: string, connectionSelection: string): string {
  return `{ ${inNamespace(list, `${list.field}${args} { ${connectionSelection} }`)} }`;
}

/** The value at the list's namespace path in `data`. */
function underNamespace(list: ListRoot, data: any): any {
  return list.path.reduce((value, field) => value?.[field], data);
}

// ---------------------------------------------------------------------------
// Random selections
// ---------------------------------------------------------------------------


/** Builds one random operation: its fragments and fresh alias names. */
class RandomOperation {
  private aliases = 0;
  private readonly fragments: string[] = [];
  constructor(private readonly random: () => number) {}

  chance(p: number): boolean {
    return this.random() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }
  alias(): string {
    return `a${++this.aliases}`;
  }
  document(body: string): string {
    return [`query Random ${body}`, ...this.fragments].join('\n');
  }

  /** Now and then a directive; `@include(if: false)` and `@skip(if: true)` leave the field out of the answer, never out of the projection. */
  private directive(): string {
    const roll = this.random();
    if (roll < 0.08) return ' @include(if: false)';
    if (roll < 0.16) return ' @skip(if: true)';
    if (roll < 0.2) return ' @include(if: true)';
    if (roll < 0.22) return ' @skip(if: false)';
    return '';
  }

  /**
   * A random selection on an object type: a subset of its fields, some aliased,
   * some twice under two aliases with different sub-selections, some merged
   * from two places under one response key, grouped into inline fragments
   * (with and without a type condition) and named fragments, with `__typename`
   * and skip/include now and then. `useData: false` leaves this level's `data` out;
   * the result says whether it was chosen.
   */
  selection(type: GraphQLObjectType, depth: number, useData = true): { text: string; data: boolean } {
    const fields = selectable(type).filter((f) => useData || f.name !== 'data');
    const chosen = fields.filter((f) => (isLeafType(getNamedType(f.type)) || depth > 0) && this.chance(0.3));
    if (chosen.length === 0) chosen.push(this.pick(fields.filter((f) => isLeafType(getNamedType(f.type)))));
    let data = false;
    const parts: string[] = [];
    // One part without directives, so that no selection set is left empty whatever is skipped.
    let plain = false;
    for (const field of chosen) {
      if (field.name === 'data') data = true;
      const named = getNamedType(field.type);
      const directive = plain ? this.directive() : '';
      plain = true;
      if (isLeafType(named)) {
        const alias = this.chance(0.25) ? `${this.alias()}: ` : '';
        parts.push(`${alias}${field.name}${directive}`);
        if (this.chance(0.1)) parts.push(`${this.alias()}: ${field.name}`);
        continue;
      }
      const sub = () => this.nested(named, depth - 1);
      const args = argsOf(field);
      const roll = this.random();
      if (roll < 0.2) {
        // One field under two aliases, different sub-selections.
        parts.push(`${this.alias()}: ${field.name}${args}${directive} { ${sub()} }`, `${this.alias()}: ${field.name}${args} { ${sub()} }`);
      } else if (roll < 0.35) {
        // One response key from two places: the sub-selections merge.
        const alias = this.chance(0.5) ? `${this.alias()}: ` : '';
        parts.push(`${alias}${field.name}${args} { ${sub()} }`, `... on ${type.name} { ${alias}${field.name}${args} { ${sub()} } }`);
      } else {
        const alias = this.chance(0.25) ? `${this.alias()}: ` : '';
        parts.push(`${alias}${field.name}${args}${directive} { ${sub()} }`);
      }
    }
    if (this.chance(0.3)) parts.push('__typename');
    // Group some parts into fragments (never the first: it is the plain one).
    const out: string[] = [parts[0]!];
    for (let i = 1; i < parts.length; i++) {
      const roll = this.random();
      if (roll < 0.15) out.push(`... on ${type.name} { ${parts[i]} }`);
      else if (roll < 0.22) out.push(`...${this.chance(0.5) ? ' @include(if: true)' : ''} { ${parts[i]} }`);
      else if (roll < 0.3) out.push(`...${this.fragment(type.name, parts[i]!)}`);
      else if (roll < 0.33 && type.getInterfaces().some((t) => t.name === 'Node')) out.push(`... on Node { ${this.chance(0.5) ? 'id' : '__typename'} } ${parts[i]}`);
      else out.push(parts[i]!);
    }
    return { text: out.join(' '), data };
  }

  private fragment(on: string, text: string): string {
    const name = `F${this.fragments.length + 1}`;
    this.fragments.push(`fragment ${name} on ${on} { ${text} }`);
    return name;
  }

  private nested(type: GraphQLNamedType, depth: number): string {
    if (!isObjectType(type)) return '__typename';
    if (isConnection(type)) return this.connection(type, depth).text;
    return this.selection(type, depth).text;
  }

  /** A connection's selection: `nodes`, `edges { node }`, both, two `nodes` under aliases, `totalCount`, `pageInfo`, maybe through a fragment on the connection. */
  connection(type: GraphQLObjectType, depth: number, useData = true): { text: string; data: boolean } {
    const record = recordOf(type);
    let data = false;
    const records = () => {
      const s = this.selection(record, depth, useData);
      data ||= s.data;
      return s.text;
    };
    const parts: string[] = [];
    const roll = this.random();
    if (roll < 0.35) parts.push(`nodes { ${records()} }`);
    else if (roll < 0.55) parts.push(`edges { ${this.chance(0.5) ? 'cursor ' : ''}node { ${records()} } }`);
    else if (roll < 0.75) parts.push(`nodes { ${records()} }`, `${this.alias()}: edges { node { ${records()} } cursor }`);
    else if (roll < 0.9) parts.push(`${this.alias()}: nodes { ${records()} }`, `${this.alias()}: nodes { ${records()} }`);
    else parts.push(`...${this.fragment(type.name, `nodes { ${records()} }`)}`, `edges { node { ${records()} } }`);
    if (this.chance(0.3)) parts.push('totalCount');
    if (this.chance(0.2)) parts.push('pageInfo { hasNextPage endCursor }');
    return { text: parts.join(' '), data };
  }
}

// ---------------------------------------------------------------------------
// The tests, with each executor
// ---------------------------------------------------------------------------

describe.each(['jit', 'graphql-js'])('projection gives the answers of whole records (%s executor)', (executor) => {
  let on: Stack;
  let off: Stack;

  beforeAll(async () => {
    [on, off] = await Promise.all([
      startStack({ env: { ...upstreamEnv, ...ROOMY, EXECUTOR: executor, UPSTREAM_PROJECTION: 'on' } }),
      startStack({ env: { ...upstreamEnv, ...ROOMY, EXECUTOR: executor, UPSTREAM_PROJECTION: 'off' } }),
    ]);
    // Tokens first, so that the logs below hold data requests only.
    const warm = '{ cloudlx { services(first: 1) { totalCount } } ixc { devices(first: 1) { totalCount } } cloudcix { membership { currency(platformId: 1) { name } } } }';
    for (const stack of [on, off]) expect((await stack.graphql(warm)).body.errors).toBeUndefined();
  }, 60_000);
  afterAll(async () => {
    await on?.close();
    await off?.close();
  });

  /**
   * Asks both gateways, each twice; every answer must equal the projection-off
   * gateway's first. Answers the projection-on gateway's responses (with explain).
   */
  async function same(query: string, variables?: Record<string, unknown>): Promise<{ on: GraphQLResponse[]; off: GraphQLResponse }> {
    const offs = [await off.graphql(query, variables), await off.graphql(query, variables)];
    const ons = [await on.graphql(query, variables, EXPLAIN), await on.graphql(query, variables, EXPLAIN)];
    const expected = outcome(offs[0]!);
    expect(outcome(offs[1]!), `projection off, second run: ${query}`).toEqual(expected);
    for (const res of ons) expect(outcome(res), `projection on vs off: ${query}`).toEqual(expected);
    return { on: ons, off: offs[0]! };
  }

  function listCalls(res: GraphQLResponse, list: ListRoot): ExplainedCall[] {
    const calls = res.body.extensions?.upstream as ExplainedCall[] | undefined;
    expect(Array.isArray(calls), 'explain lists the upstream calls').toBe(true);
    // A batched read by id of the same CloudCIX service goes to the same route, with batchKeys.
    return calls!.filter((c) => c.platform === list.platform && c.route === list.route && c.batchKeys === undefined);
  }

  describe('1. every field of each projected list, to depth 3', () => {
    for (const list of LISTS) {
      const variants = list.hasData
        ? [
            { label: 'without data', omit: ((_t, f) => f === 'data') as Omit, projected: true },
            { label: 'data only below the record', omit: ((t, f) => t === list.recordType && f === 'data') as Omit, projected: true },
            { label: 'with data', omit: (() => false) as Omit, projected: false },
          ]
        : [{ label: 'all fields', omit: (() => false) as Omit, projected: true }];
      for (const variant of variants) {
        it(`${list.name}, ${variant.label}: the same answer; the list call ${variant.projected ? 'is' : 'is not'} projected`, async () => {
          const record = everyField(objectType(list.recordType), 3, variant.omit);
          const query = listQuery(list, `(first: ${list.first})`, `totalCount nodes { ${record} } edges { cursor node { platformId } }`);
          const { on: answers, off: whole } = await same(query);
          expect(whole.body.errors, query).toBeUndefined();
          // Something was read: the list is not empty, and its records hold values.
          const nodes = underNamespace(list, whole.body.data)[list.field].nodes as Record<string, unknown>[];
          expect(nodes.length).toBeGreaterThan(0);
          expect(nodes.every((node) => Object.values(node).some((value) => value !== null))).toBe(true);
          for (const res of answers) {
            const calls = listCalls(res, list);
            expect(calls.length, `${list.route} in explain`).toBeGreaterThan(0);
            for (const call of calls) expect(call.projected ?? false, `${list.route} projected`).toBe(variant.projected);
          }
        });
      }
    }
  });

  describe('2. random selections', () => {
    it('both gateways answer every random operation alike; a list is projected when it is the one read of its records and they do not select `data`', async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: 0x7fffffff }), async (seed) => {
          const { query, uses } = randomListOperation(new RandomOperation(prng(seed)));
          const { on: answers, off: whole } = await same(query);
          expect(whole.body.errors, query).toBeUndefined();
          for (const [list, withData] of uses) {
            for (const res of answers) {
              const projected = listCalls(res, list).map((c) => c.projected ?? false);
              expect(projected.length, `${list.route} called: ${query}`).toBeGreaterThan(0);
              // Projected only as the operation's one read of these records (no alias of it, no relation to them) without `data`.
              const expected = withData.length === 1 && !withData[0] && !readsRecordsElsewhere(query, list.recordType);
              expect(projected, `${list.route} ${expected ? 'projected' : 'read whole'}: ${query}`).toEqual(projected.map(() => expected));
            }
          }
        }),
        // ~100 runs over both executors; no shrinking of a seed (it would not make the operation smaller), the failing query is in the message.
        { seed: 20_260_115, numRuns: 50, endOnFailure: true },
      );
    }, 60_000);
  });

  describe('3. upstream calls', () => {
    /** Runs the query on the projection-on gateway alone, with explain, after clearing the simulators' logs. */
    async function onAlone(query: string): Promise<GraphQLResponse> {
      clearLogs();
      const res = await on.graphql(query, undefined, EXPLAIN);
      expect(res.body.errors, query).toBeUndefined();
      return res;
    }
    const projectedCalls = (res: GraphQLResponse) => (res.body.extensions!.upstream as ExplainedCall[]).filter((c) => c.projected).map((c) => c.route);

    it('200 CloudLX customers by id and name: one GET /api/customers, projected, with every customer', async () => {
      const query = '{ cloudlx { customers(first: 500) { nodes { id name } } } }';
      const expected = [...sims.cloudlx.customers.values()].map((c) => c.name);
      expect(expected).toHaveLength(200);
      for (let run = 0; run < 2; run++) {
        const res = await onAlone(query);
        expect(sims.cloudlx.server.log.map((r) => r.route)).toEqual(['GET /api/customers']);
        expect(projectedCalls(res)).toEqual(['GET /api/customers']);
        expect(res.body.data.cloudlx.customers.nodes.map((n: { name: string }) => n.name)).toEqual(expected);
      }
      await same(query);
    });

    it('100 CloudCIX addresses with the country and currency they embed: one list call, projected', async () => {
      const query = '{ cloudcix { membership { addresses(first: 100) { nodes { platformId country { englishName alpha2Code } currency { name symbol } } } } } }';
      const addresses = sims.cloudcix.records('Membership', 'address').slice(0, 100);
      for (let run = 0; run < 2; run++) {
        const res = await onAlone(query);
        expect(sims.cloudcix.server.log.map((r) => r.route)).toEqual(['GET /membership/address/']);
        expect(projectedCalls(res)).toEqual(['GET membership/address/']);
        const nodes = res.body.data.cloudcix.membership.addresses.nodes;
        expect(nodes).toEqual(
          addresses.map((a) => {
            const country = a.country as Record<string, unknown>;
            const currency = a.currency as Record<string, unknown>;
            return { platformId: String(a.id), country: { englishName: country.english_name, alpha2Code: country.alpha_2_code }, currency: { name: currency.name, symbol: currency.symbol } };
          }),
        );
      }
      await same(query);
    });

    it('a country field the embedded copy lacks (phonePrefix) is read: one batched GET /membership/country/ for every address, the same answer as unprojected', async () => {
      const query = '{ cloudcix { membership { addresses(first: 100) { nodes { country { englishName phonePrefix } currency { name } } } } } }';
      const addresses = sims.cloudcix.records('Membership', 'address').slice(0, 100);
      // What the simulator embeds: no phone_prefix, so the embedded copy cannot answer.
      expect(Object.keys(addresses[0]!.country as object).sort()).toEqual(['alpha_2_code', 'alpha_3_code', 'english_name', 'id']);
      const countryIds = [...new Set(addresses.map((a) => (a.country as { id: number }).id))].sort((a, b) => a - b);
      for (let run = 0; run < 2; run++) {
        const res = await onAlone(query);
        expect(sims.cloudcix.server.log.map((r) => r.route).sort()).toEqual(['GET /membership/address/', 'GET /membership/country/']);
        const batch = sims.cloudcix.server.requests('GET /membership/country/')[0]!;
        expect((JSON.parse(new URLSearchParams(batch.query).get('search[id__in]')!) as number[]).sort((a, b) => a - b)).toEqual(countryIds);
        // The list is projected, the batched read by id is not (its records answer reads by id).
        expect(projectedCalls(res)).toEqual(['GET membership/address/']);
        res.body.data.cloudcix.membership.addresses.nodes.forEach((node: any, i: number) => {
          const country = sims.cloudcix.record('Membership', 'country', (addresses[i]!.country as { id: number }).id)!;
          expect(node.country).toEqual({ englishName: country.english_name, phonePrefix: country.phone_prefix });
        });
      }
      await same(query);
    });

    it('50 IXC devices by serial number and model: one search, projected', async () => {
      const query = '{ ixc { devices(first: 50) { totalCount nodes { serialNumber model online } } } }';
      for (let run = 0; run < 2; run++) {
        const res = await onAlone(query);
        expect(sims.ixc.server.log.map((r) => r.route)).toEqual([`GET ${IXC_PATHS.deviceSearch}`]);
        expect(projectedCalls(res)).toEqual([`GET ${IXC_PATHS.deviceSearch}`]);
        expect(res.body.data.ixc.devices.nodes).toHaveLength(50);
        expect(res.body.data.ixc.devices.totalCount).toBe(240);
      }
      await same(query);
    });
  });

  // The projection-off gateway is no baseline for caching: its loaders are handed the same projections
  // (only the HTTP layer parses whole), so they never feed by-id reads from a list either. So the by-id
  // answers are also checked against the simulators' records, not only against the other gateway.
  describe('4. an operation that reads the same records elsewhere reads the list whole, and its records answer those reads', () => {
    it('CloudLX: customers listed by id only, and one customer read by id (and as a node) with fields the list did not select: one call, whole', async () => {
      const customer = [...sims.cloudlx.customers.values()][6]!;
      const globalId = Buffer.from(`CloudLXCustomer:${customer.id}`).toString('base64url');
      const query = `{
        cloudlx { customers(first: 500) { nodes { id } } customer(platformId: "${customer.id}") { name currency { iso3 name } country { iso2 name } realms { name } } }
        node(id: "${globalId}") { ... on CloudLXCustomer { name currency { iso3 } } }
      }`;
      const { on: answers } = await same(query);
      for (const res of answers) {
        expect(res.body.errors).toBeUndefined();
        // The list is read whole (not projected), and answers the read by id and the node: one call in all.
        expect((res.body.extensions!.upstream as ExplainedCall[]).map((c) => [c.route, c.projected ?? false])).toEqual([['GET /api/customers', false]]);
        const read = res.body.data.cloudlx.customer;
        expect(read).toMatchObject({ name: customer.name, currency: { iso3: customer.currency!.iso_3 }, country: { iso2: customer.country!.iso_2 } });
        expect(read.realms.map((r: { name: string }) => r.name)).toEqual(customer.realms.map((r) => r.name));
        expect(res.body.data.node).toEqual({ name: customer.name, currency: { iso3: customer.currency!.iso_3 } });
      }
      // Two reads by id in one batch are answered from the whole list, never the projected one.
      const two = [...sims.cloudlx.customers.values()].slice(3, 5);
      const batched = `{ cloudlx { customers(first: 500) { nodes { platformId } } a: customer(platformId: "${two[0]!.id}") { name currency { iso3 } } b: customer(platformId: "${two[1]!.id}") { name currency { iso3 } } } }`;
      const { on: batchedAnswers } = await same(batched);
      for (const res of batchedAnswers) {
        expect(res.body.data.cloudlx.a).toEqual({ name: two[0]!.name, currency: { iso3: two[0]!.currency!.iso_3 } });
        expect(res.body.data.cloudlx.b).toEqual({ name: two[1]!.name, currency: { iso3: two[1]!.currency!.iso_3 } });
      }
    });

    it('a second read of the list that selects no records (totalCount, pageInfo, a unified list) still shares one whole call', async () => {
      const queries = [
        '{ cloudlx { a: customers(first: 3) { nodes { name } } b: customers(first: 3) { totalCount } } }',
        '{ cloudlx { a: customers(first: 3) { nodes { name } } b: customers(first: 3) { pageInfo { hasNextPage } } } }',
        '{ cloudlx { customers(first: 3) { nodes { name } } } customers(first: 3) { totalCount } }',
        '{ cloudlx { a: services(first: 3) { nodes { name } } b: services(first: 3) { totalCount } } }',
      ];
      for (const query of queries) {
        const { on: answers } = await same(query);
        for (const res of answers) {
          expect(res.body.errors, query).toBeUndefined();
          const calls = (res.body.extensions!.upstream as ExplainedCall[]).filter((c) => c.platform === 'cloudlx');
          expect(calls.map((c) => [c.route, c.projected ?? false]), query).toEqual([[query.includes('services') ? 'GET /api/services' : 'GET /api/customers', false]]);
        }
      }
    });

    it('with projection off, records are whole again and answer every read: two selections of the list and a read by id cost one call', async () => {
      const customer = [...sims.cloudlx.customers.values()][6]!;
      const query = `{ cloudlx { a: customers(first: 500) { nodes { id } } b: customers(first: 500) { nodes { name } } customer(platformId: "${customer.id}") { name } } }`;
      for (let run = 0; run < 2; run++) {
        sims.cloudlx.server.clearLog();
        const res = await off.graphql(query);
        expect(res.body.errors).toBeUndefined();
        expect(res.body.data.cloudlx.customer).toEqual({ name: customer.name });
        expect(sims.cloudlx.server.log.map((r) => r.route)).toEqual(['GET /api/customers']);
      }
    });

    it('CloudCIX: addresses listed by platformId only, one address read by id, and users whose address relation is read after the list came: the list, whole, answers both', async () => {
      const address = sims.cloudcix.record('Membership', 'address', 7)!;
      const users = sims.cloudcix.records('Membership', 'user');
      const query = `{ cloudcix { membership {
        addresses(first: 100) { nodes { platformId } }
        address(platformId: "7") { name city postcode fullAddress country { alpha2Code phonePrefix } }
        users(first: 12) { nodes { platformId address { platformId name city postcode } } }
      } } }`;
      const { on: answers } = await same(query);
      for (const res of answers) {
        expect(res.body.errors).toBeUndefined();
        const membership = res.body.data.cloudcix.membership;
        expect(membership.address).toMatchObject({ name: address.name, city: address.city, postcode: address.postcode, fullAddress: address.full_address });
        expect(membership.users.nodes).toHaveLength(users.length);
        membership.users.nodes.forEach((node: any, i: number) => {
          const own = sims.cloudcix.record('Membership', 'address', (users[i]!.address as { id: number }).id)!;
          expect(node.address).toEqual({ platformId: String(own.id), name: own.name, city: own.city, postcode: own.postcode });
        });
        // The address list is read whole, and it answers the read by id and the users' addresses: no batched read of addresses.
        const calls = res.body.extensions!.upstream as ExplainedCall[];
        const addressCalls = calls.filter((c) => c.route === 'GET membership/address/');
        expect(addressCalls.map((c) => [c.batchKeys ?? null, c.projected ?? false])).toEqual([[null, false]]);
      }
    });

    it('IXC: devices listed by serial number only, one device read by serial, and an operation whose (listed) device is read after the list came: the list, whole, answers the later read', async () => {
      // An offline device: a diagnostic on it stays pending, and changes nothing of the device.
      // (One not carrying out another executor's diagnostic already.)
      const devices = (await off.graphql('{ ixc { devices(first: 40) { nodes { serialNumber online } } } }')).body.data.ixc.devices.nodes as { serialNumber: string; online: boolean }[];
      const other = devices[3]!.serialNumber;
      let offline: string | undefined;
      let protocol: string | undefined;
      for (const candidate of devices.filter((d) => !d.online)) {
        const started = await off.graphql(`mutation { ixcRunDiagnostic(input: { serialNumber: "${candidate.serialNumber}", type: PING, target: "192.0.2.1" }) { operation { protocol } userErrors { message } } }`);
        if (started.body.data.ixcRunDiagnostic.userErrors.length > 0) continue;
        offline = candidate.serialNumber;
        protocol = started.body.data.ixcRunDiagnostic.operation.protocol as string;
        break;
      }
      expect(protocol, 'an offline device among the first 40 takes a diagnostic').toBeDefined();

      const deviceFields = 'serialNumber model manufacturer online lastInformAt pppoeLogin ipv4 uptimeSeconds';
      const query = `{ ixc {
        devices(first: 40) { nodes { serialNumber } }
        device(serialNumber: "${other}") { ${deviceFields} }
        operation(protocol: "${protocol}") { status device { ${deviceFields} } }
      } }`;
      // The operation answers late, so its device is read once the (projected) list is in.
      sims.ixc.server.inject('GET /api/v1/operations/:protocol', { delayMs: 150 });
      try {
        const { on: answers, off: whole } = await same(query);
        expect(whole.body.errors).toBeUndefined();
        const full = (await off.graphql(`{ ixc { device(serialNumber: "${offline}") { ${deviceFields} } } }`)).body.data.ixc.device;
        for (const res of answers) {
          expect(res.body.data.ixc.operation.device).toEqual(full);
          expect(Object.values(res.body.data.ixc.device).every((v) => v !== null)).toBe(true);
          const calls = res.body.extensions!.upstream as ExplainedCall[];
          // The search is read whole: the root `device`, asked while the search is in flight, is one read by serial;
          // the operation's device, asked once the search is in, is answered by it.
          expect(calls.filter((c) => c.route === 'GET /api/v1/devices/{serial}').length, 'one device is read by serial').toBe(1);
          expect(calls.filter((c) => c.route === `GET ${IXC_PATHS.deviceSearch}`).map((c) => c.projected ?? false)).toEqual([false]);
        }
      } finally {
        sims.ixc.server.clearFaults();
      }
    });
  });

  describe('5. a malformed body on a projected call', () => {
    const cases: { list: ListRoot; simRoute: string; query: string; bodies: Record<string, string> }[] = [
      {
        list: LISTS.find((l) => l.name === 'CloudLX customers')!,
        simRoute: 'GET /api/customers',
        query: '{ cloudlx { customers(first: 5) { nodes { platformId name } } } }',
        bodies: {
          truncated: '{"customers": [{"id": 1, "name": "Acme"',
          'a bad value under a read key': '{"customers": [{"id": 1, "name": Acme}]}',
          'not JSON': '<html>Bad gateway</html>',
          'text after the value': '{"customers": [{"id": 1, "name": "Acme"}]} and more',
        },
      },
      {
        list: LISTS.find((l) => l.name === 'IXC devices')!,
        simRoute: `GET ${IXC_PATHS.deviceSearch}`,
        query: '{ ixc { devices(first: 5) { nodes { serialNumber model } } } }',
        bodies: {
          truncated: '{"registers": [{"serialNumber": "A1", "model": "F670',
          'a bad value under a read key': '{"registers": [{"serialNumber": "A1", "model": F670L}], "total": 1}',
          'not JSON': 'Service Unavailable',
          'text after the value': '{"registers": [], "total": 0}}',
        },
      },
      {
        list: LISTS.find((l) => l.name === 'CloudCIX Membership.address')!,
        simRoute: 'GET /membership/address/',
        query: '{ cloudcix { membership { addresses(first: 5) { nodes { platformId name } } } } }',
        bodies: {
          truncated: '{"content": [{"id": 1, "name": "Acme"}], "_metadata": {"total_records": ',
          'a bad value under a read key': '{"content": [{"id": 1, "name": "Acme\\q"}], "_metadata": {"total_records": 1}}',
          'not JSON': '{content: []}',
          'text after the value': '{"content": [], "_metadata": {"total_records": 0}},',
        },
      },
    ];
    for (const { list, simRoute, query, bodies } of cases) {
      for (const [label, body] of Object.entries(bodies)) {
        it(`${list.name}, ${label}: UPSTREAM_BAD_RESPONSE on the field with projection on as off; the next query is answered`, async () => {
          const sim = list.platform === 'cloudcix' ? sims.cloudcix.server : sims[list.platform].server;
          sim.inject(simRoute, { status: 200, body, headers: { 'content-type': 'application/json' } });
          try {
            const { on: answers, off: whole } = await same(query);
            const errors = whole.body.errors as { path: (string | number)[]; extensions: { code: string } }[];
            expect(errors.map((e) => [e.extensions.code, e.path])).toEqual([['UPSTREAM_BAD_RESPONSE', [...list.path, list.field]]]);
            expect(underNamespace(list, whole.body.data)[list.field]).toBeNull();
            for (const res of answers) {
              const calls = listCalls(res, list);
              expect(calls.length).toBeGreaterThan(0);
              for (const call of calls) expect(call).toMatchObject({ projected: true, errorCode: 'UPSTREAM_BAD_RESPONSE' });
            }
          } finally {
            sim.clearFaults();
          }
          const { off: next } = await same(query);
          expect(next.body.errors).toBeUndefined();
          expect(underNamespace(list, next.body.data)[list.field].nodes).toHaveLength(5);
        });
      }
    }

    // The one documented difference (src/core/upstream/project-json.ts: "what is skipped is only
    // delimited"): a fault inside a value the query never reads is not seen with projection on.
    // Pinned here so that a change to it is a decision; it also shows `same()` would catch a difference.
    it('documented exception: a fault only inside a skipped value answers with projection on, and is UPSTREAM_BAD_RESPONSE with it off', async () => {
      const query = '{ cloudlx { customers(first: 5) { nodes { platformId name } } } }';
      sims.cloudlx.server.inject('GET /api/customers', { status: 200, body: '{"customers": [{"id": 1, "name": "Acme", "notes": [1,,2]}]}' });
      try {
        const projected = await on.graphql(query);
        const whole = await off.graphql(query);
        expect(projected.body).toEqual({ data: { cloudlx: { customers: { nodes: [{ platformId: '1', name: 'Acme' }] } } } });
        expect(whole.body.errors.map((e: { extensions: { code: string } }) => e.extensions.code)).toEqual(['UPSTREAM_BAD_RESPONSE']);
        expect(() => expect(outcome(projected)).toEqual(outcome(whole))).toThrow();
      } finally {
        sims.cloudlx.server.clearFaults();
      }
    });
  });
});

/** 1–2 projected lists, each once or twice (aliased, other arguments and selection), in one random operation; with whether each occurrence selects record-level `data`. */
/**
 * Whether the operation reads records of `recordType` other than as its list's own
 * `nodes`/`edges.node`: a field of that type or of an interface or union it belongs to.
 */
function readsRecordsElsewhere(query: string, recordType: string): boolean {
  const record = schema.getType(recordType) as GraphQLObjectType;
  const typeInfo = new TypeInfo(schema);
  let found = false;
  visit(
    parse(query),
    visitWithTypeInfo(typeInfo, {
      Field() {
        const type = getNamedType(typeInfo.getType());
        const parent = typeInfo.getParentType();
        if (!type || parent?.name === `${recordType}Connection` || parent?.name === `${recordType}Edge`) return;
        if (type === record || (isAbstractType(type) && schema.isSubType(type, record))) found = true;
      },
    }),
  );
  return found;
}

function randomListOperation(op: RandomOperation): { query: string; uses: Map<ListRoot, boolean[]> } {
  const uses = new Map<ListRoot, boolean[]>();
  const parts: string[] = [];
  const count = op.chance(0.3) ? 2 : 1;
  for (let i = 0; i < count; i++) {
    const list = op.pick(LISTS);
    const occurrences = op.chance(0.25) ? 2 : 1;
    for (let k = 0; k < occurrences; k++) {
      const { first, after } = randomWindow(op, list);
      const args = `(first: ${first}${after === undefined ? '' : `, after: "${offsetCursor(after)}"`})`;
      const connection = objectType(list.recordType + 'Connection');
      const { text, data } = op.connection(connection, 2, op.chance(0.8));
      // A list already in the operation gets an alias: one response key cannot take two sets of arguments.
      const alias = uses.has(list) || op.chance(0.2) ? `${op.alias()}: ` : '';
      parts.push(inNamespace(list, `${alias}${list.field}${args} { ${text} }`));
      uses.set(list, [...(uses.get(list) ?? []), data]);
    }
  }
  return { query: op.document(`{ ${parts.join(' ')} }`), uses };
}

/** `first` and an offset to start after: CloudLX lists are whole in memory; IXC and CloudCIX page (an unaligned window reads two pages). */
function randomWindow(op: RandomOperation, list: ListRoot): { first: number; after?: number } {
  if (list.platform === 'cloudlx') return { first: op.pick([0, 1, 5, 60, 500]), after: op.chance(0.3) ? op.pick([0, 7, 150]) : undefined };
  return { first: op.pick([1, 3, 10]), after: op.chance(0.3) ? op.pick([0, 4, 98]) : undefined };
}
