import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/core/observability/log.js';
import { createInfra } from '../src/core/infra.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { platforms } from '../src/platforms/index.js';

/**
 * `npm run simulate` runs the simulators as a separate process; the file it writes
 * points a gateway at them exactly as a user configures the real platforms. This
 * drives every platform's "real upstream" configuration path end to end.
 */
describe('npm run simulate', () => {
  let child: ChildProcess | undefined;
  let gateway: Gateway | undefined;
  let dataDir: string | undefined;
  afterAll(async () => {
    await gateway?.close();
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('writes settings that a separate gateway uses to serve every platform from the simulators', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-simulate-'));
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'simulate'], {
      env: { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      child!.stdout!.on('data', () => stdout.includes('set -a;') && resolve());
      child!.on('exit', (code) => reject(new Error(`simulate exited with ${code}: ${stdout}`)));
    });
    const envFile = join(dataDir, 'simulators.env');
    expect(stdout).toContain(envFile);
    expect((await stat(envFile)).mode & 0o777).toBe(0o600);

    const env: Record<string, string> = {};
    const text = await readFile(envFile, 'utf8');
    for (const line of text.split('\n')) {
      const match = /^([A-Z0-9_]+)=(.*)$/.exec(line);
      if (match) env[match[1]!] = JSON.parse(match[2]!) as string;
    }
    const apiKey = /^# SWITCHBOARD_API_KEY=(\S+)$/m.exec(text)?.[1];
    expect(apiKey).toBeDefined();
    expect(stdout).not.toContain(apiKey);
    // None of the credentials were printed to the terminal.
    for (const [name, value] of Object.entries(env)) if (/SECRET|KEY/.test(name)) expect(stdout).not.toContain(value);

    gateway = await startGateway({ config: loadConfig({ ...env, PORT: '0', DATA_DIR: dataDir }), platforms, infra: createInfra({ log: createLogger('silent') }) });
    expect(gateway.simulators).toEqual({}); // every platform is served as a real, configured upstream
    const res = await fetch(gateway.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({
        query: `{ platforms { platform simulated }
          customers(first: 500) { nodes { platform } }
          apps(first: 500) { nodes { platform } }
          apiClients(first: 500) { nodes { platform } }
          ixc { devices(first: 2) { nodes { serialNumber } } }
          cloudcix { membership { addresses(first: 2) { nodes { name country { englishName } } } } } }`,
      }),
    });
    const body = (await res.json()) as any;
    expect(body.errors).toBeUndefined();
    expect(body.data.platforms).toEqual(platforms.map((p) => ({ platform: p.enumValue, simulated: false })));
    const platformsOf = (field: string) => [...new Set(body.data[field].nodes.map((n: any) => n.platform))].sort();
    expect(platformsOf('customers')).toEqual(['CLOUDCIX', 'CLOUDLX', 'EXOTEL']);
    expect(platformsOf('apps')).toEqual(['CLOUDCIX', 'EXOTEL']);
    expect(platformsOf('apiClients')).toEqual(['CLOUDLX', 'IXC']);
    expect(body.data.ixc.devices.nodes).toHaveLength(2);
    expect(body.data.cloudcix.membership.addresses.nodes).toHaveLength(2);
  });
});
