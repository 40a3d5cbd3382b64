/**
 * The processes of the side-by-side benchmark: the simulators, Switchboard and
 * the peer, each a child process, so that each gateway's CPU time and memory are
 * read from its own process (/proc/<pid>/stat and /proc/<pid>/status) and the
 * load generator and the upstreams are not counted in either.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { generateApiKey, hashApiKey } from '../../../src/core/security/clients.js';
import type { SimulatorsReady } from './simulators.js';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const PEERS_DIR = join(REPO, 'test/bench/peers');
const HIVE_GATEWAY_BIN = join(PEERS_DIR, 'node_modules/@graphql-hive/gateway/dist/bin.js');
const MESH_COMPOSE_BIN = join(PEERS_DIR, 'node_modules/@graphql-mesh/compose-cli/esm/bin.js');

/** Clock ticks per second of /proc/<pid>/stat's utime and stime. */
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

export interface GatewayProcess {
  readonly name: string;
  /** The GraphQL endpoint. */
  readonly url: string;
  readonly pid: number;
  /** Headers every request sends (Switchboard's API key). */
  readonly headers: Record<string, string>;
  /** User + system CPU time the process has used so far, in milliseconds (10 ms resolution). */
  cpuMs(): number;
  /** Resident memory now, in bytes. */
  rssBytes(): number;
  /** The most resident memory the process has had since it started (VmHWM), in bytes. */
  peakRssBytes(): number;
  stop(): Promise<void>;
}

export function peerInstalled(): boolean {
  return existsSync(HIVE_GATEWAY_BIN) && existsSync(MESH_COMPOSE_BIN);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** Starts the simulators' process and waits for its one line of settings. */
export async function startSimulators(): Promise<{ ready: SimulatorsReady; cpuMs(): number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'test/bench/lib/simulators.ts')], {
    cwd: REPO,
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  const line = await firstLine(child, 'the simulators');
  return { ready: JSON.parse(line) as SimulatorsReady, cpuMs: () => processCpuMs(child.pid!), stop: () => stopChild(child) };
}

let built = false;

/** `npm start`'s own first step: the TypeScript compiled into dist/ (incremental: seconds when nothing changed). Once per bench run. */
function buildOnce(): void {
  if (built) return;
  const result = spawnSync('npm', ['run', '--silent', 'build'], { cwd: REPO, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`npm run build failed (exit ${result.status}): Switchboard cannot be measured as npm start runs it`);
  built = true;
}

/** Switchboard as `npm start` runs it (compiled, `node dist/main.js start`), pointed at the simulators, in production mode, logging warnings only. */
export async function startSwitchboard(gatewayEnv: Record<string, string>, extraNodeArgs: string[] = []): Promise<GatewayProcess> {
  buildOnce();
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'switchboard-bench-gw-'));
  // Real upstreams (as the simulators are to it here) need a clients file: the bench is one client with read scopes,
  // limits high enough not to be what is measured, authenticating every request with its API key as production does.
  const apiKey = generateApiKey();
  const clientsFile = join(dataDir, 'clients.json');
  const client = {
    name: 'bench',
    scopes: ['cloudlx:read', 'exotel:read', 'ixc:read', 'cloudcix:read'],
    limits: { requestsPerMinute: 100_000_000, requestsPerDay: 1_000_000_000 },
    apiKeys: [hashApiKey(apiKey)],
  };
  await writeFile(clientsFile, JSON.stringify({ clients: [client] }), { mode: 0o600 });
  const child = spawn(process.execPath, [...extraNodeArgs, join(REPO, 'dist/main.js'), 'start'], {
    cwd: REPO,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      // A key of its own for each run: the store encrypts upstream tokens with it once base URLs are set.
      STORE_SECRET_KEY: randomBytes(32).toString('base64'),
      ...gatewayEnv,
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      DATA_DIR: dataDir,
      SWITCHBOARD_CLIENTS_FILE: clientsFile,
    },
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor(`${base}/healthz`, child, 'Switchboard');
  return gatewayProcess('Switchboard', `${base}/graphql`, { 'x-api-key': apiKey }, child, async () => rm(dataDir, { recursive: true, force: true }));
}

/**
 * Composes the simulators' OpenAPI documents with GraphQL Mesh (test/bench/peers/mesh.config.mjs).
 * The supergraph holds the simulators' tokens, so it goes to a temporary folder, never the repository.
 */
export async function composePeer(ready: SimulatorsReady): Promise<{ supergraph: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-bench-peer-'));
  const supergraph = join(dir, 'supergraph.graphql');
  const env: Record<string, string> = {};
  for (const key of ['cloudlx', 'exotel', 'ixc', 'cloudcix'] as const) {
    env[`PEER_${key.toUpperCase()}_URL`] = ready.roots[key];
    env[`PEER_${key.toUpperCase()}_TOKEN`] = ready.peerTokens[key];
  }
  const result = spawnSync(process.execPath, [MESH_COMPOSE_BIN, '-c', join(PEERS_DIR, 'mesh.config.mjs'), '-o', supergraph], {
    cwd: PEERS_DIR,
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  if (result.status !== 0 || !existsSync(supergraph)) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`mesh-compose failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
  return { supergraph, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Hive Gateway serving the composed supergraph with its own settings (test/bench/peers/gateway.config.mjs: jit, no response cache), one process. */
export async function startPeer(supergraph: string, extraNodeArgs: string[] = []): Promise<GatewayProcess> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [...extraNodeArgs, HIVE_GATEWAY_BIN, 'supergraph', supergraph, '--port', String(port), '--host', '127.0.0.1', '--fork', '1', '-c', join(PEERS_DIR, 'gateway.config.mjs')],
    { cwd: PEERS_DIR, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NODE_ENV: 'production' } },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitFor(`${base}/readiness`, child, 'Hive Gateway');
  return gatewayProcess('Hive Gateway + Mesh', `${base}/graphql`, {}, child, async () => undefined);
}

function gatewayProcess(name: string, url: string, headers: Record<string, string>, child: ChildProcess, cleanup: () => Promise<void>): GatewayProcess {
  const pid = child.pid!;
  return {
    name,
    url,
    pid,
    headers,
    cpuMs: () => processCpuMs(pid),
    rssBytes: () => statusKb(pid, 'VmRSS') * 1024,
    peakRssBytes: () => statusKb(pid, 'VmHWM') * 1024,
    async stop() {
      await stopChild(child);
      await cleanup();
    },
  };
}

/** User + system CPU time of a process so far, in milliseconds (10 ms resolution). */
function processCpuMs(pid: number): number {
  // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

function statusKb(pid: number, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : 0;
}

async function waitFor(url: string, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode} before answering ${url}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not answer ${url} within 60 s`);
}

function firstLine(child: ChildProcess, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      lines.close();
      resolve(line);
    });
    child.once('exit', (code) => reject(new Error(`${what} exited with code ${code} before they were ready`)));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // SIGINT lets a gateway started with --cpu-prof write its profile.
  child.stdin?.end();
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
