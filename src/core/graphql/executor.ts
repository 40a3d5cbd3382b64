import { GraphQLError, Kind, Source, execute, type ExecutionResult, type GraphQLSchema, type SelectionSetNode, type DocumentNode } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import type { PreparedOperation } from './pipeline.js';

export type ExecutorKind = 'jit' | 'graphql-js';

/**
 * Bytes a compiled operation holds per field it selects (fragments expanded),
 * measured on this schema: graphql-jit generates code per field path, so its
 * size grows with the selection, not with the query text. 1,000 aliases of
 * 4 fields each held 16 to 38 MB once compiled (an estimate of 46 MB), so the
 * estimate errs high. Used only to bound the cache.
 */
const BYTES_PER_FIELD = 12_000;
/** Compiled operations kept, by estimated bytes. Default 64 MiB. */
const DEFAULT_MAX_BYTES = 64 * 1_048_576;

export interface CompiledOperationsOptions {
  /** Estimated bytes of compiled code kept; an operation estimated above an eighth of it is never compiled. */
  maxBytes?: number;
}

interface Entry {
  query: CompiledQuery;
  bytes: number;
  /** Where the entry is found (its document's operations by name), so eviction can take it out. */
  owner: Map<string, Entry>;
  name: string;
}

/**
 * How a valid operation runs. Most of a gateway's CPU goes into completing large
 * upstream lists field by field, and graphql-jit compiles an operation into a
 * function that does it several times faster than graphql-js (see test/bench).
 * Compiling costs time and memory, so only operations seen more than once are
 * compiled (a one-off runs on graphql-js), and the compiled ones are kept within
 * an estimate of the memory they hold, least recently used evicted first.
 * `graphql-js` stays available (EXECUTOR=graphql-js) as the reference; a test
 * runs both on the same queries and compares the answers.
 *
 * Operations are found by their parsed document (the pipeline's document cache
 * hands the same one back for the same text), so a request never hashes its
 * query text a second time; a document the cache lets go takes its sightings
 * with it.
 */
export class CompiledOperations {
  private readonly byDocument = new WeakMap<DocumentNode, Map<string, Entry>>();
  /** Every compiled entry, least recently used first: the byte bound evicts from here. */
  private readonly recent = new Set<Entry>();
  /** The operations (by name) of each document seen once, so that the second sighting compiles. */
  private readonly seen = new WeakMap<DocumentNode, Set<string>>();
  private bytes = 0;
  private readonly maxBytes: number;

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly kind: ExecutorKind,
    options: CompiledOperationsOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  }

  /** Estimated bytes held by compiled operations now. */
  get heldBytes(): number {
    return this.bytes;
  }

  get size(): number {
    return this.recent.size;
  }

  async execute(operation: PreparedOperation): Promise<ExecutionResult> {
    const query = this.kind === 'jit' ? this.compiledFor(operation) : undefined;
    if (!query) return this.reference(operation);
    const result = (await query.query(undefined, operation.context, operation.variables)) as ExecutionResult;
    if (result.errors?.length) return { ...result, errors: result.errors.map((e) => toGraphQLError(e, operation.source)) };
    return result;
  }

  private reference(operation: PreparedOperation): Promise<ExecutionResult> {
    return execute({
      schema: this.schema,
      document: operation.document,
      operationName: operation.operationName,
      variableValues: operation.variables,
      contextValue: operation.context,
    }) as Promise<ExecutionResult>;
  }

  private compiledFor(operation: PreparedOperation): CompiledQuery | undefined {
    const { document } = operation;
    const name = operation.operationName ?? '';
    const hit = this.byDocument.get(document)?.get(name);
    if (hit) {
      this.recent.delete(hit);
      this.recent.add(hit);
      return hit.query;
    }
    const seen = this.seen.get(document);
    if (!seen?.has(name)) {
      if (seen) seen.add(name);
      else this.seen.set(document, new Set([name]));
      return undefined;
    }
    const bytes = estimateBytes(document);
    if (bytes > this.maxBytes / 8) return undefined;
    const result = compileQuery(this.schema, document, operation.operationName);
    if (!isCompiledQuery(result)) return undefined;
    seen.delete(name);
    let owner = this.byDocument.get(document);
    if (!owner) this.byDocument.set(document, (owner = new Map()));
    const entry: Entry = { query: result, bytes, owner, name };
    owner.set(name, entry);
    this.recent.add(entry);
    this.bytes += bytes;
    for (const oldest of this.recent) {
      if (this.bytes <= this.maxBytes) break;
      this.recent.delete(oldest);
      oldest.owner.delete(oldest.name);
      this.bytes -= oldest.bytes;
    }
    return result;
  }
}

/** Fields an operation selects with its fragments expanded (each spread counted where it is used), times the bytes per field. */
export function estimateBytes(document: DocumentNode): number {
  const fragments = new Map<string, SelectionSetNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition.selectionSet);
  }
  const memo = new Map<string, number>();
  const count = (set: SelectionSetNode, depth: number): number => {
    if (depth > 64) return 0; // validation refuses fragment cycles; this only bounds the walk
    let fields = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) fields += 1 + (selection.selectionSet ? count(selection.selectionSet, depth + 1) : 0);
      else if (selection.kind === Kind.INLINE_FRAGMENT) fields += count(selection.selectionSet, depth + 1);
      else {
        const name = selection.name.value;
        let n = memo.get(name);
        if (n === undefined) {
          const fragment = fragments.get(name);
          n = fragment ? count(fragment, depth + 1) : 0;
          memo.set(name, n);
        }
        fields += n;
      }
    }
    return fields;
  };
  let total = 0;
  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION) total += count(definition.selectionSet, 0);
  }
  return total * BYTES_PER_FIELD;
}

interface JitError {
  message: string;
  locations?: readonly { line: number; column: number }[];
  path?: readonly (string | number)[];
  originalError?: Error | null;
  extensions?: Record<string, unknown>;
}

/**
 * graphql-jit builds its own error objects: they pass `instanceof GraphQLError`
 * but skip its constructor (no `extensions` object), and error formatting fails
 * on them. Rebuilt here as real ones, with locations recomputed from the query text.
 */
function toGraphQLError(error: JitError, query: string): GraphQLError {
  let positions: number[] | undefined;
  if (error.locations?.length) {
    const lineStarts = [0];
    for (let i = 0; i < query.length; i++) if (query.charCodeAt(i) === 10) lineStarts.push(i + 1);
    positions = error.locations.map(({ line, column }) => (lineStarts[line - 1] ?? 0) + column - 1);
  }
  return new GraphQLError(error.message, {
    source: positions ? new Source(query) : undefined,
    positions,
    path: error.path,
    originalError: error.originalError ?? undefined,
    extensions: error.extensions,
  });
}
