import {
  GraphQLError,
  Kind,
  getNamedType,
  getNullableType,
  isCompositeType,
  isListType,
  isNonNullType,
  isObjectType,
  type ASTVisitor,
  type DocumentNode,
  type FieldNode,
  type FragmentSpreadNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type InlineFragmentNode,
  type SelectionNode,
  type ParseOptions,
  type ValidationContext,
  type ValidationRule,
  type ValueNode,
  visit,
} from 'graphql';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import type { OperationLimits } from './config.js';
import { SecurityError, type SecurityCode } from './errors.js';

/**
 * The limits on what one operation may ask, checked before any resolver runs,
 * over every transport. Each has its own `extensions.code` and a message that
 * names the limit, what was found, and the setting that raises it.
 *
 * Depth, aliases and directives are graphql-armor's rules, used as plain
 * graphql-js validation rules (never its plugin: with `propagateOnRejection`
 * they throw out of `validate`, which over graphql-ws closes the whole socket);
 * root fields and cost are ours; tokens are a parse option, and the document's
 * length is checked before parsing at all.
 */

/** Reports a limit's refusal as our own error, with its code, limit and finding. */
function refusal(code: SecurityCode, message: string, limit: number, found: number | undefined): SecurityError {
  return new SecurityError(code, message, { status: 400, extensions: { limit, ...(found === undefined ? {} : { found }) } });
}

const found = (error: GraphQLError) => {
  const match = /found (\d+)/.exec(error.message);
  return match ? Number(match[1]) : undefined;
};

/** Size assumed for a page of a connection whose `first` is left out. */
export const ASSUMED_PAGE_SIZE = 100;
/**
 * Size assumed for a plain list (no paging: a customer's realms, a router's
 * Wi-Fi networks). These are short reference lists; a generous 100 here would
 * compound to millions in a query that nests a few of them.
 */
export const ASSUMED_PLAIN_LIST_SIZE = 10;
/** Keys one batched read carries (CloudCIX's `search[id__in]` takes 100 per request; the others take all in one). */
export const BATCH_SIZE = 100;
/** Largest page any list field accepts (`first` at most 500); a `first` given by a variable is assumed to be this. */
export const MAX_PAGE_SIZE = 500;

export interface CostModel {
  /** Fields that may each cost an upstream call: `Type.field`. */
  readonly callingFields: ReadonlySet<string>;
  /** Names of the size arguments of list fields. */
  readonly sizeArguments: readonly string[];
}

/**
 * Which fields cost an upstream call, read off the schema once: a field with a
 * resolver of its own that returns an object (or a list of them), other than the
 * platform namespaces (`cloudlx { … }`, which cost nothing) and the connection
 * plumbing (`edges`, `node`, `pageInfo`, which are read from what the list call
 * returned). This over-counts relations that the loaders batch (100 addresses'
 * countries are one call, counted as 100), which is why the cost limit is a
 * coarse first guard and the call budget of each operation the exact one.
 */
export function costModelOf(schema: GraphQLSchema): CostModel {
  const callingFields = new Set<string>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      if (!field.resolve) continue;
      const named = getNamedType(field.type);
      if (!isCompositeType(named)) continue;
      if (isNamespace(field)) continue;
      callingFields.add(`${type.name}.${field.name}`);
    }
  }
  return { callingFields, sizeArguments: ['first', 'last', 'limit'] };
}

function isNamespace(field: GraphQLField<unknown, unknown>): boolean {
  const type = getNullableType(field.type);
  return isNonNullType(field.type) && isObjectType(type) && type.name.endsWith('Query') && field.args.length === 0;
}

