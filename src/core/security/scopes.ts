import {
  GraphQLError,
  Kind,
  getNullableType,
  isNonNullType,
  isObjectType,
  responsePathAsArray,
  visit,
  type DocumentNode,
  type GraphQLField,
  type GraphQLFieldResolver,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { fromGlobalId } from '../graphql/ids.js';
import { ForbiddenError } from '../upstream/errors.js';
import { SecurityError } from './errors.js';

/**
 * Scopes say what a client may do. Per platform: `<platform>:read` (queries under
 * `<platform> { … }`, its part of the unified fields, `node` of its types) and
 * `<platform>:write` (its mutations). Then `events:subscribe` (subscriptions and
 * the event history), `introspect` (the schema through `__schema`/`__type`), and
 * `admin`: needed on top of `<platform>:write` for the mutations that mint
 * credentials or change the gateway's own standing with a platform, and for the
 * gateway's own diagnostics (`/metrics`, upstream origins in `/readyz`).
 */
export const CORE_SCOPES = ['events:subscribe', 'introspect', 'admin'] as const;

export function knownScopes(platformKeys: readonly string[]): string[] {
  return [...platformKeys.flatMap((key) => [`${key}:read`, `${key}:write`]), ...CORE_SCOPES];
}

/** Who is calling, as the authentication step decided. */
export interface Principal {
  /** The client's name from the clients file; undefined for an anonymous caller. */
  readonly client?: string;
  /** The same name, under the field the pipeline's log line and `OperationScope.client` read. */
  readonly name?: string;
  readonly anonymous: boolean;
  readonly scopes: ReadonlySet<string>;
  /** How the caller proved who it is. */
  readonly via: 'anonymous' | 'api-key' | 'jwt';
  /** The client's budget of requests; undefined for anonymous callers (embedded default only). */
  readonly limits?: { readonly requestsPerMinute: number; readonly requestsPerDay: number };
}

/** The principal of the embedded default: no clients are configured, every platform is simulated, only loopback listens. */
export function anonymousPrincipal(platformKeys: readonly string[]): Principal {
  return Object.freeze({ anonymous: true, scopes: new Set(knownScopes(platformKeys)), via: 'anonymous' as const });
}

export function hasScope(principal: Principal, scope: string): boolean {
  return principal.scopes.has(scope);
}

function describeCaller(principal: Principal): string {
  if (principal.anonymous) return 'an anonymous caller';
  const held = [...principal.scopes].sort().join(', ');
  return `client "${principal.client}" (scopes: ${held || 'none'})`;
}

/** What the scope check needs to know of each platform module. */
export interface ScopedPlatform {
  readonly key: string;
  /** The `Platform` enum value (`CLOUDLX`), as the unified fields' `platforms` argument takes it. */
  readonly enumValue: string;
  readonly title: string;
  /** The GraphQL types `node(id)` resolves for this platform. */
  readonly nodeTypes: readonly string[];
  /** Mutations of this platform that need `admin` on top of `<key>:write`. */
  readonly adminMutations?: readonly string[];
}

export interface ScopeCheckOptions {
  platforms: readonly ScopedPlatform[];
  /** Reads the caller from a resolver's context (`context.principal` by default). */
  principalOf?: (context: unknown) => Principal | undefined;
  /** Where a unified field puts errors that do not fail it (`context.partialErrors` by default). */
  partialErrorsOf?: (context: unknown) => GraphQLError[] | undefined;
  /**
   * Root `Query` fields of the core and their scope; a root field that is neither
   * a platform's, a unified field, `node`/`nodes`, nor listed here needs `admin`
   * (closed by default: a new field is not open to every client by accident).
   */
  rootFieldScopes?: Readonly<Record<string, string | null>>;
}

/** Root fields of the core anyone authenticated may read; `events` needs `events:subscribe`. */
export const DEFAULT_ROOT_FIELD_SCOPES: Readonly<Record<string, string | null>> = {
  platforms: null,
  events: 'events:subscribe',
};

const defaultPrincipalOf = (context: unknown) => (context as { principal?: Principal } | undefined)?.principal;
const defaultPartialErrorsOf = (context: unknown) => (context as { partialErrors?: never[] } | undefined)?.partialErrors;

/** What each root field of an operation needs: computed once at start, used to refuse mutations before any of them runs. */
export interface ScopeTable {
  /** Root Query fields that cannot be null (`events`, `deadLetters`) → scopes needed: refused before the query runs, since an error on them would null the whole answer. */
  readonly query: ReadonlyMap<string, readonly string[]>;
  /** Mutation field → scopes needed (all of them). */
  readonly mutation: ReadonlyMap<string, readonly string[]>;
  /** Subscription field → scopes needed. */
  readonly subscription: ReadonlyMap<string, readonly string[]>;
}

/**
 * Wraps the resolvers of `schema` (built fresh at start, so in place) with the
 * scope checks, and returns the table of what each mutation and subscription
 * needs. A query field outside the caller's scopes fails alone with FORBIDDEN
 * (its siblings still answer); a unified field leaves out the platforms the caller
 * may not read, with one FORBIDDEN error per platform beside the data.
 *
 * The checks sit on the first nullable fields under each platform's namespace
 * (`cloudlx { customers }`, `cloudcix { membership { addresses } }`): the
 * namespace objects themselves are non-null and cost nothing, and an error there
 * would null the whole response.
 */
export function applyScopeChecks(schema: GraphQLSchema, options: ScopeCheckOptions): ScopeTable {
  const principalOf = options.principalOf ?? defaultPrincipalOf;
  const partialErrorsOf = options.partialErrorsOf ?? defaultPartialErrorsOf;
  const rootScopes = { ...DEFAULT_ROOT_FIELD_SCOPES, ...options.rootFieldScopes };
  const byKey = new Map(options.platforms.map((p) => [p.key, p]));
  const byEnum = new Map(options.platforms.map((p) => [p.enumValue, p]));
  const byNodeType = new Map<string, ScopedPlatform>();
  for (const p of options.platforms) for (const t of p.nodeTypes) byNodeType.set(t, p);

  const callerOf = (context: unknown): Principal => {
    const principal = principalOf(context);
    // Fail closed: a context that did not pass authentication may read nothing.
    if (!principal) throw new ForbiddenError('Switchboard could not tell who is calling, so it refuses this field.');
    return principal;
  };
  const forbidden = (principal: Principal, scope: string, platform: ScopedPlatform | undefined, what: string) =>
    new ForbiddenError(`${what} needs the scope ${scope}; ${describeCaller(principal)} lacks it. Ask the gateway's operator to add it to the client.`, {
      platform: platform?.key,
    });

  const guard = (field: GraphQLField<unknown, unknown>, scope: string, platform: ScopedPlatform | undefined, what: string) => {
    const resolve = field.resolve ?? defaultResolve;
    field.resolve = (source, args, context, info) => {
      const principal = callerOf(context);
      if (!principal.scopes.has(scope)) throw forbidden(principal, scope, platform, what);
      return resolve(source, args, context, info);
    };
    if (field.subscribe) {
      const subscribe = field.subscribe;
      field.subscribe = (source, args, context, info) => {
        const principal = callerOf(context);
        if (!principal.scopes.has(scope)) throw forbidden(principal, scope, platform, what);
        return subscribe(source, args, context, info);
      };
    }
  };

  const queryScopes = new Map<string, readonly string[]>();
  const query = schema.getQueryType();
  if (query) {
    for (const field of Object.values(query.getFields())) {
      const platform = byKey.get(field.name);
      if (platform) {
        guardNamespace(field, platform, new Set());
        continue;
      }
      if (field.name === 'node') {
        wrapNode(field);
        continue;
      }
      if (field.name === 'nodes') {
        wrapNodes(field);
        continue;
      }
      if (field.args.some((a) => a.name === 'platforms') && options.platforms.length > 0) {
        wrapUnified(field);
        continue;
      }
      const scope = field.name in rootScopes ? rootScopes[field.name] : 'admin';
      if (!scope) continue;
      guard(field, scope, undefined, `The field ${field.name}`);
      if (isNonNullType(field.type)) queryScopes.set(field.name, [scope]);
    }
  }

  function guardNamespace(field: GraphQLField<unknown, unknown>, platform: ScopedPlatform, seen: Set<string>) {
    const type = getNullableType(field.type);
    if (!isNonNullType(field.type) || !isObjectType(type) || seen.has(type.name)) {
      guard(field, `${platform.key}:read`, platform, `Reading ${platform.title} (${field.name})`);
      return;
    }
    seen.add(type.name);
    for (const child of Object.values(type.getFields())) {
      const childType = getNullableType(child.type);
      if (isNonNullType(child.type) && isObjectType(childType) && childType.name.endsWith('Query')) guardNamespace(child, platform, seen);
      else guard(child, `${platform.key}:read`, platform, `Reading ${platform.title} (${child.name})`);
    }
  }

  function readablePlatform(principal: Principal, typename: string): { platform?: ScopedPlatform; allowed: boolean } {
    const platform = byNodeType.get(typename);
    if (!platform) return { allowed: true };
    return { platform, allowed: principal.scopes.has(`${platform.key}:read`) };
  }

  function nodeCheck(principal: Principal, id: unknown): ForbiddenError | undefined {
    if (typeof id !== 'string') return undefined;
    let typename: string;
    try {
      typename = fromGlobalId(id).typename;
    } catch {
      return undefined; // the resolver itself answers a malformed id with BAD_USER_INPUT
    }
    const { platform, allowed } = readablePlatform(principal, typename);
    return allowed || !platform ? undefined : forbidden(principal, `${platform.key}:read`, platform, `Reading a ${platform.title} object (${typename})`);
  }

  function wrapNode(field: GraphQLField<unknown, unknown>) {
    const resolve = field.resolve ?? defaultResolve;
    field.resolve = (source, args, context, info) => {
      const refusal = nodeCheck(callerOf(context), (args as { id?: unknown }).id);
      if (refusal) throw refusal;
      return resolve(source, args, context, info);
    };
  }

  function wrapNodes(field: GraphQLField<unknown, unknown>) {
    const resolve = field.resolve ?? defaultResolve;
    field.resolve = (source, args, context, info) => {
      const principal = callerOf(context);
      const ids = ((args as { ids?: unknown[] }).ids ?? []) as unknown[];
      const refusals = ids.map((id) => nodeCheck(principal, id));
      if (!refusals.some(Boolean)) return resolve(source, args, context, info);
      // Only the ids the caller may read reach the platforms; each other entry is null with its own FORBIDDEN.
      const allowedIds = ids.filter((_, i) => !refusals[i]);
      const answered = resolve(source, { ...(args as object), ids: allowedIds }, context, info);
      return Promise.resolve(answered).then((values) => {
        const list = Array.isArray(values) ? [...values] : [];
        return refusals.map((refusal) => (refusal ? Promise.reject(refusal) : list.shift()));
      });
    };
  }

  function wrapUnified(field: GraphQLField<unknown, unknown>) {
    const resolve = field.resolve ?? defaultResolve;
    field.resolve = (source, args, context, info: GraphQLResolveInfo) => {
      const principal = callerOf(context);
      const asked = (args as { platforms?: string[] | null }).platforms;
      const wanted = asked ?? options.platforms.map((p) => p.enumValue);
      const lacking = wanted.map((v) => byEnum.get(v)).filter((p): p is ScopedPlatform => !!p && !principal.scopes.has(`${p.key}:read`));
      if (lacking.length === 0) return resolve(source, args, context, info);
      const allowed = wanted.filter((v) => !lacking.some((p) => p.enumValue === v));
      const partial = partialErrorsOf(context);
      for (const platform of lacking) {
        const error = forbidden(principal, `${platform.key}:read`, platform, `Reading ${platform.title} in ${field.name}`);
        partial?.push(new GraphQLError(error.message, { path: responsePathAsArray(info.path), originalError: error }));
      }
      return resolve(source, { ...(args as object), platforms: allowed }, context, info);
    };
  }

  const mutation = new Map<string, readonly string[]>();
  const mutationType = schema.getMutationType();
  if (mutationType) {
    const admin = new Set(options.platforms.flatMap((p) => p.adminMutations ?? []));
    const fields = mutationType.getFields();
    for (const name of admin) {
      if (!fields[name]) throw new TypeError(`applyScopeChecks: the admin mutation ${name} is not in the schema`);
    }
    // Longest key first, so a key that prefixes another (none today) cannot take its mutations.
    const keys = [...byKey.keys()].sort((a, b) => b.length - a.length);
    for (const field of Object.values(fields)) {
      const key = keys.find((k) => field.name.startsWith(k) && /[A-Z]/.test(field.name.charAt(k.length)));
      const platform = key ? byKey.get(key) : undefined;
      const needed = platform ? [`${platform.key}:write`, ...(admin.has(field.name) ? ['admin'] : [])] : ['admin'];
      mutation.set(field.name, needed);
      for (const scope of needed) guard(field, scope, platform, `The mutation ${field.name}`);
    }
  }
  const subscription = new Map<string, readonly string[]>();
  const subscriptionType = schema.getSubscriptionType();
  if (subscriptionType) {
    for (const field of Object.values(subscriptionType.getFields())) {
      subscription.set(field.name, ['events:subscribe']);
      guard(field, 'events:subscribe', undefined, `The subscription ${field.name}`);
    }
  }
  return { query: queryScopes, mutation, subscription };
}

const defaultResolve: GraphQLFieldResolver<unknown, unknown> = (source, _args, _context, info) =>
  source && typeof source === 'object' ? (source as Record<string, unknown>)[info.fieldName] : undefined;

/**
 * Checks an operation before it runs: introspection needs `introspect`, and every
 * root field of a mutation or subscription needs its scopes, so a mutation with
 * one field the caller may not run runs none of them.
 */
export function checkOperationScopes(
  document: DocumentNode,
  operation: OperationDefinitionNode | undefined,
  principal: Principal,
  table: ScopeTable,
): SecurityError[] {
  const errors: SecurityError[] = [];
  if (!principal.scopes.has('introspect') && usesIntrospection(document)) {
    errors.push(
      new SecurityError(
        'INTROSPECTION_DISABLED',
        `Introspection (__schema, __type) needs the scope introspect; ${describeCaller(principal)} lacks it. The schema is also printed by \`npm run schema\`.`,
        { status: 403 },
      ),
    );
  }
  if (!operation) return errors;
  const needs = operation.operation === 'query' ? table.query : operation.operation === 'mutation' ? table.mutation : table.subscription;
  const missing = new Map<string, string[]>();
  for (const name of cachedRootFieldNames(document, operation)) {
    for (const scope of needs.get(name) ?? []) {
      if (!principal.scopes.has(scope)) missing.set(name, [...(missing.get(name) ?? []), scope]);
    }
  }
  for (const [name, scopes] of missing) {
    errors.push(
      new SecurityError('FORBIDDEN', `The ${operation.operation === 'query' ? 'field' : operation.operation} ${name} needs the scope${scopes.length > 1 ? 's' : ''} ${scopes.join(' and ')}; ${describeCaller(principal)} lacks ${scopes.length > 1 ? 'them' : 'it'}. Nothing in this operation ran.`, {
        status: 403,
        extensions: { field: name, requiredScopes: needs.get(name) },
      }),
    );
  }
  return errors;
}

const introspecting = new WeakMap<DocumentNode, boolean>();

/** Whether a document asks `__schema` or `__type`; remembered per parsed document (the pipeline caches those). */
function usesIntrospection(document: DocumentNode): boolean {
  const known = introspecting.get(document);
  if (known !== undefined) return known;
  let found = false;
  visit(document, {
    Field(node) {
      if (node.name.value === '__schema' || node.name.value === '__type') found = true;
    },
  });
  introspecting.set(document, found);
  return found;
}

const rootFields = new WeakMap<OperationDefinitionNode, readonly string[]>();

/** `rootFieldNames`, remembered per operation of a parsed document (the pipeline caches those; an operation belongs to one document). */
function cachedRootFieldNames(document: DocumentNode, operation: OperationDefinitionNode): readonly string[] {
  let names = rootFields.get(operation);
  if (!names) rootFields.set(operation, (names = rootFieldNames(document, operation)));
  return names;
}

/** The root field names of an operation, through fragments. */
export function rootFieldNames(document: DocumentNode, operation: OperationDefinitionNode): string[] {
  const fragments = new Map(document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
  const names: string[] = [];
  const seen = new Set<string>();
  const walk = (selections: OperationDefinitionNode['selectionSet']['selections']) => {
    for (const selection of selections) {
      if (selection.kind === Kind.FIELD) names.push(selection.name.value);
      else if (selection.kind === Kind.INLINE_FRAGMENT) walk(selection.selectionSet.selections);
      else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) walk(fragment.selectionSet.selections);
      }
    }
  };
  walk(operation.selectionSet.selections);
  return names;
}
