import { createHash } from 'node:crypto';
import { responsePathAsArray, type GraphQLResolveInfo } from 'graphql';
import type { PlatformContext } from '../../context.js';
import { toGlobalId } from '../../core/graphql/ids.js';
import { withUserErrors } from '../../core/graphql/mutations.js';
import { orNull } from '../../core/graphql/nullable.js';
import { ListProjection, type FieldRead, type FieldReads } from '../../core/graphql/projection.js';
import { selectedFields } from '../../core/graphql/selection.js';
import { BadUserInputError } from '../../core/upstream/errors.js';
import type { CloudCIXApi } from './client.js';
import { parentsOf, recordKey, withParents, type CloudCIXListArgs, type CloudCIXLoaders } from './loaders.js';
import { cloudcixModel, recordFieldKeys, type CloudCIXModel, type MutationMethod, type ServiceModel } from './model.js';
import type { CloudCIXRecord } from './types.js';

/** Per request: the API acting as the caller (a forwarded token, or the gateway's login) and its loaders. */
export interface CloudCIXScope {
  api: CloudCIXApi;
  loaders: CloudCIXLoaders;
}

type Args = Record<string, unknown>;
type CloudCIXContext = PlatformContext<'cloudcix', CloudCIXScope>;
type FieldResolver = (source: any, args: any, ctx: CloudCIXContext, info: GraphQLResolveInfo) => unknown;
type ResolverMap = Record<string, Record<string, FieldResolver>>;

const NAMESPACE = { namespace: 'cloudcix' } as const;

const scopeOf = (ctx: CloudCIXContext): CloudCIXScope => ctx.platforms.cloudcix;

/**
 * A mutation's `input` is CloudCIX's own JSON body, so a refused field keeps
 * CloudCIX's name in `userErrors.field` (`["input", "country_id"]`) rather than
 * the camelCase the typed platforms use.
 */
const UPSTREAM_FIELD_NAMES: Readonly<Record<string, string>> = new Proxy({}, { get: (_, name) => (typeof name === 'string' ? name : undefined) });

/**
 * A record's CloudCIX id. Rows without one (report lines) still need distinct
 * ids, or client caches merge them: they get a hash of their content after a
 * `~`, which node() knows it cannot read again.
 */
export function platformIdOf(record: CloudCIXRecord): string {
  const id = record.id;
  if (id !== undefined && id !== null && id !== '') return String(id);
  return `~${createHash('sha1').update(JSON.stringify(record)).digest('base64url').slice(0, 16)}`;
}

/** The key inside a record's global id: its parent ids and its own. */
export function globalKeyOf(record: CloudCIXRecord): string {
  return recordKey(parentsOf(record), platformIdOf(record));
}

/** A related record's id, from an embedded object (`{"id": 3, "name": …}`) or a bare id. */
function relatedId(value: unknown): string | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (typeof value === 'object') {
    const id = (value as { id?: unknown }).id;
    return id === null || id === undefined ? undefined : String(id);
  }
  return String(value);
}

function parentsFromArgs(model: ServiceModel, args: Args): string[] {
  return model.parentArgs.map((name) => String(args[name]));
}

/** A child service's parent ids, read off its parent record: the parent's own parents, then its id. */
function parentsFromRecord(record: CloudCIXRecord): string[] {
  return [...parentsOf(record), String(record.id)];
}

/**
 * Whether an embedded copy of a `target` record answers the selection on it: it
 * holds every key the selected fields read (see `recordFieldKeys`). The keys a
 * selection reads are worked out once per selection, not per record.
 */
function embeddedAnswers(target: ServiceModel): (embedded: CloudCIXRecord, info: GraphQLResolveInfo) => boolean {
  const fieldKeys = recordFieldKeys(target);
  const keysBySelection = new WeakMap<ReadonlySet<string>, readonly string[] | null>();
  return (embedded, info) => {
    const selected = selectedFields(info);
    let keys = keysBySelection.get(selected);
    if (keys === undefined) {
      const needed = new Set<string>();
      keys = [];
      for (const name of selected) {
        const read = fieldKeys.get(name);
        if (!read) {
          keys = null;
          break;
        }
        for (const key of read) needed.add(key);
      }
      if (keys !== null) keys = [...needed];
      keysBySelection.set(selected, keys);
    }
    if (keys === null) return false;
    for (const key of keys) if (!(key in embedded)) return false;
    return true;
  };
}

/**
 * What the record resolvers below read of CloudCIX's records, for the typed
 * services (their fields are known): lists of them are parsed for the keys a
 * selection reads (`ListProjection`). The keys are `recordFieldKeys`' (which
 * embedded copies are checked against too); a relation is projected further by
 * its own selection, plus the `id` its resolver reads. A typed record always has
 * its `id`; `data` reads the whole record, so it is left out and makes its lists be read whole.
 */
export function cloudcixFieldReads(model: CloudCIXModel): FieldReads {
  const reads: Record<string, Record<string, FieldRead>> = {};
  for (const service of model.services) {
    if (!service.typed) continue;
    const fields: Record<string, FieldRead> = {};
    for (const [name, keys] of recordFieldKeys(service)) if (keys) fields[name] = keys;
    // A relation answers from the embedded copy when it holds what is asked, else reads the record by the copy's id.
    for (const field of service.typed.fields) if (field.relation) fields[field.name] = { key: field.from, with: ['id'] };
    reads[service.typeName] = fields;
  }
  return reads;
}

