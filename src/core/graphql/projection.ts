import {
  getNamedType,
  isAbstractType,
  isObjectType,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { compileProjection, type Projection, type ProjectionShape } from '../upstream/project-json.js';
import { fieldsByName } from './selection.js';

/**
 * Which keys of an upstream record a query reads, so that a list's body is
 * parsed for those keys only (`projectJson`): 200 CloudLX customers asked for
 * their id and name are 2 keys of each record, not the whole 140 KB with every
 * realm and sub-realm decoded and allocated and then collected.
 *
 * What a field reads is known without declaring it where the field has no
 * resolver: graphql-js's default resolver reads the key of the field's name. A
 * field with a resolver is declared by its platform (`FieldReads`); a field that
 * is neither makes the whole record be taken, so a resolver added without a
 * declaration costs speed, never a wrong answer. Like `selectedFields`, it is
 * conservative: `@skip`/`@include` are ignored and every type condition is taken,
 * so a projection may hold more keys than are resolved, never fewer.
 *
 * A projected record answers its own selection only, so it is never kept for a
 * later read of the same record. To cost no call that whole records would have
 * saved, a list is projected only when nothing else in the operation reads
 * records of its type: not another selection of the same list (an alias), not a
 * read by id, a `node`, a relation or a unified list; then it is read whole, as before.
 *
 * Worked out once per selection (the `fieldNodes` of a cached document), never per request.
 */

/**
 * What a field with a resolver reads of its record:
 * - a key: the value there answers the field; when the field's type is an object type, that value is projected by the field's own selection;
 * - `{ key, with }`: the same, plus these keys of the nested value whatever is selected (a relation's `id`, which its resolver reads);
 * - a list of keys: those keys whole (a resolver that reads several, or reaches a loader with them); `[]` reads none.
 */
export type FieldRead = string | { readonly key: string; readonly with: readonly string[] } | readonly string[];

/** For each GraphQL object type backed by upstream records: what its fields with resolvers read. */
export type FieldReads = Readonly<Record<string, Readonly<Record<string, FieldRead>>>>;

type Shape = ProjectionShape | true;

type PlanInfo = Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments' | 'returnType' | 'schema' | 'operation'>;

/**
 * The projection for one list field of one platform: `wrap` puts the record's
 * shape where the records sit in the upstream's body (`{ customers: record }`).
 */
export class ListProjection {
  /** graphql-jit passes the same `fieldNodes` array on every run of a compiled operation. */
  private readonly bySelection = new WeakMap<readonly FieldNode[], Projection | null>();
  /**
   * graphql-js collects a new array on every execution, of the same nodes of the
   * same cached document: by operation, then by where those nodes sit in its text.
   */
  private readonly byOperation = new WeakMap<OperationDefinitionNode, Map<string, Projection | null>>();

  constructor(
    private readonly reads: FieldReads,
    private readonly wrap: (record: ProjectionShape) => ProjectionShape,
  ) {}

  /**
   * The projection of the list this field returns, for the records its selection
   * reads (through `nodes` and `edges.node` of a connection, or the list's own
   * selection); undefined when the records are read whole.
   */
  of(info: PlanInfo): Projection | undefined {
    let found = this.bySelection.get(info.fieldNodes);
    if (found === undefined) {
      const where = info.fieldNodes.every((node) => node.loc) ? info.fieldNodes.map((node) => node.loc!.start).join(',') : undefined;
      let planned = where === undefined ? undefined : this.byOperation.get(info.operation);
      found = planned?.get(where!);
      if (found === undefined) {
        found = this.plan(info);
        if (where !== undefined) {
          if (!planned) this.byOperation.set(info.operation, (planned = new Map()));
          planned.set(where, found);
        }
      }
      this.bySelection.set(info.fieldNodes, found);
    }
    return found ?? undefined;
  }

  private plan(info: PlanInfo): Projection | null {
    const returned = getNamedType(info.returnType);
    if (!isObjectType(returned)) return null;
    const own = info.fieldNodes.flatMap((node) => (node.selectionSet ? [node.selectionSet] : []));
    const connectionFields = returned.getFields();
    let recordType: GraphQLObjectType | undefined;
    let selections: SelectionSetNode[];
    // The fields of this list whose values are its records: the list itself, or a connection's `nodes` and `edges.node`.
    let recordFields: FieldNode[];
    if (connectionFields.nodes && connectionFields.edges) {
      // A Relay connection: the records are `nodes` and `edges.node`; `totalCount` and `pageInfo` read none of their keys.
      const nodesType = getNamedType(connectionFields.nodes.type);
      if (!isObjectType(nodesType)) return null;
      recordType = nodesType;
      const byName = fieldsByName(own, info.fragments);
      recordFields = [...(byName.get('nodes') ?? [])];
      for (const edges of subSelections(byName.get('edges'))) recordFields.push(...(fieldsByName([edges], info.fragments).get('node') ?? []));
      selections = subSelections(recordFields);
    } else {
      recordType = returned;
      recordFields = [...info.fieldNodes];
      selections = own;
    }
    if (readElsewhere(info, recordType, new Set([...info.fieldNodes, ...recordFields]))) return null;
    const shape = shapeOf(info.schema, recordType, selections, info.fragments, this.reads);
    return shape === true ? null : compileProjection(this.wrap(shape));
  }
}

function shapeOf(
  schema: GraphQLSchema,
  type: GraphQLObjectType,
  selections: readonly SelectionSetNode[],
  fragments: Record<string, FragmentDefinitionNode>,
  reads: FieldReads,
): Shape {
  const shape: Record<string, Shape> = {};
  const declared = reads[type.name];
  const fields = type.getFields();
  for (const [name, nodes] of fieldsByName(selections, fragments)) {
    if (name === '__typename') continue;
    const field = fields[name];
    if (!field) continue; // a field of another type, under a type condition this type does not meet
    const read = declared?.[name] ?? defaultRead(field);
    if (read === undefined) return true;
    if (Array.isArray(read)) {
      for (const key of read as readonly string[]) shape[key] = true;
      continue;
    }
    const { key, with: alsoKeys } = typeof read === 'string' ? { key: read, with: [] as readonly string[] } : (read as { key: string; with: readonly string[] });
    let nested: Shape = true;
    const nestedType = getNamedType(field.type);
    if (isObjectType(nestedType)) {
      const sub = subSelections(nodes);
      nested = sub.length > 0 ? shapeOf(schema, nestedType, sub, fragments, reads) : true;
      if (nested !== true) for (const k of alsoKeys) nested = merge(nested, { [k]: true });
    }
    shape[key] = shape[key] === undefined ? nested : merge(shape[key]!, nested);
  }
  return shape;
}

/**
 * Whether the operation reads records of `type` anywhere but through `own`: a
 * field whose type is `type`, or an interface or union it belongs to (`node`),
 * or a connection of them even when it selects no record (the same list under
 * another alias, or a unified list, asked only for `totalCount`: either loads
 * the list whole), in the operation or any fragment of its document.
 */
function readElsewhere(info: PlanInfo, type: GraphQLObjectType, own: ReadonlySet<FieldNode>): boolean {
  const typeInfo = new TypeInfo(info.schema);
  const holds = (named: GraphQLNamedType | undefined) => named === type || (named !== undefined && isAbstractType(named) && info.schema.isSubType(named, type));
  let found = false;
  const visitor = visitWithTypeInfo(typeInfo, {
    Field(node) {
      if (found || own.has(node)) return;
      const named = getNamedType(typeInfo.getType()) ?? undefined;
      if (holds(named)) found = true;
      else if (named && isObjectType(named)) {
        const fields = named.getFields();
        if (fields.nodes && fields.edges && holds(getNamedType(fields.nodes.type))) found = true;
      }
    },
  });
  for (const definition of [info.operation, ...Object.values(info.fragments)]) {
    if (found) break;
    visit(definition, visitor);
  }
  return found;
}

/** A field without a resolver is read by graphql-js's default resolver: the key of its own name. */
function defaultRead(field: GraphQLField<unknown, unknown>): FieldRead | undefined {
  return field.resolve === undefined ? field.name : undefined;
}

function merge(a: Shape, b: Shape): Shape {
  if (a === true || b === true) return true;
  const out: Record<string, Shape> = { ...a };
  for (const [key, value] of Object.entries(b)) out[key] = out[key] === undefined ? value : merge(out[key]!, value);
  return out;
}

function subSelections(nodes: readonly FieldNode[] | undefined): SelectionSetNode[] {
  return (nodes ?? []).flatMap((node) => (node.selectionSet ? [node.selectionSet] : []));
}
