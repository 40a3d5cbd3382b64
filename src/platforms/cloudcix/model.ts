// The graph's view of the CloudCIX catalogue: for every service, the GraphQL
// names it gets (types, query fields, mutations), the parent it hangs under, and
// for the services whose fields UPSTREAMS.md §4 lists, their typed fields.
//
// One module for both sides: scripts/cloudcix-schema.ts writes the SDL from it
// and resolvers.ts builds the resolver map from it, so a name can never differ
// between the two. Pure and computed once at import.
import { catalogue as defaultCatalogue, type CloudCIXApplication, type CloudCIXCatalogue, type CloudCIXMethod, type CloudCIXService } from './catalogue.js';

export type MutationMethod = Exclude<CloudCIXMethod, 'list' | 'read'>;

/** A field of a typed record: `name` in GraphQL, `from` in CloudCIX's JSON. */
export interface TypedField {
  name: string;
  from: string;
  /** A GraphQL type (`String`, `Int`, `DateTime`, `JSON`, `[CloudCIXPhone!]`) or, for a relation, left to `relation`. */
  type?: string;
  /**
   * `Application.service` of the record this field points at. The record holds
   * its id as an object (`{"id": 3, ...}`) or a bare id; it is loaded through the
   * batching loader, so a page of parents costs one request per related service.
   */
  relation?: string;
  description?: string;
}

export interface TypedSpec {
  typeName: string;
  /** Core interfaces it implements besides Node. */
  interfaces?: readonly ('Customer' | 'App')[];
  fields: readonly TypedField[];
  /** Fields of the upstream record that never leave the gateway (credentials). */
  secret?: readonly string[];
}

const DATE = 'DateTime';

/**
 * The typed services and their fields, from UPSTREAMS.md §4 "Known fields".
 * Field types are not documented there; they are read off the names (ids and
 * counts are Int, flags Boolean, `created`/`updated` DateTime) and anything whose
 * shape is unknown stays JSON.
 */
