import { BadUserInputError } from '../upstream/errors.js';

export interface ConnectionArgs {
  first?: number | null;
  after?: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

export interface Connection<T> {
  edges: Edge<T>[];
  nodes: T[];
  pageInfo: PageInfo;
  totalCount: number | null;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export function offsetCursor(offset: number): string {
  return Buffer.from(`offset:${offset}`).toString('base64url');
}

export function offsetFromCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^offset:(\d+)$/.exec(text);
  if (!match) throw new BadUserInputError(`Expected \`after\` to be a cursor from this connection's pageInfo.endCursor, got ${JSON.stringify(cursor)}`);
  return Number(match[1]);
}

export function pageSize(first: number | null | undefined): number {
  if (first === undefined || first === null) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
    throw new BadUserInputError(`Expected \`first\` to be a whole number from 0 to ${MAX_PAGE_SIZE}, got ${first}`);
  }
  return first;
}

/** A Relay connection over a list the upstream returns whole (it has no paging of its own). */
export function connectionFromArray<T>(items: readonly T[], args: ConnectionArgs): Connection<T> {
  const start = args.after ? offsetFromCursor(args.after) + 1 : 0;
  const size = pageSize(args.first);
  const slice = items.slice(start, start + size);
  return connectionFromSlice(slice, start, items.length > start + size, items.length);
}

/** A connection over one page an upstream returned, starting at absolute `offset`. */
export function connectionFromSlice<T>(slice: readonly T[], offset: number, hasNextPage: boolean, totalCount: number | null): Connection<T> {
  return new OffsetConnection(slice as T[], offset, hasNextPage, totalCount);
}

/**
 * Edges and their cursors are made when a query reads `edges`, not before: most
 * queries read `nodes`, and a page of 200 would otherwise cost 200 objects and
 * 200 encoded cursors per request for nothing.
 */
class OffsetConnection<T> implements Connection<T> {
  readonly pageInfo: PageInfo;
  private built: Edge<T>[] | undefined;

  constructor(
    readonly nodes: T[],
    private readonly offset: number,
    hasNextPage: boolean,
    readonly totalCount: number | null,
  ) {
    const last = nodes.length - 1;
    this.pageInfo = {
      hasNextPage,
      hasPreviousPage: offset > 0,
      startCursor: last >= 0 ? offsetCursor(offset) : null,
      endCursor: last >= 0 ? offsetCursor(offset + last) : null,
    };
  }

  get edges(): Edge<T>[] {
    return (this.built ??= this.nodes.map((node, i) => ({ cursor: offsetCursor(this.offset + i), node })));
  }
}

/**
 * Keyset paging, for upstreams that page by "the last value seen" (Exotel's
 * `last_value`). The upstream's value marks page boundaries only, so a cursor
 * holds a value and how many items after it precede the position. The edge of
 * the last item the upstream returned carries the upstream's own next value
 * (skip 0), so paging forward never re-reads the pages before.
 */
export interface KeysetPosition {
  /** The upstream's keyset value the page starts after. */
  after: string;
  /** How many items after it come before the position. */
  skip: number;
}

export function keysetCursor(position: KeysetPosition): string {
  return Buffer.from(`keyset:${position.skip}:${position.after}`).toString('base64url');
}

/** The position `after` points at; `start` (the upstream's "from the beginning" value) when there is no cursor. */
export function keysetFromCursor(cursor: string | null | undefined, start: string): KeysetPosition {
  if (cursor === undefined || cursor === null || cursor === '') return { after: start, skip: 0 };
  const match = /^keyset:(\d+):(.*)$/s.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new BadUserInputError(`Expected \`after\` to be a cursor from this connection's pageInfo.endCursor, got ${JSON.stringify(cursor)}`);
  return { after: match[2]!, skip: Number(match[1]) };
}

/**
 * A connection over one keyset page: `items` as the upstream returned them after
 * `position.after` (the first `position.skip` are dropped here), at most `size`
 * kept, `next` the upstream's value for the page after them (null at the end),
 * `start` its "from the beginning" value.
 */
export function connectionFromKeysetPage<T>(items: readonly T[], position: KeysetPosition, size: number, next: string | null, start: string): Connection<T> {
  const slice = items.slice(position.skip, position.skip + size);
  const lastReturned = items.length - 1;
  const edges = slice.map((node, i) => {
    const index = position.skip + i;
    const cursor =
      index === lastReturned && next !== null ? keysetCursor({ after: next, skip: 0 }) : keysetCursor({ after: position.after, skip: index + 1 });
    return { cursor, node };
  });
  return {
    edges,
    nodes: slice as T[],
    pageInfo: {
      hasNextPage: items.length > position.skip + size || next !== null,
      hasPreviousPage: position.skip > 0 || position.after !== start,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges[edges.length - 1]?.cursor ?? null,
    },
    totalCount: null,
  };
}
