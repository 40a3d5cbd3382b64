import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { IxcSimulator } from '../src/platforms/ixc/simulator.js';
import { startStack, type Stack } from './utils/harness.js';

/**
 * The graph's rule for platform fields (README, "The graph"): when IXC ACS fails
 * to answer one field, that field is null with an error at its path, and its
 * siblings, in IXC and in the other platforms, still resolve. Faults are injected
 * on the simulator's routes; a 500 is neither retried nor counted by the breaker,
 * so each test sees exactly the failure it injects.
 */

const API_CLIENTS = 'GET /api/v1/api-clients';
const WIFI = 'GET /api/v1/devices/:serial/wifi';
const PARAMETERS = 'GET /api/v1/devices/parameters';
const DEVICES = 'GET /api/v1/devices/views/natural';

const unavailable = (path: (string | number)[]) =>
  expect.objectContaining({ path, extensions: expect.objectContaining({ code: 'UPSTREAM_UNAVAILABLE', platform: 'ixc', upstreamStatus: 500 }) });

let stack: Stack;
let sim: IxcSimulator;
let realms: { name: string }[];

beforeAll(async () => {
  stack = await startStack();
  sim = stack.sim('ixc');
  // Holds a token, and gives what the CloudLX sibling must answer.
  const res = await stack.graphql('{ ixc { apiClients { nodes { name } } } cloudlx { realms { name } } }');
  expect(res.body.errors).toBeUndefined();
  realms = res.body.data.cloudlx.realms;
  expect(realms.length).toBeGreaterThan(0);
});
afterAll(() => stack.close());
beforeEach(() => sim.server.clearLog());
afterEach(() => sim.server.clearFaults());

describe('an IXC field that fails nulls that field only', () => {
  it('a 500 on the API clients list: ixc.apiClients is null with the error; devices and CloudLX still answer', async () => {
    sim.server.inject(API_CLIENTS, { status: 500 });
    const res = await stack.graphql('{ ixc { apiClients { nodes { name } } devices(first: 2) { nodes { serialNumber } } } cloudlx { realms { name } } }');
    expect(res.status).toBe(200);
    expect(res.body.errors).toEqual([unavailable(['ixc', 'apiClients'])]);
    expect(res.body.data).toEqual({
      ixc: { apiClients: null, devices: { nodes: [...sim.devices.keys()].slice(0, 2).map((serialNumber) => ({ serialNumber })) } },
      cloudlx: { realms },
    });
  });

  it('webhooks come from the same list: both null, each with its own error, when it fails', async () => {
    sim.server.inject(API_CLIENTS, { status: 500 });
    const res = await stack.graphql('{ ixc { apiClients { nodes { name } } webhooks { nodes { url } } device(serialNumber: "nope") { serialNumber } } cloudlx { realms { name } } }');
    expect(res.body.errors).toEqual(expect.arrayContaining([unavailable(['ixc', 'apiClients']), unavailable(['ixc', 'webhooks'])]));
    expect(res.body.errors).toHaveLength(2);
    expect(res.body.data).toEqual({ ixc: { apiClients: null, webhooks: null, device: null }, cloudlx: { realms } });
    // One upstream read for both fields.
    expect(sim.server.requests(API_CLIENTS)).toHaveLength(1);
  });

  it("a 500 on one device's Wi-Fi: that device's wifiNetworks is null; the other devices, its parameters, apiClients and CloudLX answer", async () => {
    sim.server.inject(WIFI, { status: 500, times: 1 });
    const res = await stack.graphql(`{
      ixc {
        devices(first: 3) { nodes { serialNumber wifiNetworks { ssid } parameters(prefix: "InternetGatewayDevice.DeviceInfo.SerialNumber") { value } } }
        apiClients { nodes { name } }
      }
      cloudlx { realms { name } }
    }`);
    expect(res.status).toBe(200);
    const serials = [...sim.devices.keys()].slice(0, 3);
    // Which of the three Wi-Fi reads got the 500 is whichever reached the simulator first: read it from its log.
    const failed = sim.server.requests(WIFI).filter((r) => r.status === 500);
    expect(failed).toHaveLength(1);
    const index = serials.findIndex((s) => failed[0]!.path === `/api/v1/devices/${s}/wifi`);
    expect(index).toBeGreaterThanOrEqual(0);

    expect(res.body.errors).toEqual([unavailable(['ixc', 'devices', 'nodes', index, 'wifiNetworks'])]);
    const nodes = res.body.data.ixc.devices.nodes as { serialNumber: string; wifiNetworks: { ssid: string }[] | null; parameters: { value: string }[] }[];
    expect(nodes.map((n) => n.serialNumber)).toEqual(serials);
    nodes.forEach((node, i) => {
      expect(node.parameters).toEqual([{ value: node.serialNumber }]);
      if (i === index) expect(node.wifiNetworks).toBeNull();
      else expect(node.wifiNetworks).toEqual(sim.devices.get(node.serialNumber)!.wifi['2.4'].concat(sim.devices.get(node.serialNumber)!.wifi['5.8']).map((w) => ({ ssid: w.ssid })));
    });
    expect(res.body.data.ixc.apiClients.nodes).toHaveLength(sim.apiClients.size);
    expect(res.body.data.cloudlx).toEqual({ realms });
  });

  it('a 500 on the parameters read nulls parameters of that batch only; Wi-Fi still answers', async () => {
    sim.server.inject(PARAMETERS, { status: 500 });
    const serial = [...sim.devices.keys()][0]!;
    const res = await stack.graphql('query($s: String!) { ixc { device(serialNumber: $s) { serialNumber parameters { name } wifiNetworks { ssid } } } }', { s: serial });
    expect(res.body.errors).toEqual([unavailable(['ixc', 'device', 'parameters'])]);
    expect(res.body.data.ixc.device).toMatchObject({ serialNumber: serial, parameters: null, wifiNetworks: [{ ssid: expect.any(String) }, { ssid: expect.any(String) }] });
  });

  it('a 500 on the device search nulls ixc.devices; apiClients and CloudLX still answer', async () => {
    sim.server.inject(DEVICES, { status: 500 });
    const res = await stack.graphql('{ ixc { devices(first: 1) { totalCount } apiClients { nodes { name } } } cloudlx { realms { name } } }');
    expect(res.body.errors).toEqual([unavailable(['ixc', 'devices'])]);
    expect(res.body.data.ixc.devices).toBeNull();
    expect(res.body.data.ixc.apiClients.nodes).toHaveLength(sim.apiClients.size);
    expect(res.body.data.cloudlx).toEqual({ realms });
  });
});