/**
 * The cost of an operation: about how many upstream calls it could make. Each
 * upstream-calling field is multiplied by the number of parent objects it is
 * resolved for (the product of the sizes of the lists around it):
 * - a field with arguments (`users(first: 20)` under each app, `device(serialNumber:)`
 *   under each alias) is one call per parent;
 * - a relation without arguments (an address's `country`) is read through the
 *   request's loaders, which batch it: one call per BATCH_SIZE parents.
 * A list's size is its own `first`/`limit`, or that of the connection it belongs to
 * (`customers(first: 50) { nodes { … } }`), or the length of a literal list argument
 * (`nodes(ids: [...])`), or else ASSUMED_PAGE_SIZE for a connection's page and
 * ASSUMED_PLAIN_LIST_SIZE for a plain list; a size given by a variable is taken from
 * `variables` when known, else as MAX_PAGE_SIZE.
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  model: CostModel,
  options: { operationName?: string | null; variables?: Readonly<Record<string, unknown>> | null } = {},
): number {
  const fragments = new Map(document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  const operation = options.operationName ? operations.find((o) => o.name?.value === options.operationName) : operations[0];
  if (!operation) return 0;
  const root = operation.operation === 'query' ? schema.getQueryType() : operation.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
  if (!root) return 0;

  const sizeOf = (node: FieldNode): number | undefined => {
    for (const arg of node.arguments ?? []) {
      if (!model.sizeArguments.includes(arg.name.value)) continue;
      return valueSize(arg.value, options.variables);
    }
    for (const arg of node.arguments ?? []) {
      if (arg.value.kind === Kind.LIST) return arg.value.values.length;
      if (arg.value.kind === Kind.VARIABLE && Array.isArray(options.variables?.[arg.value.name.value])) return (options.variables![arg.value.name.value] as unknown[]).length;
    }
    return undefined;
  };

  let total = 0;
  // Walks selections with the multiplier of the lists around them and the size the nearest connection stated.
  const walk = (
    parentType: GraphQLObjectType | null | undefined,
    selections: readonly (FieldNode | InlineFragmentNode | FragmentSpreadNode)[],
    multiplier: number,
    pendingSize: number | undefined,
    depth: number,
    visiting: Set<string>,
  ) => {
    if (!parentType || depth > 64) return;
    for (const selection of selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const typeName = selection.typeCondition?.name.value;
        const target = typeName ? schema.getType(typeName) : parentType;
        walkComposite(target, selection.selectionSet.selections, multiplier, pendingSize, depth, visiting);
        continue;
      }
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (!fragment || visiting.has(name)) continue;
        visiting.add(name);
        walkComposite(schema.getType(fragment.typeCondition.name.value), fragment.selectionSet.selections, multiplier, pendingSize, depth, visiting);
        visiting.delete(name);
        continue;
      }
      const fieldName = selection.name.value;
      if (fieldName.startsWith('__')) continue;
      const field = parentType.getFields()[fieldName];
      if (!field) continue;
      const ownSize = sizeOf(selection);
      if (model.callingFields.has(`${parentType.name}.${fieldName}`)) total += field.args.length > 0 ? multiplier : Math.ceil(multiplier / BATCH_SIZE);
      let childMultiplier = multiplier;
      let childPending = ownSize ?? (isConnection(field) ? ASSUMED_PAGE_SIZE : pendingSize);
      if (isListType(getNullableType(field.type))) {
        childMultiplier = multiplier * (ownSize ?? pendingSize ?? ASSUMED_PLAIN_LIST_SIZE);
        childPending = undefined; // the size is spent on this list; a nested list states its own
      }
      if (selection.selectionSet) walkComposite(getNamedType(field.type), selection.selectionSet.selections, childMultiplier, childPending, depth + 1, visiting);
    }
  };
  const walkComposite = (
    type: GraphQLNamedType | null | undefined,
    selections: Parameters<typeof walk>[1],
    multiplier: number,
    pendingSize: number | undefined,
    depth: number,
    visiting: Set<string>,
  ) => {
    if (!type) return;
    if (isObjectType(type)) return walk(type, selections, multiplier, pendingSize, depth, visiting);
    // An interface or union: the fields it selects directly are counted once against the most costly implementation,
    // approximated here by walking the possible types and keeping the largest.
    if (!isCompositeType(type)) return;
    const before = total;
    let most = 0;
    for (const possible of schema.getPossibleTypes(type as never)) {
      total = before;
      walk(possible, selections, multiplier, pendingSize, depth, visiting);
      most = Math.max(most, total - before);
    }
    total = before + most;
  };
  walk(root, operation.selectionSet.selections, 1, undefined, 0, new Set());
  return total;
}

/** Costs remembered per operation, one per distinct set of the page sizes its variables give; past this many, it starts over. */
const COSTS_PER_OPERATION = 64;

