/**
 * `npm run bench`: every benchmark under test/bench, one after the other, each in its own process.
 * `npm run bench -- peers events` runs those whose file name starts with one of the words.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const dir = new URL('.', import.meta.url);
const only = process.argv.slice(2);
const benches = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((word) => f.startsWith(word)))
  .sort();
if (benches.length === 0) {
  console.error(`No benchmark under test/bench matches ${only.join(', ')}; there are: ${readdirSync(dir).filter((f) => f.endsWith('.bench.ts')).join(', ')}`);
  process.exit(2);
}
let failed = 0;
for (const bench of benches) {
  console.log(`\n##### ${bench}`);
  // Benchmarks measure the gateway as it runs in production (see src/main.ts).
  const result = spawnSync(process.execPath, ['--import', 'tsx', new URL(bench, dir).pathname], { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' } });
  if (result.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
