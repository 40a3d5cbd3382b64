import { randomUUID } from 'node:crypto';
import { chmod, mkdir, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { printSchema } from 'graphql';
import { loadConfig } from './config.js';
import { ConfigError } from './core/env.js';
import { createLogger } from './core/observability/log.js';
import { startGateway, type Gateway } from './gateway.js';
import { STORE_SECRET_KEY_FILE, loadOrCreateSecretKey, openInfra } from './core/infra.js';
import { platforms } from './platforms/index.js';
import { buildSchema } from './schema.js';
import { generateApiKey, hashApiKey } from './core/security/clients.js';
import { knownScopes } from './core/security/scopes.js';

const USAGE = `Usage: switchboard [command]

Commands:
  start      Run the gateway (default). Platforms with no base URL run on embedded simulators.
  simulate   Run only the four platform simulators and print how to point a gateway at them.
  schema     Print the whole GraphQL schema (SDL) and exit.
  client     Make an API key for a client of the gateway (\`client add <name> --scopes ...\`; \`client help\`).
`;

async function main(argv: string[]): Promise<void> {
  const command = argv[0] ?? 'start';
  if (command === 'schema') {
    // `npm run schema | head` closes the pipe early: that is the reader being done, not a failure.
    process.stdout.on('error', (error: NodeJS.ErrnoException) => process.exit(error.code === 'EPIPE' ? 0 : 1));
    process.stdout.write(printSchema(buildSchema(platforms)) + '\n');
    return;
  }
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return;
  }
  if (command === 'client' || command === 'client-key') {
    const { runClientCommand } = await import('./core/security/client-command.js');
    process.exitCode = await runClientCommand(argv.slice(1), platforms.map((p) => p.key), {
      out: (text) => process.stdout.write(text),
      err: (text) => process.stderr.write(text),
      readInput: async () => {
        const chunks: Buffer[] = [];
        for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks).toString('utf8');
      },
      now: () => Date.now(),
    });
    return;
  }
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  await checkDataDir(config.dataDir);

  if (command === 'simulate') {
    const running = await Promise.all(
      platforms.map(async (p) => [p, await p.simulator.start({ log: log.child({ simulator: p.key }), latencyMs: config.simulatorLatencyMs })] as const),
    );
    onShutdown(async () => {
      await Promise.all(running.map(([, s]) => s.close()));
    });
    // The settings that point a gateway at these simulators hold their (simulated) credentials:
    // they go to a file only its owner can read, never to the terminal.
    const envFile = resolve(config.dataDir, 'simulators.env');
    const lines: string[] = ['# Written by `npm run simulate`: settings that point a Switchboard gateway at the running simulators.'];
    for (const [platform, simulator] of running) {
      const env = await platform.simulator.environment(simulator as never, config.dataDir);
      for (const [name, value] of Object.entries(env)) lines.push(`${name}=${JSON.stringify(value)}`);
    }
    // A gateway with real platforms needs STORE_SECRET_KEY: the embedded default's own key, so both read one store alike.
    lines.push(`STORE_SECRET_KEY=${JSON.stringify(await loadOrCreateSecretKey(resolve(config.dataDir, STORE_SECRET_KEY_FILE)))}`);
    // A gateway with real platforms serves only clients it knows: one client with every scope, its key in this file only.
    const apiKey = generateApiKey();
    const clientsFile = resolve(config.dataDir, 'simulate-clients.json');
    await mkdir(dirname(envFile), { recursive: true });
    const clients = { clients: [{ name: 'simulate', scopes: knownScopes(platforms.map((p) => p.key)), apiKeys: [hashApiKey(apiKey)] }] };
    await writeFile(clientsFile, `${JSON.stringify(clients, null, 2)}\n`, { mode: 0o600 });
    lines.push(`SWITCHBOARD_CLIENTS_FILE=${JSON.stringify(clientsFile)}`);
    lines.push(`# The API key of the client "simulate" (every scope): send it as "Authorization: Bearer <key>".`);
    lines.push(`# SWITCHBOARD_API_KEY=${apiKey}`);
    await writeFile(envFile, `${lines.join('\n')}\n`, { mode: 0o600 });
    await chmod(envFile, 0o600); // `mode` applies only when the file is created

    process.stdout.write(
      [
        'Switchboard simulators are running:',
        ...running.map(([platform, simulator]) => `  ${platform.title.padEnd(10)} ${simulator.url}`),
        `Each answers its platform's REST API; /__simulator/ on each injects faults and latency (see README, "Simulators").`,
        `To run a gateway against them as if they were the real platforms, in another shell:`,
        `  set -a; . ${envFile}; set +a; PORT=4001 npm start`,
        '',
      ].join('\n'),
    );
    return;
  }
  if (command !== 'start') {
    process.stderr.write(`Unknown command ${JSON.stringify(command)}.\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }

  const opened = await openInfra(config, log);
  let gateway: Gateway;
  try {
    gateway = await startGateway({ config, platforms, infra: opened.infra });
  } catch (error) {
    // startGateway has closed what it started (simulators, clients); the store goes too, so nothing is left half-open.
    await opened.close().catch(() => undefined);
    throw error;
  }
  const lines = [
    `Switchboard is running.`,
    `  GraphQL (HTTP)      ${gateway.graphqlUrl}`,
    `  IDE (browser)       ${gateway.graphqlUrl}`,
    `  Subscriptions (WS)  ${gateway.websocketUrl}`,
    `  Liveness            ${gateway.url}/healthz`,
    `  Readiness           ${gateway.url}/readyz`,
    `  Metrics             ${gateway.url}/metrics`,
    `  Webhooks            ${platforms.filter((p) => p.webhooks).map((p) => `${gateway.url}/webhooks/${p.key}`).join('  ')}`,
    gateway.security.startupLine(),
    `Platforms:`,
    ...platforms.map((p) => {
      const sim = gateway.simulators[p.key];
      return `  ${p.title.padEnd(10)} ${sim ? `embedded simulator at ${sim.url}` : 'real upstream (configured)'}`;
    }),
    '',
  ];
  process.stdout.write(lines.join('\n'));
  onShutdown(async () => {
    await gateway.close();
    await opened.close(); // after the gateway: its last requests may still write to the store
  });
}

/**
 * DATA_DIR is checked before anything starts, so an unusable one stops the start
 * with a line naming it, instead of an error from deep in the store or a key file.
 */
async function checkDataDir(dataDir: string): Promise<void> {
  try {
    await mkdir(dataDir, { recursive: true });
    const probe = join(dataDir, `.write-check-${randomUUID()}`);
    await writeFile(probe, '', { flag: 'wx' });
    await unlink(probe);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'EEXIST' || code === 'ENOTDIR'
        ? 'it, or a folder in its path, is a file'
        : code === 'EACCES' || code === 'EPERM'
          ? 'this user may not write there'
          : code === 'EROFS'
            ? 'it is on a read-only file system'
            : `it cannot be created or written (${code ?? (error as Error).message})`;
    throw new ConfigError([`DATA_DIR: ${JSON.stringify(dataDir)} cannot be used: ${why}; set DATA_DIR to a folder this user can write (default .data in the working directory)`]);
  }
}

/** Longest a shutdown may take before the process exits anyway: the server's grace period for what is in flight, and then some. */
const SHUTDOWN_DEADLINE_MS = 15_000;

function onShutdown(close: () => Promise<void>): void {
  let closing = false;
  const stop = (signal: string) => {
    // A terminal's Ctrl-C reaches both npm and the gateway, and npm passes it on: the second is the same request.
    if (closing) return;
    closing = true;
    process.stdout.write(`\n${signal}: shutting down\n`);
    // Should something hang while closing, a supervisor still sees the process go.
    setTimeout(() => {
      process.stderr.write(`Switchboard did not finish shutting down within ${SHUTDOWN_DEADLINE_MS / 1000} s; exiting anyway\n`);
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`Switchboard failed while shutting down: ${(error as Error)?.message ?? String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    // One line per problem, each naming the setting and what to do; 78 (EX_CONFIG) tells a
    // supervisor that restarting will not help until the setting is fixed.
    const where = 'see README.md, "Configuration"';
    process.stderr.write(
      error.problems.length <= 1
        ? `Invalid configuration: ${error.problems[0] ?? error.message} (${where})\n`
        : `Invalid configuration (${where}):\n${error.problems.map((problem) => `  - ${problem}`).join('\n')}\n`,
    );
    process.exit(78);
  }
  process.stderr.write(`Switchboard failed to start: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