interface CostShape {
  /** Variables given as a size argument (`first: $n`): their value is a page size. */
  readonly sizeVariables: readonly string[];
  /** Variables given as any other argument: only a list's length counts (`nodes(ids: $ids)`). */
  readonly listVariables: readonly string[];
  readonly costs: Map<string, number>;
}

/**
 * `operationCost`, remembered per parsed document (the pipeline caches those) and
 * operation name. A cost depends on the variables only through the page sizes and
 * list lengths they give, so a request reduces its variables to those and walks
 * the operation only for a combination not seen before: the same query with
 * another customer id costs nothing to price.
 */
export class OperationCosts {
  private readonly shapes = new WeakMap<DocumentNode, Map<string, CostShape>>();

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly model: CostModel,
  ) {}

  of(document: DocumentNode, operationName: string | null | undefined, variables: Readonly<Record<string, unknown>> | null | undefined): number {
    let byName = this.shapes.get(document);
    if (!byName) this.shapes.set(document, (byName = new Map()));
    const name = operationName ?? '';
    let shape = byName.get(name);
    if (!shape) byName.set(name, (shape = costShape(document, this.model)));
    let signature = '';
    for (const v of shape.sizeVariables) signature += `${sizeSignature(variables?.[v])},`;
    for (const v of shape.listVariables) {
      const value = variables?.[v];
      signature += Array.isArray(value) ? `a${value.length},` : '-,';
    }
    let cost = shape.costs.get(signature);
    if (cost === undefined) {
      cost = operationCost(this.schema, document, this.model, { operationName: operationName ?? null, variables });
      if (shape.costs.size >= COSTS_PER_OPERATION) shape.costs.clear();
      shape.costs.set(signature, cost);
    }
    return cost;
  }
}

/** The variables of a document that `operationCost` reads: those given directly as a field's argument. */
function costShape(document: DocumentNode, model: CostModel): CostShape {
  const sizeVariables = new Set<string>();
  const listVariables = new Set<string>();
  visit(document, {
    Field(node) {
      for (const arg of node.arguments ?? []) {
        if (arg.value.kind !== Kind.VARIABLE) continue;
        (model.sizeArguments.includes(arg.name.value) ? sizeVariables : listVariables).add(arg.value.name.value);
      }
    },
  });
  return { sizeVariables: [...sizeVariables], listVariables: [...listVariables].filter((v) => !sizeVariables.has(v)), costs: new Map() };
}

/** A value as `valueSize` and the list-length rule of `operationCost` see it: two values with the same signature give the same cost. */
function sizeSignature(value: unknown): string {
  if (typeof value === 'number') return Number.isFinite(value) ? `n${value}` : 'o';
  if (Array.isArray(value)) return `a${value.length}`;
  return value === undefined || value === null ? 'u' : 'o';
}

/** A Relay connection: its `edges`/`nodes` lists are one page. */
function isConnection(field: GraphQLField<unknown, unknown>): boolean {
  const type = getNamedType(field.type);
  return isObjectType(type) && 'pageInfo' in type.getFields();
}

function valueSize(value: ValueNode, variables: Readonly<Record<string, unknown>> | null | undefined): number | undefined {
  if (value.kind === Kind.INT) return Math.max(0, Number(value.value));
  if (value.kind === Kind.VARIABLE) {
    const given = variables?.[value.name.value];
    return typeof given === 'number' && Number.isFinite(given) ? Math.max(0, given) : given === undefined || given === null ? undefined : MAX_PAGE_SIZE;
  }
  return undefined;
}

