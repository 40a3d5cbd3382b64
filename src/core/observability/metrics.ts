import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Process-wide Prometheus metrics, served at `/metrics`. One registry per process:
 * several gateways started in one test process share it, which only sums their counts.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

export const upstreamRequestDuration = new Histogram({
  name: 'switchboard_upstream_request_duration_seconds',
  help: 'Time from sending an upstream request to reading its whole body, by platform, route and status (0 when no answer came).',
  labelNames: ['platform', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const graphqlRequests = new Counter({
  name: 'switchboard_graphql_requests_total',
  help: 'GraphQL operations executed, by operation type and whether the response carried errors.',
  labelNames: ['operation', 'outcome'] as const,
  registers: [registry],
});

export const upstreamTokenFetches = new Counter({
  name: 'switchboard_upstream_token_fetches_total',
  help: 'Access tokens fetched or refreshed from an upstream, by platform.',
  labelNames: ['platform'] as const,
  registers: [registry],
});
