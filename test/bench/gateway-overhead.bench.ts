/**
 * What the gateway adds on top of the upstream calls it must make.
 *
 * Side by side, in one run, against the same CloudLX simulator on loopback:
 *   A. "upstream only": the three REST calls a client would make itself
 *      (customers, realms, sub-realms) with the same undici client and token;
 *   B. "through Switchboard": one GraphQL query for 50 customers with realms and
 *      sub-realms, which makes those same three upstream calls, once with the
 *      graphql-js executor and once with the compiled (graphql-jit) one, the default.
 * The ratio B/A is the gateway's cost per request relative to the upstream work;
 * the last column compares the two executors.
 *
 * Run: npx tsx test/bench/gateway-overhead.bench.ts   (or npm run bench)
 */
import { request } from 'undici';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/core/observability/log.js';
import { startGateway } from '../../src/gateway.js';
import { createInfra } from '../../src/core/infra.js';
import { cloudlx } from '../../src/platforms/cloudlx/index.js';
import { CloudLXSimulator } from '../../src/platforms/cloudlx/simulator.js';
import { CLOUDLX_MEDIA_TYPE } from '../../src/platforms/cloudlx/client.js';
import { measure, printTable } from './measure.js';

const QUERY = `{ cloudlx { customers(first: 50) { nodes { name currency { iso3 } country { name } realms { name description } subRealms { name hasAccess realm { name } } } } } }`;

async function main(): Promise<void> {
  const sim = await new CloudLXSimulator().start();
  const start = (executor: string) =>
    startGateway({
      config: loadConfig({ PORT: '0', LOG_LEVEL: 'silent', EXECUTOR: executor }),
      platforms: [cloudlx],
      infra: createInfra({ log: createLogger('silent') }),
      simulators: { cloudlx: sim },
    });
  const gateways = { jit: await start('jit'), 'graphql-js': await start('graphql-js') };
  try {
    const tokenRes = await request(`${sim.url}/api/oauth2/access-token`, {
      method: 'POST',
      headers: { accept: CLOUDLX_MEDIA_TYPE, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: sim.clientId, client_secret: sim.clientSecret }).toString(),
    });
    const { access_token } = (await tokenRes.body.json()) as { access_token: string };
    const headers = { accept: CLOUDLX_MEDIA_TYPE, authorization: `Bearer ${access_token}` };

    const upstreamOnly = async () => {
      const bodies = await Promise.all(
        ['/api/customers', '/api/realms', '/api/sub_realms'].map(async (path) => (await request(`${sim.url}${path}`, { headers })).body.json()),
      );
      if (!bodies[0]) throw new Error('no body');
    };
    const throughGateway = (executor: keyof typeof gateways) => async () => {
      const res = await request(gateways[executor].graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: QUERY }) });
      const body = (await res.body.json()) as { errors?: unknown };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
    };

    const rows = [];
    for (const concurrency of [1, 16]) {
      const a = await measure(`upstream only (3 REST calls), c=${concurrency}`, upstreamOnly, { concurrency, seconds: 3 });
      const js = await measure(`Switchboard, graphql-js executor, c=${concurrency}`, throughGateway('graphql-js'), { concurrency, seconds: 3 });
      const jit = await measure(`Switchboard, compiled executor (default), c=${concurrency}`, throughGateway('jit'), { concurrency, seconds: 3 });
      rows.push(a, { ...js, ratio: js.meanMs / a.meanMs }, { ...jit, ratio: jit.meanMs / a.meanMs });
      console.log(`c=${concurrency}: compiled executor mean latency is ${(js.meanMs / jit.meanMs).toFixed(2)}x faster than graphql-js`);
    }
    printTable('Gateway overhead: 50 CloudLX customers with realms and sub-realms', rows, 'ratio = mean latency through Switchboard / mean latency of the upstream calls alone');
  } finally {
    await Promise.all(Object.values(gateways).map((g) => g.close()));
    await sim.close();
  }
}

await main();