export const TYPED_SERVICES: Readonly<Record<string, TypedSpec>> = {
  'Membership.address': {
    typeName: 'CloudCIXAddress',
    fields: [
      { name: 'name', from: 'name', type: 'String' },
      { name: 'address1', from: 'address1', type: 'String' },
      { name: 'address2', from: 'address2', type: 'String' },
      { name: 'address3', from: 'address3', type: 'String' },
      { name: 'city', from: 'city', type: 'String' },
      { name: 'postcode', from: 'postcode', type: 'String' },
      { name: 'fullAddress', from: 'full_address', type: 'String' },
      { name: 'email', from: 'email', type: 'String' },
      { name: 'website', from: 'website', type: 'String' },
      { name: 'vatNumber', from: 'vat_number', type: 'String' },
      { name: 'gln', from: 'gln', type: 'String' },
      { name: 'phones', from: 'phones', type: '[CloudCIXPhone!]' },
      { name: 'linked', from: 'linked', type: 'Boolean' },
      { name: 'billingAddressId', from: 'billing_address_id', type: 'Int' },
      { name: 'cloudRegion', from: 'cloud_region', type: 'JSON' },
      { name: 'country', from: 'country', relation: 'Membership.country' },
      { name: 'currency', from: 'currency', relation: 'Membership.currency' },
      { name: 'member', from: 'member', relation: 'Membership.member' },
      { name: 'language', from: 'language', relation: 'Membership.language' },
      { name: 'subdivision', from: 'subdivision', type: 'JSON', description: 'The country subdivision (county, state) as CloudCIX embeds it.' },
    ],
  },
  'Membership.member': {
    typeName: 'CloudCIXMember',
    interfaces: ['Customer'],
    fields: [
      { name: 'name', from: 'name', type: 'String!' },
      { name: 'glnPrefix', from: 'gln_prefix', type: 'String' },
      { name: 'selfManaged', from: 'self_managed', type: 'Boolean' },
      { name: 'currency', from: 'currency', relation: 'Membership.currency' },
    ],
    // Credentials (DESIGN.md "Secrets are write-only"): not fields, and cut from `data`.
    secret: ['api_key', 'secret'],
  },
  'Membership.user': {
    typeName: 'CloudCIXUser',
    fields: [
      { name: 'firstName', from: 'first_name', type: 'String' },
      { name: 'surname', from: 'surname', type: 'String' },
      { name: 'email', from: 'email', type: 'String' },
      { name: 'emailValidated', from: 'email_validated', type: 'Boolean' },
      { name: 'jobTitle', from: 'job_title', type: 'String' },
      { name: 'department', from: 'department', type: 'JSON' },
      { name: 'administrator', from: 'administrator', type: 'Boolean' },
      { name: 'globalActive', from: 'global_active', type: 'Boolean' },
      { name: 'robot', from: 'robot', type: 'Boolean' },
      { name: 'isPrivate', from: 'is_private', type: 'Boolean' },
      { name: 'image', from: 'image', type: 'String' },
      { name: 'phones', from: 'phones', type: 'JSON' },
      { name: 'profile', from: 'profile', type: 'JSON' },
      { name: 'timezone', from: 'timezone', type: 'String' },
      { name: 'startDate', from: 'start_date', type: 'String' },
      { name: 'expiryDate', from: 'expiry_date', type: 'String' },
      { name: 'lastLogin', from: 'last_login', type: DATE },
      { name: 'address', from: 'address', relation: 'Membership.address' },
      { name: 'member', from: 'member', relation: 'Membership.member' },
      { name: 'language', from: 'language', relation: 'Membership.language' },
    ],
  },
  'Membership.country': {
    typeName: 'CloudCIXCountry',
    fields: [
      { name: 'englishName', from: 'english_name', type: 'String' },
      { name: 'alpha2Code', from: 'alpha_2_code', type: 'String' },
      { name: 'alpha3Code', from: 'alpha_3_code', type: 'String' },
      { name: 'phonePrefix', from: 'phone_prefix', type: 'String' },
      { name: 'primaryLevelName', from: 'primary_level_name', type: 'String' },
    ],
  },
  'Membership.currency': {
    typeName: 'CloudCIXCurrency',
    fields: [
      { name: 'name', from: 'name', type: 'String' },
      { name: 'symbol', from: 'symbol', type: 'String' },
    ],
  },
  'AppManager.app': {
    typeName: 'CloudCIXApp',
    interfaces: ['App'],
    fields: [
      { name: 'name', from: 'name', type: 'String!' },
      { name: 'description', from: 'description', type: 'String' },
      { name: 'action', from: 'action', type: 'JSON' },
      { name: 'iconUrl', from: 'icon_url', type: 'String' },
      { name: 'inAppStore', from: 'in_app_store', type: 'Boolean' },
      { name: 'maintenance', from: 'maintenance', type: 'Boolean' },
      { name: 'online', from: 'online', type: 'Boolean' },
      { name: 'private', from: 'private', type: 'Boolean' },
      { name: 'extra', from: 'extra', type: 'JSON' },
      { name: 'created', from: 'created', type: DATE },
      { name: 'updated', from: 'updated', type: DATE },
    ],
  },
  'IAAS.project': {
    typeName: 'CloudCIXProject',
    fields: [
      { name: 'name', from: 'name', type: 'String' },
      { name: 'note', from: 'note', type: 'String' },
      { name: 'closed', from: 'closed', type: 'Boolean' },
      { name: 'stable', from: 'stable', type: 'Boolean' },
      { name: 'shutDown', from: 'shut_down', type: 'Boolean' },
      { name: 'minState', from: 'min_state', type: 'Int' },
      { name: 'gracePeriod', from: 'grace_period', type: 'Int' },
      { name: 'cloudUri', from: 'cloud_uri', type: 'String' },
      { name: 'addressId', from: 'address_id', type: 'Int' },
      { name: 'managerId', from: 'manager_id', type: 'Int' },
      { name: 'regionId', from: 'region_id', type: 'Int' },
      { name: 'resellerId', from: 'reseller_id', type: 'Int' },
      { name: 'virtualRouterId', from: 'virtual_router_id', type: 'Int' },
      { name: 'address', from: 'address_id', relation: 'Membership.address', description: 'The Address that owns the project.' },
      { name: 'virtualRouter', from: 'virtual_router_id', relation: 'IAAS.virtual_router' },
      { name: 'created', from: 'created', type: DATE },
      { name: 'updated', from: 'updated', type: DATE },
    ],
  },
  'IAAS.vm': {
    typeName: 'CloudCIXVM',
    fields: [
      { name: 'name', from: 'name', type: 'String' },
      { name: 'guid', from: 'guid', type: 'String' },
      { name: 'cpu', from: 'cpu', type: 'Int' },
      { name: 'ram', from: 'ram', type: 'Int' },
      { name: 'gpu', from: 'gpu', type: 'Int' },
      { name: 'dns', from: 'dns', type: 'String' },
      { name: 'state', from: 'state', type: 'Int' },
      { name: 'stable', from: 'stable', type: 'Boolean' },
      { name: 'publicKey', from: 'public_key', type: 'String' },
      { name: 'userdata', from: 'userdata', type: 'String' },
      { name: 'storageType', from: 'storage_type', type: 'JSON' },
      { name: 'gatewaySubnet', from: 'gateway_subnet', type: 'JSON' },
      { name: 'ipAddresses', from: 'ip_addresses', type: 'JSON' },
      { name: 'imageId', from: 'image_id', type: 'Int' },
      { name: 'serverId', from: 'server_id', type: 'Int' },
      { name: 'image', from: 'image', relation: 'IAAS.image' },
      { name: 'project', from: 'project', relation: 'IAAS.project' },
      { name: 'created', from: 'created', type: DATE },
      { name: 'updated', from: 'updated', type: DATE },
    ],
  },
};

