import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudLXSimulator } from '../src/platforms/cloudlx/simulator.js';
import { CLOUDLX_MEDIA_TYPE } from '../src/platforms/cloudlx/client.js';

/** The simulators' control API, as a developer running `npm run simulate` uses it over HTTP. */
describe('simulator control API', () => {
  let sim: CloudLXSimulator;
  beforeAll(async () => {
    sim = await new CloudLXSimulator().start();
  });
  afterAll(() => sim.close());

  const control = (method: string, action: string, body?: unknown) =>
    fetch(`${sim.url}/__simulator/${action}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

  it('injects a fault on a route for a number of requests, then clears', async () => {
    const routes = (await (await control('GET', 'routes')).json()) as string[];
    expect(routes).toContain('GET /api/services');
    const injected = await control('POST', 'faults', { route: 'GET /api/services', status: 503, times: 1 });
    expect(injected.status).toBe(201);
    const first = await fetch(`${sim.url}/api/services`, { headers: { accept: CLOUDLX_MEDIA_TYPE } });
    expect(first.status).toBe(503);
    // The fault was for one request: the next reaches the route (401: no token).
    const second = await fetch(`${sim.url}/api/services`, { headers: { accept: CLOUDLX_MEDIA_TYPE } });
    expect(second.status).toBe(401);
    const log = (await (await control('GET', 'requests')).json()) as Array<{ route: string; status: number }>;
    expect(log.map((r) => `${r.route} ${r.status}`)).toEqual(['GET /api/services 503', 'GET /api/services 401']);
    expect(JSON.stringify(log)).not.toContain('authorization');
  });

  it('refuses a malformed fault, saying what it expected', async () => {
    const res = await control('POST', 'faults', { route: 'GET /api/services', status: 'five hundred' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('Expected "status" to be an HTTP status from 100 to 599, got "five hundred"');
    const none = await control('POST', 'faults', { route: '*' });
    expect(((await none.json()) as { error: string }).error).toContain('at least one of');
  });

  it('sets latency', async () => {
    const res = await control('PUT', 'latency', { ms: 25 });
    expect(await res.json()).toEqual({ latencyMs: 25 });
    expect(sim.server.latencyMs).toBe(25);
    await control('PUT', 'latency', { ms: 0 });
  });
});
