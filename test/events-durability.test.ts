import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { generateWebhookSecret, webhookHeaders } from '../src/core/events/signatures.js';
import { spawnGateway, type GatewayProcess } from './utils/gateway-process.js';

/**
 * Nothing acknowledged is lost: real gateway processes (`node --import tsx
 * src/main.ts start`, the embedded file log in their own DATA_DIR) killed with
 * SIGKILL the moment they answered a webhook 2xx, then started again on the
 * same folder: every event that was answered 2xx is there and is delivered
 * from the log; a subscriber resuming after its last cursor across a restart
 * gets what came next, once, in order.
 */

const SECRET = generateWebhookSecret();
const folders: string[] = [];
const running = new Set<GatewayProcess>();

afterAll(async () => {
  for (const gateway of running) gateway.child.kill('SIGKILL');
  await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
});

/** A gateway process on the embedded file log in `dataDir`. */
async function startGatewayProcess(dataDir: string): Promise<GatewayProcess> {
  const gateway = await spawnGateway({ DATA_DIR: dataDir, IXC_WEBHOOK_SECRETS: SECRET });
  running.add(gateway);
  void gateway.exited.then(() => running.delete(gateway));
  return gateway;
}

async function newDataDir(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'switchboard-durability-'));
  folders.push(folder);
  return folder;
}

function webhook(serial: string): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify({ event: 'device.added', protocol: null, serialNumber: serial, status: 'success', occurredAt: new Date().toISOString(), data: { model: 'F670L' } });
  return { body, headers: { 'content-type': 'application/json', ...webhookHeaders(SECRET, body, `msg_${randomUUID()}`) } };
}

async function graphql(gateway: GatewayProcess, query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(`${gateway.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: any; errors?: unknown };
  expect(body.errors).toBeUndefined();
  return body.data;
}

async function storedSubjects(gateway: GatewayProcess): Promise<string[]> {
  const data = await graphql(gateway, `{ events(first: 500, filter: { types: ["ixc.device.added"] }) { nodes { subject } } }`);
  return data.events.nodes.map((n: { subject: string }) => n.subject);
}

describe('the embedded event log across crashes and restarts', () => {
  it('keeps every event answered 2xx by a gateway killed with SIGKILL right after answering', { timeout: 120_000 }, async () => {
    const dataDir = await newDataDir();
    const first = await startGatewayProcess(dataDir);
    // Many deliveries at once; the process dies the moment the first 2xx arrives, with the others in flight.
    const acknowledged: string[] = [];
    let killed = false;
    const sends = Array.from({ length: 40 }, async (_, i) => {
      const serial = `CRASH${String(i).padStart(4, '0')}`;
      const { body, headers } = webhook(serial);
      try {
        const res = await fetch(`${first.url}/webhooks/ixc`, { method: 'POST', headers, body });
        if (res.status === 200) {
          acknowledged.push(serial);
          if (!killed) {
            killed = true;
            first.child.kill('SIGKILL');
          }
        }
      } catch {
        // The connection died with the process: not acknowledged, so the sender would retry.
      }
    });
    await Promise.all(sends);
    expect(await first.exited).toBe(null);
    expect(acknowledged.length).toBeGreaterThan(0);

    const second = await startGatewayProcess(dataDir);
    const stored = await storedSubjects(second);
    for (const serial of acknowledged) expect(stored).toContain(serial);
    expect(new Set(stored).size).toBe(stored.length);

    // And they are delivered from the log to a subscriber that starts from the beginning.
    const ws = createClient({ url: `${second.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    const iterator = ws.iterate<{ events: { subject: string } }>({ query: `subscription { events(types: ["ixc.device.added"], after: "0") { subject } }` });
    const delivered: string[] = [];
    while (delivered.length < stored.length) {
      const next = await iterator.next();
      if (next.done) break;
      delivered.push(next.value.data!.events.subject);
    }
    expect(delivered).toEqual(stored);
    await iterator.return?.();
    await ws.dispose();
    second.child.kill('SIGKILL');
    await second.exited;
  });

  it('resumes a subscriber after its last cursor across a restart: what came next, once, in order, then live', { timeout: 120_000 }, async () => {
    const dataDir = await newDataDir();
    const first = await startGatewayProcess(dataDir);
    const cursors: string[] = [];
    for (const serial of ['R1', 'R2', 'R3']) {
      const { body, headers } = webhook(serial);
      const res = await fetch(`${first.url}/webhooks/ixc`, { method: 'POST', headers, body });
      const answer = (await res.json()) as { cursors: string[] };
      cursors.push(answer.cursors[0]!);
    }
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = await startGatewayProcess(dataDir);
    const ws = createClient({ url: `${second.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    const iterator = ws.iterate<{ events: { subject: string; cursor: string } }>({
      query: `subscription ($after: String) { events(after: $after) { subject cursor } }`,
      variables: { after: cursors[0] },
    });
    const next = async () => (await iterator.next()).value!.data!.events;
    expect(await next()).toEqual({ subject: 'R2', cursor: cursors[1] });
    expect(await next()).toEqual({ subject: 'R3', cursor: cursors[2] });
    // Then live, from the restarted process; the sequence goes on.
    const { body, headers } = webhook('R4');
    const res = await fetch(`${second.url}/webhooks/ixc`, { method: 'POST', headers, body });
    const [fourth] = ((await res.json()) as { cursors: string[] }).cursors;
    expect(Number(fourth)).toBeGreaterThan(Number(cursors[2]));
    expect(await next()).toEqual({ subject: 'R4', cursor: fourth });
    await iterator.return?.();
    await ws.dispose();
    second.child.kill('SIGKILL');
    await second.exited;
  });
});
