import { createHash, randomUUID } from 'node:crypto';
import {
  GraphQLError,
  Kind,
  createSourceEventStream,
  execute,
  getOperationAST,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionResult,
  type FormattedExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ParseOptions,
  type ValidationRule,
} from 'graphql';
import { getVariableValues } from 'graphql/execution/values.js';
import type { Logger } from 'pino';
import type { GraphQLContext } from '../../context.js';
import type { Infra } from '../infra.js';
import type { RequestInfo } from '../platform.js';
import type { OperationScope } from '../upstream/operation.js';
import { recordLoaderTallies } from '../observability/loaders.js';
import { SwitchboardError, toGraphQLErrorExtensions } from '../upstream/errors.js';
import { CompiledOperations, type ExecutorKind } from './executor.js';
import { isPollable, type Pollable } from '../pollable.js';

export type Transport = 'http' | 'ws' | 'sse';

/** One GraphQL request as a transport received it. */
export interface OperationRequest {
  transport: Transport;
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
  /** Who is calling and with which headers (HTTP headers, or a WebSocket's connection params). */
  request: RequestInfo;
}

/** An operation that parsed and validated: what the transports hand back to `execute`/`subscribe`. */
export interface PreparedOperation {
  readonly transport: Transport;
  readonly source: string;
  readonly document: DocumentNode;
  readonly operation: OperationDefinitionNode;
  readonly operationName: string | undefined;
  readonly variables: Record<string, unknown>;
  readonly context: GraphQLContext;
  /** The request's lower-cased headers (a WebSocket's: its upgrade request's and its connection params), for plugins that read a header (explain). */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** What every upstream call of this operation sees (request id, deadline, call budget, caller, calls made). */
  readonly scope: OperationScope;
  /** Infra clock time when the transport handed the request over. */
  readonly startedAt: number;
}

/** Why an operation did not run, before any resolver: the errors, and the status HTTP answers with. */
export interface Refusal {
  readonly refused: readonly GraphQLError[];
  readonly status: number;
  /** The request id and the caller's name, for the log line. */
  readonly requestId?: string;
  readonly client?: string;
  /** The operation a plugin refused (`onOperation`: a rate limit, a missing scope), for the log line and metrics. */
  readonly operation?: PreparedOperation;
}

export function isRefusal(value: PreparedOperation | Refusal): value is Refusal {
  return 'refused' in value;
}

/**
 * A rule the pipeline applies to every operation over every transport. The
 * security and observability work plug in here; the pipeline itself knows none
 * of them.
 */
export interface PipelinePlugin {
  /** Validation rules added to GraphQL's own, for every transport. */
  readonly validationRules?: readonly ValidationRule[];
  /** Limits on parsing (a token limit: `{ maxTokens }`). */
  readonly parseOptions?: ParseOptions;
  /** Before parsing (WebSocket, SSE; HTTP checks it in server.ts): refuse a document on its text alone (its length). */
  checkSource?(source: string): GraphQLError | undefined;
  /**
   * Variable errors of its own, checked before graphql-js coerces the variables
   * (graphql-js's messages quote the invalid value, which may be a write-only secret).
   */
  variableErrors?(operation: OperationDefinitionNode, variables: Readonly<Record<string, unknown>>): readonly GraphQLError[];
  /**
   * Who is calling: runs once per HTTP request, WebSocket connection or SSE
   * request, before any operation. Throw a SwitchboardError (UNAUTHENTICATED) to refuse.
   * What it answers is passed on in `RequestInfo.principal`.
   */
  authenticate?(request: RequestInfo): Promise<unknown> | unknown;
  /**
   * After validation, before the first resolver: refuse the operation (throw a
   * SwitchboardError: a rate limit, a missing scope), or set its deadline and call
   * budget on `operation.scope`.
   */
  onOperation?(operation: PreparedOperation): Promise<void> | void;
  /**
   * Entries for the response's `extensions` once the operation finished (explain's
   * `upstream`), for every transport; undefined adds nothing. Must not throw.
   */
  extensions?(operation: PreparedOperation, outcome: Outcome): Record<string, unknown> | undefined;
  /**
   * What, besides its document, operation name and variables, an event's result
   * depends on for this caller (the security plugin: the client and its scopes).
   * Subscribers whose keys are equal get one result per event, executed and
   * serialized once for all of them.
   */
  shareKey?(operation: PreparedOperation): string;
  /** After the result (an audit record, a trace span). Must not throw. */
  onResult?(operation: PreparedOperation | undefined, result: FormattedExecutionResult, outcome: Outcome): void;
}