/** Counts the fields at the root of each operation, through fragments, and refuses past `max`. */
export function maxRootFieldsRule(max: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(operation) {
      let count = 0;
      const seen = new Set<string>();
      const count_ = (selections: readonly SelectionNode[]) => {
        for (const s of selections) {
          if (s.kind === Kind.FIELD) count++;
          else if (s.kind === Kind.INLINE_FRAGMENT) count_(s.selectionSet.selections);
          else if (!seen.has(s.name.value)) {
            seen.add(s.name.value);
            const fragment = context.getFragment(s.name.value);
            if (fragment) count_(fragment.selectionSet.selections);
          }
        }
      };
      count_(operation.selectionSet.selections);
      if (count > max) {
        context.reportError(
          refusal('TOO_MANY_ROOT_FIELDS', `This operation has ${count} root fields; the limit is ${max} (MAX_ROOT_FIELDS). Split it into several operations.`, max, count),
        );
      }
    },
  });
}

/** The validation rules for `limits`, all independent of the caller, so a validated document can be cached. */
export function limitRules(limits: OperationLimits): ValidationRule[] {
  const onReject = (code: SecurityCode, describe: (n: number | undefined) => string, limit: number) => [
    (context: ValidationContext | null, error: GraphQLError) => context?.reportError(refusal(code, describe(found(error)), limit, found(error))),
  ];
  return [
    maxDepthRule({
      n: limits.depth,
      // A fragment is not a level of the answer; introspection is gated by the `introspect` scope instead.
      flattenFragments: true,
      ignoreIntrospection: true,
      propagateOnRejection: false,
      onReject: onReject('QUERY_TOO_DEEP', (n) => `This operation nests ${n ?? 'more'} levels deep; the limit is ${limits.depth} (MAX_QUERY_DEPTH).`, limits.depth),
    }),
    maxAliasesRule({
      n: limits.aliases,
      propagateOnRejection: false,
      onReject: onReject(
        'TOO_MANY_ALIASES',
        (n) => `This operation uses ${n ?? 'more'} aliases; the limit is ${limits.aliases} (MAX_ALIASES). Each alias of a platform field is an upstream call: fetch lists instead.`,
        limits.aliases,
      ),
    }),
    maxDirectivesRule({
      n: limits.directives,
      propagateOnRejection: false,
      onReject: onReject('TOO_MANY_DIRECTIVES', (n) => `This operation uses ${n ?? 'more'} directives; the limit is ${limits.directives} (MAX_DIRECTIVES).`, limits.directives),
    }),
    maxRootFieldsRule(limits.rootFields),
    // The cost is checked once the variables are known (they may set page sizes): Security.onOperation.
  ];
}

/** Parse options that bound the work of parsing: a document of more tokens than the limit stops at once. */
export function parseOptions(limits: OperationLimits): ParseOptions {
  return { maxTokens: limits.tokens, noLocation: false };
}

export function checkDocumentLength(source: string, limits: OperationLimits): SecurityError | undefined {
  if (source.length <= limits.documentLength) return undefined;
  return refusal(
    'DOCUMENT_TOO_LARGE',
    `This document is ${source.length} characters long; the limit is ${limits.documentLength} (MAX_DOCUMENT_LENGTH).`,
    limits.documentLength,
    source.length,
  );
}

/** graphql-js's "Document contains more than N tokens" parse error, as ours. */
export function tokenLimitError(error: unknown, limits: OperationLimits): SecurityError | undefined {
  if (!(error instanceof GraphQLError) || !/Document contains more th(?:an|at) \d+ tokens/.test(error.message)) return undefined;
  return refusal(
    'TOO_MANY_TOKENS',
    `This document has more than ${limits.tokens} tokens; the limit is ${limits.tokens} (MAX_TOKENS).`,
    limits.tokens,
    undefined,
  );
}
