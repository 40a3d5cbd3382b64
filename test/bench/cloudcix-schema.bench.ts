/**
 * What the whole CloudCIX schema (every service of the catalogue: ~900 types,
 * ~530 mutations) costs the gateway, side by side in one run:
 *   A. the gateway without CloudCIX (the other platforms' schemas only);
 *   B. the same gateway with CloudCIX loaded.
 * Measured: start-up (clients, the executable schema, Apollo, listen, answer
 * the first query), alternated A/B so both see the same machine state; then the
 * latency of one small query that both serve, through each running gateway.
 * Also printed: the one-off cost of building the CloudCIX model and resolver map,
 * which happens once per process when the module is imported.
 *
 * Both variants are started by the composition root (`startGateway`) with a
 * subset of the platforms, on the same running simulators.
 *
 * Run: npx tsx test/bench/cloudcix-schema.bench.ts   (or npm run bench)
 */
import { request } from 'undici';
import { loadConfig } from '../../src/config.js';
import { createInfra } from '../../src/core/infra.js';
import { createLogger } from '../../src/core/observability/log.js';
import type { PlatformModule, RunningSimulator } from '../../src/core/platform.js';
import { startGateway as startComposedGateway } from '../../src/gateway.js';
import { platforms } from '../../src/platforms/index.js';
import { catalogue } from '../../src/platforms/cloudcix/catalogue.js';
import { buildModel } from '../../src/platforms/cloudcix/model.js';
import { buildCloudCIXResolvers } from '../../src/platforms/cloudcix/resolvers.js';
import { loadTypeDefs } from '../../src/schema.js';
import { measure, printTable } from './measure.js';

const SMALL_QUERY = '{ platforms { platform title simulated } }';
const STARTS = 10;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const config = loadConfig({ PORT: '0', LOG_LEVEL: 'silent' });
  const log = createLogger('silent');
  const simulators: Record<string, RunningSimulator> = {};
  for (const platform of platforms) simulators[platform.key] = await platform.simulator.start({});
  const variants: Record<'without' | 'with', readonly PlatformModule[]> = {
    without: platforms.filter((p) => p.key !== 'cloudcix'),
    with: platforms,
  };

  const post = async (url: string) => {
    const res = await request(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: SMALL_QUERY }) });
    const body = (await res.body.json()) as { errors?: unknown };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
  };

  const startGateway = async (list: readonly PlatformModule[]) => {
    const t0 = performance.now();
    const server = await startComposedGateway({ config, platforms: list, infra: createInfra({ log }), simulators });
    await post(server.url);
    const ms = performance.now() - t0;
    const introspection = await request(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __schema { types { name } } }' }),
    });
    const types = ((await introspection.body.json()) as { data: { __schema: { types: unknown[] } } }).data.__schema.types.length;
    return { ms, url: server.url, server, types };
  };

  try {
    const starts = { without: [] as number[], with: [] as number[] };
    let types = { without: 0, with: 0 };
    for (let i = 0; i < STARTS; i++) {
      for (const key of ['without', 'with'] as const) {
        const started = await startGateway(variants[key]);
        starts[key].push(started.ms);
        types = { ...types, [key]: started.types };
        await started.server.close();
      }
    }
    const moduleBuild: number[] = [];
    for (let i = 0; i < STARTS; i++) {
      const t0 = performance.now();
      buildCloudCIXResolvers(buildModel(catalogue));
      moduleBuild.push(performance.now() - t0);
    }
    const sdlKiB = (list: readonly PlatformModule[]) => loadTypeDefs(list).reduce((n, s) => n + s.length, 0) / 1024;

    console.log('\nStart-up: build schema, start Apollo, listen, answer one query (median of %d, alternated)', STARTS);
    console.log(`  without CloudCIX: ${median(starts.without).toFixed(1)} ms  (${types.without} types, ${sdlKiB(variants.without).toFixed(0)} KiB SDL)`);
    console.log(`  with CloudCIX:    ${median(starts.with).toFixed(1)} ms  (${types.with} types, ${sdlKiB(variants.with).toFixed(0)} KiB SDL)`);
    console.log(`  ratio with/without: ${(median(starts.with) / median(starts.without)).toFixed(2)}x`);
    console.log(`  + CloudCIX model and resolver map, once per process at import: ${median(moduleBuild).toFixed(1)} ms`);
    console.log(`  first start of each (cold): without ${starts.without[0]!.toFixed(1)} ms, with ${starts.with[0]!.toFixed(1)} ms`);

    const running = { without: await startGateway(variants.without), with: await startGateway(variants.with) };
    try {
      const rows = [];
      // Warm both up first, so neither pays for the process's JIT warm-up in the measured window.
      await measure('warm-up', () => post(running.without.url), { concurrency: 4, seconds: 1 });
      await measure('warm-up', () => post(running.with.url), { concurrency: 4, seconds: 1 });
      for (const concurrency of [1, 16]) {
        const a = await measure(`without CloudCIX, concurrency ${concurrency}`, () => post(running.without.url), { concurrency, seconds: 3 });
        const b = await measure(`with CloudCIX, concurrency ${concurrency}`, () => post(running.with.url), { concurrency, seconds: 3 });
        rows.push(a, { ...b, ratio: b.meanMs / a.meanMs });
      }
      printTable(`Small query latency: ${SMALL_QUERY}`, rows, 'ratio = mean latency with the CloudCIX schema loaded / without it');
    } finally {
      await running.without.server.close();
      await running.with.server.close();
    }
  } finally {
    await Promise.all(Object.values(simulators).map((s) => s.close()));
  }
}

await main();
