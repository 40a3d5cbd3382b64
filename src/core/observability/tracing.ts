import type { Logger } from 'pino';
// Types only: erased at build time, so nothing of OpenTelemetry is loaded unless tracing starts.
import type { Attributes, Span } from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Clock } from '../clock.js';
import type { PipelinePlugin, PreparedOperation } from '../graphql/pipeline.js';
import type { UpstreamCallHook } from '../upstream/chain.js';
import type { OperationScope } from '../upstream/operation.js';

export interface TracingOptions {
  /**
   * OTEL_EXPORTER_OTLP_ENDPOINT. Set: spans are exported over OTLP by the
   * OpenTelemetry SDK, which reads it and the other OTEL_* variables itself
   * (OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME …).
   * Unset (and no `spanProcessors`): no tracing, and no OpenTelemetry module is loaded.
   */
  endpoint?: string;
  /** Where spans go instead of OTLP: tests pass the SDK's in-memory exporter in a SimpleSpanProcessor. */
  spanProcessors?: SpanProcessor[];
}

/** What the composition root plugs in: a span per operation (pipeline plugin) and per upstream call attempt (call hook). */
export interface Tracing {
  readonly plugin: PipelinePlugin;
  readonly callHook: UpstreamCallHook;
  /** Ends the SDK, sending what is still buffered. */
  shutdown(): Promise<void>;
}

export const TRACER_NAME = 'switchboard';

/**
 * Starts OpenTelemetry tracing when it is configured, loading the SDK with a
 * dynamic `import()` only then: a gateway without OTEL_EXPORTER_OTLP_ENDPOINT
 * pays nothing for it.
 *
 * The spans come from the gateway's own hooks rather than from the undici
 * auto-instrumentation: an upstream call's span is named by its route template
 * (`GET /api/customers/{id}`), never by its URL, so no id, query string or
 * upstream origin reaches the trace backend, and it is a child of its
 * operation's span even when DataLoader batched it. Only traces are set up:
 * NodeSDK would otherwise also start OTLP metrics and logs exporters, while
 * metrics are Prometheus's (/metrics) and logs are pino's.
 *
 * The SDK registers itself as the process's global tracer provider: one
 * traced gateway per process (as `npm start` runs it).
 */
export async function startTracing(options: TracingOptions, deps: { clock: Clock; log: Pick<Logger, 'info' | 'warn'> }): Promise<Tracing | undefined> {
  const spanProcessors = options.spanProcessors;
  if (!options.endpoint && !spanProcessors?.length) return undefined;
  const [{ NodeSDK }, api] = await Promise.all([import('@opentelemetry/sdk-node'), import('@opentelemetry/api')]);
  const sdk = new NodeSDK({
    serviceName: process.env.OTEL_SERVICE_NAME ?? 'switchboard',
    ...(spanProcessors?.length ? { spanProcessors } : {}),
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  const tracer = api.trace.getTracer(TRACER_NAME);
  if (options.endpoint) deps.log.info('OpenTelemetry: a span per GraphQL operation and per upstream call, sent to OTEL_EXPORTER_OTLP_ENDPOINT');
  const spans = new WeakMap<OperationScope, Span>();
  const { SpanKind, SpanStatusCode, ROOT_CONTEXT } = api;

  const operationSpan = (operation: PreparedOperation): Span => {
    // The span starts when the transport handed the request over, as the operation's duration metric does.
    const elapsedMs = Math.max(0, deps.clock.now() - operation.startedAt);
    const span = tracer.startSpan(operationSpanName(operation), { kind: SpanKind.SERVER, startTime: Date.now() - elapsedMs, attributes: operationAttributes(operation) });
    spans.set(operation.scope, span);
    return span;
  };

  const plugin: PipelinePlugin = {
    onOperation(operation) {
      operationSpan(operation);
    },
    onResult(operation, result, outcome) {
      // Refused before it was prepared (a parse error): there is no operation to name.
      if (!operation) return;
      // Refused by an earlier plugin (a scope, a rate limit): its span starts and ends here.
      const span = spans.get(operation.scope) ?? operationSpan(operation);
      spans.delete(operation.scope);
      const codes = [...new Set((result.errors ?? []).map((e) => e.extensions?.code).filter((c): c is string => typeof c === 'string'))];
      span.setAttributes({ 'switchboard.outcome': outcome, 'switchboard.upstream_calls': operation.scope.calls.length });
      if (codes.length > 0) span.setAttribute('switchboard.error_codes', codes);
      if (outcome !== 'ok') span.setStatus({ code: SpanStatusCode.ERROR, message: codes.join(', ') || outcome });
      span.end();
    },
  };

  const callHook: UpstreamCallHook = (record, call) => {
    const parent = call.operation && spans.get(call.operation);
    const context = parent ? api.trace.setSpan(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
    const end = Date.now();
    const attributes: Attributes = {
      'switchboard.platform': record.platform,
      'http.request.method': record.method,
      'url.template': record.route,
      'http.response.status_code': record.status,
      'http.response.body.size': record.bytes,
      'http.request.resend_count': record.attempt - 1,
    };
    if (call.operation) attributes['switchboard.request_id'] = call.operation.requestId;
    if (record.batchKeys !== undefined) attributes['switchboard.batch_keys'] = record.batchKeys;
    if (record.errorCode) attributes['error.type'] = record.errorCode;
    // The hook runs as the attempt ends: the span is written after the fact, with the attempt's own start.
    const span = tracer.startSpan(record.route, { kind: SpanKind.CLIENT, startTime: end - record.durationMs, attributes }, context);
    if (record.errorCode || record.status >= 400 || record.status === 0) span.setStatus({ code: SpanStatusCode.ERROR, message: record.errorCode ?? `HTTP ${record.status}` });
    span.end(end);
  };

  return {
    plugin,
    callHook,
    async shutdown() {
      try {
        await sdk.shutdown();
      } catch (error) {
        deps.log.warn({ err: { message: (error as Error).message } }, 'OpenTelemetry could not send its last spans');
      } finally {
        // Lets a later gateway of this process (a test's next stack) register its own provider.
        api.trace.disable();
        api.context.disable();
        api.propagation.disable();
      }
    },
  };
}

function operationSpanName(operation: PreparedOperation): string {
  const kind = operation.operation.operation;
  return operation.operationName ? `${kind} ${operation.operationName}` : kind;
}

/** What identifies an operation in a trace; never its document or variables, which may carry secrets. */
function operationAttributes(operation: PreparedOperation): Attributes {
  const attributes: Attributes = {
    'graphql.operation.type': operation.operation.operation,
    'switchboard.request_id': operation.scope.requestId,
    'switchboard.transport': operation.transport,
  };
  if (operation.operationName) attributes['graphql.operation.name'] = operation.operationName;
  if (operation.scope.client) attributes['switchboard.client'] = operation.scope.client;
  return attributes;
}
