import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { toGlobalId } from '../src/core/graphql/ids.js';
import type { IxcSimulator } from '../src/platforms/ixc/simulator.js';
import { startStack, type Stack } from './utils/harness.js';

/**
 * IXC ACS devices through the real gateway and simulator: listing and paging,
 * search by serial number and PPPoE login, Wi-Fi and parameters, and what each
 * query costs upstream, counted on the simulator's request log.
 */

const DEVICES = 'GET /api/v1/devices/views/natural';
const PARAMETERS = 'GET /api/v1/devices/parameters';
const WIFI = 'GET /api/v1/devices/:serial/wifi';
const ONE_DEVICE = 'GET /api/v1/devices/:serial';

let stack: Stack;
let sim: IxcSimulator;
let serials: string[];

beforeAll(async () => {
  stack = await startStack();
  sim = stack.sim('ixc');
  serials = [...sim.devices.keys()];
  // The first request pays for the token exchange; the counts below are per query.
  await stack.graphql('{ ixc { device(serialNumber: "warm-up") { serialNumber } } }');
});
afterAll(() => stack.close());
beforeEach(() => sim.server.clearLog());

/** Requests the gateway made for one GraphQL query, by route. */
function upstreamCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of sim.server.requests()) counts[r.route] = (counts[r.route] ?? 0) + 1;
  return counts;
}