export type Outcome = 'ok' | 'errors' | 'refused';

export interface PipelineOptions {
  schema: GraphQLSchema;
  infra: Infra;
  createContext: (request: RequestInfo) => GraphQLContext;
  executor: ExecutorKind;
  plugins?: readonly PipelinePlugin[];
  /**
   * Parsed documents kept for repeated operations, by entries and by the length
   * of their texts (a parsed document holds some 20 times its text's length).
   */
  parseCacheEntries?: number;
  parseCacheChars?: number;
  /** Estimated bytes of compiled operations kept (see executor.ts). */
  compiledCacheBytes?: number;
  /**
   * Request headers that change what a platform answers (a user's own token):
   * subscribers share an event's result only when these are the same too.
   */
  identityHeaders?: readonly string[];
}

/** How the pipeline turns an error into what a client sees (shared with Apollo's `formatError`). */
export type ErrorFormatter = (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;

/**
 * The one way an operation runs, whatever carried it: parse (cached), validate
 * (one list of rules), build the context, execute or subscribe, merge partial
 * errors and warnings, format errors, and record metrics and the operation's
 * log line. HTTP (Apollo Server), WebSocket (graphql-ws) and Server-Sent Events
 * (graphql-sse) are thin adapters over it, so a rule added here holds on all three.
 *
 * Apollo Server parses and validates HTTP requests itself (it offers no hook to
 * replace either): it is given this pipeline's parse options and rules, and its
 * executor, formatter and response hook are this pipeline's.
 */
export class OperationPipeline {
  readonly schema: GraphQLSchema;
  readonly validationRules: readonly ValidationRule[];
  readonly parseOptions: ParseOptions;
  private readonly rules: readonly ValidationRule[];
  private readonly plugins: readonly PipelinePlugin[];
  private readonly documents: DocumentCache;
  private readonly validated = new WeakMap<DocumentNode, readonly GraphQLError[]>();
  private readonly operations = new WeakMap<GraphQLContext, PreparedOperation>();
  readonly compiled: CompiledOperations;
  private readonly log: Logger;
  /** Results of recent subscription events, shared by the subscribers that would compute the same one (see `eventResult`). */
  private readonly eventResults = new SharedEventResults(256);
  /** Each result's JSON, made once however many subscribers it is sent to. */
  private readonly serialized = new WeakMap<object, Buffer>();
  private readonly documentIds = new WeakMap<DocumentNode, number>();
  private nextDocumentId = 1;
  /** The counter's children, looked up once: one of them is bumped per subscriber per event. */
  private readonly eventResultsCounted: { executed: { inc(): void }; shared: { inc(): void } };

  constructor(
    private readonly options: PipelineOptions,
    readonly formatError: ErrorFormatter,
  ) {
    this.schema = options.schema;
    this.plugins = options.plugins ?? [];
    this.log = options.infra.log;
    this.validationRules = this.plugins.flatMap((p) => p.validationRules ?? []);
    this.rules = [...specifiedRules, ...this.validationRules];
    this.parseOptions = Object.assign({}, ...this.plugins.map((p) => p.parseOptions ?? {})) as ParseOptions;
    this.documents = new DocumentCache(options.parseCacheEntries ?? 1_000, options.parseCacheChars ?? 2 * 1_048_576);
    const counter = options.infra.metrics.subscriptionEventResults;
    this.eventResultsCounted = { executed: counter.labels({ how: 'executed' }), shared: counter.labels({ how: 'shared' }) };
    this.compiled = new CompiledOperations(options.schema, options.executor, { maxBytes: options.compiledCacheBytes });
  }

  /** Now, on the gateway's clock. */
  now(): number {
    return this.options.infra.clock.now();
  }

  /**
   * Apollo Server's store of validated documents, kept in the same bounded cache
   * the other transports parse into. Its keys are prefixed (`APOLLO_KEY`), so its
   * entries (which it trusts as validated) never meet ours (which may have failed
   * validation: `validate` is remembered separately, per document).
   */
  readonly documentStore = {
    get: async (key: string) => this.documents.peek(APOLLO_KEY + key),
    set: async (key: string, document: DocumentNode) => this.documents.put(APOLLO_KEY + key, document),
    delete: async (key: string) => this.documents.remove(APOLLO_KEY + key),
  };

  /** Runs every plugin's authentication; answers the request with its principal attached. */
  async authenticate(request: RequestInfo): Promise<RequestInfo> {
    let principal = request.principal;
    for (const plugin of this.plugins) {
      if (plugin.authenticate) principal = (await plugin.authenticate({ ...request, principal })) ?? principal;
    }
    return principal === request.principal ? request : { ...request, principal };
  }

  createContext(request: RequestInfo): GraphQLContext {
    return this.options.createContext(request);
  }

  /**
   * Parses, validates and prepares one operation (WebSocket and SSE). Answers a
   * formatted error result when it cannot run; `status` is what HTTP would answer.
   */
  async prepare(request: OperationRequest): Promise<PreparedOperation | Refusal> {
    const startedAt = this.options.infra.clock.now();
    // Refused before a context exists: the log line still gets the id the client sent (or a new one).
    const requestId = () => newRequestId(request.request.headers);
    const client = nameOf(request.request.principal);
    for (const plugin of this.plugins) {
      const refused = plugin.checkSource?.(request.query);
      if (refused) return { refused: [refused], status: httpStatusOf(refused as { code?: unknown; httpStatus?: unknown }), requestId: requestId(), client };
    }
    let document: DocumentNode;
    try {
      document = this.documents.get(request.query, (text) => parse(text, this.parseOptions));
    } catch (error) {
      return { refused: [withCode(error, 'GRAPHQL_PARSE_FAILED')], status: 400, requestId: requestId(), client };
    }
    const invalid = this.validate(document);
    if (invalid.length > 0) return { refused: invalid.map((e) => withCode(e, 'GRAPHQL_VALIDATION_FAILED')), status: 400, requestId: requestId(), client };
    const context = this.createContext(request.request);
    return this.prepareValidated({ ...request, document, context, startedAt, headers: request.request.headers });
  }

  /** The formatted answer to a refused operation (WebSocket, SSE), recorded like any other. */
  refusal(refusal: Refusal, transport: Transport, startedAt = this.now(), operation?: PreparedOperation): FormattedExecutionResult {
    const result = { errors: refusal.refused.map((e) => this.formatError(e.toJSON(), e)) };
    this.record(operation ?? refusal.operation, result, 'refused', { transport, startedAt, requestId: refusal.requestId, client: refusal.client });
    return result;
  }

  /** Validation with one list of rules, remembered per parsed document. */
  validate(document: DocumentNode): readonly GraphQLError[] {
    let errors = this.validated.get(document);
    if (!errors) {
      errors = validate(this.schema, document, this.rules);
      this.validated.set(document, errors);
    }
    return errors;
  }

  /**
   * Prepares a document that already parsed and validated (Apollo's, over HTTP):
   * picks the operation, coerces the variables, and lets the plugins refuse it.
   */
  async prepareValidated(input: {
    transport: Transport;
    query: string;
    document: DocumentNode;
    operationName?: string | null;
    variables?: Record<string, unknown> | null;
    context: GraphQLContext;
    startedAt?: number;
    /** The request's lower-cased headers (see `PreparedOperation.headers`). */
    headers?: Readonly<Record<string, string | undefined>>;
  }): Promise<PreparedOperation | Refusal> {
    const startedAt = input.startedAt ?? this.options.infra.clock.now();
    const refuse = (refused: readonly GraphQLError[], status = 400, operation?: PreparedOperation): Refusal => ({
      refused,
      status,
      requestId: input.context.requestId,
      client: nameOf(input.context.principal),
      operation,
    });
    const operation = getOperationAST(input.document, input.operationName ?? undefined);
    if (!operation) {
      const message = input.operationName
        ? `Unknown operation named "${input.operationName}": the document defines ${describeOperations(input.document)}.`
        : `Expected an operationName: the document defines ${describeOperations(input.document)}.`;
      return refuse([new GraphQLError(message, { extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } })]);
    }
    if (!this.schema.getRootType(operation.operation)) {
      const message = `This gateway serves no ${operation.operation} operations.`;
      return refuse([new GraphQLError(message, { nodes: [operation], extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })]);
    }
    if (operation.operation === 'subscription' && input.transport === 'http') {
      return refuse([
        new GraphQLError(
          'Subscriptions are served over WebSocket (graphql-ws, on this same /graphql URL with ws://) and Server-Sent Events (send this request with "Accept: text/event-stream"), not over a plain HTTP request.',
          { extensions: { code: 'SUBSCRIPTION_NEEDS_STREAM' } },
        ),
      ]);
    }
    const variableErrors = this.plugins.flatMap((p) => p.variableErrors?.(operation, input.variables ?? {}) ?? []);
    if (variableErrors.length > 0) return refuse(variableErrors.map((e) => withCode(e, 'BAD_USER_INPUT')));
    const coerced = getVariableValues(this.schema, operation.variableDefinitions ?? [], input.variables ?? {}, { maxErrors: 25 });
    if (coerced.errors) return refuse(coerced.errors.map((e) => withCode(e, 'BAD_USER_INPUT')));
    const prepared: PreparedOperation = {
      transport: input.transport,
      source: input.query,
      document: input.document,
      operation,
      operationName: input.operationName ?? operation.name?.value ?? undefined,
      variables: input.variables ?? {},
      context: input.context,
      headers: input.headers ?? {},
      scope: { requestId: input.context.requestId, calls: [], client: nameOf(input.context.principal) },
      startedAt,
    };
    this.operations.set(prepared.context, prepared);
    // Platform scopes are built on first use, from here on: their calls are made on behalf of this operation.
    input.context.running.operation = prepared.scope;
    try {
      for (const plugin of this.plugins) await plugin.onOperation?.(prepared);
    } catch (error) {
      const refused = toGraphQLError(error);
      return refuse([refused], httpStatusOf((refused.originalError ?? refused) as { code?: unknown; httpStatus?: unknown }), prepared);
    }
    return prepared;
  }

  /** Runs a query or mutation and answers the raw result (Apollo formats it for HTTP). */
  executeRaw(operation: PreparedOperation): Promise<ExecutionResult> {
    return this.compiled.execute(operation);
  }

  /** Runs a query or mutation and answers the finished result (WebSocket, SSE). */
  async execute(operation: PreparedOperation): Promise<FormattedExecutionResult> {
    return this.finish(operation, await this.executeRaw(operation));
  }

  /**
   * Starts a subscription: a stream of finished results, or one result saying why
   * it could not start.
   *
   * Each event is executed once for every subscriber with the same document,
   * operation name, variables and share key (plugins' `shareKey`: the caller's
   * client and scopes), not once per subscriber: a thousand dashboards following
   * the same feed cost one execution per event, and `serialize` makes its JSON
   * once. The source stream (the event log's follower) stays each subscriber's
   * own, so replay, order and the slow-subscriber bound are unchanged.
   */
  async subscribe(operation: PreparedOperation): Promise<EventStream | FormattedExecutionResult> {
    const source = await createSourceEventStream({
      schema: this.schema,
      document: operation.document,
      operationName: operation.operationName,
      variableValues: operation.variables,
      contextValue: operation.context,
    });
    if (!isAsyncIterable(source)) return this.finish(operation, source as ExecutionResult);
    this.record(operation, {}, 'ok');
    return this.stream(operation, source as AsyncGenerator<unknown>, this.shareKeyOf(operation));
  }

  /**
   * The JSON of a finished result as UTF-8, made once per result object (a
   * shared event result is sent to many). Kept only up to SHARED_JSON_BYTES: a
   * larger one (a big webhook's raw payload) is made again for each subscriber
   * rather than held.
   */
  serializeBytes(result: FormattedExecutionResult): Buffer {
    let json = this.serialized.get(result);
    if (json === undefined) {
      json = Buffer.from(JSON.stringify(result));
      if (json.length <= SHARED_JSON_BYTES) this.serialized.set(result, json);
    }
    return json;
  }

  private shareKeyOf(operation: PreparedOperation): string {
    let id = this.documentIds.get(operation.document);
    if (id === undefined) {
      id = this.nextDocumentId++;
      this.documentIds.set(operation.document, id);
    }
    const parts = [String(id), operation.operationName ?? '', JSON.stringify(operation.variables)];
    for (const plugin of this.plugins) if (plugin.shareKey) parts.push(plugin.shareKey(operation));
    // Headers that make a platform answer as someone else (a user's own CloudCIX token): never shared across them.
    for (const header of this.options.identityHeaders ?? []) {
      const value = operation.headers[header];
      parts.push(value ? createHash('sha256').update(value).digest('base64url') : '');
    }
    return parts.join('\u0000');
  }

  /**
   * One event's finished result for this subscriber: the one another subscriber
   * with the same share key already made (or is making) for this very event, or a
   * new execution with this subscriber's context. Events are told apart by
   * identity: the event logs hand every follower the same object.
   */
  private eventResult(operation: PreparedOperation, shareKey: string, event: unknown): EventResult {
    if (typeof event !== 'object' || event === null) {
      this.eventResultsCounted.executed.inc();
      return this.executeEvent(operation, event);
    }
    const known = this.eventResults.get(event, shareKey);
    if (known) {
      this.eventResultsCounted.shared.inc();
      return known;
    }
    this.eventResultsCounted.executed.inc();
    const made = this.executeEvent(operation, event);
    this.eventResults.set(event, shareKey, made);
    // Once made, the others get the value itself, not a promise of it.
    if (made instanceof Promise) made.then((value) => this.eventResults.settle(event, shareKey, made, value), () => undefined);
    return made;
  }

  /** Executes one event; synchronously when every resolver it meets is (the events' own fields are). */
  private executeEvent(operation: PreparedOperation, event: unknown): EventResult {
    const result = execute({
      schema: this.schema,
      document: operation.document,
      rootValue: event,
      operationName: operation.operationName,
      variableValues: operation.variables,
      contextValue: operation.context,
    });
    return result instanceof Promise ? result.then((settled) => this.finishEvent(operation, settled)) : this.finishEvent(operation, result);
  }

  private finishEvent(operation: PreparedOperation, result: ExecutionResult): FormattedExecutionResult {
    // Each event is one result: partial errors and warnings start afresh.
    const value = this.merge(operation.context, result);
    operation.context.partialErrors.length = 0;
    operation.context.warnings.length = 0;
    return value;
  }

  /**
   * The finished results of a subscription. Written as an iterator rather than an
   * async generator: a generator waiting for the source's next event queues
   * `return()` behind that event, so a client that unsubscribes from a quiet
   * stream would keep its event-log follower (and its place in the
   * active-subscriptions gauge) until some event came; here `return()` ends the
   * source at once.
   */
  private stream(operation: PreparedOperation, source: AsyncGenerator<unknown>, shareKey: string): EventStream {
    const active = this.options.infra.metrics.subscriptionsActive;
    const labels = { transport: operation.transport };
    active.inc(labels);
    let open = true;
    const end = (): IteratorReturnResult<undefined> => {
      if (open) {
        open = false;
        active.dec(labels);
      }
      return { done: true, value: undefined };
    };
    const failed = (error: unknown): never => {
      end();
      throw error;
    };
    const stream: EventStream = {
      poll: () => {
        if (!open) return { done: true, value: undefined };
        const polled = isPollable<unknown>(source) ? source.poll() : undefined;
        if (polled === undefined) return undefined;
        if (polled instanceof Promise) return polled.then((next) => (next.done ? end() : this.eventStep(operation, shareKey, next.value)), failed);
        return polled.done ? end() : this.eventStep(operation, shareKey, polled.value);
      },
      waitReady: (callback) => open && isPollable<unknown>(source) && source.waitReady(callback),
      whenFailed: (callback) => {
        if (isPollable<unknown>(source)) source.whenFailed(callback);
      },
      next: async () => {
        if (!open) return { done: true, value: undefined };
        try {
          const next = await source.next();
          if (next.done || !open) return end();
          return await this.eventStep(operation, shareKey, next.value);
        } catch (error) {
          end();
          throw error;
        }
      },
      async return() {
        const wasOpen = open;
        end();
        if (wasOpen) await source.return?.(undefined);
        return { done: true, value: undefined };
      },
      async throw(error: unknown) {
        const wasOpen = open;
        end();
        if (wasOpen) await source.return?.(undefined);
        throw error;
      },
      [Symbol.asyncIterator]() {
        return stream;
      },
    };
    return stream;
  }

  /** One event's step of a stream: its result at once when it is made (or shared), else a promise of it. */
  private eventStep(operation: PreparedOperation, shareKey: string, event: unknown): IteratorResult<FormattedExecutionResult> | Promise<IteratorResult<FormattedExecutionResult>> {
    const result = this.eventResult(operation, shareKey, event);
    return result instanceof Promise ? result.then((value) => ({ done: false, value })) : { done: false, value: result };
  }

  /** Formats errors, adds partial errors and warnings, records metrics and the log line. */
  finish(operation: PreparedOperation, result: ExecutionResult): FormattedExecutionResult {
    const finished = this.merge(operation.context, result);
    this.record(operation, finished, finished.errors?.length ? 'errors' : 'ok');
    return finished;
  }

  private merge(context: GraphQLContext, result: ExecutionResult): FormattedExecutionResult {
    const errors: GraphQLFormattedError[] = (result.errors ?? []).map((e) => this.formatError(e.toJSON(), e));
    errors.push(...this.partialErrors(context));
    const finished: FormattedExecutionResult = {};
    if (errors.length > 0) (finished as { errors?: GraphQLFormattedError[] }).errors = errors;
    if ('data' in result) (finished as { data?: unknown }).data = result.data;
    const extensions = context.warnings.length > 0 ? { ...result.extensions, warnings: [...context.warnings] } : result.extensions;
    if (extensions) (finished as { extensions?: unknown }).extensions = extensions;
    return finished;
  }

  /** The errors that did not fail their field, formatted like every other error (Apollo's response hook uses this too). */
  partialErrors(context: GraphQLContext): GraphQLFormattedError[] {
    return context.partialErrors.map((e) => this.formatError(e.toJSON(), e));
  }

  /**
   * Plugins' response extensions, metrics and one log line per operation, for
   * every transport. `result` is the response about to be sent (Apollo's own
   * object over HTTP): extensions are added to it in place.
   */
  record(
    operation: PreparedOperation | undefined,
    result: FormattedExecutionResult,
    outcome: Outcome,
    fallback?: { transport: Transport; startedAt: number; requestId?: string; client?: string },
  ): void {
    if (operation) this.addExtensions(operation, result, outcome);
    const transport = operation?.transport ?? fallback?.transport ?? 'http';
    const startedAt = operation?.startedAt ?? fallback?.startedAt ?? this.options.infra.clock.now();
    const seconds = Math.max(0, this.options.infra.clock.now() - startedAt) / 1000;
    const kind = operation?.operation.operation ?? 'unknown';
    const { metrics } = this.options.infra;
    metrics.graphqlOperations.inc({ operation: kind, transport, outcome });
    metrics.graphqlDuration.observe({ name: metrics.operationName(operation?.operationName), operation: kind, transport, outcome }, seconds);
    if (operation) recordLoaderTallies(operation.scope, metrics);
    this.log.info(
      {
        requestId: operation?.context.requestId ?? fallback?.requestId,
        client: operation?.scope.client ?? fallback?.client,
        operationName: operation?.operationName,
        operation: kind,
        transport,
        ms: Math.round(seconds * 1000),
        upstreamCalls: operation?.scope.calls.length ?? 0,
        outcome,
        errorCodes: result.errors?.length ? [...new Set(result.errors.map((e) => e.extensions?.code))] : undefined,
      },
      'graphql operation',
    );
    for (const plugin of this.plugins) {
      try {
        plugin.onResult?.(operation, result, outcome);
      } catch (error) {
        this.log.error({ err: error }, 'a pipeline plugin failed after an operation');
      }
    }
  }

  private addExtensions(operation: PreparedOperation, result: FormattedExecutionResult, outcome: Outcome): void {
    for (const plugin of this.plugins) {
      if (!plugin.extensions) continue;
      try {
        const added = plugin.extensions(operation, outcome);
        if (added) (result as { extensions?: Record<string, unknown> }).extensions = { ...result.extensions, ...added };
      } catch (error) {
        this.log.error({ err: error }, 'a pipeline plugin failed to add response extensions');
      }
    }
  }

  /** The operation prepared with this context, if it got that far (HTTP records its result through it). */
  operationOf(context: GraphQLContext): PreparedOperation | undefined {
    return this.operations.get(context);
  }
}

