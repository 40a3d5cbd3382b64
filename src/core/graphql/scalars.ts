import { GraphQLScalarType, Kind, type ValueNode } from 'graphql';

/**
 * Upstreams write times several ways ("2016-08-05 09:50:38", ISO with offsets,
 * epoch seconds). Clients always get ISO-8601 in UTC. A time without a zone is
 * taken as UTC, which is what the platforms that omit it document.
 */
export function toIsoDateTime(value: unknown): string | null {
  if (value === null || value === undefined || value === '') return null;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'number') return new Date(value < 1e12 ? value * 1000 : value).toISOString();
  if (typeof value === 'string') {
    const zoned = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value.replace(' ', 'T')}Z`;
    const date = new Date(zoned);
    if (!Number.isNaN(date.getTime())) return date.toISOString();
  }
  throw new TypeError(`DateTime cannot represent ${JSON.stringify(value)}: expected an ISO-8601 date-time`);
}

export const DateTimeScalar = new GraphQLScalarType({
  name: 'DateTime',
  description: 'An instant, as an ISO-8601 string in UTC (`2026-11-23T17:38:28.000Z`).',
  serialize: toIsoDateTime,
  parseValue(value) {
    if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
      throw new TypeError(`Expected an ISO-8601 date-time string, got ${JSON.stringify(value)}`);
    }
    return new Date(value).toISOString();
  },
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING || Number.isNaN(Date.parse(ast.value))) {
      throw new TypeError(`Expected an ISO-8601 date-time string literal`);
    }
    return new Date(ast.value).toISOString();
  },
});

function literalToJson(ast: ValueNode, variables: Record<string, unknown> | null | undefined): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return ast.values.map((v) => literalToJson(v, variables));
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, literalToJson(f.value, variables)]));
    case Kind.VARIABLE:
      return variables?.[ast.name.value];
    default:
      throw new TypeError(`JSON cannot represent ${ast.kind}`);
  }
}

export const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  description: 'Any JSON value, passed through as the upstream gave it.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => literalToJson(ast, variables),
});
