/** `npm run bench`: every benchmark under test/bench, one after the other, each in its own process. */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const dir = new URL('.', import.meta.url);
const benches = readdirSync(dir).filter((f) => f.endsWith('.bench.ts')).sort();
let failed = 0;
for (const bench of benches) {
  console.log(`\n##### ${bench}`);
  // Benchmarks measure the gateway as it runs in production (see src/main.ts).
  const result = spawnSync(process.execPath, ['--import', 'tsx', new URL(bench, dir).pathname], { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' } });
  if (result.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
