/**
 * Switchboard side by side with a general gateway over the same upstreams, in one run.
 *
 * The peer is Hive Gateway serving a GraphQL Mesh composition of the OpenAPI
 * documents the simulators publish at /openapi.json, at its fastest honest
 * setting (its own `jit: true`, no response cache). Both gateways run in their
 * own processes against the same simulators (a third process), driven by the
 * same load generator (autocannon), alternating run by run so that a change in
 * the machine's load falls on both. For each scenario of issue 10: requests per
 * second, p50 and p99, upstream requests per query (from the simulators' request
 * logs), gateway CPU milliseconds per query and peak memory, and the ratio to the peer.
 *
 * Writes test/bench/results/peers.json and peers.svg (shown in README, "Performance").
 *
 * Run: npm run bench -- peers          (install the peer first: npm run bench:peers)
 * Settings: BENCH_SECONDS (5 per run), BENCH_ROUNDS (3 per gateway), BENCH_SCENARIOS (keys, comma-separated).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { renderChart } from './lib/chart.js';
import { medianFigures, medianLatency, runDirectLoad, runLoad, type DirectRequest, type LatencyFigures, type LoadFigures } from './lib/load.js';
import { composePeer, peerInstalled, PEERS_DIR, REPO, startPeer, startSimulators, startSwitchboard, type GatewayProcess } from './lib/processes.js';
import { SCENARIOS, type Scenario } from './lib/scenarios.js';
import type { SimulatorsReady } from './lib/simulators.js';
import { CLOUDLX_MEDIA_TYPE } from '../../src/platforms/cloudlx/client.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const ONLY = process.env.BENCH_SCENARIOS ? new Set(process.env.BENCH_SCENARIOS.split(',')) : undefined;
/** Queries run one after the other to count upstream requests per query on the simulators' logs. */
const COUNTED_QUERIES = 10;
const RESULTS_DIR = join(REPO, 'test/bench/results');

type Side = 'switchboard' | 'peer';

interface SideResult extends LoadFigures {
  upstreamPerQuery: number;
  upstreamRoutes: Record<string, number>;
  /** Records in the answer (both gateways must agree). */
  records: number;
}

export interface ScenarioResult {
  key: string;
  title: string;
  connections: number;
  upstreamLatencyMs: number;
  criticalPathMs: number | null;
  /**
   * Latency scenarios: the one upstream call the data needs, sent straight to the
   * simulator by the same load generator, alternated with the gateways. The
   * critical path as this machine delivers it (the simulator's own time and the
   * connection included), so p50 minus this is what a gateway adds.
   */
  upstreamAlone: LatencyFigures | null;
  switchboard: SideResult;
  peer: SideResult | null;
  /** Switchboard ÷ peer. */
  ratios: { perSecond: number; p50: number; p99: number; cpuPerQuery: number; peakRss: number; upstreamPerQuery: number } | null;
  targets: { name: string; met: boolean | null; detail: string }[];
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  console.log(`Load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} on ${cpus().length} CPUs${loadBefore[0]! > cpus().length / 2 ? ' (busy: figures will be noisy; ratios still compare like with like)' : ''}`);
  const sims = await startSimulators();
  const stops: (() => Promise<void>)[] = [sims.stop];
  try {
    const switchboard = await startSwitchboard(sims.ready.gatewayEnv);
    stops.unshift(() => switchboard.stop());
    let peer: GatewayProcess | undefined;
    if (peerInstalled()) {
      const composed = await composePeer(sims.ready);
      stops.push(composed.cleanup);
      peer = await startPeer(composed.supergraph);
      stops.unshift(() => peer!.stop());
    } else {
      console.log('\nThe peer (Hive Gateway + GraphQL Mesh) is not installed: measuring Switchboard alone.');
      console.log('Install it with `npm run bench:peers` (into test/bench/peers/, apart from the project) and run `npm run bench -- peers` again.\n');
    }

    const results: ScenarioResult[] = [];
    for (const scenario of SCENARIOS) {
      if (ONLY && !ONLY.has(scenario.key)) continue;
      results.push(await runScenario(scenario, sims, switchboard, peer));
    }

    const report = {
      generatedAt: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, loadBefore, loadAfter: loadavg() },
      settings: { secondsPerRun: SECONDS, roundsPerGateway: ROUNDS, countedQueries: COUNTED_QUERIES, loadGenerator: 'autocannon 8, pipelining 1' },
      peer: peer ? await peerVersions() : null,
      scenarios: results,
    };
    await mkdir(RESULTS_DIR, { recursive: true });
    const name = peer ? 'peers' : 'switchboard-alone';
    await writeFile(join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(join(RESULTS_DIR, `${name}.svg`), renderChart(results, report.generatedAt));
    printTable(results);
    console.log(`\nAs Markdown (README, "Performance"):\n\n${markdownTable(results)}`);
    console.log(`\nWrote test/bench/results/${name}.json and ${name}.svg`);
  } finally {
    for (const stop of stops) await stop().catch((error: unknown) => console.error(error));
  }
}