describe('IXC ACS devices', () => {
  it('seeds at least 200 devices, each with parameters, Wi-Fi and (mostly) a PPPoE login', async () => {
    const res = await stack.graphql('{ ixc { devices(first: 1) { totalCount } } }');
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.ixc.devices.totalCount).toBeGreaterThanOrEqual(200);
    const withLogin = [...sim.devices.values()].filter((d) => d.record.connection.pppoeLogin).length;
    expect(withLogin).toBeGreaterThanOrEqual(200);
  });

  it('pages with first/after mapped onto IXC page/rp, one search request per aligned page', async () => {
    const first = await stack.graphql('{ ixc { devices(first: 3) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor } nodes { serialNumber } } } }');
    const page1 = first.body.data.ixc.devices;
    expect(page1.nodes.map((n: { serialNumber: string }) => n.serialNumber)).toEqual(serials.slice(0, 3));
    expect(page1.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    expect(page1.totalCount).toBe(serials.length);
    const second = await stack.graphql('query($after: String) { ixc { devices(first: 3, after: $after) { nodes { serialNumber } } } }', { after: page1.pageInfo.endCursor });
    expect(second.body.data.ixc.devices.nodes.map((n: { serialNumber: string }) => n.serialNumber)).toEqual(serials.slice(3, 6));
    const searches = sim.server.requests(DEVICES).map((r) => new URLSearchParams(r.query).toString());
    expect(searches).toEqual(['page=1&rp=3', 'page=2&rp=3']);
  });

  it('reads an unaligned page (after a cursor, with another size) from two upstream pages', async () => {
    const first = await stack.graphql('{ ixc { devices(first: 2) { pageInfo { endCursor } } } }');
    sim.server.clearLog();
    const res = await stack.graphql('query($after: String) { ixc { devices(first: 5, after: $after) { nodes { serialNumber } } } }', {
      after: first.body.data.ixc.devices.pageInfo.endCursor,
    });
    expect(res.body.data.ixc.devices.nodes.map((n: { serialNumber: string }) => n.serialNumber)).toEqual(serials.slice(2, 7));
    expect(sim.server.requests(DEVICES)).toHaveLength(2);
  });

  it('searches by PPPoE login with the documented search[column]=connection.pppoeLogin', async () => {
    const device = [...sim.devices.values()][42]!.record;
    const login = device.connection.pppoeLogin!;
    const res = await stack.graphql('query($login: String) { ixc { devices(pppoeLogin: $login) { totalCount nodes { serialNumber pppoeLogin } } } }', { login });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.ixc.devices.nodes).toEqual([{ serialNumber: device.serialNumber, pppoeLogin: login }]);
    const query = new URLSearchParams(sim.server.requests(DEVICES)[0]!.query);
    expect(query.get('search[column]')).toBe('connection.pppoeLogin');
    expect(query.get('search[search]')).toBe(login);
  });

  it('searches by serial number', async () => {
    const serial = serials[7]!;
    const res = await stack.graphql('query($s: String) { ixc { devices(serialNumber: $s) { nodes { serialNumber model manufacturer } } } }', { s: serial });
    expect(res.body.data.ixc.devices.nodes).toEqual([{ serialNumber: serial, model: expect.any(String), manufacturer: expect.any(String) }]);
    expect(new URLSearchParams(sim.server.requests(DEVICES)[0]!.query).get('search[column]')).toBe('serialNumber');
  });

  it('refuses a search on both columns, saying what it expected, without asking IXC', async () => {
    const res = await stack.graphql('{ ixc { devices(serialNumber: "A", pppoeLogin: "b") { totalCount } } }');
    expect(res.body.errors?.[0]).toMatchObject({ path: ['ixc', 'devices'], extensions: { code: 'BAD_USER_INPUT', platform: 'ixc' } });
    expect(res.body.errors?.[0]?.message).toMatch(/at most one of serialNumber and pppoeLogin.*got both/);
    expect(sim.server.requests()).toEqual([]);
  });

  it('reads one device by serial, and null for an unknown serial (404 upstream)', async () => {
    const serial = serials[3]!;
    const record = sim.devices.get(serial)!.record;
    const res = await stack.graphql(
      'query($s: String!) { ixc { device(serialNumber: $s) { id platformId serialNumber online lastInformAt pppoeLogin ipv4 ipv6 uptimeSeconds rxBytes txBytes firmwareVersion } missing: device(serialNumber: "NOPE0000") { serialNumber } } }',
      { s: serial },
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.ixc.device).toEqual({
      id: toGlobalId('IxcDevice', serial),
      platformId: serial,
      serialNumber: serial,
      online: record.online,
      lastInformAt: record.lastInform,
      pppoeLogin: record.connection.pppoeLogin,
      ipv4: record.connection.ipv4,
      ipv6: record.deviceInfo.ipv6,
      uptimeSeconds: record.deviceInfo.uptime,
      rxBytes: record.deviceInfo.rx,
      txBytes: record.deviceInfo.tx,
      firmwareVersion: record.firmwareVersion,
    });
    expect(res.body.data.ixc.missing).toBeNull();
    expect(sim.server.requests(ONE_DEVICE).map((r) => r.status).sort()).toEqual([200, 404]);
  });

  it('reads Wi-Fi networks of both bands, never their passwords', async () => {
    const serial = serials[0]!;
    const res = await stack.graphql(
      'query($s: String!) { ixc { device(serialNumber: $s) { wifiNetworks { id platformId serialNumber band ssid enabled channel security hasPassword } } } }',
      { s: serial },
    );
    expect(res.body.errors).toBeUndefined();
    const networks = res.body.data.ixc.device.wifiNetworks;
    expect(networks.map((n: { band: string }) => n.band)).toEqual(['BAND_2_4', 'BAND_5_8']);
    expect(networks[0]).toMatchObject({ platformId: '1', serialNumber: serial, ssid: sim.devices.get(serial)!.wifi['2.4'][0]!.ssid, hasPassword: true, security: 'WPA2-PSK' });
    const password = sim.devices.get(serial)!.wifi['2.4'][0]!.password!;
    expect(stack.responses.at(-1)).not.toContain(password);
    const node = await stack.graphql('query($id: ID!) { node(id: $id) { ... on IxcWifiNetwork { ssid band } } }', { id: networks[1].id });
    expect(node.body.data.node).toEqual({ ssid: networks[1].ssid, band: 'BAND_5_8' });
  });

  it('updates a Wi-Fi network with the documented PATCH {ssid, password}; the password never comes back', async () => {
    const serial = serials[1]!;
    const password = 'correct-horse-battery';
    const res = await stack.graphql(
      'mutation($input: IxcUpdateWifiNetworkInput!) { ixcUpdateWifiNetwork(input: $input) { wifiNetwork { ssid enabled band hasPassword } userErrors { field message code } } }',
      { input: { serialNumber: serial, networkId: '1', ssid: 'Casa da Ana', password, enabled: true } },
    );
    expect(res.body.data.ixcUpdateWifiNetwork).toEqual({ wifiNetwork: { ssid: 'Casa da Ana', enabled: true, band: 'BAND_2_4', hasPassword: true }, userErrors: [] });
    expect(sim.server.requests('PATCH /api/v1/devices/:serial/wifi/:id')[0]!.body).toEqual({ ssid: 'Casa da Ana', password, enable: true });
    expect(sim.devices.get(serial)!.wifi['2.4'][0]!.password).toBe(password);
    expect(stack.responses.some((body) => body.includes(password))).toBe(false);
  });

  it('gives IXC\'s refusals of a Wi-Fi update as userErrors on the input field (422, 404)', async () => {
    const mutation = 'mutation($input: IxcUpdateWifiNetworkInput!) { ixcUpdateWifiNetwork(input: $input) { wifiNetwork { ssid } userErrors { field message code } } }';
    const short = await stack.graphql(mutation, { input: { serialNumber: serials[2], networkId: '1', password: 'short' } });
    expect(short.body.data.ixcUpdateWifiNetwork).toEqual({
      wifiNetwork: null,
      userErrors: [{ field: ['input', 'password'], message: 'The password must be 8 to 63 characters (WPA2).', code: 'BAD_USER_INPUT' }],
    });
    const missing = await stack.graphql(mutation, { input: { serialNumber: serials[2], networkId: '99', ssid: 'x' } });
    expect(missing.body.data.ixcUpdateWifiNetwork.userErrors).toEqual([{ field: null, message: expect.stringContaining('not found'), code: 'NOT_FOUND' }]);
  });

  it('reads TR-069 parameters, filtered by prefix', async () => {
    const serial = serials[5]!;
    const res = await stack.graphql('query($s: String!) { ixc { device(serialNumber: $s) { all: parameters { name value type writable } mgmt: parameters(prefix: "InternetGatewayDevice.ManagementServer.") { name value redacted } } } }', {
      s: serial,
    });
    expect(res.body.errors).toBeUndefined();
    const device = res.body.data.ixc.device;
    expect(device.all).toContainEqual({ name: 'InternetGatewayDevice.DeviceInfo.SerialNumber', value: serial, type: 'xsd:string', writable: false });
    expect(device.mgmt).toEqual([
      { name: 'InternetGatewayDevice.ManagementServer.PeriodicInformEnable', value: 'true', redacted: false },
      { name: 'InternetGatewayDevice.ManagementServer.PeriodicInformInterval', value: '300', redacted: false },
      { name: 'InternetGatewayDevice.ManagementServer.ConnectionRequestUsername', value: 'ixc-acs', redacted: false },
      // A credential: listed, never shown (test/ixc-secrets.test.ts).
      { name: 'InternetGatewayDevice.ManagementServer.ConnectionRequestPassword', value: null, redacted: true },
    ]);
    // Both fields share one batched read.
    expect(sim.server.requests(PARAMETERS)).toHaveLength(1);
  });
});

