/**
 * One load run against one gateway process (autocannon, fixed connections and
 * duration), with the figures the side-by-side benchmark reports: throughput,
 * latency percentiles, the gateway's CPU time per query and its peak memory.
 */
import autocannon, { type Result } from 'autocannon';
import type { GatewayProcess } from './processes.js';

export interface LoadFigures {
  requests: number;
  perSecond: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  /** The gateway process's user + system CPU time per completed query. */
  cpuMsPerQuery: number;
  /** The most resident memory sampled during the run (every 100 ms). */
  peakRssBytes: number;
  /** Answers that were not 2xx, and connection errors or timeouts: any makes the run suspect. */
  failures: number;
  /**
   * The rest of the machine's CPU per query: the simulators' process and the load
   * generator's (this process). The machine has few cores, so what they take is not
   * the gateways': a gateway that needs less CPU per query meets this ceiling first.
   */
  upstreamCpuMsPerQuery: number;
  loadCpuMsPerQuery: number;
}

export async function runLoad(
  gateway: GatewayProcess,
  query: string,
  options: { connections: number; seconds: number; upstream?: { cpuMs(): number } },
): Promise<LoadFigures> {
  const latencies: number[] = [];
  let peakRss = gateway.rssBytes();
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, gateway.rssBytes());
  }, 100);
  const cpuBefore = gateway.cpuMs();
  const upstreamBefore = options.upstream?.cpuMs() ?? 0;
  const loadBefore = process.cpuUsage();
  const started = performance.now();
  const target = { url: gateway.url, method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', ...gateway.headers }, body: JSON.stringify({ query }) };
  const result = await drive(target, options, latencies);
  const elapsedSeconds = (performance.now() - started) / 1000;
  const cpuMs = gateway.cpuMs() - cpuBefore;
  const upstreamMs = (options.upstream?.cpuMs() ?? 0) - upstreamBefore;
  const load = process.cpuUsage(loadBefore);
  clearInterval(sampler);
  peakRss = Math.max(peakRss, gateway.rssBytes());
  return {
    ...latencyFigures(latencies, elapsedSeconds),
    cpuMsPerQuery: cpuMs / Math.max(1, latencies.length),
    peakRssBytes: peakRss,
    failures: result.non2xx + result.errors + result.timeouts,
    upstreamCpuMsPerQuery: options.upstream ? upstreamMs / Math.max(1, latencies.length) : NaN,
    loadCpuMsPerQuery: (load.user + load.system) / 1000 / Math.max(1, latencies.length),
  };
}

/** One request, sent over and over: to a gateway, or as it goes to an upstream (a `DirectRequest`). */
interface Target {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

/** One request as it goes to an upstream, sent by a client of its own. */
export type DirectRequest = Omit<Target, 'body'>;

/** Latency alone (no process to read CPU or memory from). */
export type LatencyFigures = Pick<LoadFigures, 'requests' | 'perSecond' | 'meanMs' | 'p50Ms' | 'p99Ms' | 'failures'>;

/**
 * The same load sent straight to an upstream, bypassing any gateway: what the
 * calls a query needs cost by themselves, timed by the same load generator. The
 * latency scenarios compare a gateway with it to show what the gateway adds.
 */
export async function runDirectLoad(request: DirectRequest, options: { connections: number; seconds: number }): Promise<LatencyFigures> {
  const latencies: number[] = [];
  const started = performance.now();
  const result = await drive(request, options, latencies);
  return { ...latencyFigures(latencies, (performance.now() - started) / 1000), failures: result.non2xx + result.errors + result.timeouts };
}

/**
 * One autocannon run of the target (pipelining 1), keeping the time of each 2xx answer in
 * latencies: autocannon's own histogram rounds to whole milliseconds, and scenario 5 needs better than that.
 */
async function drive(target: Target, options: { connections: number; seconds: number }, latencies: number[]): Promise<Result> {
  const instance = autocannon({ ...target, connections: options.connections, pipelining: 1, duration: options.seconds, timeout: 30 });
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
  });
  return instance;
}

function latencyFigures(latencies: number[], elapsedSeconds: number): Omit<LatencyFigures, 'failures'> {
  latencies.sort((a, b) => a - b);
  const at = (q: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))]! : NaN);
  return {
    requests: latencies.length,
    perSecond: latencies.length / elapsedSeconds,
    meanMs: latencies.reduce((s, v) => s + v, 0) / Math.max(1, latencies.length),
    p50Ms: at(0.5),
    p99Ms: at(0.99),
  };
}

/** The median of each latency figure over several rounds (requests and failures summed). */
export function medianLatency(rounds: readonly LatencyFigures[]): LatencyFigures {
  const median = medianOf(rounds);
  return {
    requests: rounds.reduce((s, r) => s + r.requests, 0),
    perSecond: median((f) => f.perSecond),
    meanMs: median((f) => f.meanMs),
    p50Ms: median((f) => f.p50Ms),
    p99Ms: median((f) => f.p99Ms),
    failures: rounds.reduce((s, r) => s + r.failures, 0),
  };
}

/** The median of each figure over several rounds (the peak memory is the largest). */
export function medianFigures(rounds: readonly LoadFigures[]): LoadFigures {
  const median = medianOf(rounds);
  return {
    ...medianLatency(rounds),
    cpuMsPerQuery: median((f) => f.cpuMsPerQuery),
    peakRssBytes: Math.max(...rounds.map((r) => r.peakRssBytes)),
    upstreamCpuMsPerQuery: median((f) => f.upstreamCpuMsPerQuery),
    loadCpuMsPerQuery: median((f) => f.loadCpuMsPerQuery),
  };
}

function medianOf<F>(rounds: readonly F[]): (pick: (f: F) => number) => number {
  return (pick) => {
    const values = rounds.map(pick).sort((a, b) => a - b);
    const mid = Math.floor(values.length / 2);
    return values.length % 2 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
  };
}
