import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { generateWebhookSecret, verifyWebhook } from '../src/core/events/signatures.js';
import { BadUserInputError } from '../src/core/upstream/errors.js';
import { IxcSimulator } from '../src/platforms/ixc/simulator.js';
import { ixcWebhooks } from '../src/platforms/ixc/webhooks.js';

/**
 * The IXC ACS webhook normalizer over every event of UPSTREAMS.md §3 (payload
 * assumed), its refusals, and the simulator's device.added / device.removed
 * deliveries to the API clients that chose them.
 */

const PROTOCOL = '3f2a7c1e-9b8d-4e6f-a5c4-1d2e3f4a5b6c';
const AT = '2026-01-15T12:00:00.000Z';

describe('ixcWebhooks.normalize', () => {
  it.each([
    ['device.added', null, { model: 'F670L' }],
    ['device.removed', null, {}],
    ['device.parameters_changed', PROTOCOL, { parameters: [{ name: 'InternetGatewayDevice.Time.NTPServer1', value: 'a.ntp.br' }] }],
    ['device.rebooted', PROTOCOL, {}],
    ['device.reset', PROTOCOL, {}],
    ['diagnostic.finished', PROTOCOL, { type: 'ping', target: '8.8.8.8', avgRttMs: 9.5 }],
    ['operation.timeout', PROTOCOL, { operation: 'reboot', reason: 'The device did not answer within 3600000 ms.' }],
  ])('%s → ixc.<event>, keyed by its protocol (%s)', (event, protocol, data) => {
    const status = event === 'operation.timeout' ? 'failure' : 'success';
    const events = ixcWebhooks.normalize({ event, protocol, serialNumber: 'ZTEGA1B20000', status, occurredAt: AT, data });
    expect(events).toEqual([{ platform: 'ixc', type: `ixc.${event}`, occurredAt: AT, subject: 'ZTEGA1B20000', protocol, data: { status, ...data } }]);
  });

  it('keeps an event name it does not know, with its fields, and reads times with an offset as UTC', () => {
    const [event] = ixcWebhooks.normalize({ event: 'device.firmware_updated', serialNumber: 'X1', status: 'success', occurredAt: '2026-01-15T09:00:00-03:00', data: { version: '2.0' } });
    expect(event).toEqual({ platform: 'ixc', type: 'ixc.device.firmware_updated', occurredAt: AT, subject: 'X1', protocol: null, data: { status: 'success', version: '2.0' } });
  });

  it.each([
    ['an array', [], /^Expected an IXC ACS webhook: a JSON object .*; got an array$/],
    ['null', null, /got null$/],
    ['no event', { serialNumber: 'X', occurredAt: AT }, /^Expected event to be a dotted lower-case name such as "device.rebooted"; got null$/],
    ['an event that is not dotted', { event: 'Reboot', occurredAt: AT }, /got "Reboot"$/],
    ['a numeric protocol', { event: 'device.rebooted', protocol: 7, occurredAt: AT }, /^Expected protocol to be .*; got 7$/],
    ['an unknown status', { event: 'device.rebooted', status: 'ok', occurredAt: AT }, /^Expected status to be "success" or "failure"; got "ok"$/],
    ['data that is a list', { event: 'device.rebooted', occurredAt: AT, data: [1] }, /^Expected data to be an object; got an array$/],
    ['no occurredAt', { event: 'device.rebooted' }, /^Expected occurredAt to be an ISO-8601 date-time .*; got null$/],
    ['an unreadable occurredAt', { event: 'device.rebooted', occurredAt: 'yesterday' }, /got "yesterday"$/],
  ])('refuses %s with BAD_USER_INPUT saying what it expected', (_, payload, message) => {
    let thrown: unknown;
    try {
      ixcWebhooks.normalize(payload);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(BadUserInputError);
    expect((thrown as BadUserInputError).message).toMatch(message);
    expect((thrown as BadUserInputError).platform).toBe('ixc');
  });
});

describe('the simulator\'s device events', () => {
  it('POSTs signed device.added and device.removed to every API client that chose them', async () => {
    const bodies: { headers: IncomingHttpHeaders; body: string }[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const secret = generateWebhookSecret();
    const sim = await new IxcSimulator({ devices: 3, webhookUrl: url, webhookSecret: secret }).start();
    try {
      // The seeded ERP client also chose device.added/removed; point it here too.
      const erp = [...sim.apiClients.values()].find((c) => c.name === 'ERP integration')!;
      erp.webhookUri = url;
      const added = sim.addDevice();
      const deliveries = await Promise.all([
        sim.waitForDelivery((d) => d.event === 'device.added' && d.apiClientId === sim.apiClientId),
        sim.waitForDelivery((d) => d.event === 'device.added' && d.apiClientId === erp.id),
      ]);
      expect(deliveries.map((d) => d.status)).toEqual([204, 204]);
      expect(sim.removeDevice(added.serialNumber)).toBe(true);
      await sim.waitForDelivery((d) => d.event === 'device.removed' && d.apiClientId === erp.id);
      await sim.waitForDelivery((d) => d.event === 'device.removed' && d.apiClientId === sim.apiClientId);
      expect(bodies).toHaveLength(4);
      for (const { headers, body } of bodies) {
        expect(verifyWebhook([secret], headers, body).ok).toBe(true);
        const [event] = ixcWebhooks.normalize(JSON.parse(body));
        expect(event).toMatchObject({ subject: added.serialNumber, protocol: null });
      }
      // The IXC Provider client did not choose device events: nothing went to its URI.
      expect(sim.deliveries.filter((d) => d.url.includes('provedor'))).toEqual([]);
    } finally {
      await sim.close();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });
});