/** One event's finished result for a subscriber, or the promise of it while an upstream call resolves a field. */
type EventResult = FormattedExecutionResult | Promise<FormattedExecutionResult>;

/** A subscription's finished results; `poll` reads on without a promise while events are at hand (see Pollable). */
export type EventStream = AsyncGenerator<FormattedExecutionResult> & Pollable<FormattedExecutionResult>;

/** The largest JSON of a result kept for other subscribers (see `serializeBytes`). */
const SHARED_JSON_BYTES = 65_536;

/**
 * The results of the most recent events, by event and share key. Bounded by
 * results, oldest event first out: subscribers following live all ask for the
 * same few events; one replaying far behind makes its own results, as it would
 * alone. 256 results with their JSON (at most SHARED_JSON_BYTES each) hold at
 * most about 16 MiB besides the events themselves.
 */
class SharedEventResults {
  private readonly byEvent = new Map<object, Map<string, EventResult>>();
  private results = 0;

  constructor(private readonly maxResults: number) {}

  get(event: object, key: string): EventResult | undefined {
    return this.byEvent.get(event)?.get(key);
  }

  /** A result that was a promise is now its value (if the entry is still that promise's). */
  settle(event: object, key: string, pending: EventResult, value: FormattedExecutionResult): void {
    const byKey = this.byEvent.get(event);
    if (byKey?.get(key) === pending) byKey.set(key, value);
  }

