import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWebhookSecret } from '../src/core/events/signatures.js';
import { toGlobalId } from '../src/core/graphql/ids.js';
import { isSecretParameter, redactSecrets } from '../src/platforms/ixc/secrets.js';
import { IXC_SIM_SECRET_PARAMETERS, type IxcSimulator } from '../src/platforms/ixc/simulator.js';
import { ixcWebhooks } from '../src/platforms/ixc/webhooks.js';
import { startStack, type Stack } from './utils/harness.js';

/**
 * Credentials a device holds as TR-069 parameters (Wi-Fi key passphrase,
 * connection-request password, PPPoE password) are seeded per device in the
 * simulator; none of their values may reach a GraphQL response, whether read as
 * parameters, or set with ixcUpdateDeviceParameters and read back from the
 * operation's result, or carried by the webhook that follows. Every response body
 * the stack received is scanned for every seeded and every newly set value.
 */

const SECRET_NAMES = Object.values(IXC_SIM_SECRET_PARAMETERS);
const NEW_PASSPHRASE = 'Sw1tchb0ard-new-passphrase-93f1';
const NEW_CR_PASSWORD = 'Sw1tchb0ard-new-cr-password-5d2e';

describe('isSecretParameter', () => {
  it.each([
    'InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.PreSharedKey.1.KeyPassphrase',
    'InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.PreSharedKey.1.PreSharedKey',
    'InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.KeyPassphrase',
    'InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.WEPKey.1.WEPKey',
    'InternetGatewayDevice.ManagementServer.Password',
    'InternetGatewayDevice.ManagementServer.ConnectionRequestPassword',
    'InternetGatewayDevice.ManagementServer.STUNPassword',
    'InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANPPPConnection.1.Password',
    'Device.WiFi.AccessPoint.1.Security.SAEPassphrase',
    'Device.WiFi.AccessPoint.1.Security.RadiusSecret',
    'Device.WiFi.AccessPoint.1.WPS.PIN',
    'Device.Users.User.1.Password',
    'InternetGatewayDevice.X_HW_WebUserInfo.1.X_HW_WPSPIN',
    'InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.X_ZTE-COM_WPAPSK',
    'Device.Security.Certificate.1.X_VENDOR_PrivateKey',
  ])('hides %s', (name) => expect(isSecretParameter(name)).toBe(true));

  it.each([
    'InternetGatewayDevice.ManagementServer.ConnectionRequestUsername',
    'InternetGatewayDevice.ManagementServer.PeriodicInformInterval',
    'InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.PreSharedKey.1.AssociatedDeviceMACAddress',
    'InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.WEPKeyIndex',
    'InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.SSID',
    'InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.BeaconType',
    'Device.WiFi.AccessPoint.1.Security.RekeyingInterval',
    'InternetGatewayDevice.X_VENDOR_Firewall.VPNPassthroughEnable',
    'InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANPPPConnection.1.Username',
  ])('shows %s', (name) => expect(isSecretParameter(name)).toBe(false));

  it('redactSecrets nulls secret {name, value} pairs and secret keys, anywhere in ACS JSON, without touching the rest', () => {
    const input = {
      parameters: [
        { name: IXC_SIM_SECRET_PARAMETERS.wifiPassphrase, value: 'hunter22' },
        { name: 'InternetGatewayDevice.Time.NTPServer1', value: 'a.ntp.br' },
      ],
      nested: { deeper: [{ [IXC_SIM_SECRET_PARAMETERS.connectionRequestPassword]: 'hunter23', ok: 1 }] },
      password: 'hunter24',
    };
    expect(redactSecrets(input)).toEqual({
      parameters: [
        { name: IXC_SIM_SECRET_PARAMETERS.wifiPassphrase, value: null, redacted: true },
        { name: 'InternetGatewayDevice.Time.NTPServer1', value: 'a.ntp.br' },
      ],
      nested: { deeper: [{ [IXC_SIM_SECRET_PARAMETERS.connectionRequestPassword]: null, ok: 1 }] },
      password: null,
    });
    expect(input.parameters[0]!.value).toBe('hunter22'); // a copy: the record is not changed
    expect(redactSecrets(null)).toBeNull();
  });
});

