import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import { createClient as createSseClient } from 'graphql-sse';
import WebSocket from 'ws';
import { startStack, type Stack } from './utils/harness.js';

/**
 * The embedded default end to end: the gateway registered its own receiver
 * with the simulators at start, so `ixcRebootDevice` → the IXC simulator's
 * signed `device.rebooted` webhook → `/webhooks/ixc` → the event log →
 * `Subscription.operation(protocol)`, over a real WebSocket with graphql-ws's
 * client. The device answers when the test says so (`completeOperation`), not
 * after a timer, so each subscription is seen pending first.
 */

let stack: Stack;
let ws: Client;

beforeAll(async () => {
  // The devices never answer on their own within a test: each test drives the answer.
  stack = await startStack({ simulators: { ixc: { actionDelayMs: 3_600_000 } } });
  ws = createClient({ url: stack.gateway.websocketUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
});

afterAll(async () => {
  await ws?.dispose();
});

/** Online devices of the simulator, one per test that needs one (a device runs one action at a time). */
function onlineDevices(): string[] {
  return [...stack.sim('ixc').devices.values()].filter((d) => d.record.online).map((d) => d.record.serialNumber);
}

/** Reads a subscription's results one at a time. */
function subscribe<T = any>(query: string, variables: Record<string, unknown> = {}) {
  const iterator = ws.iterate<T>({ query, variables });
  return {
    async next(): Promise<T> {
      const result = await iterator.next();
      if (result.done) throw new Error('the subscription completed');
      if (result.value.errors) throw new Error(`the subscription failed: ${JSON.stringify(result.value.errors)}`);
      return result.value.data as T;
    },
    async ended(): Promise<boolean> {
      return (await iterator.next()).done === true;
    },
    close: () => iterator.return?.(),
  };
}

const OPERATION = `subscription Follow($protocol: ID!) {
  operation(protocol: $protocol) {
    platform protocol status done
    event {
      __typename type cursor subject
      ... on IxcDeviceRebootedEvent { serialNumber protocol status }
      ... on IxcOperationTimeoutEvent { serialNumber protocol operationKind reason }
    }
    operation { __typename ... on IxcOperation { kind status } }
  }
}`;

async function reboot(serialNumber: string): Promise<string> {
  const res = await stack.graphql(`mutation ($serial: String!) { ixcRebootDevice(input: { serialNumber: $serial }) { operation { protocol status } userErrors { message } } }`, {
    serial: serialNumber,
  });
  expect(res.body.errors).toBeUndefined();
  expect(res.body.data.ixcRebootDevice).toMatchObject({ operation: { status: 'PENDING' }, userErrors: [] });
  return res.body.data.ixcRebootDevice.operation.protocol;
}

describe('the embedded default delivers events end to end', () => {
  it('follows ixcRebootDevice from its acknowledgement to the device.rebooted webhook over graphql-ws', async () => {
    const [serial] = onlineDevices();
    // From the log's head: the subscription misses nothing, however long its set-up takes.
    const everything = subscribe(`subscription ($after: String) { events(platforms: [IXC], after: $after) { __typename type cursor ... on IxcDeviceRebootedEvent { protocol serialNumber } } }`, {
      after: await stack.gateway.events.head(),
    });
    const protocol = await reboot(serial!);
    const updates = subscribe(OPERATION, { protocol });

    const pending = await updates.next();
    expect(pending.operation).toEqual({
      platform: 'IXC',
      protocol,
      status: 'PENDING',
      done: false,
      event: null,
      operation: { __typename: 'IxcOperation', kind: 'REBOOT', status: 'PENDING' },
    });

    const sim = stack.sim('ixc');
    expect(sim.completeOperation(protocol)).toBe(true);
    const finished = await updates.next();
    expect(finished.operation).toMatchObject({
      status: 'SUCCESS',
      done: true,
      event: { __typename: 'IxcDeviceRebootedEvent', type: 'ixc.device.rebooted', subject: serial, serialNumber: serial, protocol, status: 'SUCCESS' },
      operation: { kind: 'REBOOT', status: 'SUCCESS' },
    });
    expect(await updates.ended()).toBe(true);

    // The simulator's delivery was signed with the secret the gateway handed it, and accepted.
    const delivery = await sim.waitForDelivery((d) => d.protocol === protocol);
    expect(delivery).toMatchObject({ event: 'device.rebooted', status: 200, url: `${stack.gateway.url}/webhooks/ixc` });

    // The same event reached a subscriber of every IXC event, with the cursor the operation update showed.
    const seen = await everything.next();
    expect(seen.events).toEqual({ __typename: 'IxcDeviceRebootedEvent', type: 'ixc.device.rebooted', cursor: finished.operation.event.cursor, protocol, serialNumber: serial });
    await everything.close();
  });

  it('ends with TIMEOUT when the device never answers (operation.timeout webhook)', async () => {
    const serial = onlineDevices()[1]!;
    const protocol = await reboot(serial);
    const updates = subscribe(OPERATION, { protocol });
    expect((await updates.next()).operation).toMatchObject({ status: 'PENDING', done: false });
    expect(stack.sim('ixc').timeOutOperation(protocol)).toBe(true);
    expect((await updates.next()).operation).toMatchObject({
      status: 'TIMEOUT',
      done: true,
      event: { __typename: 'IxcOperationTimeoutEvent', type: 'ixc.operation.timeout', protocol, serialNumber: serial, operationKind: 'REBOOT' },
      operation: { status: 'TIMEOUT' },
    });
    expect(await updates.ended()).toBe(true);
  });

  it('answers an operation that already finished with its final state at once, and completes', async () => {
    const serial = onlineDevices()[2]!;
    const protocol = await reboot(serial);
    const sim = stack.sim('ixc');
    sim.completeOperation(protocol);
    await sim.waitForDelivery((d) => d.protocol === protocol && d.status === 200);
    const updates = subscribe(OPERATION, { protocol });
    expect((await updates.next()).operation).toMatchObject({ protocol, status: 'SUCCESS', done: true, event: null, operation: { status: 'SUCCESS' } });
    expect(await updates.ended()).toBe(true);
  });

  it('follows the same operation over Server-Sent Events (graphql-sse), for clients that cannot hold a WebSocket', async () => {
    const serial = onlineDevices()[3]!;
    const protocol = await reboot(serial);
    const sse = createSseClient({ url: stack.gateway.graphqlUrl, singleConnection: false, retryAttempts: 0 });
    const updates = sse.iterate<any>({ query: OPERATION, variables: { protocol } });
    try {
      const pending = await updates.next();
      expect(pending.value.data.operation).toMatchObject({ protocol, status: 'PENDING', done: false, event: null });
      expect(stack.sim('ixc').completeOperation(protocol)).toBe(true);
      const finished = await updates.next();
      expect(finished.value.data.operation).toMatchObject({ status: 'SUCCESS', done: true, event: { __typename: 'IxcDeviceRebootedEvent', protocol, serialNumber: serial } });
      expect((await updates.next()).done).toBe(true);
    } finally {
      await updates.return?.();
      sse.dispose();
    }
  });

  it('refuses a protocol no platform knows, saying what was expected', async () => {
    const updates = subscribe(OPERATION, { protocol: '00000000-0000-4000-8000-000000000000' });
    await expect(updates.next()).rejects.toThrow(/No platform knows an operation with protocol .*00000000-0000-4000-8000-000000000000.*expected the protocol an asynchronous mutation.*"code":"NOT_FOUND"/);
  });

  it('delivers a CloudLX bandwidth-threshold webhook as a typed event, and keeps it for Query.events', async () => {
    const events = subscribe(
      `subscription ($after: String) { events(platforms: [CLOUDLX], after: $after) {
        __typename platform type cursor raw
        ... on CloudLXBandwidthThresholdEvent { level portRef portName thresholdAmount }
      } }`,
      { after: await stack.gateway.events.head() },
    );
    const deliveries = await stack.sim('cloudlx').emitBandwidthThreshold({ portRef: 'clxp-c9oaj59h', portName: 'LON-1 port 7', thresholdAmount: 70 });
    expect(deliveries.map((d) => d.status)).toEqual([200]);
    const { events: event } = await events.next();
    expect(event).toMatchObject({
      __typename: 'CloudLXBandwidthThresholdEvent',
      platform: 'CLOUDLX',
      type: 'cloudlx.bandwidth_threshold.port',
      level: 'port',
      portRef: 'clxp-c9oaj59h',
      portName: 'LON-1 port 7',
      thresholdAmount: 70,
      raw: { webhook_type: 'bandwidth-threshold-port', port_ref: 'clxp-c9oaj59h', threshold_amount: 70 },
    });
    await events.close();

    const history = await stack.graphql(`{ events(filter: { platforms: [CLOUDLX] }) { edges { cursor node { __typename type } } pageInfo { hasNextPage endCursor } } }`);
    expect(history.body.data.events.edges).toEqual([{ cursor: event.cursor, node: { __typename: 'CloudLXBandwidthThresholdEvent', type: 'cloudlx.bandwidth_threshold.port' } }]);
    expect(history.body.data.events.pageInfo).toEqual({ hasNextPage: false, endCursor: event.cursor });
  });
});