export interface ServiceModel {
  /** `Application.service`, e.g. `Membership.address`. */
  readonly key: string;
  readonly service: CloudCIXService;
  readonly application: CloudCIXApplication;
  readonly typeName: string;
  readonly typed: TypedSpec | undefined;
  /** GraphQL argument names of the path's parent ids, in path order: `address_id` → `addressId`. */
  readonly parentArgs: readonly string[];
  /** The list field on the application's query type (and on the parent type), when the service lists. */
  readonly listField: string | undefined;
  /** The read field, when the service reads one record (a list-only service is read through its list). */
  readonly readField: string | undefined;
  /** The service whose records this one's path nests under (`address/{address_id}/link/` → Membership.address). */
  parent: ServiceModel | undefined;
  /** Names on the parent type: the same as listField/readField with the parent's own name dropped. */
  childListField: string | undefined;
  childReadField: string | undefined;
  readonly children: ServiceModel[];
  readonly mutations: readonly { method: MutationMethod; field: string }[];
  /** The entity field of this service's mutation payload. */
  readonly payloadField: string;
  readonly connectionType: string;
  readonly edgeType: string;
  readonly payloadType: string;
  has(method: CloudCIXMethod): boolean;
}

export interface ApplicationModel {
  readonly application: CloudCIXApplication;
  /** The field under `cloudcix { … }`: `appManager`, `iaas`, `membership`. */
  readonly field: string;
  readonly typeName: string;
  readonly services: readonly ServiceModel[];
}

export interface CloudCIXModel {
  readonly applications: readonly ApplicationModel[];
  readonly services: readonly ServiceModel[];
  readonly byKey: ReadonlyMap<string, ServiceModel>;
  readonly byType: ReadonlyMap<string, ServiceModel>;
}

const MUTATION_SUFFIX: Record<MutationMethod, string> = { create: 'Create', update: 'Update', partial_update: 'PartialUpdate', delete: 'Delete' };

