import { BadUserInputError } from '../upstream/errors.js';

/**
 * Global ids are opaque to clients: base64url of `<GraphQL type>:<platform key>`.
 * The type inside lets `node(id)` find the platform that owns it without a lookup.
 */
export function toGlobalId(typename: string, key: string | number): string {
  let known = encoded.get(typename);
  if (!known) encoded.set(typename, (known = new Map()));
  let id = known.get(key);
  if (id === undefined) {
    id = Buffer.from(`${typename}:${key}`, 'utf8').toString('base64url');
    if (known.size >= ENCODED_PER_TYPE) known.clear();
    known.set(key, id);
  }
  return id;
}

/**
 * The ids encoded lately, per type: a page of 200 customers asks the same 200
 * ids on every request, and a lookup costs a tenth of encoding one again
 * (test/bench/profile.ts showed encoding at 3 % of a gateway's CPU). Bounded:
 * a type's map starts over when full.
 */
const encoded = new Map<string, Map<string | number, string>>();
const ENCODED_PER_TYPE = 10_000;

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
