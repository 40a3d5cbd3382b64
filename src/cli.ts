import { printSchema } from 'graphql';
import { loadConfig } from './config.js';
import { ConfigError } from './core/env.js';
import { createLogger } from './core/observability/log.js';
import { startGateway } from './gateway.js';
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
    const running = await Promise.all(platforms.map(async (p) => [p, await p.simulator.start({ log: log.child({ simulator: p.key }) })] as const));
    process.stdout.write('Switchboard simulators are running:\n');
    for (const [platform, simulator] of running) process.stdout.write(`  ${platform.title.padEnd(10)} ${simulator.url}\n`);
    process.stdout.write('Point a gateway at one by setting its <PLATFORM>_BASE_URL (credentials: see README, "Simulators").\n');
    onShutdown(async () => {
      await Promise.all(running.map(([, s]) => s.close()));
    });
    return;
  }
  if (command !== 'start') {
    process.stderr.write(`Unknown command ${JSON.stringify(command)}.\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }

  const gateway = await startGateway({ config, log });
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
  onShutdown(() => gateway.close());
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