function listResolver(model: ServiceModel, parents: (source: CloudCIXRecord, args: Args) => string[], reads: FieldReads): FieldResolver {
  // A list body is `{"content": [records], "_metadata": {...}}`: the records projected, the metadata whole.
  const projection = model.typed ? new ListProjection(reads, (record) => ({ content: record, _metadata: true })) : undefined;
  return async (source, args: CloudCIXListArgs & Args, ctx, info) => {
    const { connection, warnings } = await scopeOf(ctx).loaders.connection(model, parents(source, args), args, projection?.of(info));
    if (warnings.length > 0) {
      const path = responsePathAsArray(info.path);
      for (const warning of warnings) ctx.warnings.push({ platform: 'cloudcix', path, message: typeof warning === 'string' ? warning : JSON.stringify(warning) });
    }
    return connection;
  };
}

function readResolver(model: ServiceModel, parents: (source: CloudCIXRecord, args: Args) => string[]): FieldResolver {
  return (source, args: Args, ctx) => orNull(scopeOf(ctx).loaders.load(model, parents(source, args), String(args.platformId)));
}

function recordResolvers(model: ServiceModel, all: CloudCIXModel, reads: FieldReads): Record<string, FieldResolver> {
  const typeName = model.typeName;
  const secret = model.typed?.secret;
  const fields: Record<string, FieldResolver> = {
    id: (record: CloudCIXRecord) => toGlobalId(typeName, globalKeyOf(record)),
    platformId: platformIdOf,
    // Credentials never leave: `data` of a member is a copy without them.
    data: secret
      ? (record: CloudCIXRecord) => Object.fromEntries(Object.entries(record).filter(([key]) => !secret.includes(key)))
      : (record: CloudCIXRecord) => record,
  };
  if (model.typed?.interfaces?.length) fields.platform = () => 'CLOUDCIX';
  for (const field of model.typed?.fields ?? []) {
    const from = field.from;
    if (field.relation) {
      const target = all.byKey.get(field.relation)!;
      const answers = embeddedAnswers(target);
      fields[field.name] = (record: CloudCIXRecord, _args, ctx, info) => {
        const value = record[from];
        const id = relatedId(value);
        if (id === undefined) return null;
        // CloudCIX embeds part of a related record (an address's country: id, name, ISO codes);
        // when that part holds every field asked, it is the answer, and no read is made.
        if (typeof value === 'object' && answers(value as CloudCIXRecord, info)) return value;
        return orNull(scopeOf(ctx).loaders.load(target, [], id));
      };
    } else if (from !== field.name) {
      fields[field.name] = (record: CloudCIXRecord) => record[from];
    }
  }
  for (const child of model.children) {
    if (child.childListField) fields[child.childListField] = listResolver(child, parentsFromRecord, reads);
    if (child.childReadField) fields[child.childReadField] = readResolver(child, parentsFromRecord);
  }
  return fields;
}

function inputOf(args: Args): object {
  const input = args.input;
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new BadUserInputError(`Expected \`input\` to be a JSON object of CloudCIX fields, got ${JSON.stringify(input)}`, { platform: 'cloudcix' });
  }
  return input;
}

function mutationResolver(model: ServiceModel, method: MutationMethod): FieldResolver {
  const service = model.service;
  if (method === 'delete') {
    return (_source, args: Args, ctx) =>
      withUserErrors(
        async () => {
          const parents = parentsFromArgs(model, args);
          const pk = String(args.platformId);
          await scopeOf(ctx).api.delete(service, parents, pk);
          return { deletedId: toGlobalId(model.typeName, recordKey(parents, pk)) };
        },
        { deletedId: null },
        UPSTREAM_FIELD_NAMES,
      );
  }
  const field = model.payloadField;
  return (_source, args: Args, ctx) =>
    withUserErrors(
      async () => {
        const parents = parentsFromArgs(model, args);
        const api = scopeOf(ctx).api;
        const body = inputOf(args);
        const record =
          method === 'create'
            ? await api.create(service, parents, body)
            : await api.update(service, parents, String(args.platformId), body, method === 'partial_update');
        return { [field]: withParents(record, parents) };
      },
      { [field]: null },
      UPSTREAM_FIELD_NAMES,
    );
}

/**
 * Every CloudCIX resolver, built once at module load from the model that also
 * generated the SDL: one factory per kind of field, none per request and none
 * written by hand per service.
 */
export function buildCloudCIXResolvers(model: CloudCIXModel): ResolverMap {
  const queryApps = model.applications.filter((a) => a.services.some((s) => s.listField || s.readField));
  const reads = cloudcixFieldReads(model);
  const resolvers: ResolverMap = {
    Query: { cloudcix: () => NAMESPACE },
    CloudCIXQuery: Object.fromEntries(queryApps.map((app) => [app.field, () => NAMESPACE])),
    Mutation: {},
  };
  for (const app of queryApps) {
    const fields: Record<string, FieldResolver> = {};
    for (const service of app.services) {
      if (service.listField) fields[service.listField] = listResolver(service, (_, args) => parentsFromArgs(service, args), reads);
      if (service.readField) fields[service.readField] = readResolver(service, (_, args) => parentsFromArgs(service, args));
    }
    resolvers[app.typeName] = fields;
  }
  for (const service of model.services) {
    resolvers[service.typeName] = recordResolvers(service, model, reads);
    for (const mutation of service.mutations) resolvers.Mutation![mutation.field] = mutationResolver(service, mutation.method);
  }
  return resolvers;
}

export const cloudcixResolvers = buildCloudCIXResolvers(cloudcixModel);
