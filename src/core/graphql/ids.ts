import { BadUserInputError } from '../upstream/errors.js';

/**
 * Global ids are opaque to clients: base64url of `<GraphQL type>:<platform key>`.
 * The type inside lets `node(id)` find the platform that owns it without a lookup.
 */
export function toGlobalId(typename: string, key: string | number): string {
  return Buffer.from(`${typename}:${key}`, 'utf8').toString('base64url');
}

export interface DecodedGlobalId {
  typename: string;
  key: string;
}

export function fromGlobalId(id: string): DecodedGlobalId {
  const decoded = Buffer.from(id, 'base64url').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0 || colon === decoded.length - 1 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(decoded.slice(0, colon))) {
    throw new BadUserInputError(`Expected a Switchboard global id (the \`id\` of a Node), got ${JSON.stringify(id)}`);
  }
  return { typename: decoded.slice(0, colon), key: decoded.slice(colon + 1) };
}

const TYPENAME = Symbol.for('switchboard.typename');

/**
 * Marks an upstream object with its GraphQL type so interfaces (`Customer`,
 * `Node`…) resolve it without copying it into a wrapper.
 */
export function tagType<T extends object>(value: T, typename: string): T {
  (value as Record<symbol, unknown>)[TYPENAME] = typename;
  return value;
}

export function taggedType(value: unknown): string | undefined {
  return value && typeof value === 'object' ? ((value as Record<symbol, unknown>)[TYPENAME] as string | undefined) : undefined;
}

/** `tagType` over a list, for `.then(tagAll('CloudLXCustomer'))`. */
export const tagAll =
  <T extends object>(typename: string) =>
  (records: T[]): T[] =>
    records.map((record) => tagType(record, typename));