async function runScenario(
  scenario: Scenario,
  sims: { ready: SimulatorsReady; cpuMs(): number },
  switchboard: GatewayProcess,
  peer: GatewayProcess | undefined,
): Promise<ScenarioResult> {
  const ready = sims.ready;
  console.log(`\n## ${scenario.title}`);
  await setLatency(ready, scenario.upstreamLatencyMs);
  const sides: [Side, GatewayProcess][] = [['switchboard', switchboard]];
  if (peer) sides.push(['peer', peer]);
  const partial: Partial<Record<Side, Omit<SideResult, keyof LoadFigures>>> = {};
  let direct: DirectRequest | undefined;
  for (const [side, gateway] of sides) {
    const records = await answer(gateway, side === 'switchboard' ? scenario.switchboard : scenario.peer, scenario, side);
    const { last, ...calls } = await upstreamCalls(ready, gateway, side === 'switchboard' ? scenario.switchboard : scenario.peer);
    partial[side] = { records, ...calls };
    console.log(`${gateway.name}: ${records} records, ${calls.upstreamPerQuery} upstream requests per query (${Object.entries(calls.upstreamRoutes).map(([r, n]) => `${r} ×${n}`).join(', ')})`);
    // The call Switchboard makes, replayed as is when it is the whole critical path.
    if (side === 'switchboard' && scenario.criticalPathCalls === 1 && calls.upstreamPerQuery === 1 && last) direct = directRequest(ready, last);
  }
  if (partial.peer && partial.peer.records !== partial.switchboard!.records) {
    throw new Error(`${scenario.title}: Switchboard answered ${partial.switchboard!.records} records, the peer ${partial.peer.records}: not the same question`);
  }

  // Warm both (JIT compilation, connection pools, caches of parsed documents), then alternate.
  const warm = Math.min(2, SECONDS);
  for (const [, gateway] of sides) await runLoad(gateway, queryFor(scenario, gateway === switchboard ? 'switchboard' : 'peer'), { connections: scenario.connections, seconds: warm });
  if (direct) await runDirectLoad(direct, { connections: scenario.connections, seconds: warm });
  const rounds: Record<Side, LoadFigures[]> = { switchboard: [], peer: [] };
  const alone: LatencyFigures[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? sides : [...sides].reverse();
    for (const [side, gateway] of order) {
      const figures = await runLoad(gateway, queryFor(scenario, side), { connections: scenario.connections, seconds: SECONDS, upstream: sims });
      rounds[side].push(figures);
      console.log(
        `  round ${round + 1} ${gateway.name.padEnd(20)} ${figures.perSecond.toFixed(0).padStart(6)} req/s  p50 ${figures.p50Ms.toFixed(2)} ms  p99 ${figures.p99Ms.toFixed(2)} ms  ` +
          `CPU ${figures.cpuMsPerQuery.toFixed(3)} ms/query  RSS ${(figures.peakRssBytes / 2 ** 20).toFixed(0)} MiB  ` +
          `(simulators ${figures.upstreamCpuMsPerQuery.toFixed(3)}, load generator ${figures.loadCpuMsPerQuery.toFixed(3)} ms/query)${figures.failures ? `  FAILURES ${figures.failures}` : ''}`,
      );
    }
    if (direct) {
      const figures = await runDirectLoad(direct, { connections: scenario.connections, seconds: SECONDS });
      if (figures.failures) throw new Error(`${scenario.title}: the upstream call alone failed ${figures.failures} times (${direct.method} ${direct.url})`);
      alone.push(figures);
      console.log(`  round ${round + 1} ${'upstream alone'.padEnd(20)} ${figures.perSecond.toFixed(0).padStart(6)} req/s  p50 ${figures.p50Ms.toFixed(2)} ms  p99 ${figures.p99Ms.toFixed(2)} ms`);
    }
  }
  // The answers are checked again after the load: a gateway that started failing under it must not be counted as fast.
  for (const [side, gateway] of sides) await answer(gateway, queryFor(scenario, side), scenario, side);

  const sb: SideResult = { ...medianFigures(rounds.switchboard), ...partial.switchboard! };
  const pr: SideResult | null = peer ? { ...medianFigures(rounds.peer), ...partial.peer! } : null;
  const criticalPathMs = scenario.criticalPathCalls !== undefined ? scenario.criticalPathCalls * scenario.upstreamLatencyMs : null;
  const ratios = pr
    ? {
        perSecond: sb.perSecond / pr.perSecond,
        p50: sb.p50Ms / pr.p50Ms,
        p99: sb.p99Ms / pr.p99Ms,
        cpuPerQuery: sb.cpuMsPerQuery / pr.cpuMsPerQuery,
        peakRss: sb.peakRssBytes / pr.peakRssBytes,
        upstreamPerQuery: sb.upstreamPerQuery / pr.upstreamPerQuery,
      }
    : null;
  const upstreamAlone = alone.length ? medianLatency(alone) : null;
  return {
    key: scenario.key,
    title: scenario.title,
    connections: scenario.connections,
    upstreamLatencyMs: scenario.upstreamLatencyMs,
    criticalPathMs,
    upstreamAlone,
    switchboard: sb,
    peer: pr,
    ratios,
    targets: targetsOf(sb, pr, criticalPathMs, upstreamAlone),
  };
}

