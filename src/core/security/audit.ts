import {
  Kind,
  valueFromASTUntyped,
  type DocumentNode,
  type FieldNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionNode,
} from 'graphql';
import type { Logger } from 'pino';
import { redactInput, redactJson } from './redact.js';
import type { Principal } from './scopes.js';

/**
 * Every mutation leaves an audit record: who (the client), what (operation name,
 * mutation field, arguments with write-only values redacted), when, and how it
 * ended. Written as a log line at `info` (`"audit": {…}`), and handed to every
 * sink added with `addSink`: the event log adds itself there, so the records are
 * also events a subscriber with `admin` can follow.
 */
export interface AuditRecord {
  /** ISO-8601 time the operation started. */
  readonly at: string;
  /** The client's name; null for an anonymous caller (the embedded default). */
  readonly client: string | null;
  readonly via: Principal['via'];
  readonly requestId: string;
  /** `http`, `websocket` or `sse`. */
  readonly transport: string;
  readonly operationName: string | null;
  /** The mutation field (`ixcRebootDevice`). */
  readonly field: string;
  /** The alias it was asked under, when one was used. */
  readonly alias?: string;
  /** Its arguments, write-only values replaced by "[redacted]". */
  readonly arguments: Record<string, unknown>;
  /**
   * `ok`: done; `rejected`: the platform refused the input (`userErrors`);
   * `failed`: an error (code in `errorCode`); `refused`: the gateway refused
   * before it ran (scope, limit, rate).
   */
  readonly outcome: 'ok' | 'rejected' | 'failed' | 'refused';
  readonly errorCode?: string;
}

export type AuditSink = (record: AuditRecord) => void | Promise<void>;

export interface PlannedMutation {
  readonly field: string;
  readonly responseKey: string;
  readonly alias?: string;
  readonly arguments: Record<string, unknown>;
}

export interface AuditContext {
  principal: Principal;
  requestId: string;
  transport: string;
  operationName: string | null;
  /** Epoch ms the operation started (infra clock). */
  startedAt: number;
}

interface ResultShape {
  data?: Record<string, unknown> | null;
  errors?: readonly { path?: readonly (string | number)[]; extensions?: Record<string, unknown> }[];
}

export class AuditTrail {
  private readonly sinks = new Set<AuditSink>();
  private readonly fieldsOf = new WeakMap<OperationDefinitionNode, readonly FieldNode[]>();

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly log: Pick<Logger, 'info' | 'warn'>,
  ) {}

  /** Adds a place records go besides the log (the event log); returns a function that removes it. */
  addSink(sink: AuditSink): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  /** The mutation fields an operation will run, with their arguments already redacted (empty for queries and subscriptions). */
  plan(document: DocumentNode, operation: OperationDefinitionNode | undefined, variables: Readonly<Record<string, unknown>> | null | undefined): PlannedMutation[] {
    if (!operation || operation.operation !== 'mutation') return [];
    const mutationType = this.schema.getMutationType();
    if (!mutationType) return [];
    const fields = mutationType.getFields();
    return this.mutationFields(document, operation).map((node) => this.describe(node, fields, variables));
  }

  /** The root fields of a mutation through its fragments, remembered per operation of a parsed document (only their arguments' values change per request). */
  private mutationFields(document: DocumentNode, operation: OperationDefinitionNode): readonly FieldNode[] {
    const known = this.fieldsOf.get(operation);
    if (known) return known;
    const fragments = new Map(document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
    const found: FieldNode[] = [];
    const seen = new Set<string>();
    const walk = (selections: readonly SelectionNode[]) => {
      for (const selection of selections) {
        if (selection.kind === Kind.INLINE_FRAGMENT) walk(selection.selectionSet.selections);
        else if (selection.kind === Kind.FRAGMENT_SPREAD) {
          if (seen.has(selection.name.value)) continue;
          seen.add(selection.name.value);
          const fragment = fragments.get(selection.name.value);
          if (fragment) walk(fragment.selectionSet.selections);
        } else if (!selection.name.value.startsWith('__')) found.push(selection);
      }
    };
    walk(operation.selectionSet.selections);
    this.fieldsOf.set(operation, found);
    return found;
  }

  private describe(node: FieldNode, fields: ReturnType<NonNullable<ReturnType<GraphQLSchema['getMutationType']>>['getFields']>, variables: Readonly<Record<string, unknown>> | null | undefined): PlannedMutation {
    const field = fields[node.name.value];
    const args: Record<string, unknown> = {};
    for (const arg of node.arguments ?? []) {
      const definition = field?.args.find((a) => a.name === arg.name.value);
      let value: unknown;
      try {
        value = valueFromASTUntyped(arg.value, (variables ?? undefined) as Record<string, unknown> | undefined);
      } catch {
        value = null;
      }
      args[arg.name.value] = definition ? redactInput(value, definition.type) : redactJson(value);
    }
    return {
      field: node.name.value,
      responseKey: node.alias?.value ?? node.name.value,
      alias: node.alias?.value,
      arguments: args,
    };
  }

  /** Records how each planned mutation ended, from the operation's result. */
  recordResult(context: AuditContext, planned: readonly PlannedMutation[], result: ResultShape): void {
    for (const mutation of planned) {
      const error = result.errors?.find((e) => e.path?.[0] === mutation.responseKey);
      const payload = result.data?.[mutation.responseKey] as { userErrors?: unknown[] } | null | undefined;
      let outcome: AuditRecord['outcome'] = 'ok';
      let errorCode: string | undefined;
      if (error) {
        outcome = 'failed';
        errorCode = String(error.extensions?.code ?? 'INTERNAL_SERVER_ERROR');
      } else if (!result.data || payload === undefined) {
        // No data at all: the operation failed before this field produced anything.
        outcome = 'failed';
        errorCode = String(result.errors?.[0]?.extensions?.code ?? 'INTERNAL_SERVER_ERROR');
      } else if (Array.isArray(payload?.userErrors) && payload.userErrors.length > 0) outcome = 'rejected';
      this.emit(context, mutation, outcome, errorCode);
    }
  }

  /** Records mutations the gateway refused before they ran (a scope, a limit, the rate). */
  recordRefusal(context: AuditContext, planned: readonly PlannedMutation[], code: string): void {
    for (const mutation of planned) this.emit(context, mutation, 'refused', code);
  }

  private emit(context: AuditContext, mutation: PlannedMutation, outcome: AuditRecord['outcome'], errorCode: string | undefined): void {
    const record: AuditRecord = {
      at: new Date(context.startedAt).toISOString(),
      client: context.principal.client ?? null,
      via: context.principal.via,
      requestId: context.requestId,
      transport: context.transport,
      operationName: context.operationName,
      field: mutation.field,
      ...(mutation.alias ? { alias: mutation.alias } : {}),
      arguments: mutation.arguments,
      outcome,
      ...(errorCode ? { errorCode } : {}),
    };
    this.log.info({ audit: record }, `audit: ${record.field} by ${record.client ?? 'anonymous'}: ${outcome}`);
    for (const sink of this.sinks) {
      Promise.resolve()
        .then(() => sink(record))
        .catch((error: unknown) => this.log.warn({ err: error, field: record.field }, 'an audit sink failed; the log line above still holds the record'));
    }
  }
}
