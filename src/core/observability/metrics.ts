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
    upstreamBreakerOpen: new Gauge({
      name: 'switchboard_upstream_breaker_open',
      help: '1 while the circuit breaker of an upstream host is open (calls fail at once), by platform and host.',
      labelNames: ['platform', 'host'] as const,
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
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
