import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { generateApiKey, hashApiKey } from '../../src/core/security/clients.js';

export interface ClientSpec {
  name: string;
  scopes: string[];
  /** ISO date; default never. */
  expires?: string;
  limits?: { requestsPerMinute?: number; requestsPerDay?: number };
  /** A JWT identity instead of an API key. */
  jwt?: { issuer: string; subject: string };
}

export interface ClientsFixture {
  /** The clients file's path (SWITCHBOARD_CLIENTS_FILE). */
  path: string;
  /** Each API-key client's key, by name. */
  keys: Record<string, string>;
  /** `Authorization: Bearer <key>` for a client. */
  auth(name: string): Record<string, string>;
  remove(): void;
}

/** Writes a clients file with a fresh API key per client (those without `jwt`), as an operator would with `npm run client -- add`. */
export function writeClientsFile(clients: ClientSpec[], jwtIssuers: object[] = []): ClientsFixture {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-security-'));
  const keys: Record<string, string> = {};
  const entries = clients.map((c) => {
    const entry: Record<string, unknown> = { name: c.name, scopes: c.scopes };
    if (c.expires) entry.expires = c.expires;
    if (c.limits) entry.limits = c.limits;
    if (c.jwt) entry.jwt = c.jwt;
    else {
      keys[c.name] = generateApiKey();
      entry.apiKeys = [hashApiKey(keys[c.name]!)];
    }
    return entry;
  });
  const path = join(dir, 'clients.json');
  writeFileSync(path, JSON.stringify({ jwtIssuers, clients: entries }, null, 2));
  return {
    path,
    keys,
    auth: (name) => ({ authorization: `Bearer ${keys[name]}` }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface WsOutcome {
  /** The operation's result, when the connection was accepted. */
  result?: { data?: any; errors?: any[]; extensions?: Record<string, unknown> };
  /** How the socket closed, when the server closed it. */
  closed?: { code: number; reason: string };
}

/** Runs one operation over a real graphql-ws connection with `connectionParams`; answers its result or how the socket was closed. */
export async function overWebSocket(url: string, connectionParams: Record<string, unknown>, query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<WsOutcome> {
  let closed: WsOutcome['closed'];
  const client: Client = createClient({
    url,
    webSocketImpl: headers
      ? class extends WebSocket {
          constructor(address: string, protocols?: string | string[]) {
            super(address, protocols, { headers });
          }
        }
      : WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: true,
    on: { closed: (event) => (closed = { code: (event as { code: number }).code, reason: String((event as { reason?: string }).reason ?? '') }) },
  });
  try {
    const result = await new Promise<WsOutcome['result']>((resolve, reject) => {
      let value: WsOutcome['result'];
      client.subscribe({ query, variables }, { next: (v) => (value = v as WsOutcome['result']), error: reject, complete: () => resolve(value) });
    });
    return { result };
  } catch (error) {
    const event = error as { code?: number; reason?: string };
    if (typeof event?.code === 'number') return { closed: { code: event.code, reason: String(event.reason ?? '') } };
    if (closed) return { closed };
    if (Array.isArray(error)) return { result: { errors: error } };
    throw error;
  } finally {
    await client.dispose();
  }
}

/** Sends one operation over GraphQL over SSE (distinct connections mode); answers the status, headers and the `next` payloads. */
export async function overSse(url: string, query: string, headers: Record<string, string> = {}, variables?: Record<string, unknown>) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  const events = text
    .split('\n\n')
    .filter((block) => block.includes('event: next'))
    .map((block) => JSON.parse(block.split('\n').find((line) => line.startsWith('data: '))!.slice(6)));
  return { status: res.status, headers: res.headers, text, events };
}