  set(event: object, key: string, result: EventResult): void {
    let byKey = this.byEvent.get(event);
    if (!byKey) {
      byKey = new Map();
      this.byEvent.set(event, byKey);
    }
    if (!byKey.has(key)) this.results += 1;
    byKey.set(key, result);
    for (const [oldest, held] of this.byEvent) {
      if (this.results <= this.maxResults || oldest === event) break;
      this.byEvent.delete(oldest);
      this.results -= held.size;
    }
  }
}

/** Before Apollo Server's keys in the document cache: a NUL, which no GraphQL text that parses starts with. */
const APOLLO_KEY = '\u0000apollo:';

/**
 * Parsed documents by query text, for every transport (Apollo keeps its
 * validated HTTP documents here too, through `documentStore`): bounded by
 * entries and by the total length of the texts kept.
 */
class DocumentCache {
  private readonly entries = new Map<string, DocumentNode>();
  private chars = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxChars: number,
  ) {}

  /**
   * The document of a query text, keyed by the text itself (a parsed document
   * holds its text anyway, in its locations). Apollo's keys are kept apart by a
   * leading NUL (`APOLLO_KEY`), which no text that parses can start with; a text
   * that starts with one is parsed (and refused) without the cache.
   */
  get(text: string, parseText: (text: string) => DocumentNode): DocumentNode {
    if (text.startsWith(APOLLO_KEY)) return parseText(text);
    const hit = this.peek(text);
    if (hit) return hit;
    const document = parseText(text);
    this.put(text, document);
    return document;
  }

  peek(key: string): DocumentNode | undefined {
    const hit = this.entries.get(key);
    if (hit) {
      // Most recently used last.
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  put(key: string, document: DocumentNode): void {
    const size = sizeOf(document);
    // One document larger than an eighth of the cache is not worth evicting the others for.
    if (size > this.maxChars / 8) return;
    this.remove(key);
    this.entries.set(key, document);
    this.chars += size;
    for (const [oldest] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.chars <= this.maxChars) break;
      this.remove(oldest);
    }
  }

  remove(key: string): boolean {
    const document = this.entries.get(key);
    if (!document) return false;
    this.entries.delete(key);
    this.chars -= sizeOf(document);
    return true;
  }
}