export function camel(snake: string): string {
  return snake.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function pascal(snake: string): string {
  const c = camel(snake);
  return c.charAt(0).toUpperCase() + c.slice(1);
}

/** `AppManager` → `appManager`, `IAAS` → `iaas`. */
export function applicationField(name: string): string {
  return name === name.toUpperCase() ? name.toLowerCase() : name.charAt(0).toLowerCase() + name.slice(1);
}

/**
 * English plural of a camelCase name's last word. Names that already end in a
 * plural `s` (`metrics`, `viesSales`, `mainFirewallRules`) stay as they are; the
 * model falls back to `…List` where that would equal the read field (`cls`).
 */
export function plural(word: string): string {
  if (/[^aeiou]y$/.test(word)) return `${word.slice(0, -1)}ies`;
  if (/(ss|us|x|z|ch|sh)$/.test(word)) return `${word}es`;
  if (/is$/.test(word)) return `${word.slice(0, -2)}es`;
  if (/s$/.test(word)) return word;
  return `${word}s`;
}

function listName(singular: string, alsoReads: boolean): string {
  const p = plural(singular);
  return p === singular && alsoReads ? `${singular}List` : p;
}

export function buildModel(cat: CloudCIXCatalogue): CloudCIXModel {
  const services: ServiceModel[] = [];
  const byKey = new Map<string, ServiceModel>();
  const byType = new Map<string, ServiceModel>();
  const applications: ApplicationModel[] = [];
  const appByName = new Map(cat.applications.map((a) => [a.name, a]));

  for (const service of cat.services) {
    const application = appByName.get(service.application);
    if (!application) throw new Error(`CloudCIX catalogue: service ${service.service} names unknown application ${service.application}`);
    const key = `${service.application}.${service.service}`;
    const typed = TYPED_SERVICES[key];
    const typeName = typed?.typeName ?? `CloudCIX${service.application}${pascal(service.service)}`;
    const methods = new Set(service.methods);
    const singular = camel(service.service);
    const model: ServiceModel = {
      key,
      service,
      application,
      typeName,
      typed,
      parentArgs: service.parentIds.map(camel),
      listField: methods.has('list') ? listName(singular, methods.has('read')) : undefined,
      readField: methods.has('read') ? singular : undefined,
      parent: undefined,
      childListField: undefined,
      childReadField: undefined,
      children: [],
      mutations: (['create', 'update', 'partial_update', 'delete'] as const)
        .filter((m) => methods.has(m))
        .map((method) => ({ method, field: `cloudcix${service.application}${pascal(service.service)}${MUTATION_SUFFIX[method]}` })),
      payloadField: singular,
      connectionType: `${typeName}Connection`,
      edgeType: `${typeName}Edge`,
      payloadType: `${typeName}Payload`,
      has: (method) => methods.has(method),
    };
    services.push(model);
    byKey.set(key, model);
    if (byType.has(typeName)) throw new Error(`CloudCIX model: two services would be type ${typeName}`);
    byType.set(typeName, model);
  }

  // A nested path's parent is the service of the same application whose path is
  // the part before the last `{id}/` (`vm/{vm_id}/storage/` → the service at `vm/`).
  for (const model of services) {
    const match = /^(.*\/)\{[^}]+\}\/[^{}]+\/$/.exec(model.service.path);
    if (!match) continue;
    const parentPath = match[1];
    const parent = services.find((s) => s.service.application === model.service.application && s.service.path === parentPath);
    if (!parent) continue;
    model.parent = parent;
    parent.children.push(model);
    // `address_link` under `address` is the address's `link`; `storage` under `vm` stays `storage`.
    const prefix = `${parent.service.service}_`;
    const own = model.service.service.startsWith(prefix) ? model.service.service.slice(prefix.length) : model.service.service;
    const singular = camel(own);
    if (model.has('list')) model.childListField = listName(singular, model.has('read'));
    if (model.has('read')) model.childReadField = singular;
  }

  for (const application of cat.applications) {
    const own = services.filter((s) => s.service.application === application.name);
    applications.push({ application, field: applicationField(application.name), typeName: `CloudCIX${application.name}Query`, services: own });
    assertUnique(
      `CloudCIX${application.name}Query`,
      own.flatMap((s) => [s.listField, s.readField]),
    );
  }
  for (const model of services) {
    const typedNames = model.typed?.fields.map((f) => f.name) ?? [];
    assertUnique(model.typeName, ['id', 'platformId', 'uri', 'data', ...typedNames, ...model.children.flatMap((c) => [c.childListField, c.childReadField])]);
  }
  assertUnique('Mutation', services.flatMap((s) => s.mutations.map((m) => m.field)));
  const typeNames = services.flatMap((s) => [s.typeName, s.connectionType, s.edgeType, s.payloadType]).concat(applications.map((a) => a.typeName));
  assertUnique('the CloudCIX schema', typeNames);

  return { applications, services, byKey, byType };
}

function assertUnique(where: string, names: readonly (string | undefined)[]): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (name === undefined) continue;
    if (seen.has(name)) throw new Error(`CloudCIX model: ${where} would have two fields or types named ${name}; add an override in model.ts`);
    seen.add(name);
  }
}

const fieldKeysCache = new WeakMap<ServiceModel, ReadonlyMap<string, readonly string[] | null>>();

/**
 * For each GraphQL field of a service's record type, the keys of CloudCIX's JSON
 * it reads. A copy of the record that another record embeds (an address's
 * `country`: id, English name and ISO codes, not the phone prefix) answers a
 * selection when it holds every key the selection reads. `data` (the whole
 * record) reads null: only the record itself answers it; so does any field not
 * listed here.
 */
export function recordFieldKeys(model: ServiceModel): ReadonlyMap<string, readonly string[] | null> {
  let keys = fieldKeysCache.get(model);
  if (!keys) {
    const map = new Map<string, readonly string[] | null>([
      ['__typename', []],
      ['id', ['id']],
      ['platformId', ['id']],
      ['uri', ['uri']],
      ['data', null],
    ]);
    if (model.typed?.interfaces?.length) map.set('platform', []);
    for (const field of model.typed?.fields ?? []) map.set(field.name, [field.from]);
    // A child list or read needs only the parent's id (and the parent's own parents, which an embedded top-level record has none of).
    for (const child of model.children) {
      if (child.childListField) map.set(child.childListField, ['id']);
      if (child.childReadField) map.set(child.childReadField, ['id']);
    }
    keys = map;
    fieldKeysCache.set(model, keys);
  }
  return keys;
}

/** The model of the checked-in catalogue, built once per process. */
export const cloudcixModel: CloudCIXModel = buildModel(defaultCatalogue);