describe('secret parameter values never reach a response', () => {
  let stack: Stack;
  let sim: IxcSimulator;
  let receiver: Server;
  const delivered: string[] = [];
  let seeded: string[];

  beforeAll(async () => {
    stack = await startStack({ simulators: { ixc: { actionDelayMs: 20 } } });
    sim = stack.sim('ixc');
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        delivered.push(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    sim.deliverWebhooksTo(`http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/ixc`, generateWebhookSecret());
    // Every credential the simulator holds, Wi-Fi passwords included (the same values on a real router).
    seeded = [...sim.devices.values()].flatMap((d) => [
      ...SECRET_NAMES.map((name) => d.settings.get(name) ?? ''),
      ...[...d.wifi['2.4'], ...d.wifi['5.8']].map((w) => w.password ?? ''),
    ]);
    seeded = [...new Set(seeded.filter((v) => v.length > 0))];
  });
  afterAll(async () => {
    await stack.close();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  it('the seed holds the credentials, per device', () => {
    const device = [...sim.devices.values()][0]!;
    for (const name of SECRET_NAMES) expect(device.settings.get(name)).toMatch(/^\S{8,}$/);
    expect(seeded.length).toBeGreaterThan(sim.devices.size * 2);
  });

  it('lists secret parameters with value null and redacted true, the others as they are', async () => {
    const serial = [...sim.devices.keys()][0]!;
    const res = await stack.graphql('query($s: String!) { ixc { device(serialNumber: $s) { parameters { name value redacted type writable } } } }', { s: serial });
    expect(res.body.errors).toBeUndefined();
    const parameters = res.body.data.ixc.device.parameters as { name: string; value: string | null; redacted: boolean }[];
    for (const name of SECRET_NAMES) {
      expect(parameters).toContainEqual({ name, value: null, redacted: true, type: 'xsd:string', writable: true });
    }
    expect(parameters).toContainEqual({
      name: 'InternetGatewayDevice.ManagementServer.ConnectionRequestUsername',
      value: 'ixc-acs',
      redacted: false,
      type: 'xsd:string',
      writable: true,
    });
    expect(parameters.filter((p) => p.redacted)).toHaveLength(SECRET_NAMES.length);
    expect(parameters.filter((p) => !p.redacted).every((p) => typeof p.value === 'string')).toBe(true);
  });

  it('every device, every way of reaching a parameter: no seeded value in any response', async () => {
    const all = await stack.graphql('{ ixc { devices(first: 500) { nodes { serialNumber parameters { name value redacted } wifiNetworks { ssid hasPassword } } } } }');
    expect(all.body.errors).toBeUndefined();
    expect(all.body.data.ixc.devices.nodes).toHaveLength(sim.devices.size);
    const serial = [...sim.devices.keys()][3]!;
    const byNode = await stack.graphql('query($id: ID!) { node(id: $id) { ... on IxcDevice { parameters(prefix: "InternetGatewayDevice.LANDevice.") { name value redacted } } } }', {
      id: toGlobalId('IxcDevice', serial),
    });
    expect(byNode.body.data.node.parameters).toContainEqual({ name: IXC_SIM_SECRET_PARAMETERS.wifiPassphrase, value: null, redacted: true });
    const search = await stack.graphql('query($s: String) { ixc { devices(serialNumber: $s) { nodes { parameters(prefix: "InternetGatewayDevice.ManagementServer.Conn") { value redacted } } } } }', {
      s: serial,
    });
    expect(search.body.data.ixc.devices.nodes).toEqual([{ parameters: [{ value: 'ixc-acs', redacted: false }, { value: null, redacted: true }] }]);
    scan(seeded);
  });

  it('set with ixcUpdateDeviceParameters: applied on the device, redacted in the acknowledgement, the operation, its node and its webhook', async () => {
    const serial = [...sim.devices.keys()][1]!;
    const res = await stack.graphql(
      'mutation($input: IxcUpdateDeviceParametersInput!) { ixcUpdateDeviceParameters(input: $input) { operation { id protocol status result } userErrors { field message code } } }',
      {
        input: {
          serialNumber: serial,
          parameters: [
            { name: IXC_SIM_SECRET_PARAMETERS.wifiPassphrase, value: NEW_PASSPHRASE },
            { name: IXC_SIM_SECRET_PARAMETERS.connectionRequestPassword, value: NEW_CR_PASSWORD },
            { name: 'InternetGatewayDevice.Time.NTPServer1', value: 'ntp.example.org' },
          ],
        },
      },
    );
    const ack = res.body.data.ixcUpdateDeviceParameters;
    expect(ack.userErrors).toEqual([]);
    const { id, protocol } = ack.operation;

    // The webhook is sent once the device has applied the change: wait for it rather than for a time.
    const delivery = await sim.waitForDelivery((d) => d.protocol === protocol);
    expect(delivery).toMatchObject({ event: 'device.parameters_changed', status: 204 });
    const device = sim.devices.get(serial)!;
    expect(device.settings.get(IXC_SIM_SECRET_PARAMETERS.wifiPassphrase)).toBe(NEW_PASSPHRASE);
    expect(device.settings.get(IXC_SIM_SECRET_PARAMETERS.connectionRequestPassword)).toBe(NEW_CR_PASSWORD);

    const expected = {
      parameters: [
        { name: IXC_SIM_SECRET_PARAMETERS.wifiPassphrase, value: null, redacted: true },
        { name: IXC_SIM_SECRET_PARAMETERS.connectionRequestPassword, value: null, redacted: true },
        { name: 'InternetGatewayDevice.Time.NTPServer1', value: 'ntp.example.org' },
      ],
    };
    const read = await stack.graphql('query($p: ID!) { ixc { operation(protocol: $p) { status result } } }', { p: protocol });
    expect(read.body.data.ixc.operation).toEqual({ status: 'SUCCESS', result: expected });
    const node = await stack.graphql('query($id: ID!) { node(id: $id) { ... on IxcOperation { result device { parameters(prefix: "InternetGatewayDevice.LANDevice.1.WLANConfiguration.") { value redacted } } } } }', { id });
    expect(node.body.data.node).toEqual({ result: expected, device: { parameters: [{ value: null, redacted: true }] } });

    // The ACS's own delivery carries the values (that is IXC's business); what the gateway makes of it does not.
    const body = delivered.find((b) => (JSON.parse(b) as { protocol?: string }).protocol === protocol)!;
    expect(body).toContain(NEW_PASSPHRASE);
    const events = ixcWebhooks.normalize(JSON.parse(body));
    expect(events[0]!.data).toEqual({ status: 'success', ...expected });
    const normalized = JSON.stringify(events);
    for (const value of [NEW_PASSPHRASE, NEW_CR_PASSWORD]) expect(normalized.includes(value), 'a secret reached a normalized event').toBe(false);

    scan([...seeded, NEW_PASSPHRASE, NEW_CR_PASSWORD]);
  });

  /** No response body the stack ever received holds any of `values`. */
  function scan(values: string[]) {
    expect(stack.responses.length).toBeGreaterThan(0);
    for (const body of stack.responses) {
      const leaked = values.filter((v) => body.includes(v));
      expect(leaked, 'a secret parameter value reached a response').toEqual([]);
    }
  }
});
