/**
 * What the gateway adds on top of the upstream calls it must make.
 *
 * Side by side, in one run, against the same CloudLX simulator on loopback:
 *   A. "upstream only": the three REST calls a client would make itself
 *      (customers, realms, sub-realms) with the same undici client and token;
 *   B. "through Switchboard": one GraphQL query for 50 customers with realms and
 *      sub-realms, which makes those same three upstream calls.
 * The ratio B/A is the gateway's cost per request relative to the upstream work.
 *
 * Run: npx tsx test/bench/gateway-overhead.bench.ts   (or npm run bench)
 */
import { request } from 'undici';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/core/observability/log.js';
import { startGateway } from '../../src/gateway.js';
import { CloudLXSimulator } from '../../src/platforms/cloudlx/simulator.js';
import { CLOUDLX_MEDIA_TYPE } from '../../src/platforms/cloudlx/client.js';
import { measure, printTable } from './measure.js';

const QUERY = `{ cloudlx { customers(first: 50) { nodes { name currency { iso3 } country { name } realms { name description } subRealms { name hasAccess realm { name } } } } } }`;

async function main(): Promise<void> {
  const sim = await new CloudLXSimulator().start();
  const config = loadConfig({ PORT: '0', LOG_LEVEL: 'silent' });
  const gateway = await startGateway({ config, log: createLogger('silent'), simulators: { cloudlx: sim } });
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
    const throughGateway = async () => {
      const res = await request(gateway.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: QUERY }) });
      const body = (await res.body.json()) as { errors?: unknown };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
    };

    const rows = [];
    for (const concurrency of [1, 16]) {
      const a = await measure(`upstream only (3 REST calls), concurrency ${concurrency}`, upstreamOnly, { concurrency, seconds: 3 });
      const b = await measure(`through Switchboard (1 query), concurrency ${concurrency}`, throughGateway, { concurrency, seconds: 3 });
      rows.push(a, { ...b, ratio: b.meanMs / a.meanMs });
    }
    printTable('Gateway overhead: 50 CloudLX customers with realms and sub-realms', rows, 'ratio = mean latency through Switchboard / mean latency of the upstream calls alone');
  } finally {
    await gateway.close();
    await sim.close();
  }
}

await main();
