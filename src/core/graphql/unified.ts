import { GraphQLError, responsePathAsArray, type GraphQLResolveInfo } from 'graphql';
import type { PlatformModule, UnifiedField } from '../platform.js';
import { connectionFromArray, type ConnectionArgs } from './connection.js';
import { fromGlobalId, tagType, taggedType } from './ids.js';
import { DateTimeScalar, JSONScalar } from './scalars.js';
import { SwitchboardError } from '../upstream/errors.js';

/** What the core needs of the request context (the full context type lives in src/context.ts). */
export interface CoreContext {
  platforms: Record<string, unknown>;
  simulated: ReadonlySet<string>;
  /** Errors beside the data, formatted by the pipeline (see `PartialError` in src/context.ts). */
  partialErrors: GraphQLError[];
  log: { warn(obj: object, msg: string): void };
}

interface UnifiedArgs extends ConnectionArgs {
  platforms?: readonly string[] | null;
}

/**
 * The resolvers that span platforms: `node`, `nodes`, the unified lists and the
 * interfaces' type resolution. The platform list is passed in; the core names none.
 */
export function createCoreResolvers(platforms: readonly PlatformModule[]) {
  const ownerOfType = new Map<string, PlatformModule>();
  for (const platform of platforms) for (const typename of Object.keys(platform.nodes)) ownerOfType.set(typename, platform);

  async function loadNode(id: string, ctx: CoreContext): Promise<object | null> {
    const { typename, key } = fromGlobalId(id);
    const platform = ownerOfType.get(typename);
    if (!platform) return null;
    try {
      const record = await platform.nodes[typename]!(ctx.platforms[platform.key], key);
      return record ? tagType(record, typename) : null;
    } catch (error) {
      if (error instanceof SwitchboardError && error.code === 'NOT_FOUND') return null;
      throw error;
    }
  }

  const unifiedList = (field: UnifiedField) => async (_: unknown, args: UnifiedArgs, ctx: CoreContext, info: GraphQLResolveInfo) => {
    const wanted = platforms.filter((p) => p.unified[field] && (!args.platforms || args.platforms.includes(p.enumValue)));
    const results = await Promise.allSettled(wanted.map((p) => p.unified[field]!(ctx.platforms[p.key])));
    const items: object[] = [];
    results.forEach((result, i) => {
      const platform = wanted[i]!;
      if (result.status === 'fulfilled') {
        items.push(...result.value);
        return;
      }
      // One platform down must not hide the others: its error goes beside the data, formatted by the pipeline.
      const error = result.reason;
      const path = responsePathAsArray(info.path);
      if (error instanceof SwitchboardError) {
        ctx.partialErrors.push(new GraphQLError(error.message, { path, originalError: error }));
        return;
      }
      ctx.log.warn({ err: error, platform: platform.key }, 'unified field failed');
      ctx.partialErrors.push(
        new GraphQLError(`${platform.title} failed unexpectedly`, { path, extensions: { code: 'INTERNAL_SERVER_ERROR', platform: platform.key } }),
      );
    });
    return connectionFromArray(items, args);
  };

  const resolveType = (value: unknown) => {
    const typename = taggedType(value);
    if (!typename) throw new GraphQLError('Switchboard could not tell the type of an object (a platform returned it untagged)');
    return typename;
  };

  return {
    DateTime: DateTimeScalar,
    JSON: JSONScalar,
    Query: {
      node: (_: unknown, { id }: { id: string }, ctx: CoreContext) => loadNode(id, ctx),
      // One promise per id, not Promise.all: a bad id nulls its own entry, with its error, not the whole list.
      nodes: (_: unknown, { ids }: { ids: string[] }, ctx: CoreContext) => ids.map((id) => loadNode(id, ctx)),
      customers: unifiedList('customers'),
      apps: unifiedList('apps'),
      apiClients: unifiedList('apiClients'),
      webhooks: unifiedList('webhooks'),
      platforms: (_: unknown, __: unknown, ctx: CoreContext) =>
        platforms.map((p) => ({ platform: p.enumValue, title: p.title, simulated: ctx.simulated.has(p.key) })),
    },
    Node: { __resolveType: resolveType },
    Customer: { __resolveType: resolveType },
    App: { __resolveType: resolveType },
    ApiClient: { __resolveType: resolveType },
    Webhook: { __resolveType: resolveType },
  };
}
