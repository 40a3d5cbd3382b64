import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWebhookSecret, verifyWebhook } from '../src/core/events/signatures.js';
import type { NormalizedEvent } from '../src/core/events/types.js';
import type { IxcSimulator } from '../src/platforms/ixc/simulator.js';
import { ixcWebhooks } from '../src/platforms/ixc/webhooks.js';
import { startStack, type Stack } from './utils/harness.js';

/**
 * IXC ACS's asynchronous actions end to end: the gateway's mutation gets the
 * acknowledgement with a protocol at once; the simulator carries the action out
 * after a short delay and POSTs a signed webhook carrying that protocol to a real
 * HTTP receiver started here; `ixc { operation(protocol) }` then shows the outcome.
 * Nothing here races a timer: the tests wait for the webhook of each action, and
 * an offline device's timeout is fired by the test (`sim.timeOutOperation`), the
 * simulator's own timeout staying at IXC's one hour.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const OPERATION_FIELDS = 'protocol kind status serialNumber requestedAt finishedAt result';

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver on port 0 that answers 204 and hands each delivery to whoever waits for it. */
async function startReceiver() {
  const received: Delivery[] = [];
  const waiting: { match: (d: Delivery) => boolean; resolve: (d: Delivery) => void }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const delivery = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(delivery);
      res.writeHead(204).end();
      for (const w of [...waiting]) if (w.match(delivery)) (waiting.splice(waiting.indexOf(w), 1), w.resolve(delivery));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/ixc`,
    received,
    /** The delivery whose payload carries `protocol` (already received, or to come). */
    forProtocol(protocol: string): Promise<Delivery> {
      const match = (d: Delivery) => (JSON.parse(d.body) as { protocol?: string }).protocol === protocol;
      const done = received.find(match);
      return done ? Promise.resolve(done) : new Promise((resolve) => waiting.push({ match, resolve }));
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let stack: Stack;
let sim: IxcSimulator;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
const secret = generateWebhookSecret();
let online: string[];
let offline: string[];

beforeAll(async () => {
  stack = await startStack({ simulators: { ixc: { actionDelayMs: 50 } } });
  sim = stack.sim('ixc');
  receiver = await startReceiver();
  sim.deliverWebhooksTo(receiver.url, secret);
  online = [...sim.devices.values()].filter((d) => d.record.online).map((d) => d.record.serialNumber);
  offline = [...sim.devices.values()].filter((d) => !d.record.online).map((d) => d.record.serialNumber);
});
afterAll(async () => {
  await stack.close();
  await receiver.close();
});

/** Waits for the operation's webhook, checks its signature, and returns it normalized. */
async function eventFor(protocol: string): Promise<NormalizedEvent> {
  const delivery = await receiver.forProtocol(protocol);
  expect(verifyWebhook([secret], delivery.headers, delivery.body)).toMatchObject({ ok: true });
  expect(verifyWebhook([generateWebhookSecret()], delivery.headers, delivery.body).ok).toBe(false);
  const events = ixcWebhooks.normalize(JSON.parse(delivery.body));
  expect(events).toHaveLength(1);
  return events[0]!;
}

async function operation(protocol: string) {
  const res = await stack.graphql(`query($p: ID!) { ixc { operation(protocol: $p) { id ${OPERATION_FIELDS} device { serialNumber } } } }`, { p: protocol });
  expect(res.body.errors).toBeUndefined();
  return res.body.data.ixc.operation;
}

describe('IXC ACS asynchronous actions', () => {
  it('reboot: acknowledged with a protocol at once; a signed device.rebooted webhook with that protocol follows', async () => {
    const serial = online[0]!;
    const res = await stack.graphql(`mutation($s: String!) { ixcRebootDevice(input: { serialNumber: $s }) { operation { ${OPERATION_FIELDS} } userErrors { code } } }`, { s: serial });
    const ack = res.body.data.ixcRebootDevice;
    expect(ack.userErrors).toEqual([]);
    expect(ack.operation).toEqual({
      protocol: expect.stringMatching(UUID),
      kind: 'REBOOT',
      status: 'PENDING',
      serialNumber: serial,
      requestedAt: expect.any(String),
      finishedAt: null,
      result: null,
    });
    expect(sim.server.requests('POST /api/v1/devices/reboot').map((r) => r.body)).toEqual([{ serialNumber: serial }]);

    const event = await eventFor(ack.operation.protocol);
    expect(event).toMatchObject({ platform: 'ixc', type: 'ixc.device.rebooted', protocol: ack.operation.protocol, subject: serial, data: { status: 'success' } });

    const state = await operation(ack.operation.protocol);
    expect(state).toMatchObject({ protocol: ack.operation.protocol, status: 'SUCCESS', finishedAt: expect.any(String), device: { serialNumber: serial } });
    const device = await stack.graphql('query($s: String!) { ixc { device(serialNumber: $s) { uptimeSeconds } } }', { s: serial });
    expect(device.body.data.ixc.device.uptimeSeconds).toBe(0);
  });

  it('parameters update: applied by the device, then device.parameters_changed with the protocol', async () => {
    const serial = online[1]!;
    const name = 'InternetGatewayDevice.ManagementServer.PeriodicInformInterval';
    const res = await stack.graphql(
      'mutation($input: IxcUpdateDeviceParametersInput!) { ixcUpdateDeviceParameters(input: $input) { operation { protocol kind status } userErrors { code } } }',
      { input: { serialNumber: serial, parameters: [{ name, value: '600' }] } },
    );
    const ack = res.body.data.ixcUpdateDeviceParameters;
    expect(ack).toMatchObject({ operation: { kind: 'PARAMETERS_UPDATE', status: 'PENDING' }, userErrors: [] });
    expect(sim.server.requests('POST /api/v1/devices/parameters/update/')).toHaveLength(1);
    const event = await eventFor(ack.operation.protocol);
    expect(event).toMatchObject({ type: 'ixc.device.parameters_changed', protocol: ack.operation.protocol, data: { parameters: [{ name, value: '600' }] } });
    const read = await stack.graphql('query($s: String!, $p: String) { ixc { device(serialNumber: $s) { parameters(prefix: $p) { value } } } }', { s: serial, p: name });
    expect(read.body.data.ixc.device.parameters).toEqual([{ value: '600' }]);
    expect((await operation(ack.operation.protocol)).result).toEqual({ parameters: [{ name, value: '600' }] });
  });

  it('refuses read-only and ill-typed parameters (422) as userErrors on input.parameters, an unknown device (404) as NOT_FOUND', async () => {
    const mutation = 'mutation($input: IxcUpdateDeviceParametersInput!) { ixcUpdateDeviceParameters(input: $input) { operation { protocol } userErrors { field message code } } }';
    const bad = await stack.graphql(mutation, {
      input: {
        serialNumber: online[2],
        parameters: [
          { name: 'InternetGatewayDevice.DeviceInfo.SerialNumber', value: 'X' },
          { name: 'InternetGatewayDevice.ManagementServer.PeriodicInformInterval', value: 'often' },
        ],
      },
    });
    expect(bad.body.data.ixcUpdateDeviceParameters).toEqual({
      operation: null,
      userErrors: [
        { field: ['input', 'parameters'], message: 'Parameter InternetGatewayDevice.DeviceInfo.SerialNumber is read-only.', code: 'BAD_USER_INPUT' },
        { field: ['input', 'parameters'], message: expect.stringMatching(/xsd:unsignedInt; got "often"/), code: 'BAD_USER_INPUT' },
      ],
    });
    const missing = await stack.graphql(mutation, { input: { serialNumber: 'NOPE0000', parameters: [{ name: 'a', value: 'b' }] } });
    expect(missing.body.data.ixcUpdateDeviceParameters.userErrors).toEqual([{ field: null, message: 'Device NOPE0000 not found.', code: 'NOT_FOUND' }]);
  });

  it('factory reset: device.reset with the protocol, and the factory settings are back', async () => {
    const serial = online[3]!;
    const name = 'InternetGatewayDevice.Time.NTPServer1';
    sim.devices.get(serial)!.settings.set(name, 'ntp.example.net');
    const res = await stack.graphql('mutation($s: String!) { ixcFactoryResetDevice(input: { serialNumber: $s }) { operation { protocol kind } userErrors { code } } }', { s: serial });
    const ack = res.body.data.ixcFactoryResetDevice;
    expect(ack.operation.kind).toBe('FACTORY_RESET');
    expect(sim.server.requests('POST /api/v1/devices/factory-reset').map((r) => r.body)).toEqual([{ serialNumber: serial }]);
    expect(await eventFor(ack.operation.protocol)).toMatchObject({ type: 'ixc.device.reset', subject: serial });
    const read = await stack.graphql('query($s: String!, $p: String) { ixc { device(serialNumber: $s) { parameters(prefix: $p) { value } } } }', { s: serial, p: name });
    expect(read.body.data.ixc.device.parameters).toEqual([{ value: 'a.ntp.br' }]);
  });

  it.each([
    ['PING', 'ping', '8.8.8.8', ['packetsSent', 'packetsReceived', 'avgRttMs']],
    ['TRACEROUTE', 'traceroute', 'ixcsoft.com.br', ['hops']],
    ['SPEED_TEST', 'speedtest', null, ['downloadMbps', 'uploadMbps', 'latencyMs']],
  ])('diagnostic %s: diagnostic.finished with the measurements, also in the operation result', async (type, upstreamType, target, keys) => {
    const serial = online[4 + ['PING', 'TRACEROUTE', 'SPEED_TEST'].indexOf(type)]!;
    const res = await stack.graphql(
      'mutation($input: IxcRunDiagnosticInput!) { ixcRunDiagnostic(input: $input) { operation { protocol kind status } userErrors { field message } } }',
      { input: { serialNumber: serial, type, target } },
    );
    const ack = res.body.data.ixcRunDiagnostic;
    expect(ack).toMatchObject({ operation: { kind: 'DIAGNOSTIC', status: 'PENDING' }, userErrors: [] });
    const sent = sim.server.requests('POST /api/v1/devices/:serial/diagnostics').find((r) => r.path === `/api/v1/devices/${serial}/diagnostics`)!;
    expect(sent.body).toEqual(target ? { type: upstreamType, target } : { type: upstreamType });
    const event = await eventFor(ack.operation.protocol);
    expect(event).toMatchObject({ type: 'ixc.diagnostic.finished', protocol: ack.operation.protocol, data: { status: 'success', type: upstreamType } });
    const state = await operation(ack.operation.protocol);
    expect(state.status).toBe('SUCCESS');
    expect(Object.keys(state.result)).toEqual(expect.arrayContaining(keys));
  });

  it('a diagnostic that fails on the device ends FAILURE, and its webhook says failure', async () => {
    const serial = online[8]!;
    const res = await stack.graphql('mutation($s: String!) { ixcRunDiagnostic(input: { serialNumber: $s, type: PING, target: "host.invalid" }) { operation { protocol } } }', { s: serial });
    const protocol = res.body.data.ixcRunDiagnostic.operation.protocol;
    expect(await eventFor(protocol)).toMatchObject({ type: 'ixc.diagnostic.finished', data: { status: 'failure' } });
    expect(await operation(protocol)).toMatchObject({ status: 'FAILURE', result: { error: 'Could not resolve host.invalid' } });
  });

  it('refuses a ping with no target (422) on input.target', async () => {
    const res = await stack.graphql('mutation($s: String!) { ixcRunDiagnostic(input: { serialNumber: $s, type: PING }) { operation { protocol } userErrors { field message code } } }', { s: online[9] });
    expect(res.body.data.ixcRunDiagnostic).toEqual({
      operation: null,
      userErrors: [{ field: ['input', 'target'], message: 'The target field is required for ping.', code: 'BAD_USER_INPUT' }],
    });
  });

  it('an offline device never answers: operation.timeout with the protocol, status TIMEOUT; meanwhile a second action is refused (409)', async () => {
    const serial = offline[0]!;
    const reboot = 'mutation($s: String!) { ixcRebootDevice(input: { serialNumber: $s }) { operation { protocol } userErrors { message code } } }';
    const res = await stack.graphql(reboot, { s: serial });
    const protocol = res.body.data.ixcRebootDevice.operation.protocol;
    // The operation stays pending until the test says the hour is up, however slow the machine.
    const again = await stack.graphql(reboot, { s: serial });
    expect(again.body.data.ixcRebootDevice).toEqual({
      operation: null,
      userErrors: [{ message: `Device ${serial} is still carrying out operation ${protocol}; wait for its webhook.`, code: 'CONFLICT' }],
    });
    expect(await operation(protocol)).toMatchObject({ status: 'PENDING', finishedAt: null });
    expect(receiver.received.some((d) => (JSON.parse(d.body) as { protocol?: string }).protocol === protocol)).toBe(false);

    expect(sim.timeOutOperation(protocol)).toBe(true);
    expect(sim.timeOutOperation(protocol)).toBe(false);
    const event = await eventFor(protocol);
    expect(event).toMatchObject({ type: 'ixc.operation.timeout', protocol, subject: serial, data: { status: 'failure', operation: 'reboot' } });
    expect(await operation(protocol)).toMatchObject({ status: 'TIMEOUT', kind: 'REBOOT' });
  });

  it('an unknown protocol reads as null (404 upstream); an operation is a Node', async () => {
    const unknown = await stack.graphql('{ ixc { operation(protocol: "00000000-0000-4000-8000-000000000000") { status } } }');
    expect(unknown.body).toEqual({ data: { ixc: { operation: null } } });
    const res = await stack.graphql('mutation($s: String!) { ixcRebootDevice(input: { serialNumber: $s }) { operation { id protocol } } }', { s: online[10] });
    const { id, protocol } = res.body.data.ixcRebootDevice.operation;
    const node = await stack.graphql('query($id: ID!) { node(id: $id) { ... on IxcOperation { protocol kind } } }', { id });
    expect(node.body.data.node).toEqual({ protocol, kind: 'REBOOT' });
    await eventFor(protocol);
  });

  it('an unknown device is NOT_FOUND for reboot and reset', async () => {
    const res = await stack.graphql(
      'mutation { r: ixcRebootDevice(input: { serialNumber: "NOPE0000" }) { userErrors { code } } f: ixcFactoryResetDevice(input: { serialNumber: "NOPE0000" }) { userErrors { code } } }',
    );
    expect(res.body.data).toEqual({ r: { userErrors: [{ code: 'NOT_FOUND' }] }, f: { userErrors: [{ code: 'NOT_FOUND' }] } });
  });

  it('a receiver that is down is logged and recorded; the simulator keeps serving', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/webhooks/ixc`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    sim.deliverWebhooksTo(deadUrl, secret);
    try {
      const res = await stack.graphql('mutation($s: String!) { ixcRebootDevice(input: { serialNumber: $s }) { operation { protocol } } }', { s: online[11] });
      const protocol = res.body.data.ixcRebootDevice.operation.protocol;
      const delivery = await sim.waitForDelivery((d) => d.protocol === protocol);
      expect(delivery).toEqual({ event: 'device.rebooted', protocol, apiClientId: expect.any(String), url: deadUrl, error: 'ECONNREFUSED' });
      expect((await operation(protocol)).status).toBe('SUCCESS');
    } finally {
      sim.deliverWebhooksTo(receiver.url, secret);
    }
  });
});