/** Each platform's credentials as the peer sends them (static tokens), for a call made without a gateway. */
function authHeaders(ready: SimulatorsReady, platform: keyof SimulatorsReady['roots']): Record<string, string> {
  const tokens = ready.peerTokens;
  switch (platform) {
    case 'cloudlx':
      return { accept: CLOUDLX_MEDIA_TYPE, authorization: `Bearer ${tokens.cloudlx}` };
    case 'exotel':
      return { authorization: tokens.exotel };
    case 'ixc':
      return { authorization: `Bearer ${tokens.ixc}` };
    case 'cloudcix':
      return { 'x-auth-token': tokens.cloudcix };
  }
}

function directRequest(ready: SimulatorsReady, call: LoggedCall): DirectRequest {
  return { url: `${ready.roots[call.platform]}${call.path}${call.query}`, method: call.method, headers: authHeaders(ready, call.platform) };
}

function targetsOf(sb: SideResult, pr: SideResult | null, criticalPathMs: number | null, alone: LatencyFigures | null): ScenarioResult['targets'] {
  const targets: ScenarioResult['targets'] = [];
  const versus = (name: string, ratio: number | null, limit: number, atLeast: boolean) =>
    targets.push({ name, met: ratio === null ? null : atLeast ? ratio >= limit : ratio <= limit, detail: ratio === null ? 'no peer' : `${ratio.toFixed(2)}× (target ${atLeast ? '≥' : '≤'} ${limit}×)` });
  if (criticalPathMs === null) {
    versus('throughput', pr ? sb.perSecond / pr.perSecond : null, 3, true);
    versus('p99', pr ? sb.p99Ms / pr.p99Ms : null, 0.4, false);
    versus('CPU per query', pr ? sb.cpuMsPerQuery / pr.cpuMsPerQuery : null, 0.25, false);
  } else {
    targets.push({ name: 'latency', met: sb.p50Ms <= criticalPathMs + 5, detail: `p50 ${sb.p50Ms.toFixed(1)} ms, critical path ${criticalPathMs} ms (target ≤ ${criticalPathMs + 5} ms)` });
    // The same bound against the critical path as this machine delivers it: the simulator's own time
    // to answer and the connection come on top of the 20 ms it adds, for a gateway and for the call alone.
    if (alone) {
      targets.push({
        name: 'latency over the upstream call alone',
        met: sb.p50Ms <= alone.p50Ms + 5,
        detail: `the call alone ${alone.p50Ms.toFixed(1)} ms; Switchboard adds ${(sb.p50Ms - alone.p50Ms).toFixed(1)} ms${pr ? `, the peer ${(pr.p50Ms - alone.p50Ms).toFixed(1)} ms` : ''} (target ≤ 5 ms)`,
      });
    }
  }
  targets.push({
    name: 'upstream requests',
    met: pr ? sb.upstreamPerQuery <= pr.upstreamPerQuery : null,
    detail: `${sb.upstreamPerQuery} per query${pr ? `, peer ${pr.upstreamPerQuery}` : ''}`,
  });
  return targets;
}

