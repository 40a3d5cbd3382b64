import fc from 'fast-check';
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { costModelOf, operationCost, OperationCosts } from '../src/core/security/limits.js';
import { platforms } from '../src/platforms/index.js';
import { buildSchema } from '../src/schema.js';

/**
 * The gateway prices each operation once per parsed document and per page sizes
 * its variables give (OperationCosts), instead of walking the operation on every
 * request. Whatever the variables, the remembered price must be the one a fresh
 * walk gives: a cached price that ignored a variable would let a caller pass the
 * cost limit with a cheap first request and then raise `first`.
 */
const schema = buildSchema(platforms);
const model = costModelOf(schema);

const DOCUMENTS = [
  'query($n: Int) { ixc { a: devices(first: $n) { nodes { parameters(prefix: "a") { name } } } b: devices(first: $n) { nodes { parameters(prefix: "b") { name } } } } }',
  'query($n: Int, $m: Int) { cloudlx { customers(first: $n) { nodes { name realms { name } subRealms { name realm { name } } } } } ixc { devices(first: $m) { totalCount } } }',
  'query Named($ids: [ID!]!, $n: Int) { nodes(ids: $ids) { id ... on CloudLXCustomer { subRealms { name } } } cloudlx { customers(first: $n) { nodes { name } } } } query Other { cloudlx { customers { nodes { name } } } }',
  'query($n: Int) { cloudlx { customers(first: $n) { ...C } } } fragment C on CloudLXCustomerConnection { nodes { realms { name } subRealms { realm { name } } } }',
].map((text) => parse(text));

/** Values a client may send for a variable: page sizes, nothing, lists (ids), and things that are neither. */
const value = fc.oneof(
  fc.integer({ min: -5, max: 600 }),
  fc.constantFrom(undefined, null, Number.NaN, Number.POSITIVE_INFINITY, 'ten', 2.5),
  fc.array(fc.string(), { maxLength: 30 }),
  fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 3 }).map((sizes) => sizes.map((s) => 'x'.repeat(s))),
);

describe('operation costs, remembered per document', () => {
  it('equal a fresh walk for any variables, in any order of requests', () => {
    const costs = new OperationCosts(schema, model);
    fc.assert(
      fc.property(fc.array(fc.record({ doc: fc.nat(DOCUMENTS.length - 1), other: fc.boolean(), n: value, m: value, ids: value }), { minLength: 1, maxLength: 40 }), (requests) => {
        for (const { doc, other, n, m, ids } of requests) {
          const document = DOCUMENTS[doc]!;
          const operationName = doc === 2 ? (other ? 'Other' : 'Named') : undefined;
          const variables = { n, m, ids };
          expect(costs.of(document, operationName, variables)).toBe(operationCost(schema, document, model, { operationName, variables }));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('prices a larger page given by a variable higher, after a smaller one was priced', () => {
    const costs = new OperationCosts(schema, model);
    const document = DOCUMENTS[0]!;
    const small = costs.of(document, undefined, { n: 3 });
    const large = costs.of(document, undefined, { n: 501 });
    expect(small).toBe(8);
    expect(large).toBe(1004);
    expect(costs.of(document, undefined, { n: 3 })).toBe(small);
  });
});
