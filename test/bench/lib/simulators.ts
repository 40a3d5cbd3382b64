/**
 * The four platform simulators for the side-by-side benchmark, in a process of
 * their own, so that neither gateway's CPU figure includes the upstreams' work.
 *
 * Started by peers.bench.ts as a child process; prints one JSON line (`SimulatorsReady`)
 * and runs until stdin closes. The bench reaches them afterwards over HTTP only:
 * `/__simulator/requests` for the request logs, `/__simulator/latency` for scenario 5.
 *
 * Repeated GETs are answered from the simulators' answer cache (`SimServer.answerCacheMs`),
 * so that their JSON work does not take the machine's CPU from the gateways.
 *
 * Rate limits are lifted for the gateways' logins (CloudCIX's 20 requests per
 * second, IXC's 6,000 per minute): the benchmark measures the gateways, and
 * both would otherwise be measured against the same upstream ceiling.
 */
import { readFile } from 'node:fs/promises';
import { SignJWT, importPKCS8 } from 'jose';
import type { CloudCIXSimulator } from '../../../src/platforms/cloudcix/simulator.js';
import type { CloudLXSimulator } from '../../../src/platforms/cloudlx/simulator.js';
import type { ExotelSimulator } from '../../../src/platforms/exotel/simulator.js';
import type { IxcSimulator } from '../../../src/platforms/ixc/simulator.js';
import { CLOUDLX_MEDIA_TYPE } from '../../../src/platforms/cloudlx/client.js';
import { IXC_PATHS } from '../../../src/platforms/ixc/client.js';
import { startUpstreamSimulators } from '../../utils/simulators.js';

/** What the bench learns from this process. */
export interface SimulatorsReady {
  /** Each simulator's server root (the one that answers `/__simulator/` and `/openapi.json`). */
  roots: Record<'cloudlx' | 'exotel' | 'ixc' | 'cloudcix', string>;
  /** The settings that point a Switchboard gateway at them, as `npm run simulate` writes them. */
  gatewayEnv: Record<string, string>;
  /** Tokens for the peer, which cannot log in by itself (OpenAPI documents auth, Mesh does not run it). */
  peerTokens: { cloudlx: string; exotel: string; ixc: string; cloudcix: string };
}

/** 200 customers, as in issue 10's scenarios. */
export const BENCH_CLOUDLX_CUSTOMERS = 200;

async function main(): Promise<void> {
  const upstreams = await startUpstreamSimulators({ cloudlx: { customers: BENCH_CLOUDLX_CUSTOMERS }, cloudcix: { requestsPerSecond: 0 } });
  const { sims, env: gatewayEnv } = upstreams;
  const { cloudlx, exotel, ixc, cloudcix } = sims;
  const gatewayClient = ixc.apiClients.get(ixc.apiClientId)!;
  gatewayClient.requestsPerMinute = Number.MAX_SAFE_INTEGER;
  gatewayClient.requestsPerDay = Number.MAX_SAFE_INTEGER;
  // The same GET within a second is answered with the bytes already sent, so the simulators' JSON work
  // (about 1 ms per query of this machine's two cores) does not cap the faster gateway: real upstreams run elsewhere.
  // BENCH_ANSWER_CACHE_MS=0 turns it off, to compare.
  const answerCacheMs = Number(process.env.BENCH_ANSWER_CACHE_MS ?? 1_000);
  for (const sim of [cloudlx, exotel, ixc, cloudcix]) sim.server.answerCacheMs = answerCacheMs;

  const peerTokens = {
    cloudlx: await cloudlxToken(cloudlx),
    exotel: await exotelToken(exotel),
    ixc: await ixcToken(ixc, gatewayEnv.IXC_PRIVATE_KEY_FILE!),
    cloudcix: await cloudcixToken(cloudcix),
  };
  const ready: SimulatorsReady = {
    roots: { cloudlx: cloudlx.server.url, exotel: exotel.server.url, ixc: ixc.server.url, cloudcix: cloudcix.server.url },
    gatewayEnv,
    peerTokens,
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);

  const close = async () => {
    await upstreams.close();
    process.exit(0);
  };
  process.stdin.on('end', close);
  process.stdin.on('close', close);
  process.stdin.resume();
  process.on('SIGTERM', close);
}

async function postJson<T>(url: string, body: unknown, headers: Record<string, string> = {}): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`POST ${url} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

async function cloudlxToken(sim: CloudLXSimulator): Promise<string> {
  const res = await fetch(`${sim.url}/api/oauth2/access-token`, {
    method: 'POST',
    headers: { accept: CLOUDLX_MEDIA_TYPE, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: sim.clientId, client_secret: sim.clientSecret }).toString(),
  });
  return ((await res.json()) as { access_token: string }).access_token;
}

async function exotelToken(sim: ExotelSimulator): Promise<string> {
  const { customerId, customerSecret } = sim.config;
  return (await postJson<{ Data: string }>(`${sim.url}/token`, { Id: customerId, Secret: customerSecret, Entity: 'customer' })).Data;
}

async function ixcToken(sim: IxcSimulator, keyFile: string): Promise<string> {
  const key = await importPKCS8(await readFile(keyFile, 'utf8'), 'ES256');
  const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setIssuer(sim.apiClientId).setIssuedAt().setExpirationTime('60s').sign(key);
  return (await postJson<{ access_token: string }>(`${sim.url}${IXC_PATHS.token}`, {}, { authorization: `Bearer ${jwt}` })).access_token;
}

async function cloudcixToken(sim: CloudCIXSimulator): Promise<string> {
  const { email, password, apiKey } = sim.config;
  return (await postJson<{ token: string }>(`${sim.server.url}/membership/auth/login/`, { email, password, api_key: apiKey })).token;
}

await main();
