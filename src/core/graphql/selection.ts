import { Kind, type FieldNode, type FragmentDefinitionNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/**
 * The names of the fields a query selects on the value a resolver returns, across
 * fragments and inline fragments, with aliases resolved to field names. Used to
 * answer from an object an upstream already embedded when it holds every field
 * asked (CloudCIX's address carries its country's name), instead of reading the
 * object again.
 *
 * Conservative on purpose: `@skip`/`@include` are ignored and every type
 * condition is taken, so the set may hold more than will be resolved, never less;
 * the worst case is a read that was not needed.
 *
 * Computed once per `fieldNodes` array: graphql-jit compiles an operation once and
 * passes the same array on every run, and graphql-js shares it across the items
 * of a list within one execution, so a page of 100 records costs one walk.
 */
const cache = new WeakMap<readonly unknown[], ReadonlySet<string>>();

export function selectedFields(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>): ReadonlySet<string> {
  let names = cache.get(info.fieldNodes);
  if (!names) {
    const sets = info.fieldNodes.flatMap((node) => (node.selectionSet ? [node.selectionSet] : []));
    names = new Set(fieldsByName(sets, info.fragments).keys());
    cache.set(info.fieldNodes, names);
  }
  return names;
}

/** The fields of these selection sets by name (aliases resolved), through fragments and inline fragments, every type condition taken. */
export function fieldsByName(sets: readonly SelectionSetNode[], fragments: Record<string, FragmentDefinitionNode>): Map<string, FieldNode[]> {
  const byName = new Map<string, FieldNode[]>();
  const visited = new Set<string>();
  const walk = (set: SelectionSetNode) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const list = byName.get(selection.name.value);
        if (list) list.push(selection);
        else byName.set(selection.name.value, [selection]);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet);
      } else if (!visited.has(selection.name.value)) {
        visited.add(selection.name.value);
        const fragment = fragments[selection.name.value];
        if (fragment) walk(fragment.selectionSet);
      }
    }
  };
  for (const set of sets) walk(set);
  return byName;
}
