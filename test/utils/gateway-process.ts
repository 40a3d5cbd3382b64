import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** A gateway running as `npm run dev` runs it (the code `npm start` compiles and runs), in a process of its own. */
export interface GatewayProcess {
  /** `http://host:port`, without a path. */
  readonly url: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  /** SIGTERM, then waits for the exit (at once if it has exited). */
  stop(): Promise<void>;
}

export interface SpawnOptions {
  /** Flags for its node (`--cpu-prof`). */
  nodeArgs?: readonly string[];
}

/**
 * Starts `node --import tsx src/main.ts start` on port 0 with `env` over a
 * minimal environment (loopback, logs at `warn`, no watchers unless `env` turns
 * them on), and resolves once it prints its URL; rejects with what it printed
 * if it exits first.
 */
export async function spawnGateway(env: Record<string, string>, options: SpawnOptions = {}): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', 'src/main.ts', 'start'], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', WATCH_INTERVAL_MS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /GraphQL \(HTTP\)\s+(http:\/\/\S+)\/graphql/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`the gateway exited (${code}) before it started:\n${output}`)));
  });
  return {
    url,
    child,
    exited,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