function queryFor(scenario: Scenario, side: Side): string {
  return side === 'switchboard' ? scenario.switchboard : scenario.peer;
}

async function post(gateway: GatewayProcess, query: string, requestId?: string): Promise<{ data?: unknown; errors?: unknown[] }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', ...gateway.headers };
  if (requestId) headers['x-request-id'] = requestId;
  const res = await fetch(gateway.url, { method: 'POST', headers, body: JSON.stringify({ query }) });
  return (await res.json()) as { data?: unknown; errors?: unknown[] };
}

/** Asks once and checks the answer is whole: no errors, and the records counted. */
async function answer(gateway: GatewayProcess, query: string, scenario: Scenario, side: Side): Promise<number> {
  const body = await post(gateway, query);
  if (body.errors?.length || !body.data) throw new Error(`${gateway.name} answered ${scenario.title} with errors: ${JSON.stringify(body.errors).slice(0, 800)}`);
  return scenario.count(body.data, side);
}

/** One request a simulator logged, and which simulator. */
interface LoggedCall {
  platform: keyof SimulatorsReady['roots'];
  method: string;
  path: string;
  query: string;
}

/**
 * Upstream requests per query, read off the four simulators' request logs over
 * queries run one at a time (and the last request counted). Each counted query
 * sends a request id of its own; a logged request that names another id is not
 * theirs (Switchboard's event watchers poll CloudCIX and Exotel in the
 * background, under `watch-…` ids), one that names none is counted (the peer
 * sends none upstream).
 */
async function upstreamCalls(
  ready: SimulatorsReady,
  gateway: GatewayProcess,
  query: string,
): Promise<{ upstreamPerQuery: number; upstreamRoutes: Record<string, number>; last?: LoggedCall }> {
  await post(gateway, query); // tokens and anything else fetched once per gateway, not per query
  const roots = Object.entries(ready.roots) as [LoggedCall['platform'], string][];
  await Promise.all(roots.map(([, root]) => fetch(`${root}/__simulator/requests`, { method: 'DELETE' })));
  const ids = new Set<string>();
  for (let i = 0; i < COUNTED_QUERIES; i++) {
    const id = `bench-count-${i}-${Date.now()}`;
    ids.add(id);
    await post(gateway, query, id);
  }
  const routes: Record<string, number> = {};
  let total = 0;
  let last: LoggedCall | undefined;
  for (const [platform, root] of roots) {
    const log = (await (await fetch(`${root}/__simulator/requests`)).json()) as { route: string; method: string; path: string; query: string; requestId?: string }[];
    for (const entry of log) {
      if (entry.requestId !== undefined && !ids.has(entry.requestId)) continue;
      routes[entry.route] = (routes[entry.route] ?? 0) + 1;
      total++;
      last = { platform, method: entry.method, path: entry.path, query: entry.query };
    }
  }
  for (const route of Object.keys(routes)) routes[route] = routes[route]! / COUNTED_QUERIES;
  return { upstreamPerQuery: total / COUNTED_QUERIES, upstreamRoutes: routes, last };
}

async function setLatency(ready: SimulatorsReady, ms: number): Promise<void> {
  await Promise.all(
    Object.values(ready.roots).map((root) => fetch(`${root}/__simulator/latency`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ms }) })),
  );
}

