import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningSimulator } from '../../src/core/platform.js';
import { CloudCIXSimulator } from '../../src/platforms/cloudcix/simulator.js';
import { CloudLXSimulator } from '../../src/platforms/cloudlx/simulator.js';
import { ExotelSimulator } from '../../src/platforms/exotel/simulator.js';
import { platforms } from '../../src/platforms/index.js';
import { IxcSimulator } from '../../src/platforms/ixc/simulator.js';

export interface Simulators {
  cloudlx: CloudLXSimulator;
  exotel: ExotelSimulator;
  ixc: IxcSimulator;
  cloudcix: CloudCIXSimulator;
}

/** The four simulators, started apart from any gateway, and the settings that point gateways at them as at real platforms. */
export interface UpstreamSimulators {
  sims: Simulators;
  /** As `npm run simulate` writes them: base URLs, credentials, key files (in `dir`). */
  env: Record<string, string>;
  dir: string;
  close(): Promise<void>;
}

/** For tests that start several gateways on one set of upstreams (shared tokens, projection on and off). */
export async function startUpstreamSimulators(options: {
  cloudlx?: ConstructorParameters<typeof CloudLXSimulator>[0];
  cloudcix?: ConstructorParameters<typeof CloudCIXSimulator>[0];
} = {}): Promise<UpstreamSimulators> {
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-upstreams-'));
  const sims: Simulators = {
    cloudlx: await new CloudLXSimulator(options.cloudlx).start(),
    exotel: await new ExotelSimulator().start(),
    ixc: await new IxcSimulator().start(),
    cloudcix: await new CloudCIXSimulator(options.cloudcix).start(),
  };
  const env: Record<string, string> = {};
  for (const platform of platforms) Object.assign(env, await platform.simulator.environment(sims[platform.key] as never, dir));
  return {
    sims,
    env,
    dir,
    async close() {
      await Promise.all(Object.values(sims).map((s: RunningSimulator) => s.close()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