describe('what device queries cost upstream', () => {
  it('50 devices with their parameters: 1 search + 1 parameters read', async () => {
    const res = await stack.graphql('{ ixc { devices(first: 50) { nodes { serialNumber parameters(prefix: "InternetGatewayDevice.DeviceInfo.UpTime") { value } } } } }');
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.ixc.devices.nodes).toHaveLength(50);
    expect(upstreamCounts()).toEqual({ [DEVICES]: 1, [PARAMETERS]: 1 });
    const batch = new URLSearchParams(sim.server.requests(PARAMETERS)[0]!.query).get('serialNumbers')!.split(',');
    expect(batch).toEqual(serials.slice(0, 50));
  });

  it('200 devices with their parameters: 1 search + 4 parameters reads of 50', async () => {
    const res = await stack.graphql('{ ixc { devices(first: 200) { nodes { parameters { name } } } } }');
    expect(res.body.errors).toBeUndefined();
    expect(upstreamCounts()).toEqual({ [DEVICES]: 1, [PARAMETERS]: 4 });
    const sizes = sim.server.requests(PARAMETERS).map((r) => new URLSearchParams(r.query).get('serialNumbers')!.split(',').length);
    expect(sizes).toEqual([50, 50, 50, 50]);
  });

  it('10 devices with Wi-Fi: 1 search + 10 Wi-Fi reads (IXC has no batch read of Wi-Fi); asking twice costs nothing more', async () => {
    const res = await stack.graphql('{ ixc { devices(first: 10) { nodes { a: wifiNetworks { ssid } b: wifiNetworks { ssid } } } } }');
    expect(res.body.errors).toBeUndefined();
    expect(upstreamCounts()).toEqual({ [DEVICES]: 1, [WIFI]: 10 });
  });

  it('devices by node id: one read per distinct serial, the same serial asked twice is read once', async () => {
    const ids = [...serials.slice(0, 3), serials[0]!].map((s) => toGlobalId('IxcDevice', s));
    const res = await stack.graphql('query($ids: [ID!]!) { nodes(ids: $ids) { ... on IxcDevice { serialNumber } } }', { ids });
    expect(res.body.data.nodes).toEqual([...serials.slice(0, 3), serials[0]].map((serialNumber) => ({ serialNumber })));
    expect(sim.server.requests(ONE_DEVICE).map((r) => decodeURIComponent(r.path.split('/').pop()!))).toEqual(serials.slice(0, 3));
  });
});
