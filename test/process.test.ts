import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

/**
 * The gateway as a user runs it: a separate process started by `npm start`
 * (which compiles the TypeScript into dist/ first, then runs it) or by `npm run
 * dev`'s command (the same code, loaded from its TypeScript through tsx), stopped
 * by a signal, refusing bad settings at start. Everything here goes through real
 * processes, ports and clients.
 */

const repo = fileURLToPath(new URL('..', import.meta.url));
// Generous: a gateway process loads all of its TypeScript through tsx first; on a busy machine that takes seconds.
const PROCESS_TIMEOUT_MS = 60_000;
const QUERY = '{ cloudlx { services(first: 1) { totalCount } } }';
const SLOW_ROUTE = 'GET /api/services';

let dataRoot: string;
beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'switchboard-process-'));
});
afterAll(async () => {
  await rm(dataRoot, { recursive: true, force: true });
});

interface Running {
  child: ChildProcess;
  /** The gateway's own process: the child itself, or the one npm started. */
  gatewayPid: number;
  /** That process's command line. */
  commandLine: string;
  url: string;
  port: number;
  /** Embedded simulators by platform title (`CloudLX` …). */
  simulators: Record<string, string>;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: Running[] = [];
afterEach(() => {
  // A failed test must not leave a gateway behind: each is stopped by its own pid.
  for (const running of started.splice(0)) {
    for (const pid of new Set([running.child.pid, running.gatewayPid])) {
      if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGKILL');
    }
  }
});

let dirs = 0;
/** A minimal environment (nothing of the developer's own settings leaks in): every platform simulated, watchers off. */
function gatewayEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME ?? dataRoot,
    PORT: '0',
    LOG_LEVEL: 'info',
    DATA_DIR: join(dataRoot, `data-${++dirs}`),
    WATCH_INTERVAL_MS: '0',
    ...extra,
  };
}

function run(command: 'npm' | 'node', env: NodeJS.ProcessEnv): ChildProcess {
  const args = command === 'npm' ? ['start'] : ['--import', 'tsx', 'src/main.ts', 'start'];
  return spawn(command === 'npm' ? 'npm' : process.execPath, args, { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
}

function collect(child: ChildProcess) {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { stdout: () => stdout, stderr: () => stderr, exited };
}

async function startGatewayProcess(command: 'npm' | 'node', env = gatewayEnv()): Promise<Running> {
  const child = run(command, env);
  const output = collect(child);
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      // The summary is written in one piece, ending with the platform lines.
      if (/Switchboard is running\.[\s\S]*CloudCIX .*\n/.test(output.stdout())) resolve();
    };
    child.stdout!.on('data', check);
    void output.exited.then(({ code }) => reject(new Error(`gateway exited (${code}) before it ran:\n${output.stdout()}\n${output.stderr()}`)));
  });
  const url = /GraphQL \(HTTP\)\s+(http:\S+)\/graphql/.exec(output.stdout())![1]!;
  const simulators: Record<string, string> = {};
  for (const match of output.stdout().matchAll(/^ {2}(\S+(?: \S+)?)\s+embedded simulator at (http:\/\/[\d.:]+)/gm)) simulators[match[1]!] = match[2]!;
  let gatewayPid = child.pid!;
  if (command === 'npm') {
    // npm runs prestart (the build) to its end, then the script through `sh -c "exec node …"`: its one child is then the gateway.
    const children = spawnSync('ps', ['-o', 'pid=', '--ppid', String(child.pid)], { encoding: 'utf8' }).stdout.trim().split(/\s+/);
    expect(children).toHaveLength(1);
    gatewayPid = Number(children[0]);
  }
  const commandLine = readFileSync(`/proc/${gatewayPid}/cmdline`, 'utf8').split('\0').join(' ');
  const running: Running = { child, gatewayPid, commandLine, url, port: Number(new URL(url).port), simulators, ...output };
  started.push(running);
  return running;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves with the connection's fate: 'refused' once nothing listens on the port. */
