import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWebhookSecret, signWebhook, webhookHeaders } from '../src/core/events/signatures.js';
import { startStack, type Stack } from './utils/harness.js';

/**
 * `POST /webhooks/:platform` on a real gateway over HTTP: Standard Webhooks
 * signatures checked on the raw bytes against the configured secrets (two at
 * once, as during a rotation), the 5-minute tolerance both ways, nothing stored
 * when refused, duplicates stored once, the size limit, and payloads that are
 * authentic but unreadable kept as dead letters readable through the graph.
 */

const OLD_SECRET = generateWebhookSecret();
const NEW_SECRET = generateWebhookSecret();
const MAX_BYTES = 4_096;

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ env: { IXC_WEBHOOK_SECRETS: `${NEW_SECRET},${OLD_SECRET}`, MAX_WEBHOOK_BYTES: String(MAX_BYTES) } });
});

afterAll(async () => {
  // No response of this file ever carried a secret.
  const seen = stack.responses.join('\n');
  for (const secret of [OLD_SECRET, NEW_SECRET]) {
    expect(seen).not.toContain(secret);
    expect(seen).not.toContain(secret.slice(6));
  }
});

const now = () => Math.floor(Date.now() / 1000);

function rebooted(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({ event: 'device.rebooted', protocol: randomUUID(), serialNumber: 'ZTEGA1B20000', status: 'success', occurredAt: '2026-01-15T12:00:00Z', data: {}, ...overrides });
}

