import { GraphQLError, responsePathAsArray, type GraphQLResolveInfo } from 'graphql';
import type { PlatformModule, UnifiedField } from '../platform.js';
import { connectionFromArray, type ConnectionArgs } from './connection.js';
import { fromGlobalId, tagType, taggedType } from './ids.js';
import { DateTimeScalar, JSONScalar } from './scalars.js';
import { SwitchboardError, toGraphQLErrorExtensions } from '../upstream/errors.js';
import { publicUpstreamMessage } from '../security/upstream-text.js';

/** What the core needs of the request context (the full context type lives in src/context.ts). */
export interface CoreContext {
  platforms: Record<string, unknown>;
  simulated: ReadonlySet<string>;
  partialErrors: { message: string; path: readonly (string | number)[]; extensions: Record<string, unknown> }[];
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
      // One platform down must not hide the others: its error goes beside the data.
      const error = result.reason;
      const extensions =
        error instanceof SwitchboardError ? toGraphQLErrorExtensions(error) : { code: 'INTERNAL_SERVER_ERROR', platform: platform.key };
      extensions.platform ??= platform.key;
      if (!(error instanceof SwitchboardError)) ctx.log.warn({ err: error, platform: platform.key }, 'unified field failed');
      // A platform's own error text stays in the log; the client reads the gateway's words (src/core/security/upstream-text.ts).
      const upstreamText = error instanceof SwitchboardError ? publicUpstreamMessage(error, () => platform.title) : undefined;
      if (upstreamText) delete extensions.fieldErrors;
      ctx.partialErrors.push({
        message: error instanceof SwitchboardError ? (upstreamText ?? error.message) : `${platform.title} failed unexpectedly`,
        path: responsePathAsArray(info.path),
        extensions,
      });
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
