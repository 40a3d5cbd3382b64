import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The gateway's Prometheus metrics, served at `/metrics`. Each gateway gets its
 * own registry through `infra` (see src/core/infra.ts), so two gateways in one
 * process (tests, benchmarks) never mix their counts; nothing here is a
 * module-level singleton.
 */
export function createMetrics(registry = new Registry(), options: { processMetrics?: boolean } = {}) {
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    /** The `name` label of an operation (see `boundedLabel`). */
    operationName: boundedLabel(MAX_OPERATION_NAMES),
    graphqlOperations: new Counter({
      name: 'switchboard_graphql_requests_total',
      help: 'GraphQL operations, by operation type, transport and whether the response carried errors.',
      labelNames: ['operation', 'transport', 'outcome'] as const,
      registers,
    }),
    graphqlDuration: new Histogram({
      name: 'switchboard_graphql_operation_duration_seconds',
      help: 'Time from receiving a GraphQL operation to its result (first result for subscriptions), by operation name, type, transport and outcome.',
      labelNames: ['name', 'operation', 'transport', 'outcome'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    upstreamRequestDuration: new Histogram({
      name: 'switchboard_upstream_request_duration_seconds',
      help: 'Time from sending an upstream request to reading its whole body, by platform, route template and status (0 when no answer came).',
      labelNames: ['platform', 'route', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    upstreamRetries: new Counter({
      name: 'switchboard_upstream_retries_total',
      help: 'Upstream calls sent again, by platform and the reason (status or network error code).',
      labelNames: ['platform', 'reason'] as const,
      registers,
    }),
    // By platform only: a host label would put upstream origins (and, for CloudCIX, one host per application) in every scrape.
    upstreamBreakerOpen: new Gauge({
      name: 'switchboard_upstream_breakers_open',
      help: 'Upstream hosts of a platform whose circuit breaker is open or trying one call (other calls fail at once), by platform; 0 when all are closed.',
      labelNames: ['platform'] as const,
      registers,
    }),
    upstreamThrottleQueued: new Gauge({
      name: 'switchboard_upstream_throttle_queued',
      help: 'Upstream calls waiting for a slot of their platform budget, by platform.',
      labelNames: ['platform'] as const,
      registers,
    }),
    upstreamThrottleWait: new Histogram({
      name: 'switchboard_upstream_throttle_wait_seconds',
      help: 'Time an upstream call waited for a slot of its platform budget, by platform.',
      labelNames: ['platform'] as const,
      buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    upstreamTokenFetches: new Counter({
      name: 'switchboard_upstream_token_fetches_total',
      help: 'Access tokens fetched or refreshed from an upstream, by platform (tokens another gateway stored are not counted).',
      labelNames: ['platform'] as const,
      registers,
    }),
    loaderLoads: new Counter({
      name: 'switchboard_loader_loads_total',
      help: 'Keys asked of a per-request DataLoader, by platform and loader (with the cache hits below: how much batching and caching saved).',
      labelNames: ['platform', 'loader'] as const,
      registers,
    }),
    loaderCacheHits: new Counter({
      name: 'switchboard_loader_cache_hits_total',
      help: 'Keys a per-request DataLoader answered from its cache (asked before in the same operation, or primed by a list), by platform and loader.',
      labelNames: ['platform', 'loader'] as const,
      registers,
    }),
    eventsReceived: new Counter({
      name: 'switchboard_events_received_total',
      help: 'Events that reached the event log (webhook deliveries, watcher changes, audit records), by platform, before deduplication.',
      labelNames: ['platform'] as const,
      registers,
    }),
    eventsStored: new Counter({
      name: 'switchboard_events_stored_total',
      help: 'Events stored in the event log, by platform.',
      labelNames: ['platform'] as const,
      registers,
    }),
    eventsDeduplicated: new Counter({
      name: 'switchboard_events_deduplicated_total',
      help: 'Events not stored because the same delivery was stored before (a webhook sent again, a poll repeated), by platform.',
      labelNames: ['platform'] as const,
      registers,
    }),
    eventsDelivered: new Counter({
      name: 'switchboard_events_delivered_total',
      help: 'Events handed from the event log to subscriptions (each subscriber counts), by platform.',
      labelNames: ['platform'] as const,
      registers,
    }),
    subscriptionEventResults: new Counter({
      name: 'switchboard_subscription_event_results_total',
      help: 'Results of events for subscribers: executed for a subscriber, or shared from another subscriber of the same query, variables and client scopes (how).',
      labelNames: ['how'] as const,
      registers,
    }),
    subscriptionsActive: new Gauge({
      name: 'switchboard_subscriptions_active',
      help: 'GraphQL subscriptions running now, by transport (ws, sse).',
      labelNames: ['transport'] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Distinct operation names kept as label values; later ones are counted under OTHER_OPERATIONS. */
export const MAX_OPERATION_NAMES = 500;
export const OTHER_OPERATIONS = '(other)';

/**
 * Label values a client chooses (operation names) are kept to the first `max`
 * distinct ones, then counted together: a client sending a new name with every
 * request would otherwise add series to every scrape without end. An operation
 * without a name is ''.
 */
function boundedLabel(max: number): (value: string | undefined) => string {
  const seen = new Set<string>();
  return (value) => {
    if (!value) return '';
    if (seen.has(value)) return value;
    if (seen.size >= max) return OTHER_OPERATIONS;
    seen.add(value);
    return value;
  };
}