async function post(path: string, body: string | Buffer, headers: Record<string, string>, method = 'POST') {
  const res = await fetch(`${stack.gateway.url}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, body: method === 'GET' ? undefined : body });
  const text = await res.text();
  stack.responses.push(text);
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const deliver = (body: string | Buffer, headers: Record<string, string>) => post('/webhooks/ixc', body, headers);

/** What the log and the dead letters hold, to show a refused delivery stored nothing. */
async function stored() {
  return { head: await stack.gateway.events.head(), deadLetters: (await stack.gateway.events.readDeadLetters({ limit: 1_000 })).length };
}

async function refusedWithoutStoring(send: () => Promise<{ status: number; body: any }>, status: number, reason: RegExp) {
  const before = await stored();
  const res = await send();
  expect(res.status).toBe(status);
  expect(res.body.error).toMatch(reason);
  expect(await stored()).toEqual(before);
  return res;
}

describe('signatures', () => {
  it('accepts a delivery signed with the current secret, stores it, and answers with its cursor', async () => {
    const body = rebooted();
    const headers = webhookHeaders(NEW_SECRET, body);
    const res = await deliver(body, headers);
    expect(res).toEqual({ status: 200, body: { status: 'accepted', events: 1, cursors: [expect.any(String)] } });
    const history = await stack.graphql(`query ($after: String) { events(first: 1, after: $after) { nodes { __typename id platform type cursor raw ... on IxcDeviceRebootedEvent { serialNumber status } } } }`, {
      after: String(Number(res.body.cursors[0]) - 1),
    });
    expect(history.body.data.events.nodes).toEqual([
      {
        __typename: 'IxcDeviceRebootedEvent',
        id: `ixc:${headers['webhook-id']}:0`,
        platform: 'IXC',
        type: 'ixc.device.rebooted',
        cursor: res.body.cursors[0],
        raw: JSON.parse(body),
        serialNumber: 'ZTEGA1B20000',
        status: 'SUCCESS',
      },
    ]);
  });

  it('refuses a body with one byte changed after signing', async () => {
    const body = rebooted();
    const headers = webhookHeaders(NEW_SECRET, body);
    const tampered = Buffer.from(body);
    tampered[tampered.indexOf('ZTEG')] = 'X'.charCodeAt(0);
    const res = await refusedWithoutStoring(() => deliver(tampered, headers), 401, /^No signature in webhook-signature \(1 offered\) matches the body .*sign the exact bytes sent/);
    expect(res.body.code).toBe('INVALID_SIGNATURE');
  });

  it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'])('refuses a delivery without %s, naming it', async (header) => {
    const body = rebooted();
    const headers = webhookHeaders(NEW_SECRET, body);
    delete headers[header];
    await refusedWithoutStoring(() => deliver(body, headers), 401, new RegExp(`^Expected the Standard Webhooks headers .*; missing: ${header}$`));
  });

  it('refuses a delivery signed with a secret it does not hold', async () => {
    const body = rebooted();
    await refusedWithoutStoring(() => deliver(body, webhookHeaders(generateWebhookSecret(), body)), 401, /No signature in webhook-signature/);
  });

  it('accepts both the old and the new secret during a rotation, and a header carrying a signature of each', async () => {
    const old = rebooted();
    expect((await deliver(old, webhookHeaders(OLD_SECRET, old))).body.status).toBe('accepted');
    const fresh = rebooted();
    expect((await deliver(fresh, webhookHeaders(NEW_SECRET, fresh))).body.status).toBe('accepted');
    // A sender mid-rotation signs with both, space-separated; one stale signature does not spoil the other.
    const both = rebooted();
    const id = `msg_${randomUUID()}`;
    const ts = now();
    const signature = `${signWebhook(generateWebhookSecret(), id, ts, both)} ${signWebhook(OLD_SECRET, id, ts, both)}`;
    const res = await deliver(both, { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signature });
    expect(res).toMatchObject({ status: 200, body: { status: 'accepted' } });
  });

  it('refuses a timestamp 6 minutes old, and one 6 minutes ahead, saying by how much', async () => {
    const body = rebooted();
    await refusedWithoutStoring(
      () => deliver(body, webhookHeaders(NEW_SECRET, body, `msg_${randomUUID()}`, now() - 360)),
      401,
      /^webhook-timestamp \d+ is 36\d s older than the gateway's clock .*at most 300 s/,
    );
    await refusedWithoutStoring(() => deliver(body, webhookHeaders(NEW_SECRET, body, `msg_${randomUUID()}`, now() + 360)), 401, /^webhook-timestamp \d+ is 3[56]\d s ahead of the gateway's clock/);
  });

  it('refuses a timestamp that is not a number', async () => {
    const body = rebooted();
    const headers = { ...webhookHeaders(NEW_SECRET, body), 'webhook-timestamp': 'yesterday' };
    await refusedWithoutStoring(() => deliver(body, headers), 401, /^Expected webhook-timestamp to be whole seconds since the epoch; got "yesterday"$/);
  });
});

describe('duplicates', () => {
  it('stores a webhook-id delivered twice in a row once, and answers 200 both times', async () => {
    const body = rebooted();
    const headers = webhookHeaders(NEW_SECRET, body);
    const first = await deliver(body, headers);
    const second = await deliver(body, headers);
    expect(first).toMatchObject({ status: 200, body: { status: 'accepted' } });
    expect(second).toEqual({ status: 200, body: { status: 'duplicate', events: 1, cursors: first.body.cursors } });
    const after = String(Number(first.body.cursors[0]) - 1);
    expect((await stack.gateway.events.read({ after, limit: 10 })).filter((e) => e.id === `ixc:${headers['webhook-id']}:0`)).toHaveLength(1);
  });

  it('stores a webhook-id delivered five times at once once, and answers 200 every time', async () => {
    const body = rebooted();
    const headers = webhookHeaders(NEW_SECRET, body);
    const head = await stack.gateway.events.head();
    const answers = await Promise.all(Array.from({ length: 5 }, () => deliver(body, headers)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.filter((a) => a.body.status === 'accepted')).toHaveLength(1);
    expect(new Set(answers.map((a) => a.body.cursors[0])).size).toBe(1);
    expect((await stack.gateway.events.read({ after: head, limit: 10 })).map((e) => e.id)).toEqual([`ixc:${headers['webhook-id']}:0`]);
  });
});

describe('bodies the gateway will not store', () => {
  it('answers 413 to a body over MAX_WEBHOOK_BYTES, before anything else', async () => {
    const body = rebooted({ data: { padding: 'x'.repeat(MAX_BYTES) } });
    const res = await refusedWithoutStoring(() => deliver(body, webhookHeaders(NEW_SECRET, body)), 413, /^Expected a webhook body of at most 4096 bytes; got more$/);
    expect(res.body.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers 400 to a signed body that is not JSON, and keeps it as a dead letter', async () => {
    const body = 'event=device.rebooted&serial=ZTEGA1B20000';
    const headers = webhookHeaders(NEW_SECRET, body);
    const head = await stack.gateway.events.head();
    const res = await deliver(body, { ...headers, 'content-type': 'application/x-www-form-urlencoded' });
    expect(res).toMatchObject({ status: 400, body: { code: 'BAD_PAYLOAD', error: expect.stringMatching(/^Expected a JSON body \(Standard Webhooks\); it does not parse: /) } });
    expect(await stack.gateway.events.head()).toBe(head);
    const letters = await stack.graphql(`{ deadLetters(first: 100) { nodes { platform webhookId reason contentType body receivedAt cursor } } }`);
    expect(letters.body.data.deadLetters.nodes).toContainEqual({
      platform: 'IXC',
      webhookId: headers['webhook-id'],
      reason: res.body.error,
      contentType: 'application/x-www-form-urlencoded',
      body,
      receivedAt: expect.any(String),
      cursor: expect.any(String),
    });
  });

  it('answers 400 to JSON the platform does not send, keeps it once as a dead letter, with secrets cut', async () => {
    const payload = {
      event: 'Reboot',
      serialNumber: 'ZTEGA1B20000',
      data: { parameters: [{ name: 'InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.PreSharedKey.1.KeyPassphrase', value: 'hunter2-wifi' }] },
    };
    const body = JSON.stringify(payload);
    const headers = webhookHeaders(NEW_SECRET, body);
    const res = await deliver(body, headers);
    expect(res).toEqual({
      status: 400,
      body: { code: 'BAD_PAYLOAD', error: 'IXC ACS webhook not understood: Expected event to be a dotted lower-case name such as "device.rebooted"; got "Reboot"' },
    });
    // Its sender retries; the dead letter stays one.
    expect((await deliver(body, headers)).status).toBe(400);
    const letters = await stack.graphql(`{ deadLetters(first: 100) { nodes { webhookId reason body } } }`);
    const mine = letters.body.data.deadLetters.nodes.filter((l: { webhookId: string }) => l.webhookId === headers['webhook-id']);
    expect(mine).toEqual([
      {
        webhookId: headers['webhook-id'],
        reason: res.body.error,
        body: { ...payload, data: { parameters: [{ name: payload.data.parameters[0]!.name, value: null, redacted: true }] } },
      },
    ]);
    expect(JSON.stringify(letters.body)).not.toContain('hunter2-wifi');
  });

  it('does not keep an unsigned body as a dead letter: only authentic deliveries are kept', async () => {
    await refusedWithoutStoring(() => deliver('not json at all', {}), 401, /missing: webhook-id, webhook-timestamp, webhook-signature/);
  });

  it('cuts secret parameter values from a stored event\'s raw payload', async () => {
    const body = JSON.stringify({
      event: 'device.parameters_changed',
      protocol: randomUUID(),
      serialNumber: 'ZTEGA1B20000',
      status: 'success',
      occurredAt: '2026-01-15T12:00:00Z',
      data: { parameters: [{ name: 'InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANPPPConnection.1.Password', value: 'pppoe-secret-7' }, { name: 'InternetGatewayDevice.Time.NTPServer1', value: 'a.ntp.br' }] },
    });
    const res = await deliver(body, webhookHeaders(NEW_SECRET, body));
    const after = String(Number(res.body.cursors[0]) - 1);
    const history = await stack.graphql(`query ($after: String) { events(first: 1, after: $after) { nodes { raw data ... on IxcDeviceParametersChangedEvent { parameters { name value redacted } } } } }`, { after });
    const [node] = history.body.data.events.nodes;
    expect(node.parameters).toEqual([
      { name: 'InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANPPPConnection.1.Password', value: null, redacted: true },
      { name: 'InternetGatewayDevice.Time.NTPServer1', value: 'a.ntp.br', redacted: false },
    ]);
    expect(JSON.stringify(node)).not.toContain('pppoe-secret-7');
  });
});

describe('routes', () => {
  it('answers 404 for a platform that sends no webhooks, naming where webhooks go, and 405 for another method', async () => {
    const exotel = await post('/webhooks/exotel', '{}', {});
    expect(exotel.status).toBe(404);
    expect(exotel.body.error).toMatch(/^No webhooks are received for "exotel"; this gateway receives them at \/webhooks\/cloudlx, \/webhooks\/ixc$/);
    const get = await post('/webhooks/ixc', '', {}, 'GET');
    expect(get).toMatchObject({ status: 405, body: { code: 'METHOD_NOT_ALLOWED' } });
  });

  it('refuses every delivery for a simulated platform whose secret the gateway generated and handed only to its simulator', async () => {
    const body = JSON.stringify({ webhook_type: 'bandwidth-threshold-port', port_ref: 'clxp-1', threshold_amount: 70, timestamp: '2026-01-15 12:00:00' });
    await refusedWithoutStoring(() => post('/webhooks/cloudlx', body, webhookHeaders(generateWebhookSecret(), body)), 401, /No signature/);
    // The simulator, which holds it, is accepted.
    const [delivery] = await stack.sim('cloudlx').emitBandwidthThreshold();
    expect(delivery).toMatchObject({ status: 200, url: `${stack.gateway.url}/webhooks/cloudlx` });
  });
});
