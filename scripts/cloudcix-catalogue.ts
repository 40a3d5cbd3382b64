// Regenerates src/platforms/cloudcix/catalogue.json from seed 004.
//   npx tsx scripts/cloudcix-catalogue.ts [path/to/seed.txt]
// The parsing lives in cloudcix-catalogue-lib.ts so the test can run it too;
// this file only reads, writes and reports.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSeed } from './cloudcix-catalogue-lib.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const seedPath = process.argv[2]
  ? resolve(process.argv[2])
  : resolve(repoRoot, '../shared/seeds/004_c544ac50700d1b51.txt');
const outputPath = resolve(repoRoot, 'src/platforms/cloudcix/catalogue.json');

const { catalogue, notes } = parseSeed(readFileSync(seedPath, 'utf8'));
// Trailing newline and fixed key order keep reruns byte-identical and diffs clean.
writeFileSync(outputPath, `${JSON.stringify(catalogue, null, 2)}\n`);

const methodCounts = new Map<string, number>();
for (const service of catalogue.services) {
  for (const method of service.methods) methodCounts.set(method, (methodCounts.get(method) ?? 0) + 1);
}
const totalMethods = [...methodCounts.values()].reduce((sum, count) => sum + count, 0);
const assumed = catalogue.services.filter((service) => service.pathAssumed).length;

console.log(`wrote ${outputPath}`);
console.log(`applications: ${catalogue.applications.length}`);
console.log(`services:     ${catalogue.services.length}`);
console.log(`methods:      ${totalMethods} (${[...methodCounts].map(([method, count]) => `${method} ${count}`).join(', ')})`);
console.log(`paths:        ${catalogue.services.length - assumed} from UPSTREAMS.md, ${assumed} assumed`);
if (notes.length > 0) {
  console.log(`seed irregularities (${notes.length}):`);
  for (const note of notes) console.log(`  ${note}`);
}