function tryConnect(port: number): Promise<'connected' | 'reset' | 'refused'> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') resolve('refused');
      // A probe that reached the accept queue just as the listener closed is reset by the kernel: ask again.
      else if (error.code === 'ECONNRESET') resolve('reset');
      else reject(error);
    });
  });
}

/** The gateway stops listening as its first step of shutting down; this waits for that step, not for a time. */
async function waitUntilRefused(port: number): Promise<void> {
  while ((await tryConnect(port)) !== 'refused') await new Promise((resolve) => setImmediate(resolve));
}

/** Holds CloudLX's services route for a while, so an operation that reads it is in flight on demand. */
async function slowDownServices(simulator: string): Promise<void> {
  const res = await fetch(`${simulator}/__simulator/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ route: SLOW_ROUTE, delayMs: 1_500, times: 1 }),
  });
  expect(res.status).toBe(201);
}

/** Waits until the simulator has received the held request: the gateway's operation is then in flight. */
async function untilUpstreamCallArrives(simulator: string): Promise<void> {
  for (;;) {
    const log = (await (await fetch(`${simulator}/__simulator/requests`)).json()) as Array<{ route: string; status: number }>;
    if (log.some((entry) => entry.route === SLOW_ROUTE && entry.status === 0)) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const GRACE_OVER = 'shutdown grace period over';

/** `npm start` compiles first: about 11 s from nothing on a two-core machine, a few seconds when dist/ is current. */
const BUILD_TIMEOUT_MS = 90_000;

describe('npm start', () => {
  it(
    'builds, runs the compiled gateway, and passes it SIGTERM: the gateway shuts down and nothing is left listening',
    async () => {
      const gateway = await startGatewayProcess('npm');
      expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
      gateway.child.kill('SIGTERM');
      const { code } = await gateway.exited;
      expect(code).toBe(0);
      expect(gateway.stdout()).toContain('SIGTERM: shutting down');
      expect(isAlive(gateway.gatewayPid)).toBe(false);
      expect(await tryConnect(gateway.port)).toBe('refused');
      // The compiled gateway, not the TypeScript.
      expect(gateway.commandLine).toContain('dist/main.js');
    },
    BUILD_TIMEOUT_MS + PROCESS_TIMEOUT_MS,
  );
});

describe('shutting down', () => {
  it(
    'an idle gateway exits as soon as it is told, without waiting out the grace period',
    async () => {
      const gateway = await startGatewayProcess('node');
      // An idle keep-alive connection, as a client leaves behind after its last request…
      expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
      // …and an idle WebSocket, connected but running nothing.
      let closeCode: number | undefined;
      const client = createClient({
        url: `${gateway.url.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: false,
        // The close at shutdown is expected; it is asserted below, rather than printed as an error.
        onNonLazyError: () => undefined,
        on: { closed: (event) => (closeCode = (event as { code: number }).code) },
      });
      await new Promise<void>((resolve) => client.on('connected', () => resolve()));
      gateway.child.kill('SIGTERM');
      expect(await gateway.exited).toEqual({ code: 0, signal: null });
      // Had anything been left to the end of the grace period, the gateway would have said so as it cut it.
      expect(gateway.stdout()).not.toContain(GRACE_OVER);
      expect(closeCode).toBe(1001);
      await client.dispose();
    },
    PROCESS_TIMEOUT_MS,
  );

  it(
    'an HTTP request in flight gets its answer, while new connections are refused',
    async () => {
      const gateway = await startGatewayProcess('node');
      const cloudlx = gateway.simulators.CloudLX!;
      await slowDownServices(cloudlx);
      const answer = fetch(`${gateway.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: QUERY }),
      });
      let answered = false;
      void answer.then(() => (answered = true));
      await untilUpstreamCallArrives(cloudlx);

      gateway.child.kill('SIGTERM');
      await waitUntilRefused(gateway.port);
      expect(answered).toBe(false); // refused while the request was still being served

      const res = await answer;
      expect(res.status).toBe(200);
      expect(res.headers.get('connection')).toBe('close');
      const body = (await res.json()) as { data?: { cloudlx: { services: { totalCount: number } } }; errors?: unknown };
      expect(body.errors).toBeUndefined();
      expect(body.data?.cloudlx.services.totalCount).toBeGreaterThan(0);
      expect(await gateway.exited).toEqual({ code: 0, signal: null });
      expect(gateway.stdout()).not.toContain(GRACE_OVER);
    },
    PROCESS_TIMEOUT_MS,
  );

  it(
    'a WebSocket operation in flight gets its result, then the socket is closed as going away',
    async () => {
      const gateway = await startGatewayProcess('node');
      const cloudlx = gateway.simulators.CloudLX!;
      await slowDownServices(cloudlx);
      let closeCode: number | undefined;
      const client: Client = createClient({
        url: `${gateway.url.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        on: { closed: (event) => (closeCode = (event as { code: number }).code) },
      });
      const results: unknown[] = [];
      let completed = false;
      const done = new Promise<void>((resolve, reject) => {
        client.subscribe(
          { query: QUERY },
          {
            next: (result) => void results.push(result),
            error: reject,
            complete: () => {
              completed = true;
              resolve();
            },
          },
        );
      });
      await untilUpstreamCallArrives(cloudlx);

      gateway.child.kill('SIGTERM');
      await waitUntilRefused(gateway.port);
      expect(completed).toBe(false); // refused while the operation was still running

      await done;
      expect(results).toHaveLength(1);
      expect(results[0]).toMatchObject({ data: { cloudlx: { services: { totalCount: expect.any(Number) } } } });
      expect((results[0] as { errors?: unknown }).errors).toBeUndefined();
      expect(await gateway.exited).toEqual({ code: 0, signal: null });
      expect(closeCode).toBe(1001);
      expect(gateway.stdout()).not.toContain(GRACE_OVER);
      await client.dispose();
    },
    PROCESS_TIMEOUT_MS,
  );
});