function sizeOf(document: DocumentNode): number {
  return document.loc?.source.body.length ?? 1_000;
}

function withCode(error: unknown, code: string): GraphQLError {
  const e = toGraphQLError(error);
  if (e.extensions.code) return e;
  return new GraphQLError(e.message, { nodes: e.nodes, source: e.source, positions: e.positions, path: e.path, originalError: e.originalError, extensions: { ...e.extensions, code } });
}

function toGraphQLError(error: unknown): GraphQLError {
  if (error instanceof GraphQLError) return error;
  // A plugin's SwitchboardError keeps its code (FORBIDDEN, RATE_LIMITED …) on every transport, not only its HTTP status.
  const extensions = error instanceof SwitchboardError ? toGraphQLErrorExtensions(error) : undefined;
  return new GraphQLError(error instanceof Error ? error.message : String(error), { originalError: error instanceof Error ? error : undefined, extensions });
}

function httpStatusOf(error: { code?: unknown; httpStatus?: unknown; extensions?: { code?: unknown } }): number {
  // A refusal that knows its status (the security plugin's: 403 for introspection, 413, 429) says it.
  if (typeof error.httpStatus === 'number') return error.httpStatus;
  switch (error.code ?? error.extensions?.code) {
    case 'UNAUTHENTICATED':
      return 401;
    case 'FORBIDDEN':
      return 403;
    case 'RATE_LIMITED':
      return 429;
    default:
      return 400;
  }
}

function describeOperations(document: DocumentNode): string {
  const names = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION).map((d) => d.name?.value ?? '(anonymous)');
  if (names.length === 0) return 'no operation';
  return `${names.length} operation${names.length === 1 ? '' : 's'} (${names.join(', ')})`;
}

/** The caller's name (a configured client's), for the log line and fair shares; undefined when anonymous. */
export function nameOf(principal: unknown): string | undefined {
  const name = (principal as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' ? name : undefined;
}

function isAsyncIterable<T>(value: unknown): value is AsyncGenerator<T> {
  return typeof (value as AsyncIterable<T>)?.[Symbol.asyncIterator] === 'function';
}

export function newRequestId(headers: Readonly<Record<string, string | undefined>>): string {
  const given = headers['x-request-id'];
  // A client's id is kept when it looks like one (it reaches logs and upstream headers).
  return given && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}
