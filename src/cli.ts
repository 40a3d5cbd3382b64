import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { printSchema } from 'graphql';
import { loadConfig } from './config.js';
import { ConfigError } from './core/env.js';
import { createLogger } from './core/observability/log.js';
import { startGateway } from './gateway.js';
import { STORE_SECRET_KEY_FILE, loadOrCreateSecretKey, openInfra } from './core/infra.js';
import { platforms } from './platforms/index.js';
import { buildSchema } from './schema.js';

const USAGE = `Usage: switchboard [command]

Commands:
  start      Run the gateway (default). Platforms with no base URL run on embedded simulators.
  simulate   Run only the four platform simulators and print how to point a gateway at them.
  schema     Print the whole GraphQL schema (SDL) and exit.
`;

async function main(argv: string[]): Promise<void> {
  const command = argv[0] ?? 'start';
  if (command === 'schema') {
    process.stdout.write(printSchema(buildSchema(platforms)) + '\n');
    return;
  }
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return;
  }
  const config = loadConfig();
  const log = createLogger(config.logLevel);

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
    await mkdir(dirname(envFile), { recursive: true });
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
  const gateway = await startGateway({ config, platforms, infra: opened.infra });
  const lines = [
    `Switchboard is running.`,
    `  GraphQL (HTTP)      ${gateway.graphqlUrl}`,
    `  IDE (browser)       ${gateway.graphqlUrl}`,
    `  Subscriptions (WS)  ${gateway.websocketUrl}`,
    `  Liveness            ${gateway.url}/healthz`,
    `  Readiness           ${gateway.url}/readyz`,
    `  Metrics             ${gateway.url}/metrics`,
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

function onShutdown(close: () => Promise<void>): void {
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    process.stdout.write(`\n${signal}: shutting down\n`);
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\nSee README.md, "Configuration".\n`);
    process.exit(78);
  }
  process.stderr.write(`Switchboard failed to start: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