describe('settings the start cannot use', () => {
  let holder: Server;
  let takenPort: number;
  let fileInTheWay: string;
  beforeAll(async () => {
    holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    takenPort = (holder.address() as AddressInfo).port;
    fileInTheWay = join(dataRoot, 'a-file');
    await writeFile(fileInTheWay, 'not a folder\n');
  });
  afterAll(() => new Promise<void>((resolve) => holder.close(() => resolve())));

  // 127.999.1.1 is no address (an octet over 255), so it does not resolve; a loopback-looking
  // value is used because a HOST open to other machines is refused earlier, for lack of clients.
  const cases = (): { setting: string; env: Record<string, string>; says: string }[] => [
    { setting: 'PORT', env: { PORT: String(takenPort) }, says: `${takenPort} is already in use` },
    { setting: 'HOST', env: { HOST: '127.999.1.1' }, says: 'does not resolve' },
    // Tests run as root, whom permissions do not stop: a folder under a regular file is unusable for anyone.
    { setting: 'DATA_DIR', env: { DATA_DIR: join(fileInTheWay, 'data') }, says: 'is a file' },
  ];

  it(
    'each stops the start with exit code 78 and one line that names the setting and what to do',
    async () => {
      const outcomes = await Promise.all(
        cases().map(async (c) => {
          const child = run('node', gatewayEnv(c.env));
          const output = collect(child);
          const { code } = await output.exited;
          return { ...c, code, stderr: output.stderr(), stdout: output.stdout() };
        }),
      );
      for (const outcome of outcomes) {
        const lines = outcome.stderr.trimEnd().split('\n');
        expect(outcome.code, outcome.stderr).toBe(78);
        expect(lines, outcome.stderr).toHaveLength(1);
        expect(lines[0]).toMatch(new RegExp(`^Invalid configuration: ${outcome.setting}: `));
        expect(lines[0]).toContain(outcome.says);
        expect(lines[0]).toMatch(/; (set|stop) /); // what to do
        // It never got as far as serving.
        expect(outcome.stdout).not.toContain('Switchboard is running');
      }
    },
    PROCESS_TIMEOUT_MS,
  );
});