async function peerVersions(): Promise<Record<string, string>> {
  const versions: Record<string, string> = {};
  for (const name of ['@graphql-hive/gateway', '@graphql-mesh/compose-cli', '@omnigraph/openapi', 'graphql']) {
    versions[name] = (JSON.parse(await readFile(join(PEERS_DIR, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  }
  return versions;
}

/** One row per scenario: Switchboard's figure, the peer's, and the ratio. */
function markdownTable(results: readonly ScenarioResult[]): string {
  const pair = (sb: number, peer: number | undefined, digits: number) =>
    peer === undefined ? sb.toFixed(digits) : `${sb.toFixed(digits)} / ${peer.toFixed(digits)} (${(sb / peer).toFixed(2)}×)`;
  const lines = [
    '| scenario | req/s | p50 ms | p99 ms | CPU ms per query | peak MiB | upstream requests per query |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const p = r.peer ?? undefined;
    lines.push(
      `| ${r.title} | ${pair(r.switchboard.perSecond, p?.perSecond, 0)} | ${pair(r.switchboard.p50Ms, p?.p50Ms, 1)} | ${pair(r.switchboard.p99Ms, p?.p99Ms, 1)} | ` +
        `${pair(r.switchboard.cpuMsPerQuery, p?.cpuMsPerQuery, 2)} | ${pair(r.switchboard.peakRssBytes / 2 ** 20, p ? p.peakRssBytes / 2 ** 20 : undefined, 0)} | ` +
        `${r.switchboard.upstreamPerQuery}${p ? ` / ${p.upstreamPerQuery}` : ''} |`,
    );
    const alone = r.upstreamAlone;
    if (alone) lines.push(`| ${r.title.split('.')[0]}, the upstream call alone (no gateway) | ${alone.perSecond.toFixed(0)} | ${alone.p50Ms.toFixed(1)} | ${alone.p99Ms.toFixed(1)} | | | 1 |`);
  }
  return lines.join('\n');
}

function printTable(results: readonly ScenarioResult[]): void {
  console.log('\nscenario'.padEnd(56), 'gateway'.padEnd(20), 'req/s'.padStart(7), 'p50 ms'.padStart(8), 'p99 ms'.padStart(8), 'CPU ms/q'.padStart(9), 'MiB'.padStart(5), 'upstr/q'.padStart(8));
  for (const r of results) {
    for (const [name, side] of [['Switchboard', r.switchboard], ['Hive Gateway + Mesh', r.peer]] as const) {
      if (!side) continue;
      console.log(
        (name === 'Switchboard' ? r.title : '').padEnd(55),
        name.padEnd(20),
        side.perSecond.toFixed(0).padStart(7),
        side.p50Ms.toFixed(2).padStart(8),
        side.p99Ms.toFixed(2).padStart(8),
        side.cpuMsPerQuery.toFixed(3).padStart(9),
        (side.peakRssBytes / 2 ** 20).toFixed(0).padStart(5),
        String(side.upstreamPerQuery).padStart(8),
      );
    }
    if (r.ratios) {
      console.log(
        ''.padEnd(55),
        'ratio'.padEnd(20),
        `${r.ratios.perSecond.toFixed(2)}×`.padStart(7),
        `${r.ratios.p50.toFixed(2)}×`.padStart(8),
        `${r.ratios.p99.toFixed(2)}×`.padStart(8),
        `${r.ratios.cpuPerQuery.toFixed(2)}×`.padStart(9),
        `${r.ratios.peakRss.toFixed(2)}×`.padStart(5),
      );
    }
    if (r.upstreamAlone) {
      console.log(''.padEnd(55), 'upstream alone'.padEnd(20), r.upstreamAlone.perSecond.toFixed(0).padStart(7), r.upstreamAlone.p50Ms.toFixed(2).padStart(8), r.upstreamAlone.p99Ms.toFixed(2).padStart(8));
    }
    for (const t of r.targets) console.log(''.padEnd(55), `${t.met === null ? '  ?' : t.met ? ' ok' : 'MISS'} ${t.name}: ${t.detail}`);
  }
}

await main();
